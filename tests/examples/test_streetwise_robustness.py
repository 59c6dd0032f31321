"""streetwise against hostile requests: bad Host headers, no 5xx."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings

from examples.streetwise import importer
from examples.streetwise.models import hospitals
from tests.examples.helpers import (
    MALFORMED_HOSTS,
    every_route,
    hostile_dates,
    hostile_hosts,
    make_streetwise_app,
    streetwise_engine,
)


@pytest.mark.parametrize("host", MALFORMED_HOSTS)
def test_malformed_or_foreign_host_headers_are_400_on_every_route(streetwise_app, host):
    client = streetwise_app.test_client()
    for method, path in every_route(streetwise_app):
        response = client.open(path, method=method, headers={"Host": host})
        assert response.status_code == 400, (host, method, path, response.status_code)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(host=hostile_hosts(), start=hostile_dates(), end=hostile_dates())
def test_no_host_header_or_date_makes_a_5xx_on_any_route(streetwise_app, host, start, end):
    client = streetwise_app.test_client()
    for method, path in every_route(streetwise_app):
        response = client.open(
            path,
            method=method,
            headers={"Host": host},
            query_string={"from": start, "to": end, "month": start, "radius_m": end},
        )
        # (/readyz says 503 by design while not ready: here, no scheduler has run)
        expected = response.status_code < 500 or (path, response.status_code) == ("/readyz", 503)
        assert expected, (host, start, end, method, path, response.status_code)


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
def test_hospital_links_from_the_data_are_only_http_or_https(streetwise_app, website):
    with streetwise_engine(streetwise_app).begin() as conn:  # as if the published file said so
        conn.execute(sa.update(hospitals).values(website=website))
    client = streetwise_app.test_client()
    links = [h["link"] for h in client.get("/api/area/LS1%203EX").get_json()["hospitals"]]
    assert links and all(urlsplit(link).scheme in ("http", "https") for link in links)
    assert all(urlsplit(link).netloc for link in links)
    html = client.get("/area/LS1%203EX").get_data(as_text=True)
    found = re.findall(r'<a class="govuk-link" href="([^"]*)" rel="noopener">', html)
    hrefs = [unescape(h) for h in found]
    assert hrefs == links


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


def test_healthz_does_no_io_and_readyz_checks_the_database(streetwise_app, monkeypatch):
    client = streetwise_app.test_client()
    streetwise_app.config["READYZ_TOKEN"] = "readyz-token"
    token = {"Authorization": "Bearer readyz-token"}
    ready = client.get("/readyz", headers=token)
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["data"]["imports"]["hospitals"]["rows"] > 0
    assert client.get("/readyz").get_json() == {"status": "ready"}  # no detail for anyone

    def unreachable(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("database down"))

    monkeypatch.setattr(streetwise_engine(streetwise_app), "connect", unreachable)
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


def test_area_requests_are_limited_per_address(tmp_path):
    app = make_streetwise_app(
        f"sqlite:///{tmp_path / 'sw.sqlite3'}", RATELIMIT_ENABLED=True, AREA_LIMIT_IP="3/hour"
    )
    try:
        importer.import_sample(streetwise_engine(app))
        client = app.test_client()
        paths = ["/area/LS1%203EX", "/api/area/LS1%203EX", "/area/LS1%203EX?radius_m=500"]
        assert [client.get(p).status_code for p in paths] == [200, 200, 200]
        page = client.get("/area/LS9%207TF")
        assert page.status_code == 429 and "Too many attempts" in page.get_data(as_text=True)
        api = client.get("/api/area/LS9%207TF")
        assert api.status_code == 429
        assert api.get_json()["error"]["code"] == "too_many_requests"
        other = app.test_client()  # another address has its own allowance
        other.environ_base["REMOTE_ADDR"] = "203.0.113.7"
        assert other.get("/api/area/LS9%207TF").status_code == 200
    finally:
        streetwise_engine(app).dispose()


def test_postcodes_io_lookups_are_limited_per_address(tmp_path, rsps):
    """Each valid postcode missing from the local table costs a postcodes.io request."""
    app = make_streetwise_app(
        f"sqlite:///{tmp_path / 'sw.sqlite3'}", RATELIMIT_ENABLED=True, LOOKUP_LIMIT_IP="2/hour"
    )
    unknown = ["LS6 3HN", "LS6 3HP", "LS6 3HQ", "LS6 3HR"]
    for postcode in unknown:
        path = postcode.replace(" ", "%20")
        rsps.get(
            f"https://api.postcodes.io/postcodes/{path}",
            status=404,
            json={"status": 404, "error": "Postcode not found"},
        )
        rsps.get(  # ... nor retired
            f"https://api.postcodes.io/terminated_postcodes/{path}",
            status=404,
            json={"status": 404, "error": "Terminated postcode not found"},
        )
    try:
        importer.import_sample(streetwise_engine(app))
        client = app.test_client()
        statuses = [client.get(f"/api/area/{pc}").status_code for pc in unknown]
        assert statuses == [404, 404, 429, 429]
        asked = {call.request.url.rsplit("/", 1)[1] for call in rsps.calls}
        assert asked == {"LS6%203HN", "LS6%203HP"}
        # postcodes in the local table cost nothing upstream, so they are not held back
        assert client.get("/api/area/LS1%203EX").status_code == 200
    finally:
        streetwise_engine(app).dispose()
