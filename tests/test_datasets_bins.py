import io
from datetime import date

import pytest

from civickit.datasets.bins import (
    Collection,
    Premises,
    format_address,
    read_jobs,
    read_premises,
)
from civickit.errors import DataFormatError


def test_real_premises_sample(fixtures):
    (premises,) = read_premises(fixtures / "bins" / "dm_premises_sample.csv")
    assert premises == Premises(
        id=666057,
        saon=None,  # the NUL byte
        paon="1",
        street="ABBEY AVENUE",
        locality="BRAMLEY",
        town="LEEDS",
        postcode="LS5 3DH",
        address="1 Abbey Avenue, Bramley, Leeds",
    )
    assert premises.to_dict()["address"] == "1 Abbey Avenue, Bramley, Leeds"


def test_real_jobs_sample(fixtures):
    jobs = list(read_jobs(fixtures / "bins" / "dm_jobs_sample.csv"))
    assert len(jobs) == 18
    assert jobs[0] == Collection(premises_id=666057, bin="black", date=date(2025, 7, 4))
    assert {j.bin for j in jobs} == {"black", "green", "brown"}
    assert jobs[0].to_dict() == {"premises_id": 666057, "bin": "black", "date": "2025-07-04"}


# Generated files in the documented layouts (docs/datasets.md), one quirk at a time.


def premises_file(rows, *, header=False, encoding="cp1252", newline="\r\n"):
    lines = ["PremisesID,Address1,Address2,Street,Locality,Town,Postcode"] if header else []
    lines += [",".join(r) for r in rows]
    return io.BytesIO((newline.join(lines) + newline).encode(encoding))


ROWS = [
    ["100", "FLAT 2", "10", "SOME STREET", "\x00", "LEEDS", "ls6 1aa"],
    ["101", "\x00", "ROSE COTTAGE", "MAIN STREET", "BARWICK-IN-ELMET", "LEEDS", "LS15 4AA"],
    ["102", "GARAGE SITE ADJACENT TO", "32", "ABBEY CLOSE", "EAST ARDSLEY", "WAKEFIELD", "\x00"],
]


@pytest.mark.parametrize(
    ("header", "encoding", "newline"),
    [
        (False, "cp1252", "\r\n"),  # today's files
        (True, "utf-16", "\r\n"),  # older UCS-2 copies with a header
        (False, "cp1252", "\n"),
    ],
)
def test_premises_layouts(header, encoding, newline):
    found = list(read_premises(premises_file(ROWS, header=header, encoding=encoding,
                                             newline=newline)))  # fmt: skip
    assert [p.address for p in found] == [
        "Flat 2, 10 Some Street, Leeds",
        "Rose Cottage, Main Street, Barwick-in-Elmet, Leeds",
        "Garage Site Adjacent to 32 Abbey Close, East Ardsley, Wakefield",
    ]
    assert [p.postcode for p in found] == ["LS6 1AA", "LS15 4AA", None]
    assert found[0].locality is None and found[1].saon is None


@pytest.mark.parametrize(
    ("saon", "paon", "street", "locality", "town", "expected"),
    [
        (None, "1", "ABBEY AVENUE", "BRAMLEY", "LEEDS", "1 Abbey Avenue, Bramley, Leeds"),
        ("FLAT 2", "10", "SOME STREET", None, "LEEDS", "Flat 2, 10 Some Street, Leeds"),
        (None, "12A", "ST MARY'S ROAD", "LEEDS", "LEEDS", "12A St Mary's Road, Leeds"),
        ("ROOM 1", "12", "O'NEILL WAY", None, None, "Room 1, 12 O'Neill Way"),
        ("BIN STORE REAR OF 62 TO 76", None, "MCDONALD COURT", None, "LEEDS",
         "Bin Store Rear of 62 to 76, McDonald Court, Leeds"),
        (None, "1-3", "THE GROVE", None, "LEEDS", "1-3 The Grove, Leeds"),
    ],
)  # fmt: skip
def test_format_address(saon, paon, street, locality, town, expected):
    assert format_address(saon, paon, street, locality, town) == expected


def test_premises_postcode_that_is_not_one_is_kept():
    (p,) = read_premises(premises_file([["1", "", "1", "A ST", "", "LEEDS", "not known"]]))
    assert p.postcode == "NOT KNOWN"


def test_bad_premises_rows_name_file_and_line():
    rows = [ROWS[0], ["X1", "", "1", "A", "", "LEEDS", ""], ["103", "only", "four", "fields"]]
    with pytest.raises(DataFormatError) as info:
        list(read_premises(premises_file(rows), on_error=None))
    assert str(info.value) == "<stream>, line 2: premises ID 'X1' is not a number"
    errors = []
    found = list(read_premises(premises_file(rows), on_error=errors.append))
    assert [p.id for p in found] == [100]
    assert [(e.line, e.message) for e in errors] == [
        (2, "premises ID 'X1' is not a number"),
        (3, "expected 7 fields, found 4"),
    ]


def jobs_file(lines, *, header=False, newline="\r\n"):
    text = (["PremisesID,Type,CollectionDate"] if header else []) + lines
    return io.BytesIO((newline.join(text) + newline).encode("cp1252"))


@pytest.mark.parametrize("header", [False, True])
def test_jobs_optional_header_and_every_bin(header):
    lines = ["1,BLACK,04/07/25", "1,GREEN,11/07/25", "1,BROWN,09/07/25", "1,FOOD,05/07/25"]
    jobs = list(read_jobs(jobs_file(lines, header=header)))
    assert [j.bin for j in jobs] == ["black", "green", "brown", "food"]
    assert jobs[0].date == date(2025, 7, 4)


def test_jobs_keep_saturdays_and_bank_holidays_as_given():
    jobs = list(read_jobs(jobs_file(["1,BLACK,23/08/25", "1,GREEN,25/08/25"])))
    assert [j.date for j in jobs] == [date(2025, 8, 23), date(2025, 8, 25)]  # Sat; bank holiday


def test_jobs_drop_exact_duplicates_only():
    lines = ["1,BLACK,04/07/25", "1,BLACK,04/07/25", "1,GREEN,04/07/25", "2,BLACK,04/07/25",
             "1,BLACK,04/07/25", "2,BLACK,04/07/25", "2,BLACK,11/07/25"]  # fmt: skip
    jobs = list(read_jobs(jobs_file(lines)))
    assert [(j.premises_id, j.bin, j.date.day) for j in jobs] == [
        (1, "black", 4),
        (1, "green", 4),
        (2, "black", 4),
        (2, "black", 11),
    ]


def test_jobs_bad_rows_are_all_reported():
    lines = ["1,BLACK,04/07/25", "1,PURPLE,04/07/25", "1,GREEN,31/02/25", "x,GREEN,04/07/25",
             "1,GREEN", "2,BROWN,05/07/25"]  # fmt: skip
    errors = []
    jobs = list(read_jobs(jobs_file(lines), on_error=errors.append))
    assert [j.premises_id for j in jobs] == [1, 2]
    assert [(e.source, e.line) for e in errors] == [("<stream>", n) for n in (2, 3, 4, 5)]
    assert "PURPLE" in errors[0].message
    assert "31/02/25" in errors[1].message
    assert "'x'" in errors[2].message
    assert "expected 3 fields" in errors[3].message
    with pytest.raises(DataFormatError, match="line 2"):
        list(read_jobs(jobs_file(lines)))


def test_jobs_are_streamed():
    # a generator: nothing is read until asked, and rows come out one at a time
    lines = [f"{i},BLACK,04/07/25" for i in range(1, 20_001)]
    jobs = read_jobs(jobs_file(lines))
    assert next(jobs).premises_id == 1
    assert sum(1 for _ in jobs) == 19_999
