"""leeds_bins pages: postcode search, natural address order, bin days in words, calendar feed."""

from __future__ import annotations

import re

import icalendar
import pytest

from examples.leeds_bins import state

PAGES = ["/", "/addresses?postcode=LS5+3DH", "/premises/666057"]


def text_of(response) -> str:
    html = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_in_the_frame(leeds_client, path):
    response = leeds_client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Leeds bin days" in html
    assert 'id="sample-data-notice"' in html  # the bundled sample is in use


@pytest.mark.parametrize("typed", ["LS5 3DH", "ls53dh", "  ls5   3dh ", "Ls5 3dH"])
def test_postcode_in_any_case_and_spacing(leeds_client, typed):
    response = leeds_client.get("/addresses", query_string={"postcode": typed})
    assert response.status_code == 200
    assert "1 Abbey Avenue, Bramley, Leeds" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "junk",
    ["", "   ", "hello", "LS5", "12345", "<script>", "LS5 3DH; drop table", "x" * 5000, "💩"],
)
def test_junk_postcode_gets_an_inline_error_not_a_500(leeds_client, junk):
    response = leeds_client.get("/addresses", query_string={"postcode": junk})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "govuk-error-summary" in html
    assert 'href="#postcode"' in html  # the summary links to the field
    assert "govuk-error-message" in html
    assert "<script>" not in html.split("</head>", 1)[1].split("<script", 1)[0]


def test_unknown_postcode_says_so(leeds_client):
    response = leeds_client.get("/addresses?postcode=LS1 1UR")
    assert response.status_code == 200
    assert "No addresses found for LS1 1UR" in text_of(response)


def test_the_demo_names_the_postcodes_its_sample_covers(leeds_app, leeds_client):
    import sqlalchemy as sa

    from examples.leeds_bins import models

    with state.get_engine(leeds_app).connect() as conn:
        covered = sorted(conn.execute(sa.select(models.premises.c.postcode).distinct()).scalars())

    html = leeds_client.get("/addresses?postcode=LS1 1UR").get_data(as_text=True)

    listed = re.findall(r'href="/addresses\?postcode=([^"]+)">([^<]+)</a>', html)
    assert [name for _, name in listed] == covered[:20] and covered
    assert "This demo holds a sample of Leeds addresses only" in html
    for query, _ in listed:  # each one finds addresses
        assert "No addresses found" not in leeds_client.get(
            f"/addresses?postcode={query}"
        ).get_data(as_text=True)


def test_addresses_in_natural_order_with_flats_under_their_building(leeds_client):
    text = text_of(leeds_client.get("/addresses?postcode=LS5 3DH"))
    order = [
        "1 Abbey Avenue",
        "2 Abbey Avenue",
        "9 Abbey Avenue",
        "10 Abbey Avenue Flat 1, 10 Abbey Avenue",
        "Flat 2, 10 Abbey Avenue",
        "Flat 3, 10 Abbey Avenue",
        "Flat 10, 10 Abbey Avenue",
        "11 Abbey Avenue",
        "12 Abbey Avenue",
    ]
    positions = [text.find(item) for item in order]
    assert -1 not in positions, list(zip(order, positions, strict=True))
    assert positions == sorted(positions)


def test_premises_page_says_next_collection_in_words_and_colour(leeds_client):
    response = leeds_client.get("/premises/666057")
    text = text_of(response)
    assert "Tomorrow, Friday 4 December: black bin (general waste)" in text
    assert "Wednesday 9 December: brown bin (garden waste)" in text
    assert "Friday 11 December: green bin (recycling)" in text
    html = response.get_data(as_text=True)
    # the colour dot is decoration beside the words, hidden from screen readers
    assert '<span class="ck-bin ck-bin--black" aria-hidden="true"></span>' in html


def test_premises_page_lists_eight_weeks_and_flags_bank_holidays(leeds_client):
    text = text_of(leeds_client.get("/premises/666057"))
    assert "The next 8 weeks" in text
    assert "Friday 25 December is a bank holiday" not in text  # full date with year
    assert "Friday 25 December 2026 is a bank holiday (Christmas Day)" in text
    # the council's date stands: the green bin is still shown on Christmas Day
    assert re.search(r"Friday 25 December Bank holiday\s+Green bin \(recycling\)", text)
    assert "Thursday 28 January" not in text  # beyond 8 weeks


def test_premises_page_has_calendar_links_and_sms_form(leeds_client):
    html = leeds_client.get("/premises/666057").get_data(as_text=True)
    assert "webcal://localhost/premises/666057/calendar.ics" in html
    assert 'href="http://localhost/premises/666057/calendar.ics"' in html
    assert 'name="csrf_token"' in html
    assert "I agree to Leeds bin days texting this mobile number" in html


def test_calendar_links_use_public_base_url(tmp_path, leeds_sender):
    from tests.examples.helpers import load_leeds_sample, make_leeds_app

    app = make_leeds_app(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        tmp_path,
        leeds_sender,
        PUBLIC_BASE_URL="https://bins.example.org",
    )
    load_leeds_sample(app)
    client = app.test_client()
    html = client.get("/premises/666057", base_url="https://bins.example.org").get_data(
        as_text=True
    )
    assert "webcal://bins.example.org/premises/666057/calendar.ics" in html
    assert "https://calendar.google.com/calendar/r?cid=webcal://bins.example.org" in html
    assert (
        "https://outlook.live.com/calendar/0/addfromweb?url=https%3A%2F%2Fbins.example.org" in html
    )


def test_premises_without_collections_says_so(leeds_client):
    # the garage site next to 12 Abbey Avenue has no bins
    response = leeds_client.get("/premises/900015")
    assert response.status_code == 200
    assert "No upcoming collections are listed for this address" in text_of(response)


@pytest.mark.parametrize(
    "path", ["/premises/1", "/premises/999999999999", "/premises/1/calendar.ics"]
)
def test_unknown_premises_is_404(leeds_client, path):
    response = leeds_client.get(path)
    assert response.status_code == 404


def test_non_numeric_premises_is_404(leeds_client):
    assert leeds_client.get("/premises/abc").status_code == 404


def test_calendar_feed_events_uids_and_caching(leeds_client):
    response = leeds_client.get("/premises/666057/calendar.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert "max-age" in response.headers["Cache-Control"]
    assert "Set-Cookie" not in response.headers
    cal = icalendar.Calendar.from_ical(response.data)
    events = list(cal.walk("VEVENT"))
    uids = [str(e["UID"]) for e in events]
    assert len(uids) == len(set(uids))
    assert "666057-2026-12-04-black@leeds-bins.civickit" in uids
    christmas = next(
        e for e in events if str(e["UID"]) == "666057-2026-12-25-green@leeds-bins.civickit"
    )
    assert str(christmas["SUMMARY"]) == "Green bin (recycling)"
    assert christmas.decoded("DTSTART").isoformat() == "2026-12-25"
    assert christmas.decoded("DTEND").isoformat() == "2026-12-26"  # all-day, exclusive end
    # one event per bin per date
    per_day = {(e.decoded("DTSTART"), str(e["SUMMARY"])) for e in events}
    assert len(per_day) == len(events)
    # same data, same bytes: a second fetch has the same ETag, and If-None-Match gets 304
    again = leeds_client.get("/premises/666057/calendar.ics")
    assert again.data == response.data
    etag = response.headers["ETag"]
    cached = leeds_client.get("/premises/666057/calendar.ics", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.data == b""


def test_calendar_dtstamp_is_the_import_time_not_now(leeds_app):
    client = leeds_app.test_client()
    cal = icalendar.Calendar.from_ical(client.get("/premises/666057/calendar.ics").data)
    stamps = {e.decoded("DTSTAMP") for e in cal.walk("VEVENT")}
    assert len(stamps) == 1
    serving = state.get_import_log(leeds_app).serving().get("bins")
    assert stamps.pop().replace(microsecond=0) == serving.imported_at.replace(microsecond=0)


def test_the_calendar_feed_sends_one_date_header(leeds_app, serve):
    import http.client

    server = serve(leeds_app)
    for headers in ({}, {"Range": "bytes=0-9"}):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/premises/666057/calendar.ics", headers=headers)
        response = conn.getresponse()
        body = response.read()
        conn.close()

        assert response.status in (200, 206) and body
        assert len(response.msg.get_all("Date") or []) == 1, response.msg.items()


def test_links_never_follow_a_foreign_host_header(leeds_client):
    """Without PUBLIC_BASE_URL (tests, debug) only loopback names are answered, so links,
    the feed's URL and its shared-cache copy cannot be made to point at another site."""
    for path in ("/premises/666057", "/premises/666057/calendar.ics"):
        response = leeds_client.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 400
        assert b"evil.example" not in response.data


def test_links_use_public_base_url_whatever_host_was_asked(tmp_path, leeds_sender):
    from tests.examples.helpers import load_leeds_sample, make_leeds_app

    app = make_leeds_app(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        tmp_path,
        leeds_sender,
        PUBLIC_BASE_URL="https://bins.example.org",
        TRUSTED_HOSTS=["internal.lan"],  # e.g. a health checker's name for the app
    )
    load_leeds_sample(app)
    client = app.test_client()
    html = client.get("/premises/666057", base_url="http://internal.lan:8001").get_data(
        as_text=True
    )
    assert "internal.lan" not in html
    assert "webcal://bins.example.org/premises/666057/calendar.ics" in html
    feed = client.get("/premises/666057/calendar.ics", base_url="http://internal.lan:8001")
    cal = icalendar.Calendar.from_ical(feed.data)
    assert str(cal["URL"]) == "https://bins.example.org/premises/666057/calendar.ics"


def test_if_none_match_star_on_premises_that_do_not_exist_is_404(leeds_client):
    response = leeds_client.get("/premises/1/calendar.ics", headers={"If-None-Match": "*"})
    assert response.status_code == 404
    # on one that exists, "*" matches its feed as HTTP says
    response = leeds_client.get("/premises/666057/calendar.ics", headers={"If-None-Match": "*"})
    assert response.status_code == 304


def test_pages_holding_a_csrf_token_are_never_cached_by_others(leeds_app, leeds_sender):
    from tests.examples.helpers import sign_up, subscriptions_token

    client = leeds_app.test_client()
    assert sign_up(client, leeds_sender).status_code == 303
    token = subscriptions_token(leeds_app)
    for path in ("/premises/666057", "/sms/verify", f"/unsubscribe/{token}"):
        response = client.get(path)
        assert 'name="csrf_token"' in response.get_data(as_text=True), path
        directives = {d.strip() for d in response.headers.get("Cache-Control", "").split(",")}
        assert {"private", "no-store"} <= directives, (path, directives)
    # the calendar feed has no token, and shared caches may keep it
    feed = client.get("/premises/666057/calendar.ics")
    assert feed.headers["Cache-Control"] == "public, max-age=3600"
