"""`civickit detect`, `civickit load` and the portal commands on every kind, against a local server."""

from __future__ import annotations

import json
import sqlite3

import pytest

import civickit.cli
from civickit.http import HttpClient
from civickit.portals import clear_cache
from tests._portal_app import ARCGIS_LAYER, ODS_DATASET, SOCRATA_VIEW, PortalApp


@pytest.fixture(autouse=True)
def quick_client(monkeypatch):
    """The real client, without retry backoff, and no detection answer kept between tests."""
    clear_cache()
    monkeypatch.setattr(civickit.cli, "http_client", lambda ctx: HttpClient(retries=0))
    yield
    clear_cache()


@pytest.fixture
def app() -> PortalApp:
    return PortalApp(total=250)


def table(db, name: str) -> tuple[list[tuple], dict[str, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(f"select * from [{name}] order by rowid").fetchall()
        types = {r[1]: r[2] for r in conn.execute(f"pragma table_info([{name}])")}
    return rows, types


def tables(db) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}


# -- detect -------------------------------------------------------------------------------


def test_detect_names_the_kind_and_the_address(run, serve, app):
    server = serve(app)  # answers the OpenDataSoft probe first

    text = run("detect", server.url)
    data = json.loads(run("detect", server.url, "--json").output)

    assert text.exit_code == 0, text.output
    assert text.output.split() == ["opendatasoft", server.url]
    assert data == {"kind": "opendatasoft", "url": server.url}


def test_detect_an_arcgis_layer(run, serve, app):
    server = serve(app)

    result = run("detect", server.url + ARCGIS_LAYER)

    assert result.output.split()[0] == "arcgis"


def test_detect_an_html_site_is_one_line_naming_the_probes(run, serve, app):
    app.html_everywhere = True
    server = serve(app)

    result = run("detect", server.url)

    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "does not look like an open-data portal" in lines[0]
    assert "/api/3/action/status_show answered HTTP 200 text/html" in lines[0]


# -- load ---------------------------------------------------------------------------------


def test_load_socrata_types_its_text_and_adds_coordinates(run, serve, app, tmp_path):
    server = serve(app)
    db = tmp_path / "civic.db"

    result = run(
        "load", server.url, SOCRATA_VIEW, "--kind", "socrata", "--db", str(db), "--table", "bins"
    )

    assert result.exit_code == 0, result.output
    assert "Loaded 250 rows" in result.output and f"datasette {db}" in result.output
    rows, types = table(db, "bins")
    assert len(rows) == 250
    assert types["id"] == "REAL" and types["score"] == "REAL" and types["name"] == "TEXT"
    assert types["emptied"] == "INTEGER"
    assert types["latitude"] == "REAL" and types["longitude"] == "REAL"
    with sqlite3.connect(db) as conn:
        first = conn.execute(
            "select id, name, score, emptied, latitude, longitude from bins limit 1"
        ).fetchone()
        assert [r[0] for r in conn.execute("select id from bins order by rowid")] == [
            float(i) for i in range(1, 251)
        ]
    assert first == (1.0, "Bin 1", 0.5, 1, pytest.approx(53.80001), pytest.approx(-1.55001))


def test_load_arcgis_layer_dates_become_iso_text(run, serve, app, tmp_path):
    server = serve(app)
    db = tmp_path / "civic.db"

    result = run("load", server.url + ARCGIS_LAYER, "0", "--db", str(db))

    assert result.exit_code == 0, result.output
    rows, types = table(db, "bins")
    assert len(rows) == 250
    assert types["OBJECTID"] == "INTEGER" and types["collected"] == "TEXT"
    with sqlite3.connect(db) as conn:
        assert (
            conn.execute("select collected from bins limit 1")
            .fetchone()[0]
            .startswith("2025-01-02T00:00:00")
        )


def test_load_swaps_the_table_only_when_complete(run, serve, app, tmp_path):
    server = serve(app)
    db = tmp_path / "civic.db"
    args = (
        "load",
        server.url,
        ODS_DATASET,
        "--kind",
        "opendatasoft",
        "--db",
        str(db),
        "--table",
        "bins",
    )
    assert run(*args).exit_code == 0

    app.fail_from = 100  # the next load breaks part-way
    broken = run(*args)

    assert broken.exit_code == 1 and "HTTP 500" in broken.output
    rows, types = table(db, "bins")
    assert len(rows) == 250 and types["id"] == "INTEGER"  # the old table still serves
    assert tables(db) == {"bins"}  # no half-loaded scratch table left behind

    app.fail_from = None
    app.total = 120
    assert run(*args).exit_code == 0
    assert len(table(db, "bins")[0]) == 120  # replaced by the new load


def test_load_a_ckan_dataset_picks_its_datastore_table(run, serve, app, tmp_path, monkeypatch):
    server = serve(app)
    package = {
        "id": "p1",
        "name": "bins",
        "title": "Bins",
        "resources": [
            {"id": "file-1", "url": "/x.pdf", "datastore_active": False},
            {"id": "res-1", "url": "/datastore/dump/res-1", "datastore_active": True},
        ],
    }
    original = app.ckan

    def ckan(path, q):
        if path == "/api/3/action/package_show":
            return app._json({"success": True, "result": package})
        return original(path, q)

    monkeypatch.setattr(app, "ckan", ckan)
    db = tmp_path / "civic.db"

    result = run("load", server.url, "bins", "--kind", "ckan", "--db", str(db))

    assert result.exit_code == 0, result.output
    rows, types = table(db, "bins")
    assert rows[0] == (1, "Bin 1", 0.5) and types == {
        "_id": "INTEGER",
        "name": "TEXT",
        "score": "REAL",
    }


# -- the other commands on other kinds ---------------------------------------------------------


def test_records_and_search_on_a_detected_portal(run, serve, app):
    server = serve(app)

    rows = run("records", server.url, ODS_DATASET, "--limit", "3", "--json")
    found = run("search", server.url, "--json")

    assert rows.exit_code == 0, rows.output
    assert [json.loads(line)["id"] for line in rows.output.splitlines()] == [1, 2, 3]
    assert [d["id"] for d in json.loads(found.output)] == [ODS_DATASET]


def test_records_where_is_refused_on_ckan_and_filter_elsewhere(run, serve, app):
    server = serve(app)

    ckan = run("records", server.url, "res-1", "--kind", "ckan", "--where", "x > 1")
    other = run("records", server.url, SOCRATA_VIEW, "--kind", "socrata", "--filter", "a=b")

    assert ckan.exit_code == 1 and "--filter" in ckan.output
    assert other.exit_code == 1 and "--where" in other.output


def test_download_an_arcgis_layer_into_a_folder(run, serve, app, tmp_path):
    server = serve(app)

    result = run("download", server.url + ARCGIS_LAYER, "0", "-o", f"{tmp_path}/out/", "--json")

    assert result.exit_code == 0, result.output
    saved = json.loads(result.output)
    assert saved["path"] == str(tmp_path / "out" / "Bins.geojson")
    assert len(json.loads((tmp_path / "out" / "Bins.geojson").read_text())["features"]) == 250
