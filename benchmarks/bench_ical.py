"""One address's year of bin collections as an ICS feed: civickit Feed vs plain icalendar.

Both build the same calendar (4 bins, 104 all-day events, each with a DISPLAY
alarm) from the same rows and serialise it; the peer uses icalendar 7's own
constructors directly, so the ratio is what Feed's checks and sorting cost.
"""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta

from icalendar import Alarm, Calendar, Event, vDuration

from benchmarks._common import ratio, table, timed
from civickit.ical import PRODID, Feed

URL = "https://bins.example.org/premises/666057/calendar.ics"
UPDATED = datetime(2025, 3, 20, 18, 30, tzinfo=UTC)
REFRESH = timedelta(hours=12)
ALARM = -timedelta(hours=5)
ROUNDS = 5
PER_ROUND = 20


def rows() -> list[tuple[date, str, str]]:
    first = {"black": 1, "green": 8, "brown": 3, "food": 2}
    return [
        (day, f"{bin_.title()} bin", f"bins-666057-{bin_}-{day}@bins.example.org")
        for bin_, d in first.items()
        for day in (date(2025, 4, d) + timedelta(weeks=2 * n) for n in range(26))
    ]


def with_feed(data: list[tuple[date, str, str]]) -> bytes:
    feed = Feed("Bin collections", uid="premises-666057@bins.example.org", url=URL)
    for day, summary, uid in data:
        feed.add_day(day, summary, uid=uid, updated=UPDATED, alarm=ALARM, categories=[summary])
    return feed.to_ical()


def with_icalendar(data: list[tuple[date, str, str]]) -> bytes:
    cal = Calendar.new(
        name="Bin collections",
        uid="premises-666057@bins.example.org",
        prodid=PRODID,
        calscale="GREGORIAN",
        method="PUBLISH",
        refresh_interval=REFRESH,
        source=URL,
        url=URL,
    )
    cal["REFRESH-INTERVAL"].params["VALUE"] = "DURATION"
    cal.add("X-PUBLISHED-TTL", vDuration(REFRESH))
    for day, summary, uid in sorted(data):
        event = Event.new(
            summary=summary,
            start=day,
            end=day + timedelta(days=1),
            uid=uid,
            stamp=UPDATED,
            categories=[summary],
        )
        event.add_component(Alarm.new_display(description=f"Reminder: {summary}", trigger=ALARM))
        cal.add_component(event)
    return cal.to_ical()


def per_feed_us(build, data) -> float:
    """Median over rounds of the mean microseconds per feed within a round."""
    samples = []
    for _ in range(ROUNDS):
        seconds, _ = timed(lambda: [build(data) for _ in range(PER_ROUND)])
        samples.append(seconds / PER_ROUND * 1e6)
    return statistics.median(samples)


def main() -> None:
    data = rows()
    ours_bytes, peer_bytes = with_feed(data), with_icalendar(data)
    assert ours_bytes == peer_bytes, "the two builders must produce the same calendar"
    # interleave warm-up so neither side benefits from running second
    with_feed(data), with_icalendar(data)
    ours = per_feed_us(with_feed, data)
    peer = per_feed_us(with_icalendar, data)
    print(f"{len(data)} events with alarms, {len(ours_bytes):,} bytes per feed")
    table(
        ["builder", "µs per feed", "ratio"],
        [
            ["civickit Feed.to_ical", ours, ratio(ours, peer)],
            ["plain icalendar 7", peer, "1.00x"],
        ],
    )


if __name__ == "__main__":
    main()
