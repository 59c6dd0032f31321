"""Databases: one engine factory, and the pieces every civickit table shares.

:func:`make_engine` builds an SQLAlchemy engine for SQLite (WAL, a busy
timeout) or PostgreSQL through psycopg 3. :class:`UTCDateTime` stores aware
UTC datetimes on both, and :func:`dialect_insert` is the dialect's own
``INSERT`` (with ``ON CONFLICT``), which the outbox and the heartbeat use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, Engine

from .errors import InvalidArgument

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PostgresqlInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert

__all__ = ["UTCDateTime", "dialect_insert", "make_engine"]


def make_engine(db_url: str, *, timeout: float = 30.0, **kw: object) -> Engine:
    """Create an engine fit for the outbox, the job store and the example apps.

    SQLite files are switched to WAL (readers never block the writer) with
    ``synchronous=NORMAL``, and wait up to ``timeout`` seconds for the write
    lock instead of failing with "database is locked". Other URLs (PostgreSQL
    through psycopg 3: ``postgresql+psycopg://...``) are passed to
    :func:`sqlalchemy.create_engine` with ``kw``, its own keyword arguments.
    """
    url = sa.make_url(db_url)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, **kw)
    # connect_args is a dict, as sqlalchemy.create_engine takes it
    given = cast("Mapping[str, object]", kw.pop("connect_args", {}))
    connect_args = {"timeout": timeout, **given}
    engine = sa.create_engine(url, connect_args=connect_args, **kw)
    if url.database and url.database != ":memory:":
        sa.event.listen(engine, "connect", _use_wal)
    return engine


def _use_wal(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every dialect.

    SQLite has no time zones: values are stored as naive UTC text, which also
    keeps its string comparisons in time order. A naive datetime is refused.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise InvalidArgument(f"naive datetime {value!r}: pass an aware one, e.g. in UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def dialect_insert(engine: Engine) -> Callable[[sa.Table], PostgresqlInsert | SqliteInsert]:
    """The ``insert`` of ``engine``'s dialect, which has ``on_conflict_do_nothing/update``.

    Raises ``ValueError`` for a database other than SQLite or PostgreSQL.
    """
    name = engine.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    raise InvalidArgument(
        f"civickit's tables support SQLite and PostgreSQL, not {name!r}: "
        "use a sqlite:/// or postgresql+psycopg:// URL"
    )
