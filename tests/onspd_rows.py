"""ONSPD input files for the postcode directory's tests, constructed from real published material.

The header is the ONSPD's column list as postcodes.io reads it (real:
fixtures/onspd/onspd_schema_postcodesio.json); BR8 7RE's values are those of
postcodes.io's documented lookup example (real: fixtures/postcodes_io/).
The retired and Channel Islands rows are CONSTRUCTED; see
fixtures/onspd/SOURCE.txt.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from civickit.postcodes import Place
from tests.helpers import FIXTURES, load_json

#: The ONSPD's columns in file order (postcodes.io's data/onspd_schema.json, real).
ONSPD = [
    c["code"]
    for c in json.loads((FIXTURES / "onspd" / "onspd_schema_postcodesio.json").read_text())
]
EXAMPLE = load_json("postcodes_io", "lookup_BR87RE_200.json")["result"]
# postcodes.io's code names -> the ONSPD's columns, where the name says which
# (columns whose mapping is not plain from the names are left empty)
CODE_COLUMNS = {
    "admin_county": "oscty",
    "ced": "ced",
    "admin_district": "oslaua",
    "admin_ward": "osward",
    "parish": "parish",
    "parliamentary_constituency": "pcon",
    "lsoa11": "lsoa11",
    "msoa11": "msoa11",
    "lsoa21": "lsoa21",
    "msoa21": "msoa21",
    "pfa": "pfa",
}


def br8_7re() -> dict[str, str]:
    """BR8 7RE in ONSPD columns, every value from postcodes.io's documented example."""
    codes = EXAMPLE["codes"]
    row = {column: codes[field] or "" for field, column in CODE_COLUMNS.items()}
    row.update(
        pcd="BR8 7RE",
        pcd2="BR8  7RE",
        pcds="BR8 7RE",
        dointr=EXAMPLE["date_of_introduction"],
        oseast1m=str(EXAMPLE["eastings"]),
        osnrth1m=str(EXAMPLE["northings"]),
        osgrdind=str(EXAMPLE["quality"]),
        ctry="E92000001",  # England, the example's country
        rgn="E12000008",  # South East, the example's region
        lat=f"{EXAMPLE['latitude']:.6f}",
        long=f"{EXAMPLE['longitude']:.6f}",
    )
    return row


def retired() -> dict[str, str]:
    """CONSTRUCTED: a retired postcode (the illustrative values of the postcodes.io fixture)."""
    return {
        "pcd": "E1W 1UU", "pcd2": "E1W  1UU", "pcds": "E1W 1UU", "dointr": "198001",
        "doterm": "201502", "ctry": "E92000001", "rgn": "E12000007", "osgrdind": "1",
        "lat": "51.505708", "long": "-0.059541",
    }  # fmt: skip


def channel_islands() -> dict[str, str]:
    """CONSTRUCTED: a Channel Islands row, no grid reference, pseudo-codes as the ONSPD gives."""
    pseudo = "L99999999"
    row = {column: pseudo for column in ("oscty", "ced", "oslaua", "osward", "parish", "pcon")}
    row.update(
        pcd="GY1 1AA", pcd2="GY1  1AA", pcds="GY1 1AA", dointr="198001", osgrdind="9",
        ctry="L93000001", rgn=pseudo, pfa=pseudo, lsoa21=pseudo, msoa21=pseudo,
        lat="99.999999", long="0.000000",
    )  # fmt: skip
    return row


def write_onspd(
    path: Path,
    rows: list[dict[str, str]],
    *,
    columns: list[str] = ONSPD,
    rename: dict[str, str] | None = None,
    quoted: bool = True,
    bom: bool = False,
) -> Path:
    """Rows in the ONSPD layout (every field quoted, CRLF), columns renamed as an era names them."""
    rename = rename or {}
    out = io.StringIO()
    quoting = csv.QUOTE_ALL if quoted else csv.QUOTE_MINIMAL
    writer = csv.writer(out, quoting=quoting, lineterminator="\r\n")
    writer.writerow([rename.get(c, c) for c in columns])
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode())
    return path


def example_place() -> Place:
    """postcodes.io's own Place for BR8 7RE."""
    return Place.from_api(EXAMPLE)
