"""The import framework both example apps share: one report, one failure, one swap."""

from __future__ import annotations

import json

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from civickit.errors import CivicKitError, DataFormatError
from examples.common import ImportFailed, ImportReport, Refused, Staging, attempt, make_engine
from examples.common.console import import_failed, print_json, print_report
from examples.common.importing import LISTED_SKIPS

metadata = sa.MetaData()
things = sa.Table(
    "things",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(20), nullable=False),
    sa.Column("day", sa.Date),
)
sa.Index("ix_things_name", things.c.name)


def bad_row(line: int) -> DataFormatError:
    return DataFormatError("/data/things.csv", line, "not a thing")


def test_skipped_rows_are_listed_up_to_the_cap_and_the_rest_counted():
    report = ImportReport(source="things")
    for line in range(1, LISTED_SKIPS + 8):
        report.skip(bad_row(line))
    assert report.skipped_count == LISTED_SKIPS + 7
    assert len(report.skipped) == LISTED_SKIPS and report.unlisted_skips == 7
    assert report.skipped_lines()[0] == "things.csv, line 1: not a thing"
    data = report.to_dict()
    assert data["skipped_count"] == LISTED_SKIPS + 7
    assert data["skipped"][0] == {"file": "things.csv", "line": 1, "message": "not a thing"}


def test_the_printer_names_each_listed_row_and_states_the_rest():
    report = ImportReport(source="things", status="ok", message="3 rows loaded")
    for line in range(1, LISTED_SKIPS + 3):
        report.skip(bad_row(line))

    @click.command()
    @click.option("--json", "as_json", is_flag=True)
    def show(as_json: bool) -> None:
        if as_json:
            print_json([report])
        else:
            print_report(report)

    text = CliRunner().invoke(show).output
    assert text.startswith("things: 3 rows loaded\n")
    assert "  skipped things.csv, line 1: not a thing\n" in text
    assert "... and 2 more skipped rows, not listed" in text
    (data,) = json.loads(CliRunner().invoke(show, ["--json"]).output)
    assert data["source"] == "things" and len(data["skipped"]) == LISTED_SKIPS


def test_any_error_in_an_attempt_becomes_import_failed_and_is_recorded():
    recorded = []
    report = ImportReport(source="things")
    with pytest.raises(ImportFailed) as caught, attempt(report, record_failure=recorded.append):
        raise RuntimeError("disk full")
    failure = caught.value
    assert isinstance(failure, CivicKitError)
    assert failure.report.status == "failed"
    assert failure.report.message == "RuntimeError: disk full"
    assert recorded == [failure.report]
    assert str(failure) == (
        "things: RuntimeError: disk full. Nothing was changed: the previous data is still serving."
    )
    assert "Nothing was changed" in import_failed().message


def test_a_refusal_keeps_its_words_and_a_failing_recorder_does_not_hide_it():
    def broken_recorder(report: ImportReport) -> None:
        raise OSError("database gone")

    report = ImportReport(source="things")
    with pytest.raises(ImportFailed) as caught, attempt(report, record_failure=broken_recorder):
        raise Refused("the file has no usable rows")
    assert caught.value.report.message == "the file has no usable rows"


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'things.sqlite3'}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(things), [{"id": 1, "name": "old"}])
    yield engine
    engine.dispose()


def names(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(things.c.name).order_by(things.c.id)).scalars())


def test_staging_swaps_the_loaded_copy_in_with_its_indexes(engine):
    from datetime import date

    with Staging(engine, [things]) as staging:
        loaded = staging.load(things, [(1, "new", date(2026, 12, 4)), (2, "newer", None)])
        staging.index()
        assert names(engine) == ["old"]  # nothing changes before the swap
        staging.swap()
    assert names(engine) == ["new", "newer"]
    assert loaded == 2
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert "things_staging" not in inspector.get_table_names()
        assert [ix["column_names"] for ix in inspector.get_indexes("things")] == [["name"]]
        assert conn.execute(sa.select(things.c.day).where(things.c.id == 1)).scalar() == date(
            2026, 12, 4
        )


def test_a_failure_in_the_swap_changes_nothing_and_leaves_no_staging_table(engine):
    def record(conn: sa.Connection) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError), Staging(engine, [things]) as staging:
        staging.load(things, [(1, "new", None)])
        staging.swap(record)
    assert names(engine) == ["old"]
    with engine.connect() as conn:
        assert "things_staging" not in sa.inspect(conn).get_table_names()
