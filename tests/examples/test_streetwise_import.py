"""``flask sw import``: the bundled sample, bad rows with line numbers, atomic swaps, portals."""

from __future__ import annotations

import json

import pytest
import responses
import sqlalchemy as sa

from civickit.portals import known_portals
from civickit.postcodes import PostcodeDirectory
from examples.common import ImportFailed, ImportLog
from examples.streetwise import importer, store
from examples.streetwise.demo import SAMPLE_POSTCODES
from examples.streetwise.models import collisions, hospitals, imports
from tests.examples.helpers import assert_cli_failed, make_streetwise_app, streetwise_engine

DATA = importer.SAMPLE_DIR


def count(app, table) -> int:
    with streetwise_engine(app).connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_sample_import_loads_every_kind_and_marks_it_sample(streetwise_any_app):
    result = streetwise_any_app.test_cli_runner().invoke(
        args=["sw", "import", "--sample", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "collisions: 4,074 rows loaded from 8 files" in result.output
    # 2015 real: 25 casualty rows, 21 collisions; 5 generated years of 600; the real
    # 2022 London rows (1,049) and the real 2023 header rows (4)
    assert count(streetwise_any_app, collisions) == 21 + 5 * 600 + 1049 + 4
    # the national 2018 list: 1,234 rows, 8 codes listed twice, 1 row without coordinates
    assert count(streetwise_any_app, hospitals) == 1234 - 8 - 1
    assert "per year: 2015 21, 2020 600, 2021 600, 2022 1,649, 2023 604, 2024 600" in (
        result.output
    )
    with streetwise_engine(streetwise_any_app).connect() as conn:
        assert all(r.is_sample for r in conn.execute(sa.select(imports)))
    html = streetwise_any_app.test_client().get("/area/LS1%203EX").get_data(as_text=True)
    assert 'id="sample-data-notice"' in html
    assert "January 2018" in html


def test_every_hospital_postcode_is_in_the_bundled_directory(streetwise_any_app):
    directory = PostcodeDirectory(SAMPLE_POSTCODES)
    with streetwise_engine(streetwise_any_app).connect() as conn:
        hospital_postcodes = set(
            conn.execute(
                sa.select(hospitals.c.postcode).where(hospitals.c.postcode.is_not(None))
            ).scalars()
        )
    assert all(pc in directory for pc in hospital_postcodes)
    assert all(pc in directory for pc in ("LS1 3EX", "NW1 2BU", "CF24 4NP", "NP20 6ZE"))


def _bad_leeds_rtc(tmp_path):
    lines = (DATA / "leeds_rtc_2015_sample.csv").read_text().splitlines()
    # line 4 (the 3rd data row) gets an easting that is not a number
    fields = lines[3].split(",")
    fields[1] = "not-a-number"
    lines[3] = ",".join(fields)
    path = tmp_path / "leeds_rtc_bad.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_rows_are_skipped_and_reported_with_line_numbers(streetwise_any_app, tmp_path):
    path = _bad_leeds_rtc(tmp_path)
    result = streetwise_any_app.test_cli_runner().invoke(
        args=["sw", "import", "--leeds-rtc", str(path), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "1 row skipped" in result.output
    assert f"skipped {path.name}, line 4:" in result.output
    assert count(streetwise_any_app, collisions) == 20  # 21 references, one lost with its only row


def test_postcodes_build_the_directory_and_bad_rows_carry_line_numbers(
    streetwise_any_app, tmp_path
):
    path = tmp_path / "pcs.csv"
    path.write_text(
        "pcds,lat,long,doterm,oslaua\n"
        "LS1 1UR,53.8017,-1.5496,,E08000035\n"
        "not a postcode,53.8,-1.5,,E08000035\n"
        "LS1 1AA,53.79,-1.54,200503,E08000035\n"  # retired: kept, and said so
    )
    dest = tmp_path / "postcodes.db"
    streetwise_any_app.config["POSTCODES_DIRECTORY"] = str(dest)
    result = streetwise_any_app.test_cli_runner().invoke(
        args=["sw", "import", "--postcodes", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert "skipped pcs.csv, line 3:" in result.output
    report = importer.import_postcodes(streetwise_engine(streetwise_any_app), path, dest)
    assert report.rows == 2 and report.skipped_count == 1
    directory = PostcodeDirectory(dest)
    assert directory.lookup("LS1 1UR").codes["admin_district"] == "E08000035"


def test_a_failed_import_leaves_the_old_data_serving(streetwise_any_app, tmp_path):
    before = (count(streetwise_any_app, collisions), count(streetwise_any_app, hospitals))
    client = streetwise_any_app.test_client()
    first = client.get("/api/area/LS1%203EX").get_json()
    runner = streetwise_any_app.test_cli_runner()
    # not a Hospital.csv at all: the reader refuses its header
    wrong = runner.invoke(
        args=["sw", "import", "--hospitals", str(DATA / "ons_sam_lad_dec_2023_uk.csv")]
    )
    assert_cli_failed(wrong, "Nothing was changed")
    # too many bad rows for --max-skipped
    bad = runner.invoke(
        args=["sw", "import", "--leeds-rtc", str(_bad_leeds_rtc(tmp_path)), "--max-skipped", "0"]
    )
    assert_cli_failed(bad, "more than 0 bad rows", "Nothing was changed")
    assert (count(streetwise_any_app, collisions), count(streetwise_any_app, hospitals)) == before
    assert client.get("/api/area/LS1%203EX").get_json() == first


def test_a_failure_during_the_swap_rolls_back(streetwise_any_app, monkeypatch):
    engine = streetwise_engine(streetwise_any_app)
    before = count(streetwise_any_app, hospitals)

    def disk_full(*args, **kwargs):
        raise RuntimeError("disk full")

    # the import's record is the last statement of the swap transaction
    monkeypatch.setattr(ImportLog, "record", disk_full)
    with pytest.raises(ImportFailed, match="disk full"):
        importer.import_hospitals(engine, DATA / "nhs_hospital_sample.csv")
    monkeypatch.undo()
    assert count(streetwise_any_app, hospitals) == before
    with engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
    assert "sw_hospitals_staging" not in tables


def test_the_running_app_sees_a_new_import_without_restarting(streetwise_any_app, tmp_path):
    client = streetwise_any_app.test_client()
    before = client.get("/api/area/LS1%203EX?radius_m=2000").get_json()["collisions"]["total"]
    only_2015 = streetwise_any_app.test_cli_runner().invoke(
        args=["sw", "import", "--leeds-rtc", str(DATA / "leeds_rtc_2015_sample.csv"), "--quiet"]
    )
    assert only_2015.exit_code == 0, only_2015.output
    after = client.get("/api/area/LS1%203EX?radius_m=2000").get_json()["collisions"]
    assert after["years"] == [2015] and after["total"]["count"] < before["count"]


def test_import_json_report(streetwise_any_app, tmp_path):
    path = _bad_leeds_rtc(tmp_path)
    result = streetwise_any_app.test_cli_runner().invoke(
        args=["sw", "import", "--leeds-rtc", str(path), "--json"]
    )
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.output)
    assert report["source"] == "collisions" and report["rows"] == 20
    assert report["skipped"][0]["line"] == 4


def test_import_from_the_portals(streetwise_any_app, tmp_path):
    site = known_portals()["datamillnorth"].url
    rtc = (DATA / "leeds_rtc_2015_sample.csv").read_bytes()
    hospital_csv = (DATA / "nhs_hospital_sample.csv").read_bytes()
    package = {
        "success": True,
        "result": {
            "id": "rta",
            "name": "road-traffic-accidents",
            "title": "Road Traffic Accidents",
            "resources": [
                {"id": "r2015", "name": "2015", "format": "CSV",
                 "url": "https://example.org/rta/2015.csv", "package_id": "rta"},
                {"id": "r2013", "name": "2013", "format": "XLSX",
                 "url": "https://example.org/rta/2013.xlsx", "package_id": "rta"},
                {"id": "guide", "name": "Guidance", "format": "CSV",
                 "url": "https://example.org/rta/guidance.csv", "package_id": "rta"},
            ],
        },
    }  # fmt: skip
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(f"{site}/api/3/action/package_show", json=package)
        rsps.get("https://example.org/rta/2015.csv", body=rtc)
        rsps.get("https://media.nhschoices.nhs.uk/data/foi/Hospital.csv", body=hospital_csv)
        result = streetwise_any_app.test_cli_runner().invoke(
            args=["sw", "import", "--from-portal", "--quiet"]
        )
    assert result.exit_code == 0, result.output
    assert "collisions: 21 rows loaded" in result.output
    assert "hospitals: 41 rows loaded" in result.output


def test_a_file_that_is_not_utf8_gets_a_line_not_a_traceback(streetwise_any_app, tmp_path):
    """Every file `sw import` reads goes through civickit's readers (open_table)."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"pcds,lat,long\nLS1 1UR,53.8,-1.55\nLS1 2AB,53.8,-1.5\xe9\n")
    streetwise_any_app.config["POSTCODES_DIRECTORY"] = str(tmp_path / "postcodes.db")
    runner = streetwise_any_app.test_cli_runner()
    postcodes = runner.invoke(args=["sw", "import", "--postcodes", str(path)])
    assert postcodes.exit_code == 0 and "skipped latin1.csv, line 3:" in postcodes.output
    wrong = runner.invoke(args=["sw", "import", "--stats19", str(path)])
    assert_cli_failed(wrong, "not a STATS19 collision file", "Nothing was changed")
    assert "Traceback" not in postcodes.output + wrong.output


def test_the_demo_rebuilds_a_database_made_by_an_older_streetwise(tmp_path, monkeypatch):
    """A clone's demo database from before an upgrade lacks new columns: the demo
    rebuilds it from the bundled sample instead of answering 500."""
    import sqlalchemy as sa

    from examples.streetwise import demo
    from examples.streetwise.models import create_all

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = sa.create_engine(url)
    create_all(old)
    with old.begin() as conn:  # loaded once, by a version with fewer columns and an older log
        conn.exec_driver_sql("DROP TABLE sw_collisions")
        conn.exec_driver_sql(
            "CREATE TABLE sw_collisions (id INTEGER PRIMARY KEY, latitude FLOAT, longitude FLOAT)"
        )
        conn.exec_driver_sql("DROP TABLE sw_data_meta")
        conn.exec_driver_sql(
            "CREATE TABLE sw_data_meta (source VARCHAR(20) PRIMARY KEY, imported_at DATETIME, "
            "is_sample BOOLEAN, rows INTEGER, detail TEXT)"
        )
        conn.exec_driver_sql(
            "INSERT INTO sw_data_meta (source, imported_at, is_sample, rows) "
            "VALUES ('collisions', '2026-11-01 00:00:00', 1, 0)"
        )
    old.dispose()
    monkeypatch.delenv("STREETWISE_CRIME_SOURCE", raising=False)
    app = make_streetwise_app(url)
    demo.prepare(app)
    page = app.test_client().get("/area/LS1%203EX")
    assert page.status_code == 200
    assert "Leeds General Infirmary" in page.get_data(as_text=True)


def test_the_demo_rebuilds_the_spatial_index_of_a_database_made_before_it(tmp_path, caplog):
    """A demo database loaded by the version with the R*Tree has no grid index: the app
    warns and falls back to memory, and the demo loads the sample again to build it."""
    from examples.streetwise import demo, spatial
    from tests.examples.helpers import streetwise_engine

    app = make_streetwise_app(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    engine = streetwise_engine(app)
    importer.import_sample(engine)
    with engine.begin() as conn:  # as the R*Tree version left it
        name = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE name LIKE 'ix_sw_collisions_cell%'"
        ).scalar()
        conn.exec_driver_sql(f"DROP INDEX {name}")
        conn.exec_driver_sql("CREATE VIRTUAL TABLE sw_collisions_rtree USING rtree(id, s, n, w, e)")
    assert not spatial.has_index(engine)
    with caplog.at_level("WARNING"):
        assert store.get_data(app).spatial == "memory"
    assert "run `flask --app examples.streetwise sw import` again" in caplog.text
    demo.prepare(app)
    assert spatial.has_index(engine)
    with engine.connect() as conn:
        assert (
            conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE name = 'sw_collisions_rtree'"
            ).first()
            is None
        )
    assert store.get_data(app).spatial == "grid"


def test_an_import_gives_the_cycle_collector_back_whatever_happens(streetwise_any_app, tmp_path):
    """The bulk load pauses Python's cycle collector: after it, ok or failed, the collector
    is on again (and stays off only where the caller had turned it off)."""
    import gc

    engine = streetwise_engine(streetwise_any_app)
    assert gc.isenabled()
    with pytest.raises(ImportFailed):
        importer.import_collisions(engine, leeds_rtc=[_bad_leeds_rtc(tmp_path)], max_skipped=0)
    assert gc.isenabled()
    gc.disable()
    try:
        importer.import_sample(engine)
        assert not gc.isenabled()
    finally:
        gc.enable()
