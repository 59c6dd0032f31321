"""civickit.ical: feeds checked by two independent parsers and by RFC 5545 invariants."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from ical.calendar_stream import IcsCalendarStream

from civickit.ical import Feed, subscribe_links

LONDON = ZoneInfo("Europe/London")
UPDATED = datetime(2025, 3, 20, 18, 30, tzinfo=LONDON)
FEED_URL = "https://bins.example.org/premises/666057/calendar.ics"
# four bins on a fortnightly cycle, as Leeds collects them
FIRST = {"black": date(2025, 4, 1), "green": date(2025, 4, 8), "brown": date(2025, 4, 3)}


def year_of_collections() -> dict[str, list[date]]:
    """Every collection from April 2025 to March 2026 (spans both clock changes)."""
    days = {
        bin_: [first + timedelta(weeks=2 * n) for n in range(26)] for bin_, first in FIRST.items()
    }
    days["food"] = [date(2025, 4, 2) + timedelta(weeks=n) for n in range(52)]
    return days


def year_feed(updated: datetime = UPDATED, order=lambda items: items) -> Feed:
    feed = Feed(
        "Bin collections – 1 Abbey Avenue",
        uid="premises-666057@bins.example.org",
        description="Leeds bin days for 1 Abbey Avenue, Bramley",
        url=FEED_URL,
    )
    items = [(b, d) for b, ds in year_of_collections().items() for d in ds]
    for bin_, day in order(items):
        feed.add_day(
            day,
            f"{bin_.title()} bin",
            uid=f"bins-666057-{bin_}-{day.isoformat()}@bins.example.org",
            updated=updated,
            description=f"Put your {bin_} bin out by 7am.",
            alarm=-timedelta(hours=5),
            categories=[bin_],
        )
    return feed


@pytest.fixture(scope="module")
def feed() -> Feed:
    return year_feed()


@pytest.fixture(scope="module")
def parsed(feed) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(feed.to_ical())


def _expected() -> set[tuple[str, date]]:
    return {(f"{b.title()} bin", d) for b, ds in year_of_collections().items() for d in ds}


# -- both parsers read back what was put in ------------------------------------------------


def test_icalendar_reads_every_event(parsed):
    assert {(str(e["SUMMARY"]), e.start) for e in parsed.events} == _expected()
    assert len(parsed.events) == 26 * 3 + 52


def test_ical_package_reads_every_event(feed):
    calendar = IcsCalendarStream.calendar_from_ics(feed.to_ical().decode())
    assert {(e.summary, e.dtstart) for e in calendar.events} == _expected()
    assert calendar.prodid and "civickit" in calendar.prodid


def test_recurring_ical_events_expands_to_the_expected_dates(parsed):
    found = recurring_ical_events.of(parsed).between(date(2025, 4, 1), date(2026, 4, 1))
    assert {(str(e["SUMMARY"]), e.start) for e in found} == _expected()
    october = recurring_ical_events.of(parsed).between(date(2025, 10, 1), date(2025, 11, 1))
    assert sorted({e.start for e in october if str(e["SUMMARY"]) == "Food bin"}) == [
        date(2025, 10, 1),
        date(2025, 10, 8),
        date(2025, 10, 15),
        date(2025, 10, 22),
        date(2025, 10, 29),
    ]


# -- RFC 5545 invariants -----------------------------------------------------------------------


def test_every_event_obeys_the_invariants(parsed, feed):
    for event in parsed.events:
        assert event["UID"]
        assert event["DTSTAMP"].dt == datetime(2025, 3, 20, 18, 30, tzinfo=UTC)
        start, end = event["DTSTART"], event["DTEND"]
        assert start.params["VALUE"] == "DATE" and end.params["VALUE"] == "DATE"
        assert type(start.dt) is date and type(end.dt) is date
        assert end.dt == start.dt + timedelta(days=1)  # exclusive end: one whole day
    raw = feed.to_ical().decode()
    assert raw.count("BEGIN:VEVENT") == len(parsed.events)
    assert raw.count("DTSTAMP:20250320T183000Z") == len(parsed.events)
    assert len(re.findall(r"^DTSTART;VALUE=DATE:\d{8}\r$", raw, re.M)) == len(parsed.events)


def test_uids_are_unique(parsed):
    uids = [str(e["UID"]) for e in parsed.events]
    assert len(set(uids)) == len(uids)


def test_calendar_properties(parsed, feed):
    assert parsed["VERSION"] == "2.0"
    assert "civickit" in parsed["PRODID"]
    assert parsed["CALSCALE"] == "GREGORIAN"
    assert parsed["METHOD"] == "PUBLISH"
    assert parsed["UID"] == "premises-666057@bins.example.org"
    assert parsed["NAME"] == parsed["X-WR-CALNAME"] == "Bin collections – 1 Abbey Avenue"
    assert parsed["DESCRIPTION"] == parsed["X-WR-CALDESC"]
    assert parsed["SOURCE"] == parsed["URL"] == FEED_URL
    raw = feed.to_ical().decode()
    assert "\r\nREFRESH-INTERVAL;VALUE=DURATION:PT12H\r\n" in raw
    assert "\r\nX-PUBLISHED-TTL:PT12H\r\n" in raw
    assert "VTIMEZONE" not in raw  # all-day dates float; no zone needed


def test_refresh_interval_is_configurable():
    raw = Feed("x", uid="x", refresh=timedelta(days=1)).to_ical().decode()
    assert "REFRESH-INTERVAL;VALUE=DURATION:P1D\r\n" in raw
    assert "X-PUBLISHED-TTL:P1D\r\n" in raw


def test_alarm_is_a_display_alarm_five_hours_before(parsed, feed):
    event = parsed.events[0]
    (alarm,) = event.walk("VALARM")
    assert alarm["ACTION"] == "DISPLAY"
    assert alarm["DESCRIPTION"]
    assert alarm["TRIGGER"].to_ical() == b"-PT5H"
    # anchored at the start of the (floating) day: 19:00 the evening before
    assert event.alarms.times[0].trigger == datetime.combine(event.start, datetime.min.time()) - (
        timedelta(hours=5)
    )
    calendar = IcsCalendarStream.calendar_from_ics(feed.to_ical().decode())
    assert all(e.alarm[0].trigger == timedelta(hours=-5) for e in calendar.events)


def test_no_alarm_unless_asked():
    feed = Feed("x", uid="x")
    feed.add_day(date(2025, 7, 4), "Black bin", uid="a", updated=UPDATED)
    assert b"VALARM" not in feed.to_ical()
    assert b"CATEGORIES" not in feed.to_ical()


# -- determinism and ETags ---------------------------------------------------------------------


def test_two_renders_are_byte_identical(feed):
    again = year_feed(order=lambda items: list(reversed(items)))
    assert again.to_ical() == feed.to_ical()
    assert again.etag == feed.etag
    assert re.fullmatch(r'"[0-9a-f]{32}"', feed.etag)


def test_a_new_updated_time_changes_bytes_and_etag(feed):
    changed = year_feed(updated=UPDATED + timedelta(minutes=1))
    assert changed.to_ical() != feed.to_ical()
    assert changed.etag != feed.etag


def test_adding_an_event_changes_the_etag():
    feed = Feed("x", uid="x")
    before = feed.etag
    feed.add_day(date(2025, 7, 4), "Black bin", uid="a", updated=UPDATED)
    assert feed.etag != before


def test_a_duplicate_uid_is_an_error_not_a_second_event():
    feed = Feed("x", uid="x")
    feed.add_day(date(2025, 7, 4), "Black bin", uid="same", updated=UPDATED)
    with pytest.raises(ValueError, match="already in the feed"):
        feed.add_day(date(2025, 7, 11), "Black bin", uid="same", updated=UPDATED)
    assert len(feed) == 1
    assert feed.to_ical().count(b"BEGIN:VEVENT") == 1


@pytest.mark.parametrize(
    ("day", "updated", "error"),
    [
        (date(2025, 7, 4), datetime(2025, 7, 1, 9, 0), ValueError),  # naive: ambiguous
        (datetime(2025, 7, 4, 7, 0, tzinfo=LONDON), UPDATED, TypeError),  # not all-day
        ("2025-07-04", UPDATED, TypeError),
    ],
)
def test_add_day_rejects_ambiguous_input(day, updated, error):
    with pytest.raises(error):
        Feed("x", uid="x").add_day(day, "Black bin", uid="a", updated=updated)


# -- the October clock change -----------------------------------------------------------------


def test_the_october_clock_change_moves_no_date():
    # last Sunday of October 2025: 02:00 BST -> 01:00 GMT
    days = [date(2025, 10, 25), date(2025, 10, 26), date(2025, 10, 27)]
    feed = Feed("x", uid="x")
    for n, day in enumerate(days):
        # the ambiguous 01:30 on the night itself, once in BST (fold=0) and once in GMT
        updated = datetime(2025, 10, 26, 1, 30, fold=n % 2, tzinfo=LONDON)
        feed.add_day(
            day, "Black bin", uid=f"black-{day}", updated=updated, alarm=-timedelta(hours=5)
        )
    raw = feed.to_ical().decode()

    parsed = icalendar.Calendar.from_ical(raw)
    assert [e.start for e in parsed.events] == days
    assert [str(e["DTSTAMP"].to_ical().decode()) for e in parsed.events] == [
        "20251026T003000Z",
        "20251026T013000Z",
        "20251026T003000Z",
    ]
    assert [t.trigger for e in parsed.events for t in e.alarms.times] == [
        datetime(2025, 10, 24, 19, 0),
        datetime(2025, 10, 25, 19, 0),
        datetime(2025, 10, 26, 19, 0),
    ]
    london = IcsCalendarStream.calendar_from_ics(raw).timeline_tz(LONDON)
    assert [(e.start, e.end) for e in london] == [(d, d + timedelta(days=1)) for d in days]
    expanded = recurring_ical_events.of(parsed).between(date(2025, 10, 20), date(2025, 11, 1))
    assert sorted(e.start for e in expanded) == days


# -- an empty feed ---------------------------------------------------------------------------


def test_an_empty_feed_is_still_a_valid_calendar():
    raw = Feed("Bins – nothing scheduled", uid="empty@bins.example.org").to_ical()
    parsed = icalendar.Calendar.from_ical(raw)
    parsed.validate()  # RFC 5545 §3.6: at least one component
    assert parsed.events == []
    assert [tz["TZID"] for tz in parsed.timezones] == ["Europe/London"]
    calendar = IcsCalendarStream.calendar_from_ics(raw.decode())
    assert calendar.events == [] and calendar.timezones[0].tz_id == "Europe/London"
    assert list(recurring_ical_events.of(parsed).between(date(2025, 1, 1), date(2027, 1, 1))) == []


def test_a_full_feed_validates(parsed):
    parsed.validate()


# -- the bytes on the wire ---------------------------------------------------------------------


def test_crlf_line_endings_and_75_octet_folding():
    feed = Feed("x", uid="x")
    long_text = "Put the bin out by 7am – “kerbside”, lid shut; " * 8
    feed.add_day(
        date(2025, 7, 4), "Black bin – général", uid="a", updated=UPDATED, description=long_text
    )
    raw = feed.to_ical()
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    lines = raw.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # the description was folded
    for line in lines:
        line.decode("utf-8")  # no character split across a fold
    assert icalendar.Calendar.from_ical(raw).events[0]["DESCRIPTION"] == long_text


def test_year_feed_lines_fit(feed):
    assert all(len(line) <= 75 for line in feed.to_ical().split(b"\r\n"))


# -- subscribe links -------------------------------------------------------------------------


def test_subscribe_links():
    links = subscribe_links(FEED_URL, name="Bins – 1 Abbey Avenue")
    assert links == {
        "webcal": "webcal://bins.example.org/premises/666057/calendar.ics",
        "google": "https://calendar.google.com/calendar/r?cid="
        "webcal://bins.example.org/premises/666057/calendar.ics",
        "outlook": "https://outlook.live.com/calendar/0/addfromweb?url=https%3A%2F%2F"
        "bins.example.org%2Fpremises%2F666057%2Fcalendar.ics"
        "&name=Bins%20%E2%80%93%201%20Abbey%20Avenue",
        "download": FEED_URL,
    }


def test_subscribe_links_keep_a_query_string_inside_the_cid():
    links = subscribe_links("https://bins.example.org/feed.ics?round=12&bin=black")
    assert links["google"].endswith(
        "cid=webcal://bins.example.org/feed.ics%3Fround%3D12%26bin%3Dblack"
    )
    assert "name=" not in links["outlook"]


@pytest.mark.parametrize(
    "url", ["http://bins.example.org/feed.ics", "webcal://bins.example.org/feed.ics",
            "bins.example.org/feed.ics", "https://", "", "not a url"],
)  # fmt: skip
def test_subscribe_links_refuse_anything_but_https(url):
    with pytest.raises(ValueError, match="https://"):
        subscribe_links(url)


@pytest.mark.parametrize("breaker", ["\r", "\n", "\r\n", "\x00", "\x1b", "\x0b"])
def test_no_control_character_in_a_name_or_text_can_inject_a_line(breaker):
    """A CR in the name once wrote raw into NAME: and X-WR-CALNAME:, and an LF raised."""
    from icalendar import Calendar

    evil = f"Bins{breaker}X-INJECTED:1"
    feed = Feed(evil, uid="bins@example.org", description=f"Line 1{breaker}X-INJECTED:2")
    feed.add_day(
        date(2025, 7, 4),
        f"Black bin{breaker}X-INJECTED:3",
        uid="e1@example.org",
        updated=datetime(2025, 7, 1, tzinfo=UTC),
        description=f"Put it out{breaker}X-INJECTED:4",
        categories=[f"black{breaker}X-INJECTED:5"],
        alarm=-timedelta(hours=5),
    )
    body = feed.to_ical()
    lines = body.decode().split("\r\n")
    assert not [line for line in lines if "X-INJECTED" in line.split(":", 1)[0]]
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", body)
    assert b"\r" not in body.replace(b"\r\n", b"")
    parsed = Calendar.from_ical(body)
    assert parsed.get("X-INJECTED") is None
    assert str(parsed["X-WR-CALNAME"]).startswith("Bins")
    assert "X-INJECTED:1" in str(parsed["NAME"])  # kept as text, on the same line
