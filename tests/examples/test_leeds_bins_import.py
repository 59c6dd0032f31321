"""leeds_bins import: the atomic swap, bad rows named by line, cut-off files, failed downloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses
import sqlalchemy as sa

from civickit.http import HttpClient
from civickit.portals.ckan import CKAN
from examples.leeds_bins import importer, models
from tests.examples.helpers import assert_cli_failed, leeds_engine

NUL = "\x00"
PORTAL = "https://datamillnorth.org"
FILES = "https://opendata.leeds.gov.uk/downloads/bins"


def premises_csv(rows: list[tuple]) -> bytes:
    lines = [",".join(str(f) if f else NUL for f in row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


OLD_PREMISES = [(666057, "", "1", "ABBEY AVENUE", "BRAMLEY", "LEEDS", "LS5 3DH")] + [
    (700000 + n, "", str(n), "ABBEY AVENUE", "BRAMLEY", "LEEDS", "LS5 3DH") for n in range(2, 40)
]
OLD_JOBS = "".join(
    f"{pid},BLACK,{day:02d}/12/26\r\n" for pid, *_ in OLD_PREMISES for day in (4, 18)
).encode()


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


@pytest.fixture
def db(database_url):
    engine = importer_engine(database_url)
    yield engine
    engine.dispose()


def importer_engine(url):
    from examples.common import make_engine

    engine = make_engine(url)
    models.create_all(engine)
    return engine


@pytest.fixture
def old_data(db, tmp_path):
    """The data serving before each test's import: 39 premises, 78 collections."""
    report = importer.import_files(
        db,
        write(tmp_path, "old_premises.csv", premises_csv(OLD_PREMISES)),
        write(tmp_path, "old_jobs.csv", OLD_JOBS),
    )
    assert report.status == "ok"
    return report


def serving(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(sa.select(sa.func.count()).select_from(models.premises)).scalar(),
            conn.execute(sa.select(sa.func.count()).select_from(models.collections)).scalar(),
        )


def test_import_counts_dedupes_and_strips_nuls(db, tmp_path):
    jobs = b"666057,BLACK,04/12/26\r\n666057,BLACK,04/12/26\r\n666057,GREEN,11/12/26\n666057,FOOD,04/12/26\r\n"
    report = importer.import_files(
        db,
        write(tmp_path, "p.csv", premises_csv(OLD_PREMISES[:1])),
        write(tmp_path, "j.csv", jobs),
    )
    assert (report.premises, report.collections, report.skipped_count) == (1, 3, 0)
    assert str(report.first_date) == "2026-12-04" and str(report.last_date) == "2026-12-11"
    with db.connect() as conn:
        row = conn.execute(sa.select(models.premises)).mappings().one()
    assert row["saon"] == "" and row["postcode"] == "LS5 3DH"
    assert row["address"] == "1 Abbey Avenue, Bramley, Leeds"
    serving = importer.serving(db)
    assert serving.figures["premises"] == 1 and serving.status == "ok"


def test_a_few_bad_rows_are_skipped_and_named_by_line(db, tmp_path, old_data):
    jobs = bytearray(OLD_JOBS)
    jobs += b"666057,PURPLE,04/12/26\r\n666057,BLACK,31/02/26\r\n"
    report = importer.import_files(
        db,
        write(tmp_path, "p.csv", premises_csv(OLD_PREMISES)),
        write(tmp_path, "j.csv", bytes(jobs)),
        max_bad_fraction=0.05,
    )
    assert report.status == "ok"
    lines = report.skipped_lines()
    assert any("j.csv" in line and "line 79" in line and "PURPLE" in line for line in lines), lines
    assert any("line 80" in line for line in lines), lines


def test_too_many_bad_rows_keep_the_old_data_serving(db, tmp_path, old_data, leeds_sender):
    jobs = OLD_JOBS + b"".join(b"666057,BLACK,not a date\r\n" for _ in range(10))
    with pytest.raises(importer.ImportFailed) as caught:
        importer.import_files(
            db,
            write(tmp_path, "p.csv", premises_csv(OLD_PREMISES)),
            write(tmp_path, "j.csv", jobs),
        )
    report = caught.value.report
    assert report.status == "failed"
    assert "line 79" in report.message and "not DD/MM/YY" in report.message
    assert serving(db) == (39, 78)
    assert importer.serving(db).figures["collections"] == 78
    assert importer.import_log(db).last_attempt().status == "failed"
    with db.connect() as conn:  # no staging tables left behind
        names = sa.inspect(conn).get_table_names()
    assert "premises_staging" not in names and "collections_staging" not in names


def test_a_jobs_file_cut_off_mid_line(db, tmp_path, old_data):
    cut = OLD_JOBS[: OLD_JOBS.index(b"700030,") + 12]  # ends half-way through a row
    with pytest.raises(importer.ImportFailed) as caught:
        importer.import_files(
            db,
            write(tmp_path, "p.csv", premises_csv(OLD_PREMISES)),
            write(tmp_path, "j.csv", cut),
            max_bad_fraction=1.0,
        )
    assert "j.csv ends in the middle of line 59" in caught.value.report.message
    assert serving(db) == (39, 78)


def test_a_jobs_file_cut_off_at_a_line_end(db, tmp_path, old_data):
    cut = OLD_JOBS[: OLD_JOBS.index(b"700020,")]  # a third of the file, whole rows
    with pytest.raises(importer.ImportFailed) as caught:
        importer.import_files(
            db,
            write(tmp_path, "p.csv", premises_csv(OLD_PREMISES)),
            write(tmp_path, "j.csv", cut),
        )
    assert "far fewer than the 78 serving now" in caught.value.report.message
    assert serving(db) == (39, 78)


def test_a_premises_file_cut_off_at_a_line_end(db, tmp_path, old_data):
    with pytest.raises(importer.ImportFailed) as caught:
        importer.import_files(
            db,
            write(tmp_path, "p.csv", premises_csv(OLD_PREMISES[:10])),
            write(tmp_path, "j.csv", OLD_JOBS),
        )
    message = caught.value.report.message
    assert "name premises that are not in the premises file" in message
    assert serving(db) == (39, 78)


def test_a_cut_off_file_that_is_really_smaller_can_be_allowed(db, tmp_path, old_data):
    report = importer.import_files(
        db,
        write(tmp_path, "p.csv", premises_csv(OLD_PREMISES[:10])),
        write(tmp_path, "j.csv", OLD_JOBS[: OLD_JOBS.index(b"700011,")]),
        allow_shrink=True,
    )
    assert serving(db) == (10, 20) and report.status == "ok"


def test_missing_file_fails_cleanly(db, tmp_path, old_data):
    with pytest.raises(importer.ImportFailed) as caught:
        importer.import_files(db, tmp_path / "nope.csv", tmp_path / "nope2.csv")
    assert "does not exist" in caught.value.report.message
    assert serving(db) == (39, 78)


def test_cli_import_prints_counts_and_failures(leeds_app, tmp_path):
    runner = leeds_app.test_cli_runner()
    p = write(tmp_path, "p.csv", premises_csv(OLD_PREMISES))
    j = write(tmp_path, "j.csv", OLD_JOBS)
    result = runner.invoke(args=["bins", "import", str(p), str(j)])
    assert result.exit_code == 0, result.output
    assert "39 premises and 78 collections imported" in result.output
    bad = write(tmp_path, "bad.csv", OLD_JOBS + b"x,y,z\r\n" * 5)
    result = runner.invoke(args=["bins", "import", str(p), str(bad)])
    assert_cli_failed(result, "skipped bad.csv, line 79", "previous data is still serving")
    result = runner.invoke(args=["bins", "import", str(p), str(j), "--json"])
    assert json.loads(result.output)["premises"] == 39
    result = runner.invoke(args=["bins", "import"])
    assert result.exit_code == 2


def test_old_data_keeps_serving_pages_during_a_failed_import(leeds_app, tmp_path):
    client = leeds_app.test_client()
    before = client.get("/api/premises/666057/collections").get_json()
    with pytest.raises(importer.ImportFailed):
        importer.import_files(
            leeds_engine(leeds_app),
            write(tmp_path, "p.csv", b"garbage\r\n" * 20),
            write(tmp_path, "j.csv", b"garbage\r\n"),
        )
    assert client.get("/api/premises/666057/collections").get_json() == before


# -- from the portal -------------------------------------------------------------------


def package(premises_url=f"{FILES}/dm_premises.csv", jobs_url=f"{FILES}/dm_jobs.csv"):
    return {
        "help": f"{PORTAL}/api/3/action/help_show?name=package_show",
        "success": True,
        "result": {
            "id": "ep6lz",
            "name": "household-waste-collections",
            "title": "Household Waste Collections",
            "notes": "",
            "organization": {"name": "leeds-city-council"},
            "license_id": "uk-ogl",
            "tags": [],
            "metadata_modified": "2026-11-24T06:00:00",
            "resources": [
                {
                    "id": "r1",
                    "name": "Premises",
                    "format": "CSV",
                    "url": premises_url,
                    "package_id": "ep6lz",
                },
                {
                    "id": "r2",
                    "name": "Jobs",
                    "format": "CSV",
                    "url": jobs_url,
                    "package_id": "ep6lz",
                },
            ],
        },
    }


@pytest.fixture
def portal():
    ckan = CKAN(PORTAL, http=HttpClient(retries=0))
    yield ckan
    ckan.close()


@responses.activate
def test_from_portal_downloads_imports_and_skips_unchanged(db, tmp_path, portal):
    responses.get(f"{PORTAL}/api/3/action/package_show", json=package())
    responses.get(
        f"{FILES}/dm_premises.csv", body=premises_csv(OLD_PREMISES), headers={"ETag": '"p1"'}
    )
    responses.get(f"{FILES}/dm_jobs.csv", body=OLD_JOBS, headers={"ETag": '"j1"'})
    report = importer.import_from_portal(db, tmp_path / "dl", portal=portal)
    assert (report.status, report.premises, report.collections) == ("ok", 39, 78)

    # unchanged files: 304 to If-None-Match, and no import
    responses.replace(responses.GET, f"{FILES}/dm_premises.csv", status=304)
    responses.replace(responses.GET, f"{FILES}/dm_jobs.csv", status=304)
    report = importer.import_from_portal(db, tmp_path / "dl", portal=portal)
    assert report.status == "unchanged"
    sent = [c.request.headers.get("If-None-Match") for c in responses.calls[-2:]]
    assert sent == ['"p1"', '"j1"']


@responses.activate
@pytest.mark.parametrize("failure", ["500", "connection", "portal"])
def test_a_failed_download_keeps_the_old_data(db, tmp_path, portal, old_data, failure):
    import requests

    if failure == "portal":
        responses.get(f"{PORTAL}/api/3/action/package_show", status=503, body="down")
    else:
        responses.get(f"{PORTAL}/api/3/action/package_show", json=package())
        responses.get(f"{FILES}/dm_premises.csv", body=premises_csv(OLD_PREMISES))
        if failure == "500":
            responses.get(f"{FILES}/dm_jobs.csv", status=500, body="oops")
        else:
            responses.get(f"{FILES}/dm_jobs.csv", body=requests.ConnectionError("reset by peer"))
    with pytest.raises(importer.ImportFailed) as caught:
        importer.import_from_portal(db, tmp_path / "dl", portal=portal)
    assert caught.value.report.message.startswith("download failed")
    assert serving(db) == (39, 78)
    assert importer.import_log(db).last_attempt().message.startswith("download failed")
    assert not (tmp_path / "dl" / "dm_jobs.csv").exists()  # nothing half-written


@responses.activate
def test_redis_caches_the_portal_catalogue_between_imports(db, tmp_path, redis_url):
    import requests_cache
    from redis import Redis

    requests_cache.RedisCache(connection=Redis.from_url(redis_url)).clear()
    show = responses.get(f"{PORTAL}/api/3/action/package_show", json=package())
    responses.get(
        f"{FILES}/dm_premises.csv", body=premises_csv(OLD_PREMISES), headers={"ETag": '"p"'}
    )
    responses.get(f"{FILES}/dm_jobs.csv", body=OLD_JOBS, headers={"ETag": '"j"'})

    for _ in range(2):
        importer.import_from_portal(db, tmp_path / "dl", http_cache=redis_url)

    assert show.call_count == 1  # the second import read the catalogue from Redis
    downloads = [c for c in responses.calls if c.request.url.startswith(FILES)]
    assert len(downloads) == 4  # files are never served from the cache: always re-checked


def test_the_demo_rebuilds_an_import_log_made_by_an_older_leeds_bins(
    leeds_clock, tmp_path, leeds_sender, capsys
):
    """A clone's demo database from before an upgrade has the older ``data_meta`` columns:
    the demo starts its tables afresh and loads the sample, instead of answering 500."""
    from examples.leeds_bins import demo
    from tests.examples.helpers import LEEDS_NOW, make_leeds_app

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = sa.create_engine(url)
    with old.begin() as conn:  # the import log as leeds_bins kept it before
        conn.exec_driver_sql(
            "CREATE TABLE data_meta (id INTEGER PRIMARY KEY, source VARCHAR(500), "
            "status VARCHAR(10), imported_at DATETIME, is_sample BOOLEAN, "
            "premises_count INTEGER, collections_count INTEGER)"
        )
        conn.exec_driver_sql(
            "INSERT INTO data_meta VALUES (1, 'bundled sample', 'ok', '2026-11-01', 1, 39, 78)"
        )
    old.dispose()
    app = make_leeds_app(url, tmp_path, leeds_sender)
    demo.prepare(app)
    assert "predates this version (data_meta)" in capsys.readouterr().out
    serving = importer.serving(leeds_engine(app))
    assert serving.is_sample and serving.imported_at.date() == LEEDS_NOW.date()
    assert 'id="sample-data-notice"' in app.test_client().get("/").get_data(as_text=True)
    leeds_engine(app).dispose()
