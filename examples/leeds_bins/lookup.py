"""Reading premises and collections (what the pages, API and reminders ask), in ``app``'s database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from civickit.datasets.bins import format_address

from . import models
from .state import get_engine
from .words import ORDER, natural_key


@dataclass(frozen=True)
class Premises:
    id: int
    saon: str
    paon: str
    street: str
    locality: str
    town: str
    postcode: str
    address: str

    @property
    def building(self) -> str:
        """The building a flat is in ("10 Abbey Avenue"), for grouping the list."""
        return format_address(None, self.paon or None, self.street or None, None, None)

    def sort_key(self) -> tuple:
        return (natural_key(self.street), natural_key(self.paon), natural_key(self.saon), self.id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "address": self.address,
            "saon": self.saon or None,
            "paon": self.paon or None,
            "street": self.street or None,
            "locality": self.locality or None,
            "town": self.town or None,
            "postcode": self.postcode or None,
        }


def _premises(row: Any) -> Premises:
    return Premises(**{k: row[k] for k in Premises.__dataclass_fields__})


def addresses(app: Flask, postcode: str) -> list[Premises]:
    """Every premises at ``postcode`` (normalised), in natural order."""
    p = models.premises
    with get_engine(app).connect() as conn:
        rows = conn.execute(sa.select(p).where(p.c.postcode == postcode)).mappings().all()
    return sorted((_premises(r) for r in rows), key=Premises.sort_key)


MAX_ID = 2**63 - 1  # a BIGINT; larger numbers in a URL are simply not found


def postcodes(app: Flask, limit: int = 20) -> list[str]:
    """The first postcodes the premises table holds (the demo names what its sample covers)."""
    p = models.premises
    query = sa.select(p.c.postcode).where(p.c.postcode.is_not(None)).distinct()
    with get_engine(app).connect() as conn:
        return list(conn.execute(query.order_by(p.c.postcode).limit(limit)).scalars())


def premises(app: Flask, premises_id: int) -> Premises | None:
    if not 0 <= premises_id <= MAX_ID:
        return None
    p = models.premises
    with get_engine(app).connect() as conn:
        row = conn.execute(sa.select(p).where(p.c.id == premises_id)).mappings().first()
    return _premises(row) if row else None


def collections(app: Flask, premises_id: int, start: date, end: date) -> list[tuple[date, str]]:
    """``(date, bin)`` from ``start`` to ``end`` inclusive, by date then bin order."""
    c = models.collections
    query = sa.select(c.c.date, c.c.bin).where(
        c.c.premises_id == premises_id, c.c.date >= start, c.c.date <= end
    )
    with get_engine(app).connect() as conn:
        rows = conn.execute(query).all()
    return sorted(((d, b) for d, b in rows), key=lambda r: (r[0], ORDER.get(r[1], 9)))


def next_per_bin(app: Flask, premises_id: int, today: date) -> list[tuple[str, date]]:
    """The next collection of each bin from ``today`` on, soonest first."""
    c = models.collections
    query = (
        sa.select(c.c.bin, sa.func.min(c.c.date))
        .where(c.c.premises_id == premises_id, c.c.date >= today)
        .group_by(c.c.bin)
    )
    with get_engine(app).connect() as conn:
        rows = conn.execute(query).all()
    out = [(b, d if isinstance(d, date) else date.fromisoformat(d)) for b, d in rows]
    return sorted(out, key=lambda r: (r[1], ORDER.get(r[0], 9)))


def by_day(rows: list[tuple[date, str]]) -> list[tuple[date, list[str]]]:
    """Group ``(date, bin)`` rows into ``(date, [bins])``."""
    days: dict[date, list[str]] = {}
    for day, bin_ in rows:
        days.setdefault(day, []).append(bin_)
    return list(days.items())


def window(today: date, weeks: int = 8) -> tuple[date, date]:
    return today, today + timedelta(weeks=weeks) - timedelta(days=1)
