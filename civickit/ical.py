"""Calendar feeds of all-day events (bin collections) that clients can subscribe to.

A :class:`Feed` renders the same bytes for the same input, so a server can
answer ``If-None-Match`` with 304 and subscribers never see duplicates:

* every event carries the caller's stable ``UID`` (a repeated one is an error);
* ``DTSTAMP`` comes from the caller's ``updated`` time, never from the clock;
* events are written in a fixed order (day, then UID);
* all-day events are floating dates (``DTSTART;VALUE=DATE``), so no timezone
  and no clock change can move them to another day.

The ICS text itself is written by icalendar 7 (escaping, CRLF, 75-octet folding).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote, urlencode, urlsplit

from icalendar import (
    Alarm,
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vDuration,
    vUnknown,
)

from .errors import InvalidArgument, InvalidArgumentType

__all__ = ["PRODID", "Feed", "subscribe_links"]

PRODID = "-//civickit//civickit calendar feed//EN"


@dataclass(frozen=True)
class _Day:
    day: date
    summary: str
    uid: str
    stamp: datetime
    description: str | None
    alarm: timedelta | None
    categories: tuple[str, ...]
    sequence: int


class Feed:
    """A subscribable calendar of all-day events.

    ``name`` is shown by calendar apps (``NAME`` and ``X-WR-CALNAME``); ``uid``
    identifies the calendar itself and must stay the same across renders;
    ``refresh`` is the polling interval suggested to clients (``REFRESH-INTERVAL``
    and ``X-PUBLISHED-TTL``; Google ignores both); ``url`` is where the feed is
    served (``SOURCE`` and ``URL``).
    """

    def __init__(
        self,
        name: str,
        *,
        uid: str,
        description: str | None = None,
        refresh: timedelta = timedelta(hours=12),
        url: str | None = None,
    ) -> None:
        if not name or not name.strip():
            raise InvalidArgument("A feed needs a name for calendar apps to show.")
        _check_uid(uid, "feed")
        if refresh <= timedelta(0):
            raise InvalidArgument(f"refresh must be a positive interval, not {refresh!r}.")
        self.name = _one_line(name)
        self.uid = uid
        self.description = None if description is None else _lines(description)
        self.refresh = refresh
        self.url = url
        self._days: dict[str, _Day] = {}
        self._ical: bytes | None = None

    def __len__(self) -> int:
        return len(self._days)

    def add_day(
        self,
        day: date,
        summary: str,
        *,
        uid: str,
        updated: datetime,
        description: str | None = None,
        alarm: timedelta | None = None,
        categories: Iterable[str] = (),
        sequence: int = 0,
    ) -> None:
        """Add an all-day event on ``day``.

        ``uid`` must be unique within the feed and stable across renders (derive it
        from what the event *is*, e.g. ``bins-<round>-<bin>-<original date>@host``);
        adding the same ``uid`` twice raises ``ValueError`` rather than
        producing a second copy. ``updated`` (timezone-aware) is when this event's
        data last changed; it becomes ``DTSTAMP``. ``alarm`` is an offset from
        the start of the day, e.g. ``-timedelta(hours=5)`` for 19:00 the evening
        before. When a collection moves, keep its ``uid`` and raise ``sequence``.
        """
        if isinstance(day, datetime) or not isinstance(day, date):
            raise InvalidArgumentType(f"day must be a datetime.date, not {type(day).__name__}.")
        if not summary or not summary.strip():
            raise InvalidArgument("An event needs a summary (its title).")
        _check_uid(uid, "event")
        if uid in self._days:
            raise InvalidArgument(
                f"An event with UID {uid!r} is already in the feed; each UID must be "
                "unique, or calendar apps show one event and silently drop the other."
            )
        if not isinstance(updated, datetime) or updated.utcoffset() is None:
            raise InvalidArgument(
                "updated must be a timezone-aware datetime (e.g. with "
                "ZoneInfo('Europe/London')): it becomes DTSTAMP."
            )
        if alarm is not None and not isinstance(alarm, timedelta):
            raise InvalidArgumentType("alarm must be a timedelta from the start of the day.")
        if sequence < 0:
            raise InvalidArgument("sequence counts revisions and cannot be negative.")
        self._days[uid] = _Day(
            day=day,
            summary=_one_line(summary),
            uid=uid,
            stamp=updated.astimezone(UTC),
            description=None if description is None else _lines(description),
            alarm=alarm,
            categories=tuple(_one_line(c) for c in categories),
            sequence=sequence,
        )
        self._ical = None

    def to_calendar(self) -> Calendar:
        """Build a fresh :class:`icalendar.Calendar` of this feed."""
        cal = Calendar.new(
            name=self.name,
            description=self.description,
            uid=self.uid,
            prodid=PRODID,
            calscale="GREGORIAN",
            method="PUBLISH",
            refresh_interval=self.refresh,
            source=self.url,
            url=self.url,
        )
        # icalendar 7.3 writes X-WR-CALDESC raw (NAME and X-WR-CALNAME too, but the
        # name is already on one line): one line, so it cannot start a line of its own
        if self.description is not None:
            cal["X-WR-CALDESC"] = vUnknown(_one_line(self.description))
        # icalendar 7.3 omits VALUE=DURATION, which RFC 7986 requires here
        cal["REFRESH-INTERVAL"].params["VALUE"] = "DURATION"
        cal.add("X-PUBLISHED-TTL", vDuration(self.refresh))
        for item in sorted(self._days.values(), key=lambda d: (d.day, d.uid)):
            cal.add_component(_event(item))
        if not self._days:
            # RFC 5545 §3.6 wants at least one component; an empty VEVENT list
            # is normal (no collections yet), so carry the zone the dates mean.
            cal.add_component(_london())
        return cal

    def to_ical(self) -> bytes:
        """Render the feed as ``text/calendar`` bytes, identical for identical input."""
        if self._ical is None:
            self._ical = self.to_calendar().to_ical()
        return self._ical

    @property
    def etag(self) -> str:
        """A strong ETag for the rendered bytes, quoted as HTTP wants it."""
        return '"' + hashlib.sha256(self.to_ical()).hexdigest()[:32] + '"'


def _event(item: _Day) -> Event:
    event = Event.new(
        summary=item.summary,
        start=item.day,
        end=item.day + timedelta(days=1),  # DTEND is exclusive for all-day events
        uid=item.uid,
        stamp=item.stamp,
        description=item.description,
        categories=list(item.categories) or (),
        sequence=item.sequence or None,
    )
    if item.alarm is not None:
        event.add_component(
            Alarm.new_display(description=f"Reminder: {item.summary}", trigger=item.alarm)
        )
    return event


def _london() -> Timezone:
    """Europe/London as a rule (EU changes since 1996), so it never needs a date window."""
    tz = Timezone()
    tz.add("TZID", "Europe/London")
    for part, start, month, offset_from, offset_to, name in (
        (TimezoneDaylight(), datetime(1996, 3, 31, 1), 3, 0, 1, "BST"),
        (TimezoneStandard(), datetime(1996, 10, 27, 2), 10, 1, 0, "GMT"),
    ):
        part.add("DTSTART", start)
        part.add("TZOFFSETFROM", timedelta(hours=offset_from))
        part.add("TZOFFSETTO", timedelta(hours=offset_to))
        part.add("TZNAME", name)
        part.add("RRULE", {"FREQ": "YEARLY", "BYMONTH": month, "BYDAY": "-1SU"})
        tz.add_component(part)
    return tz


# RFC 5545 3.3.11: TEXT may hold any character but the controls (HTAB aside);
# line breaks are written escaped, as \n.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _lines(text: str) -> str:
    """``text`` with every line break as LF and no other control character."""
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _one_line(text: str) -> str:
    """``text`` on one line: names and titles have no place for a line break."""
    return " ".join(_lines(text).split("\n"))


def _check_uid(uid: str, what: str) -> None:
    if not isinstance(uid, str) or not uid.strip():
        raise InvalidArgument(f"A {what} needs a non-empty UID that stays the same across renders.")
    if "\r" in uid or "\n" in uid:
        raise InvalidArgument(f"A {what} UID cannot contain line breaks: {uid!r}.")


def subscribe_links(https_url: str, *, name: str | None = None) -> dict[str, str]:
    """Links that subscribe to the feed at ``https_url`` in the common calendar apps.

    Returns ``webcal`` (Apple Calendar, and most desktop apps), ``google``,
    ``outlook`` (Outlook.com; ``name`` is passed as the calendar's name) and
    ``download`` (the feed itself). Only an ``https://`` URL is accepted:
    Google and Outlook fetch feeds over HTTPS, and a plain-http link would
    let anyone on the path change the calendar.
    """
    parts = urlsplit(https_url) if isinstance(https_url, str) else None
    if parts is None or parts.scheme.lower() != "https" or not parts.hostname:
        raise InvalidArgument(
            f"{https_url!r} is not an https:// URL; serve the feed over HTTPS and pass "
            "its full address, e.g. 'https://bins.example.org/premises/1/calendar.ics'."
        )
    webcal = "webcal://" + https_url.split("://", 1)[1]
    outlook = {"url": https_url}
    if name:
        outlook["name"] = name
    return {
        "webcal": webcal,
        "google": "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=":/"),
        "outlook": "https://outlook.live.com/calendar/0/addfromweb?"
        + urlencode(outlook, quote_via=quote),
        "download": https_url,
    }
