"""The apps' database engine."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from civickit.db import make_engine as _library_engine


def make_engine(url: str) -> sa.Engine:
    """The library's engine (SQLite: WAL, busy timeout), plus foreign keys on SQLite."""
    if not url.startswith("sqlite"):
        return _library_engine(url, pool_pre_ping=True)
    engine = _library_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _foreign_keys(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    return engine


def stale_tables(engine: sa.Engine, metadata: sa.MetaData) -> list[str]:
    """Tables of ``metadata`` that exist but lack a column the models now have.

    A database made by an older version of an app (say, a clone's demo from
    before a ``git pull``) would otherwise fail on its first query.
    """
    inspector = sa.inspect(engine)
    existing = set(inspector.get_table_names())
    stale = []
    for table in metadata.sorted_tables:
        if table.name in existing:
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            if not {c.name for c in table.columns} <= columns:
                stale.append(table.name)
    return stale
