"""streetwise against hostile requests: bad Host headers, no 5xx."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from examples.streetwise import importer
from examples.streetwise.models import Hospital
from tests.examples.helpers import (
    MALFORMED_HOSTS,
    every_route,
    make_streetwise_app,
    streetwise_engine,
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_streetwise_app(f"sqlite:///{tmp_path_factory.mktemp('sw') / 'sw.sqlite3'}")
    importer.import_sample(streetwise_engine(app))
    yield app
    streetwise_engine(app).dispose()


@pytest.mark.parametrize("host", MALFORMED_HOSTS)
def test_malformed_or_foreign_host_headers_are_400_on_every_route(app, host):
    client = app.test_client()
    for method, path in every_route(app):
        response = client.open(path, method=method, headers={"Host": host})
        assert response.status_code == 400, (host, method, path, response.status_code)


@pytest.mark.parametrize(
    "website",
    [
        "javascript://%0Aalert(document.cookie)",
        "JavaScript://example.org/%0Aalert(1)",
        "data://text/html,<script>alert(1)</script>",
        "vbscript://x",
        "//evil.example/path",
        "http://",
        " ftp://files.example.org ",
    ],
)
def test_hospital_links_from_the_data_are_only_http_or_https(tmp_path, website):
    app = make_streetwise_app(f"sqlite:///{tmp_path / 'sw.sqlite3'}")
    engine = streetwise_engine(app)
    try:
        importer.import_sample(engine)
        with engine.begin() as conn:  # as if the published file said so
            conn.execute(sa.update(Hospital).values(website=website))
        client = app.test_client()
        links = [h["link"] for h in client.get("/api/area/LS1%201UR").get_json()["hospitals"]]
        assert links and all(urlsplit(link).scheme in ("http", "https") for link in links)
        assert all(urlsplit(link).netloc for link in links)
        html = client.get("/area/LS1%201UR").get_data(as_text=True)
        found = re.findall(r'<a class="govuk-link" href="([^"]*)" rel="noopener">', html)
        hrefs = [unescape(h) for h in found]
        assert hrefs == links
    finally:
        engine.dispose()


def test_plain_hospital_websites_still_link(tmp_path):
    from examples.streetwise import area

    place = {"latitude": 53.8, "longitude": -1.55}
    assert area._link({**place, "website": "www.leedsth.nhs.uk"}) == "https://www.leedsth.nhs.uk"
    assert area._link({**place, "website": "http://www.leedsth.nhs.uk"}) == (
        "http://www.leedsth.nhs.uk"
    )
    assert area._link({**place, "website": "javascript:alert(1)"}).startswith(
        "https://www.openstreetmap.org/"
    )


def test_healthz_does_no_io_and_readyz_checks_the_database(app, monkeypatch):
    client = app.test_client()
    app.config["READYZ_TOKEN"] = "readyz-token"
    token = {"Authorization": "Bearer readyz-token"}
    ready = client.get("/readyz", headers=token)
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["data"]["hospitals"]["rows"] > 0
    assert client.get("/readyz").get_json() == {"status": "ready"}  # no detail for anyone

    def unreachable(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("database down"))

    monkeypatch.setattr(streetwise_engine(app), "connect", unreachable)
    assert client.get("/healthz").get_json() == {"status": "ok"}  # the process is up
    down = client.get("/readyz", headers=token)
    assert down.status_code == 503
    assert down.get_json()["checks"]["database"]["ok"] is False
    assert client.get("/readyz").get_json() == {"status": "not_ready"}


def test_readyz_without_data_is_not_ready(tmp_path):
    app = make_streetwise_app(f"sqlite:///{tmp_path / 'empty.sqlite3'}", READYZ_TOKEN="t")
    try:
        response = app.test_client().get("/readyz", headers={"Authorization": "Bearer t"})
        assert response.status_code == 503
        assert "sw import" in response.get_json()["checks"]["data"]["message"]
    finally:
        streetwise_engine(app).dispose()
