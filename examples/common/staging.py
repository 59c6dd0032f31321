"""Replace whole tables at once: load copies under staging names, then swap them in.

::

    with Staging(engine, [models.premises, models.collections]) as staging:
        staging.load(models.premises, rows)     # executemany (SQLite) or COPY (PostgreSQL)
        staging.index()                         # the live tables' indexes, built after the load
        staging.swap(record)                    # drop live, rename copies over them, record: one transaction

Until :meth:`Staging.swap` commits, the live tables are untouched and keep
serving; leaving the block drops whatever staging copies are left, so an
import that fails at any point changes nothing. The swap holds its locks
only for the renames and ``record`` (the import's provenance row), so
readers wait milliseconds, not the length of the load.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex, CreateTable

BATCH = 50_000  # rows per executemany on SQLite
SUFFIX = "_staging"


class Staging:
    """Staging copies of ``tables`` on one connection, swapped in over the live tables at once.

    The connection runs in autocommit mode and says ``BEGIN``/``COMMIT``
    itself, because SQLite (through Python's sqlite3) would otherwise commit
    each ``CREATE``/``DROP``/``ALTER`` on its own, and the swap must be one
    transaction on both databases.
    """

    def __init__(self, engine: sa.Engine, tables: Sequence[sa.Table]) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.token = secrets.token_hex(4)  # unique index names for this generation
        metadata = sa.MetaData()
        self.copies = {table.name: _copy(table, metadata) for table in tables}
        self.live = {table.name: table for table in tables}
        self.conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if self.sqlite:
            self.conn.exec_driver_sql("PRAGMA cache_size=-65536")  # 64 MB to build indexes

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> Staging:
        self.create()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def create(self) -> None:
        """Empty staging copies of the tables (any left by an earlier run are dropped first)."""
        with self.transaction():
            for copy in self.copies.values():
                self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {copy.name}")
                self.conn.execute(CreateTable(copy))

    def close(self) -> None:
        """Drop whatever staging copies are left and give the connection back."""
        try:
            with contextlib.suppress(Exception), self.transaction():
                for copy in self.copies.values():
                    self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {copy.name}")
            if self.sqlite:
                self.conn.exec_driver_sql("PRAGMA cache_size=-2000")
        finally:
            self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One transaction on the staging connection: all or nothing."""
        self.conn.exec_driver_sql("BEGIN IMMEDIATE" if self.sqlite else "BEGIN")
        try:
            yield self.conn
        except BaseException:
            with contextlib.suppress(Exception):
                self.conn.exec_driver_sql("ROLLBACK")
            raise
        self.conn.exec_driver_sql("COMMIT")

    # -- the steps ----------------------------------------------------------------------

    def copy_of(self, table: sa.Table) -> sa.Table:
        """The staging copy of ``table``."""
        return self.copies[table.name]

    def load(
        self, table: sa.Table, rows: Iterable[Sequence[Any]], columns: Sequence[str] | None = None
    ) -> int:
        """Bulk-load ``rows`` (tuples in ``columns`` order; default: every column) into the copy.

        Returns the number of rows loaded. SQLite gets batches of ``executemany``
        (dates as ISO text, since Python's sqlite3 date adapters are deprecated);
        PostgreSQL gets one ``COPY``.
        """
        copy = self.copy_of(table)
        names = list(columns or copy.columns.keys())
        count = 0
        with self.transaction():
            cursor = self._driver_connection().cursor()
            if self.sqlite:
                convert = _sqlite_converters([copy.c[name] for name in names], self.engine.dialect)
                marks = ",".join("?" * len(names))
                sql = f"INSERT INTO {copy.name} ({','.join(names)}) VALUES ({marks})"
                for batch in _batches(rows):
                    if convert:
                        batch = [_converted(row, convert) for row in batch]
                    cursor.executemany(sql, batch)
                    count += len(batch)
            else:
                with cursor.copy(f"COPY {copy.name} ({','.join(names)}) FROM STDIN") as out:
                    for row in rows:
                        out.write_row(row)
                        count += 1
        return count

    def index(self) -> None:
        """Build the live tables' declared indexes on the copies (faster after the load)."""
        with self.transaction():
            for name, live in self.live.items():
                copy = self.copies[name]
                for index in live.indexes:
                    columns = [copy.c[c.name] for c in index.columns]
                    prefix = "ux" if index.unique else "ix"
                    label = "_".join(c.name for c in columns)
                    self.conn.execute(
                        CreateIndex(
                            sa.Index(
                                f"{prefix}_{name}_{label}_{self.token}",
                                *columns,
                                unique=index.unique,
                            )
                        )
                    )
                if not self.sqlite:
                    self.conn.exec_driver_sql(f"ANALYZE {copy.name}")

    def swap(self, record: Callable[[sa.Connection], object] | None = None) -> None:
        """Drop each live table and rename its copy over it, then ``record(conn)``: all or nothing."""
        with self.transaction() as conn:
            if not self.sqlite:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
            for name, copy in self.copies.items():
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
                conn.exec_driver_sql(f"ALTER TABLE {copy.name} RENAME TO {name}")
            if record is not None:
                record(conn)

    def _driver_connection(self) -> Any:
        raw = self.conn.connection.driver_connection
        assert raw is not None, "the staging connection is closed"
        return raw


def _copy(table: sa.Table, metadata: sa.MetaData) -> sa.Table:
    """``table`` under its staging name: same columns and keys, no indexes yet."""
    copy = table.to_metadata(metadata, name=table.name + SUFFIX)
    copy.indexes.clear()
    for constraint in copy.constraints:
        if isinstance(constraint.name, str):  # a named constraint: names are per schema
            constraint.name = f"{constraint.name}{SUFFIX}"
    return copy


def _sqlite_converters(
    columns: Sequence[sa.Column[Any]], dialect: sa.Dialect
) -> list[tuple[int, Callable[[Any], Any]]]:
    """Where a value needs turning into text for SQLite: dates and datetimes."""
    out: list[tuple[int, Callable[[Any], Any]]] = []
    for i, column in enumerate(columns):
        if isinstance(column.type, sa.DateTime):
            process = column.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                out.append((i, process))
        elif isinstance(column.type, sa.Date):
            out.append((i, _isoformat))  # the text SQLAlchemy's SQLite DATE stores, made faster
    return out


@functools.lru_cache(maxsize=8192)
def _isoformat(value: Any) -> Any:
    """A date as ISO text; cached, since a million rows hold a few thousand days."""
    return None if value is None else value.isoformat()


def _converted(row: Sequence[Any], convert: list[tuple[int, Callable[[Any], Any]]]) -> list[Any]:
    out = list(row)
    for i, fn in convert:
        out[i] = fn(out[i])
    return out


def _batches(rows: Iterable[Sequence[Any]], size: int = BATCH) -> Iterator[list[Sequence[Any]]]:
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
