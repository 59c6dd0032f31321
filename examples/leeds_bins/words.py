"""How bins, dates and bank holidays are put into words (one place, plain English)."""

from __future__ import annotations

import functools
import logging
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

LONDON = ZoneInfo("Europe/London")

# Colour word first, then what goes in it: colour is never the only cue.
BINS = {
    "black": ("Black bin", "general waste"),
    "green": ("Green bin", "recycling"),
    "brown": ("Brown bin", "garden waste"),
    "food": ("Food caddy", "food waste"),
}
ORDER = {name: i for i, name in enumerate(BINS)}


def today() -> date:
    """Today's date in Leeds, from the system clock (the server may run in UTC)."""
    return datetime.now(LONDON).date()


def bin_label(bin_: str, *, capital: bool = True) -> str:
    """``"Green bin (recycling)"``."""
    name, what = BINS.get(bin_, (f"{bin_.title()} bin", "other"))
    text = f"{name} ({what})"
    return text if capital else text[0].lower() + text[1:]


def long_date(day: date, *, year: bool = False) -> str:
    """``"Friday 4 December"`` (with the year when asked)."""
    text = f"{day:%A} {day.day} {day:%B}"
    return f"{text} {day.year}" if year else text


def when(day: date, today_: date) -> str:
    """``"Tomorrow, Friday 4 December"``; ``"Today, ..."``; or ``"Friday 4 December"``."""
    gap = (day - today_).days
    prefix = {0: "Today, ", 1: "Tomorrow, "}.get(gap, "")
    return prefix + long_date(day, year=day.year != today_.year)


def bin_name(bin_: str) -> str:
    """``"green bin"``: the colour word alone."""
    name = BINS.get(bin_, (f"{bin_.title()} bin", ""))[0]
    return name[0].lower() + name[1:]


def bins_in_words(bins: list[str], *, described: bool = True) -> str:
    """``"black bin (general waste) and green bin (recycling)"``; without the
    descriptions, ``"black bin and green bin"``."""
    ordered = sorted(bins, key=lambda b: ORDER.get(b, 9))
    if described:
        labels = [bin_label(b, capital=False) for b in ordered]
    else:
        labels = [bin_name(b) for b in ordered]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


@functools.cache
def _published() -> dict[date, str]:
    """England and Wales bank holidays as GOV.UK published them (govuk-bank-holidays' bundled copy)."""
    try:
        from govuk_bank_holidays.bank_holidays import BankHolidays

        found = BankHolidays(use_cached_holidays=True).get_holidays(
            division=BankHolidays.ENGLAND_AND_WALES
        )
        return {h["date"]: h["title"] for h in found}
    except Exception:  # a notice we cannot show must never break the page
        log.exception("bank holiday list unavailable")
        return {}


@functools.cache
def _expected(year: int) -> dict[date, str]:
    """England's bank holidays in ``year`` from the rules (the holidays package), for a
    year GOV.UK has not published yet: its bundled list ends a year or two ahead."""
    import holidays

    return dict(holidays.country_holidays("GB", subdiv="ENG", years=year).items())


def bank_holiday(day: date) -> str | None:
    """The bank holiday's name if ``day`` is one in England and Wales.

    GOV.UK's published list first; for a year beyond it, the day the rules give.
    """
    published = _published()
    if published and day.year <= max(published).year:
        return published.get(day)
    return _expected(day.year).get(day)


_NUMBER = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple:
    """Sort "2" before "10" and "Flat 2" before "Flat 10"."""
    parts = _NUMBER.split((text or "").casefold())
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.strip()) for p in parts if p)
