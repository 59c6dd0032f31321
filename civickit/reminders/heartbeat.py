"""A heartbeat: the scheduler says it is alive, and a web app's ``/readyz`` reads it.

Schedule ``"civickit.reminders:heartbeat"`` every minute (with
:func:`civickit.reminders.add_job`); :func:`read_heartbeat` gives the last
beat, which a readiness check calls stale after a few minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..db import UTCDateTime, dialect_insert, make_engine
from ..errors import InvalidArgument

__all__ = ["Beat", "heartbeat", "read_heartbeat"]


class Beat(NamedTuple):
    """The last heartbeat of a process: when, and how many beats so far."""

    name: str
    at: datetime
    runs: int


def _heartbeat_table(table_name: str) -> sa.Table:
    return sa.Table(
        table_name,
        sa.MetaData(),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("runs", sa.Integer, nullable=False),
    )


def heartbeat(
    db_url: str,
    name: str = "scheduler",
    *,
    table_name: str = "civickit_heartbeat",
    now: datetime | None = None,
) -> None:
    """Record that ``name`` is alive: schedule ``"civickit.reminders:heartbeat"`` every minute.

    A web app's ``/readyz`` reads it back with :func:`read_heartbeat` and
    reports not-ready when it is older than a few minutes.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise InvalidArgument(f"now must be timezone-aware (e.g. datetime.now(UTC)), not {now!r}")
    engine = make_engine(db_url)
    try:
        table = _heartbeat_table(table_name)
        table.create(engine, checkfirst=True)
        stmt = dialect_insert(engine)(table).values(name=name, at=now, runs=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"], set_={"at": stmt.excluded.at, "runs": table.c.runs + 1}
        )
        with engine.begin() as conn:
            conn.execute(stmt)
    finally:
        engine.dispose()


def read_heartbeat(
    engine: Engine | str, name: str = "scheduler", *, table_name: str = "civickit_heartbeat"
) -> Beat | None:
    """The last :func:`heartbeat` of ``name``, or None if it never beat."""
    own = isinstance(engine, str)
    eng = make_engine(engine) if isinstance(engine, str) else engine
    try:
        table = _heartbeat_table(table_name)
        if not sa.inspect(eng).has_table(table_name):
            return None
        with eng.connect() as conn:
            found = conn.execute(sa.select(table).where(table.c.name == name)).first()
        return None if found is None else Beat(found.name, found.at, found.runs)
    finally:
        if own:
            eng.dispose()
