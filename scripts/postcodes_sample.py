"""Write the bundled sample postcode directory from real published rows only.

    python -m scripts.postcodes_sample

Writes ``civickit/data/postcodes_sample.csv`` (rows in ONSPD column names, each
with a ``source`` column saying where its values come from),
``civickit/data/postcodes_sample_names.csv`` (code -> name) and the directory
built from them, ``civickit/data/postcodes_sample.db``. Its postcodes:

* every postcode in the demos' NHS ``Hospital.csv`` sample, at the hospital's
  own coordinates as that file gives them (rounded to 6 decimals): the site,
  not the ONS centroid of the postcode. No codes: that file gives none;
* BR8 7RE with every value of postcodes.io's documented lookup example
  (coordinates, grid reference, date of introduction, codes and names); its
  country and region codes are the ONS codes of the names the example gives
  (England, South East).

Nothing here is generated or guessed. The inputs are the demo's
``examples/streetwise/data/nhs_hospital_sample.csv`` and
``tests/fixtures/postcodes_io/lookup_BR87RE_200.json`` (see the SOURCE.txt
beside each).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from civickit.datasets.hospitals import read_nhs
from civickit.postcodes import BUILTIN_NAMES, PostcodeDirectory

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
#: the demo's real Hospital.csv excerpt (its source is in the SOURCE.txt beside it)
HOSPITAL_SAMPLE = ROOT / "examples" / "streetwise" / "data" / "nhs_hospital_sample.csv"
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
POSTCODES_IO = (
    "postcodes.io's documented lookup example for BR8 7RE "
    "(ideal-postcodes/postcodes.io @ b593f05, docs/postcode/lookup.mdx)"
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
    for hospital in read_nhs(HOSPITAL_SAMPLE):
        if hospital.postcode in out or hospital.latitude is None or hospital.longitude is None:
            continue  # two organisations at one site (Nuffield Leeds): the first
        out[hospital.postcode] = {
            "pcds": hospital.postcode,
            "lat": f"{hospital.latitude:.6f}",
            "long": f"{hospital.longitude:.6f}",
            "source": HOSPITALS.format(name=hospital.name.strip(), code=hospital.code),
        }
    example = json.loads((FIXTURES / "postcodes_io" / "lookup_BR87RE_200.json").read_text())
    result = example["result"]
    codes = result["codes"]
    country = {v: k for k, v in BUILTIN_NAMES.items()}
    row = {
        "pcds": result["postcode"],
        "dointr": result["date_of_introduction"],
        "oseast1m": str(result["eastings"]),
        "osnrth1m": str(result["northings"]),
        "osgrdind": str(result["quality"]),
        "ctry": country[result["country"]],
        "rgn": country[result["region"]],
        "lat": f"{result['latitude']:.6f}",
        "long": f"{result['longitude']:.6f}",
        "source": POSTCODES_IO,
    }
    names: dict[str, str] = {}
    for field, column in _CODE_COLUMNS.items():
        row[column] = codes[field]
        name = result.get(field)
        if name:
            names[codes[field]] = name
    out[row["pcds"]] = row
    return [out[pc] for pc in sorted(out)], names


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
