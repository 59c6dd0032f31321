"""leeds_bins JSON API and health checks; the core resident flow on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.examples.helpers import csrf_token


def test_addresses_api_shape_and_natural_order(leeds_client):
    body = leeds_client.get("/api/addresses?postcode=ls53dh").get_json()
    assert body["postcode"] == "LS5 3DH"
    first = body["addresses"][0]
    assert first["id"] == 666057
    assert first["address"] == "1 Abbey Avenue, Bramley, Leeds"
    names = [a["address"].split(",")[0] for a in body["addresses"]]
    assert (
        names.index("2 Abbey Avenue")
        < names.index("9 Abbey Avenue")
        < names.index("11 Abbey Avenue")
    )
    flats = [a["saon"] for a in body["addresses"] if a["paon"] == "10"]
    assert flats == ["FLAT 1", "FLAT 2", "FLAT 3", "FLAT 10"]  # as the council writes them


def test_collections_api_shape(leeds_client):
    body = leeds_client.get(
        "/api/premises/666057/collections?from=2026-12-01&to=2026-12-31"
    ).get_json()
    assert body["premises"]["id"] == 666057
    got = [(c["date"], c["bin"]) for c in body["collections"]]
    assert ("2026-12-04", "black") in got
    assert ("2026-12-25", "green") in got
    assert got == sorted(got)
    assert len(got) == len(set(got))  # one entry per bin per date


def test_collections_api_defaults_to_the_next_8_weeks(leeds_client):
    body = leeds_client.get("/api/premises/666057/collections").get_json()
    assert body["from"] == "2026-12-03"
    assert body["to"] == "2027-01-28"
    assert body["collections"][0]["date"] >= "2026-12-03"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/addresses", 400, "postcode_required"),
        ("/api/addresses?postcode=banana", 400, "invalid_postcode"),
        ("/api/addresses?postcode=" + "A" * 3000, 400, "invalid_postcode"),
        ("/api/premises/1/collections", 404, "premises_not_found"),
        ("/api/premises/666057/collections?from=yesterday", 400, "invalid_date"),
        ("/api/premises/666057/collections?from=2026-13-45", 400, "invalid_date"),
        ("/api/premises/666057/collections?from=2026-12-10&to=2026-12-01", 400, "invalid_range"),
        ("/api/premises/666057/collections?from=2020-01-01&to=2030-01-01", 400, "range_too_long"),
        ("/api/premises/abc/collections", 404, "not_found"),
        ("/api/nothing", 404, "not_found"),
    ],
)
def test_api_errors_have_the_one_shape(leeds_client, path, status, code):
    response = leeds_client.get(path)
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code


def test_healthz(leeds_client):
    assert leeds_client.get("/healthz").get_json() == {"status": "ok"}


TOKEN = {"Authorization": "Bearer readyz-token"}


def test_readyz_needs_data_and_a_scheduler_heartbeat(leeds_app):
    from examples.leeds_bins import jobs

    leeds_app.config["READYZ_TOKEN"] = "readyz-token"
    client = leeds_app.test_client()
    response = client.get("/readyz", headers=TOKEN)
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["data"]["ok"] is True
    assert body["checks"]["data"]["sample"] is True
    assert body["checks"]["scheduler"]["ok"] is False
    jobs.use_app(leeds_app)
    try:
        jobs.beat_job()
    finally:
        jobs.use_app(None)
    response = client.get("/readyz", headers=TOKEN)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "ready"


def test_readyz_without_data(tmp_path, leeds_sender):
    from tests.examples.helpers import make_leeds_app

    app = make_leeds_app(
        f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        tmp_path,
        leeds_sender,
        READYZ_TOKEN="readyz-token",
    )
    response = app.test_client().get("/readyz", headers=TOKEN)
    assert response.status_code == 503
    assert "no bins data imported yet" in response.get_json()["checks"]["data"]["message"]


def test_core_flow(leeds_any_app, leeds_sender):
    """Postcode -> address -> collections -> calendar -> SMS sign-up -> confirmed -> STOP link."""
    client = leeds_any_app.test_client()
    html = client.get("/addresses?postcode=ls5 3dh").get_data(as_text=True)
    assert 'href="/premises/666057"' in html
    page = client.get("/premises/666057").get_data(as_text=True)
    assert "Tomorrow, Friday 4 December" in page
    api = client.get("/api/premises/666057/collections").get_json()
    assert api["collections"][0] == {
        "date": "2026-12-04",
        "bin": "black",
        "label": "Black bin (general waste)",
    }
    feed = client.get("/premises/666057/calendar.ics")
    assert (
        client.get(
            "/premises/666057/calendar.ics", headers={"If-None-Match": feed.headers["ETag"]}
        ).status_code
        == 304
    )

    response = client.post(
        "/premises/666057/sms",
        data={"csrf_token": csrf_token(page), "phone": "07700 900123", "consent": "y"},
    )
    assert response.status_code == 303
    code = leeds_sender.last_code_for("+447700900123")
    assert code and len(code) == 6
    verify_page = client.get("/sms/verify").get_data(as_text=True)
    assert "+44 77** ***123" in verify_page
    response = client.post(
        "/sms/verify", data={"csrf_token": csrf_token(verify_page), "code": code}
    )
    assert response.status_code == 200
    confirmed = response.get_data(as_text=True)
    assert "Text reminders confirmed" in confirmed
    link = re.search(r'href="http://localhost(/unsubscribe/[^"]+)"', confirmed).group(1)
    assert "Reply STOP to stop" in leeds_sender.sent[-1].body

    from examples.leeds_bins import sending

    day, rows = sending.reminders_due(leeds_any_app, datetime(2026, 12, 3, 19, 0, tzinfo=UTC))
    assert day.isoformat() == "2026-12-04"
    assert [r.recipient for r in rows] == ["+447700900123"]

    page = client.get(link).get_data(as_text=True)
    assert "Stop text reminders" in page
    response = client.post(link, data={"csrf_token": csrf_token(page)})
    assert "Text reminders stopped" in response.get_data(as_text=True)
    _, rows = sending.reminders_due(leeds_any_app, datetime(2026, 12, 3, 19, 0, tzinfo=UTC))
    assert rows == []


@pytest.mark.parametrize(
    "query",
    [
        "from=9999-12-31",  # the default "to" (from + 8 weeks) would pass the year 9999
        "from=9999-12-01&to=9999-12-31",
        "to=9999-12-31",
        "from=0001-01-01&to=0001-01-02",
        "from=0001-01-01",
    ],
)
def test_dates_near_the_ends_of_the_calendar_are_400_not_500(leeds_client, query):
    response = leeds_client.get(f"/api/premises/666057/collections?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_date"
    assert "between" in response.get_json()["error"]["message"]


def test_readyz_shows_only_a_plain_status_without_the_token(leeds_app):
    leeds_app.config["READYZ_TOKEN"] = "s3cret-readyz-token"
    client = leeds_app.test_client()
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "s3cret-readyz-token"},
    ):
        response = client.get("/readyz", headers=headers)
        assert response.status_code == 503  # no scheduler heartbeat yet
        assert response.get_json() == {"status": "not_ready"}
        assert "no-store" in response.headers["Cache-Control"]
    detail = client.get("/readyz", headers={"Authorization": "Bearer s3cret-readyz-token"})
    assert detail.get_json()["checks"]["data"]["imports"]["bins"]["premises"] > 0


def test_readyz_detail_needs_a_configured_token(leeds_app):
    body = leeds_app.test_client().get("/readyz", headers={"Authorization": "Bearer "}).get_json()
    assert body == {"status": "not_ready"}
