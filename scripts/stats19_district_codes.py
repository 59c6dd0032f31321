"""Write civickit's lookup from STATS19's numeric district codes to ONS codes.

    python -m scripts.stats19_district_codes

STATS19 carries two district codes: DfT's own number (``local_authority_district``,
Leeds is 204) and, in later files, the ONS code (``local_authority_ons_district``).
Older single-year files carry only the number, and the 1979-to-latest file gives
``-1`` for the ONS code of its early rows ("Record predates use of
local_authority_ons_district", in DfT's words). DfT's data guide lists both code
lists with their labels; this script gives each number the ONS code the guide
lists under the same name, preferring a code in use today where a name was
re-coded (Gateshead: E08000020 before 2019, E08000037 since). London Airport
(Heathrow) gets DfT's own code for it, ``EHEATHROW``. Numbers naming a district
abolished before ONS codes (Chester, Congleton, ...) get none.

Input: the guide bundled as a test fixture
(``tests/fixtures/stats19/...data-guide-2024.xlsx``, source in the SOURCE.txt
beside it), read with the standard library's zip and XML modules, and the ONS
district codes in use (``examples/streetwise/data/ons_sam_lad_dec_2023_uk.csv``).
Output: ``civickit/data/stats19_districts.csv`` (number, DfT's label, ONS code).
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (
    ROOT
    / "tests"
    / "fixtures"
    / "stats19"
    / "dft-road-casualty-statistics-road-safety-open-dataset-data-guide-2024.xlsx"
)
CURRENT = ROOT / "examples" / "streetwise" / "data" / "ons_sam_lad_dec_2023_uk.csv"
OUT = ROOT / "civickit" / "data" / "stats19_districts.csv"
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def guide_rows(path: Path = GUIDE) -> Iterator[list[str]]:
    """The rows of the guide's code list: table, field name, code, label, note."""
    with zipfile.ZipFile(path) as book:
        shared = [
            "".join(t.text or "" for t in item.iter(f"{_MAIN}t"))
            for item in ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
        ]
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    for row in sheet.iter(f"{_MAIN}row"):
        cells: dict[str, str] = {}
        for cell in row.iter(f"{_MAIN}c"):
            column = re.match(r"[A-Z]+", cell.get("r", "")).group()  # type: ignore[union-attr]
            value = cell.find(f"{_MAIN}v")
            kind = cell.get("t")
            if kind == "s" and value is not None and value.text is not None:
                cells[column] = shared[int(value.text)]
            elif kind == "inlineStr":
                cells[column] = "".join(t.text or "" for t in cell.iter(f"{_MAIN}t"))
            elif value is not None and value.text is not None:
                cells[column] = value.text
        yield [cells.get(c, "") for c in "ABCDE"]


def codes(field: str, path: Path = GUIDE) -> list[tuple[str, str]]:
    """(code, label) of one field of the guide's collision table, in the guide's order."""
    found = []
    for table, name, code, label, _note in guide_rows(path):
        if table == "collision" and name == field:
            number = code[:-2] if code.endswith(".0") else code  # numbers come as floats
            found.append((number, label.strip()))
    return found


def _name(label: str) -> str:
    return re.sub(r"[^a-z]", "", label.lower().replace("&", "and"))


def rows(path: Path = GUIDE) -> list[tuple[str, str, str]]:
    """(number, DfT's label, ONS code or "") for every numeric district code but -1."""
    with CURRENT.open(encoding="utf-8-sig", newline="") as f:
        current = {row["LAD23CD"] for row in csv.DictReader(f)}
    by_name: dict[str, list[str]] = {}
    for code, label in codes("local_authority_ons_district", path):
        if code != "-1":  # -1: "Record predates use of local_authority_ons_district"
            by_name.setdefault(_name(label), []).append(code)
    out = {}
    for number, label in codes("local_authority_district", path):
        if number == "-1" or number in out:  # "Code deprecated"; one number is listed twice
            continue
        named = by_name.get(_name(label), [])
        in_use = [c for c in named if c in current]
        chosen = (in_use or named or [""])[-1]
        out[number] = (number, label, chosen)
    return sorted(out.values(), key=lambda row: int(row[0]))


def main() -> None:
    found = rows()
    with OUT.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["local_authority_district", "label", "ons_code"])
        writer.writerows(found)
    mapped = sum(1 for row in found if row[2])
    print(f"{OUT}: {len(found)} numbers, {mapped} with an ONS code")


if __name__ == "__main__":
    main()
