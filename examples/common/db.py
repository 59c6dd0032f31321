"""The apps' database engine."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from civickit.reminders import make_engine as _library_engine


def make_engine(url: str) -> sa.Engine:
    """The library's engine (SQLite: WAL, busy timeout), plus foreign keys on SQLite."""
    if not url.startswith("sqlite"):
        return _library_engine(url, pool_pre_ping=True)
    engine = _library_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _foreign_keys(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    return engine
