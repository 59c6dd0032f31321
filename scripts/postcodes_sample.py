"""Write the bundled sample postcode directory from real published rows only.

    python -m scripts.postcodes_sample

Writes ``civickit/data/postcodes_sample.csv`` (rows in ONSPD column names, each
with a ``source`` column saying where its values come from),
``civickit/data/postcodes_sample_names.csv`` (code -> name) and the directory
built from them, ``civickit/data/postcodes_sample.db``. Its postcodes:

* every postcode in the demos' NHS ``Hospital.csv`` sample, at the hospital's
  own coordinates as that file gives them (rounded to 6 decimals): the site,
  not the ONS centroid of the postcode. No codes: that file gives none;
* every other postcode in the NHS Choices ``Hospital.csv`` of January 2018
  (the whole national list of 1,234 hospitals, bundled with streetwise), again
  at the first listed hospital's own coordinates: these give the demo real
  postcodes in Leeds, London and Wales;
* BR8 7RE with every value of postcodes.io's documented lookup example
  (coordinates, grid reference, date of introduction, codes and names); its
  country and region codes are the ONS codes of the names the example gives
  (England, South East);
* CF24 4NP, Cardiff, from postcodes.io's documented bulk reverse-geocode
  example: its grid reference, date of introduction, codes and names. That
  example's latitude and longitude only repeat the request's point, 188 m from
  its own grid reference (its other example, PO31 7HB, is 14 km out the same
  way), so the coordinates here are converted from the grid reference by
  ``civickit.geo.osgb_to_wgs84``.

Nothing here is generated or guessed. The inputs are the demo's
``examples/streetwise/data/nhs_hospital_sample.csv``,
``examples/streetwise/data/nhs_hospital_2018-01.csv`` and
``tests/fixtures/postcodes_io/lookup_BR87RE_200.json`` and
``bulk_reverse_geocode_CF244NP_200.json`` beside it (see the SOURCE.txt beside
each).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from civickit.datasets.hospitals import read_nhs
from civickit.geo import osgb_to_wgs84
from civickit.postcodes import BUILTIN_NAMES, PostcodeDirectory

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
#: the demo's real Hospital.csv excerpt (its source is in the SOURCE.txt beside it)
HOSPITAL_SAMPLE = ROOT / "examples" / "streetwise" / "data" / "nhs_hospital_sample.csv"
#: the whole national list, January 2018 (its source is in the same SOURCE.txt)
HOSPITALS_2018 = ROOT / "examples" / "streetwise" / "data" / "nhs_hospital_2018-01.csv"
OUT = ROOT / "civickit" / "data"
COLUMNS = [
    "pcds", "dointr", "doterm", "oseast1m", "osnrth1m", "osgrdind", "ctry", "rgn", "oscty",
    "ced", "oslaua", "osward", "parish", "pcon", "lsoa21", "msoa21", "pfa", "lat", "long",
    "source",
]  # fmt: skip
HOSPITALS = (
    "NHS.uk Hospital.csv (media.nhschoices.nhs.uk/data/foi/Hospital.csv, copy in "
    "June-Ruth/OC-Architecte-Projet11 @ 8637c13): the coordinates of {name} ({code})"
)
HOSPITALS_2018_SOURCE = (
    "NHS Choices Hospital.csv as published in January 2018 (media.nhschoices.nhs.uk/data/"
    "foi/Hospital.csv, copy in TheRealMolen/nhs @ 51414f4): the coordinates of {name} ({code})"
)
POSTCODES_IO = (
    "postcodes.io's documented lookup example for BR8 7RE "
    "(ideal-postcodes/postcodes.io @ b593f05, docs/postcode/lookup.mdx)"
)
POSTCODES_IO_CARDIFF = (
    "postcodes.io's documented bulk reverse-geocode example for CF24 4NP "
    "(ideal-postcodes/postcodes.io @ b593f05, docs/postcode/bulk-reverse-geocode.mdx): "
    "codes, names and grid reference; lat/long converted from the grid reference, "
    "as the example's own repeat the request's point"
)
# postcodes.io's names for the codes -> the ONSPD's column names
_CODE_COLUMNS = {
    "admin_county": "oscty",
    "ced": "ced",
    "admin_district": "oslaua",
    "admin_ward": "osward",
    "parish": "parish",
    "parliamentary_constituency": "pcon",
    "lsoa21": "lsoa21",
    "msoa21": "msoa21",
    "pfa": "pfa",
}


def rows() -> tuple[list[dict[str, str]], dict[str, str]]:
    """The sample rows, and the names of their codes."""
    out: dict[str, dict[str, str]] = {}
    for path, source in ((HOSPITAL_SAMPLE, HOSPITALS), (HOSPITALS_2018, HOSPITALS_2018_SOURCE)):
        for hospital in read_nhs(path):
            if (
                not hospital.postcode
                or hospital.postcode in out
                or hospital.latitude is None
                or hospital.longitude is None
            ):
                continue  # several organisations at one site (Nuffield Leeds): the first
            out[hospital.postcode] = {
                "pcds": hospital.postcode,
                "lat": f"{hospital.latitude:.6f}",
                "long": f"{hospital.longitude:.6f}",
                "source": source.format(name=hospital.name.strip(), code=hospital.code),
            }
    names: dict[str, str] = {}
    fixtures = FIXTURES / "postcodes_io"
    lookup = json.loads((fixtures / "lookup_BR87RE_200.json").read_text())["result"]
    row = _postcodes_io_row(lookup, POSTCODES_IO, names)
    out[row["pcds"]] = row
    bulk = json.loads((fixtures / "bulk_reverse_geocode_CF244NP_200.json").read_text())
    cardiff = bulk["result"][0]["result"][0]
    row = _postcodes_io_row(cardiff, POSTCODES_IO_CARDIFF, names)
    lat, lon = osgb_to_wgs84(cardiff["eastings"], cardiff["northings"])
    row["lat"], row["long"] = f"{lat:.6f}", f"{lon:.6f}"
    out[row["pcds"]] = row
    return [out[pc] for pc in sorted(out)], names


def _postcodes_io_row(result: dict[str, Any], source: str, names: dict[str, str]) -> dict[str, str]:
    """A documented postcodes.io result as an ONSPD row; its code names go into *names*."""
    country = {v: k for k, v in BUILTIN_NAMES.items()}
    codes = result["codes"]
    row = {
        "pcds": result["postcode"],
        "dointr": result["date_of_introduction"],
        "oseast1m": str(result["eastings"]),
        "osnrth1m": str(result["northings"]),
        "osgrdind": str(result["quality"]),
        "ctry": country[result["country"]],
        "rgn": country[result["region"]] if result["region"] else "",
        "lat": f"{result['latitude']:.6f}",
        "long": f"{result['longitude']:.6f}",
        "source": source,
    }
    for field, column in _CODE_COLUMNS.items():
        row[column] = codes[field]
        name = result.get(field)
        if name:
            names[codes[field]] = name
    return row


def main() -> None:
    sample, names = rows()
    OUT.mkdir(exist_ok=True)
    data = OUT / "postcodes_sample.csv"
    with data.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(sample)
    lookup = OUT / "postcodes_sample_names.csv"
    with lookup.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["code", "name"])
        writer.writerows(sorted(names.items()))
    directory = PostcodeDirectory.build([data, lookup], OUT / "postcodes_sample.db")
    print(f"{directory.path}: {len(directory)} postcodes")


if __name__ == "__main__":
    main()
