"""Readers given the wrong file, an empty file, or an encoding: one clear line, never a flood."""

from __future__ import annotations

import io
import json

import pytest

from civickit.cli import READERS
from civickit.datasets import bins, hospitals
from civickit.datasets._common import GIVE_UP_AFTER
from civickit.errors import DataFormatError
from tests.helpers import assert_one_line_error


@pytest.mark.parametrize(("kind", "what"), [("jobs", "bin collections"), ("premises", "premises")])
def test_a_collisions_file_read_as_bins_is_one_line_saying_what_it_looks_like(
    run, streetwise_data, kind, what
):
    collisions = streetwise_data / "leeds_rtc_2015_sample.csv"  # 25 rows, 15 fields, commas

    result = run("read", kind, str(collisions))

    assert result.stdout == ""
    assert_one_line_error(
        result,
        f"this does not look like a Leeds {what} file",
        f"its first {GIVE_UP_AFTER} rows do not fit",
        "15 fields separated by ','",
    )


def test_bad_rows_before_the_first_good_one_are_all_reported_in_order(fixtures):
    good = (fixtures / "bins" / "dm_jobs_sample.csv").read_bytes()
    junk = b"".join(b"x,y\n" for _ in range(GIVE_UP_AFTER - 1))
    errors: list[DataFormatError] = []

    rows = list(bins.read_jobs(io.BytesIO(junk + good), on_error=errors.append))

    assert [e.line for e in errors] == list(range(1, GIVE_UP_AFTER))
    assert len(rows) == len(list(bins.read_jobs(io.BytesIO(good))))


def test_a_short_file_of_bad_rows_reports_each_at_the_end():
    errors: list[DataFormatError] = []

    rows = list(bins.read_jobs(io.BytesIO(b"1,2\n3,4\n"), on_error=errors.append))

    assert rows == [] and [e.line for e in errors] == [1, 2]


def test_bad_rows_after_good_ones_never_stop_the_read(fixtures):
    good = (fixtures / "bins" / "dm_jobs_sample.csv").read_bytes()
    junk = b"".join(b"x,y\n" for _ in range(GIVE_UP_AFTER * 3))
    errors: list[DataFormatError] = []

    rows = list(bins.read_jobs(io.BytesIO(good + junk), on_error=errors.append))

    assert len(errors) == GIVE_UP_AFTER * 3 and rows


def test_without_on_error_the_first_bad_row_raises_as_before():
    with pytest.raises(DataFormatError, match="line 1: expected 3 fields"):
        list(bins.read_jobs(io.BytesIO(b"x,y\n")))


@pytest.mark.parametrize("kind", list(READERS))
@pytest.mark.parametrize("content", [b"", b"\r\n\n", b"\xef\xbb\xbf"])
def test_an_empty_file_is_a_clear_error_for_every_reader(run, tmp_path, kind, content):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(content)

    assert_one_line_error(run("read", kind, str(empty)), "the file is empty")
    assert_one_line_error(run("read", kind, "-", input=content), "the file is empty")


def test_read_takes_an_encoding(run, streetwise_data):
    path = str(streetwise_data / "nhs_hospital_sample.csv")  # Windows-1252

    named = run("read", "hospitals", "--encoding", "cp1252", path)
    detected = run("read", "hospitals", path)

    assert named.exit_code == 0 and named.stdout == detected.stdout
    assert json.loads(named.stdout.splitlines()[0])["name"]
    assert_one_line_error(run("read", "hospitals", "--encoding", "klingon", path), "klingon")
    assert list(hospitals.read_nhs(path, encoding="cp1252")) == list(hospitals.read_nhs(path))


def test_the_undetectable_encoding_hint_names_the_option(run, tmp_path):
    noise = tmp_path / "noise.bin"
    noise.write_bytes(bytes(range(0x80, 0x100)) * 40)

    result = run("read", "jobs", str(noise))

    assert_one_line_error(
        result, "cannot tell how this file's text is encoded", "--encoding on the command line"
    )
