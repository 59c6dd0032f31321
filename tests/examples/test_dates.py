"""The date-sensitive journeys again at other dates, so that a hidden date fails now, not in a year.

The rest of the suite sets the clock to one day (``leeds_clock``: noon on Thursday
3 December 2026). Code that reads some other clock, or bundled data that stops
being "upcoming" as time passes, can still pass there. Here the same journeys run
with the clock around the UK's clock changes and years ahead, and every expectation
comes from the date itself, not from a calendar. ``make test-dates`` goes further:
the whole suite under libfaketime, subprocesses included.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from ical.calendar_stream import IcsCalendarStream

from tests.examples.helpers import (
    SchedulerClock,
    leeds_engine,
    subscribed,
)

LONDON = ZoneInfo("Europe/London")


def noon(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), LONDON).replace(hour=12)


# Saturday before BST starts, its Sunday, the Sunday it ends (eves of Monday
# collections fall on the changes), a leap day, New Year 2030, ten and fifteen
# years on: well past the bundled sample's July-August 2025 and GOV.UK's
# bank-holiday list, which ends in 2028.
WHEN = [
    noon(d)
    for d in (
        "2027-03-27",
        "2027-03-28",
        "2027-10-31",
        "2028-02-29",
        "2030-01-01",
        "2036-06-15",
        "2041-12-20",
    )
]


@pytest.fixture(params=WHEN, ids=lambda when: when.date().isoformat())
def when(request) -> datetime:
    return request.param


@pytest.fixture
def leeds_clock(when, time_machine):
    """This module's clock: noon in Leeds on each date of WHEN, ticking (conftest's
    ``leeds_app`` and ``leeds_sender`` are built on it as on the usual one)."""
    time_machine.move_to(when, tick=True)
    return time_machine


def collection_days(app, premises_id: int | None = None) -> list[tuple[date, int]]:
    """``(date, premises id)`` of every collection in the database, by date."""
    from examples.leeds_bins import models

    c = models.collections
    query = sa.select(c.c.date, c.c.premises_id).order_by(c.c.date, c.c.premises_id)
    if premises_id is not None:
        query = query.where(c.c.premises_id == premises_id)
    with leeds_engine(app).connect() as conn:
        return [(d, p) for d, p in conn.execute(query)]


def test_the_api_page_and_feed_show_the_next_eight_weeks(leeds_app, when):
    today = when.date()
    client = leeds_app.test_client()
    found = client.get("/api/premises/666057/collections").get_json()
    days = sorted({date.fromisoformat(c["date"]) for c in found["collections"]})
    assert found["from"] == today.isoformat()
    assert days and days[0] >= today
    assert days[0] - today < timedelta(days=14)  # fortnightly at most
    assert days[-1] - today > timedelta(weeks=7)  # the whole window is filled

    page = client.get("/premises/666057").get_data(as_text=True)
    first = days[0]
    assert f"{first:%A} {first.day} {first:%B}" in page

    feed = client.get("/premises/666057/calendar.ics")
    assert feed.status_code == 200
    calendar = IcsCalendarStream.calendar_from_ics(feed.get_data(as_text=True))
    starts = {e.dtstart for e in calendar.events}
    assert set(days) <= starts  # every collection the API lists is in the feed


def test_one_reminder_on_the_eve_of_the_next_collection_day(
    leeds_app, when, leeds_sender, leeds_clock
):
    """A resident subscribed today gets exactly one text, the evening before the next
    collection day, naming that day: across clock changes and years ahead."""
    today = when.date()
    day, premises_id = next((d, p) for d, p in collection_days(leeds_app) if d > today)
    client = leeds_app.test_client()
    subscribed(client, leeds_sender, "07700 900123", premises_id)
    leeds_sender.sent.clear()

    eve = datetime.combine(day - timedelta(days=1), datetime.min.time(), LONDON)
    clock = SchedulerClock(leeds_app, leeds_clock, max(datetime.now(LONDON), eve.replace(hour=12)))
    try:
        clock.advance(eve.replace(hour=23))
    finally:
        clock.stop()
    texts = [m.body for m in leeds_sender.sent if m.body.startswith("Leeds bin days: tomorrow")]
    assert len(texts) == 1, texts
    assert f"tomorrow ({day:%a} {day.day} {day:%b})" in texts[0]
    assert leeds_sender.sent[0].to == "+447700900123"


def test_a_demo_left_running_keeps_its_dates_ahead(leeds_app, when, leeds_clock):
    """Twenty weeks on, past the projected sample's end: the scheduler's daily refresh
    projects it again, and the page still shows what is coming."""
    later = when + timedelta(weeks=20)
    clock = SchedulerClock(leeds_app, leeds_clock, later.replace(hour=0))
    try:
        clock.advance(later.replace(hour=12))
        assert clock.runs["leeds_bins.refresh"] == 1
    finally:
        clock.stop()
    days = [d for d, _ in collection_days(leeds_app, 666057)]
    assert min(d for d in days if d >= later.date()) - later.date() < timedelta(days=14)


def test_a_demo_started_on_an_old_database_projects_the_sample_again(leeds_app, when, leeds_clock):
    """`make demo` on a later day, with the database an earlier demo left behind."""
    from examples.leeds_bins import demo

    later = when + timedelta(weeks=30)
    leeds_clock.move_to(later, tick=True)
    demo.prepare(leeds_app)
    page = leeds_app.test_client().get("/premises/666057").get_data(as_text=True)
    first = min(d for d, _ in collection_days(leeds_app, 666057) if d >= later.date())
    assert f"{first:%A} {first.day} {first:%B}" in page


@pytest.mark.parametrize(
    ("when", "holiday"),
    [
        # from GOV.UK's published list: Christmas Day 2027 is a Saturday, its substitute Monday
        (noon("2027-12-20"), date(2027, 12, 27)),
        # beyond it (the list ends in 2028): from the rules
        (noon("2040-12-20"), date(2040, 12, 25)),
    ],
    ids=["published", "from-the-rules"],
)
def test_a_collection_on_christmas_day_is_flagged_in_any_year(leeds_app, when, holiday):
    on_holiday = [p for d, p in collection_days(leeds_app) if d == holiday]
    assert on_holiday, f"the projected sample collects nowhere on {holiday}"
    html = leeds_app.test_client().get(f"/premises/{on_holiday[0]}").get_data(as_text=True)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    day = f"{holiday:%A} {holiday.day} {holiday:%B} {holiday.year}"
    assert f"{day} is a bank holiday (Christmas Day)" in text
