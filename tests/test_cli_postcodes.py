"""`civickit postcodes build|fetch|info` and `civickit postcode` with a local directory.

`fetch` talks to a real HTTP server on loopback standing in for the ONS Open
Geography Portal (an ArcGIS Hub site) and ArcGIS Online: its search answer is
CONSTRUCTED in the shape of the ArcGIS Hub Search API's items page (OGC API -
Records: a `FeatureCollection` of items with `id`, `title`, `name`, `type`,
`modified`; see tests/fixtures/portals/SOURCE.txt), and the zip it serves is
built here from the ONSPD column list (see tests/fixtures/onspd/SOURCE.txt).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import responses
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from civickit.datasets import onspd
from civickit.datasets.onspd import latest_onspd
from civickit.errors import NotFound
from civickit.http import HttpClient
from civickit.postcodes import PostcodeDirectory
from tests.onspd_rows import br8_7re, channel_islands, retired, write_onspd


@pytest.fixture
def onspd_zip(tmp_path: Path) -> Path:
    csv_path = write_onspd(tmp_path / "rows.csv", [br8_7re(), retired(), channel_islands()])
    archive = tmp_path / "ONSPD_FEB_2025.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(csv_path, "Data/ONSPD_FEB_2025_UK.csv")
        # incompressible padding, so the zip is large enough to be cut off half-way
        z.writestr("User Guide/padding.bin", bytes(range(256)) * 2048, zipfile.ZIP_STORED)
    return archive


def test_build_then_info_then_lookups_offline(run, tmp_path, onspd_zip, monkeypatch):
    dest = tmp_path / "out" / "postcodes.db"
    result = run("postcodes", "build", str(onspd_zip), "-o", str(dest))
    assert result.exit_code == 0, result.output
    assert "3 postcodes (ONSPD FEB 2025), 2 in use, 1 retired" in result.output
    info = run("postcodes", "info", str(dest), "--json")
    assert json.loads(info.output)["release"] == "ONSPD FEB 2025"
    monkeypatch.setenv("CIVICKIT_POSTCODES", str(dest))
    with responses.RequestsMock():  # any request would fail
        found = run("postcode", "br87re", "--offline")
        assert found.exit_code == 0, found.output
        assert "BR8 7RE" in found.output and "E07000111" in found.output
        gone = run("postcode", "E1W 1UU", "--offline")
        assert gone.exit_code == 1 and "retired" in gone.output and "02/2015" in gone.output
        both = run("postcode", "GY1 1AA", "LS1 1UR", "--offline", "--json")
        assert both.exit_code == 1
        assert "LS1 1UR is not in the local postcode directory (looked up offline)" in both.output


def test_build_reports_skipped_rows_or_stops_with_strict(run, tmp_path):
    bad = write_onspd(tmp_path / "bad.csv", [br8_7re(), {**retired(), "pcds": "NOT A PC"}])
    dest = tmp_path / "postcodes.db"
    strict = run("postcodes", "build", str(bad), "-o", str(dest), "--strict")
    assert strict.exit_code == 1 and not dest.exists()
    errors = [line for line in strict.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "bad.csv, line 3: 'NOT A PC' is not a postcode" in errors[0]
    lenient = run("postcodes", "build", str(bad), "-o", str(dest))
    assert lenient.exit_code == 0, lenient.output
    assert "skipped" in lenient.output and "line 3" in lenient.output
    assert len(PostcodeDirectory(dest)) == 1


def test_info_without_a_directory_says_how_to_get_one(run):
    result = run("postcodes", "info")
    assert result.exit_code == 1
    assert "civickit postcodes fetch" in result.output and "Traceback" not in result.output


class FakeArcGIS:
    """The ONS Open Geography Portal's Hub search and ArcGIS Online's item data, on loopback."""

    def __init__(self, archive: Path, item_id: str = "a1b2c3") -> None:
        self.archive = archive
        self.item_id = item_id
        self.cut_next = False
        self.requests: list[tuple[str, dict[str, str]]] = []

    def search(self) -> dict:
        return search_page(self.item_id)

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.requests.append((request.path, dict(request.headers)))
        if request.path == HUB_ITEMS:
            response = Response(json.dumps(self.search()), mimetype="application/geo+json")
        elif request.path == f"/sharing/rest/content/items/{self.item_id}/data":
            if self.cut_next:
                self.cut_next = False
                size = self.archive.stat().st_size
                body = self.archive.read_bytes()[: size // 2]
                response = Response(body, headers={"ETag": '"v1"'}, mimetype="application/zip")
                response.headers["Content-Length"] = str(size)  # promises more than it sends
                response.automatically_set_content_length = False
            else:
                response = send_file(
                    str(self.archive), environ, mimetype="application/zip", etag="v1"
                )
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)


HUB_ITEMS = "/api/search/v1/collections/dataset/items"


def search_page(item_id: str) -> dict:
    """The Hub search's answer: the release, an older one, and the service beside them."""

    def feature(**properties: object) -> dict:
        props = {
            "id": item_id,
            "owner": "ONSGeography_data",
            "title": "ONS Postcode Directory (February 2025)",
            "type": "CSV Collection",
            "name": "ONSPD_FEB_2025.zip",
            "modified": 1740000000000,
            **properties,
        }
        return {"type": "Feature", "id": props["id"], "geometry": None, "properties": props}

    item = feature()
    older = feature(id="old", title="ONS Postcode Directory (November 2024)")
    service = feature(id="svc", name="ONSPD_Online_Latest", type="Feature Service")
    return {
        "type": "FeatureCollection",
        "features": [service, older, item],
        "numberMatched": 3,
        "numberReturned": 3,
    }


@pytest.fixture
def arcgis(serve, onspd_zip, monkeypatch):
    fake = FakeArcGIS(onspd_zip)
    server = serve(fake)
    monkeypatch.setattr(onspd, "ONS_GEOPORTAL_URL", server.url)
    monkeypatch.setattr(
        onspd, "ARCGIS_ITEM_DATA_URL", f"{server.url}/sharing/rest/content/items/{{id}}/data"
    )
    fake.url = server.url
    return fake


def test_latest_onspd_picks_the_newest_zip(arcgis):
    release = latest_onspd(http=HttpClient(retries=0))
    assert release.id == "a1b2c3" and release.name == "ONSPD_FEB_2025.zip"
    assert release.url == f"{arcgis.url}/sharing/rest/content/items/a1b2c3/data"
    assert [path for path, _ in arcgis.requests] == [HUB_ITEMS]


def test_latest_onspd_asks_the_ons_portal_newest_first_and_downloads_from_arcgis_online(rsps):
    # the real addresses, and the one search the ArcGIS Hub client sends for it
    rsps.get(
        f"https://geoportal.statistics.gov.uk{HUB_ITEMS}",
        match=[
            responses.matchers.query_param_matcher(
                {
                    "q": "ONS Postcode Directory",
                    "limit": "100",
                    "startindex": "1",
                    "sortBy": "-properties.modified",
                }
            )
        ],
        json=search_page("a1b2c3"),
    )
    release = latest_onspd(http=HttpClient(retries=0))
    assert release.title == "ONS Postcode Directory (February 2025)"
    assert release.url == "https://www.arcgis.com/sharing/rest/content/items/a1b2c3/data"
    assert release.modified is not None and release.modified.year == 2025


def test_latest_onspd_without_a_zip_says_where_to_get_one(rsps):
    page = search_page("a1b2c3")
    page["features"] = page["features"][:1]  # the service only
    rsps.get(f"https://geoportal.statistics.gov.uk{HUB_ITEMS}", json=page)
    with pytest.raises(NotFound, match="civickit postcodes build FILE"):
        latest_onspd(http=HttpClient(retries=0))


def test_fetch_downloads_builds_and_then_asks_only_whether_it_changed(run, tmp_path, arcgis):
    dest = tmp_path / "postcodes.db"
    first = run("postcodes", "fetch", "-o", str(dest))
    assert first.exit_code == 0, first.output
    assert "ONS Postcode Directory (February 2025)" in first.output
    assert PostcodeDirectory(dest).lookup("BR8 7RE").codes["admin_district"] == "E07000111"
    built = dest.stat().st_mtime_ns
    second = run("postcodes", "fetch", "-o", str(dest))
    assert second.exit_code == 0, second.output
    assert "up to date" in second.output
    assert arcgis.requests[-1][1].get("If-None-Match") == '"v1"'
    assert dest.stat().st_mtime_ns == built


def test_an_interrupted_fetch_resumes_where_it_stopped(run, tmp_path, arcgis, onspd_zip):
    dest = tmp_path / "postcodes.db"
    arcgis.cut_next = True
    cut = run("postcodes", "fetch", "-o", str(dest))
    assert cut.exit_code == 1 and "run it again to resume" in cut.output
    assert not dest.exists()
    kept = (tmp_path / ".postcodes-onspd.zip.partial").stat().st_size
    assert 0 < kept <= onspd_zip.stat().st_size // 2
    resumed = run("postcodes", "fetch", "-o", str(dest))
    assert resumed.exit_code == 0, resumed.output
    asked = arcgis.requests[-1][1]
    assert asked["Range"] == f"bytes={kept}-"
    assert asked["If-Range"] == '"v1"'
    assert (tmp_path / "postcodes-onspd.zip").read_bytes() == onspd_zip.read_bytes()
    assert len(PostcodeDirectory(dest)) == 3


def test_fetch_from_a_given_url(run, tmp_path, arcgis):
    dest = tmp_path / "postcodes.db"
    url = f"{arcgis.url}/sharing/rest/content/items/a1b2c3/data"
    result = run("postcodes", "fetch", "-o", str(dest), "--url", url)
    assert result.exit_code == 0, result.output
    assert [path.rsplit("/", 1)[-1] for path, _ in arcgis.requests] == ["data"]
    assert len(PostcodeDirectory(dest)) == 3
