"""Stream a portal table into SQLite with typed columns, swapping it in only when complete.

``civickit load`` is this function. Rows come from :meth:`Portal.records`
(so they are complete and in order whatever the platform), are typed from
:meth:`Portal.fields` (Socrata sends every number as text; ArcGIS dates are
milliseconds), and go into a scratch table through sqlite-utils. Only when
the last row is in is the scratch table renamed over the old one, inside one
transaction: a load that fails half-way leaves the previous table as it was.
Point locations arrive as ``latitude``/``longitude`` columns, so Datasette's
map plugins show them at once.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import APIError, CivicKitError
from .models import FieldType, Portal, Resource, Row

__all__ = ["LoadResult", "load", "table_name"]

BATCH = 1000
_PYTHON_TYPES: dict[FieldType, type] = {
    "integer": int,
    "float": float,
    "boolean": int,
    "text": str,
    "date": str,
    "datetime": str,
    "json": str,
}


@dataclass(frozen=True)
class LoadResult:
    """What :func:`load` wrote: the database, the table, its row count and column types."""

    db: Path
    table: str
    rows: int
    columns: dict[str, str]


class MissingExtra(CivicKitError):
    """An optional dependency is not installed; the message names the extra to install."""


def table_name(text: str) -> str:
    """A tidy SQLite table name from a dataset or layer name."""
    name = re.sub(r"\W+", "_", text.strip().lower()).strip("_")
    return name[:60] or "records"


def _integer(value: Any) -> Any:
    if value is None or value == "" or isinstance(value, bool):
        return None if value == "" else value
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value  # keep what the portal sent rather than lose it
        return int(number) if number.is_integer() else number


def _float(value: Any) -> Any:
    if value is None or value == "" or isinstance(value, bool):
        return None if value == "" else value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _boolean(value: Any) -> Any:
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "t", "1", "yes"):
            return True
        if low in ("false", "f", "0", "no"):
            return False
        return None if low == "" else value
    return value


def _datetime(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:  # ArcGIS: milliseconds since 1970, UTC
            return datetime.fromtimestamp(value / 1000, UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return value
    return value


def _json(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


_CONVERT: dict[FieldType, Callable[[Any], Any]] = {
    "integer": _integer,
    "float": _float,
    "boolean": _boolean,
    "datetime": _datetime,
    "json": _json,
}


def _typed(rows: Iterable[Row], types: dict[str, FieldType]) -> Iterator[Row]:
    converters = {name: _CONVERT[kind] for name, kind in types.items() if kind in _CONVERT}
    for row in rows:
        for name, convert in converters.items():
            if name in row:
                row[name] = convert(row[name])
        yield row


def load(
    portal: Portal,
    resource: Resource | str,
    db: str | os.PathLike[str],
    *,
    table: str | None = None,
    where: str | Mapping[str, object] | None = None,
    limit: int | None = None,
    on_row: Callable[[int], None] | None = None,
) -> LoadResult:
    """Load every row of ``resource`` into table ``table`` of the SQLite file ``db``.

    The table is replaced atomically: readers see the old rows until the new
    ones are all in. ``on_row(n)`` is called every so often with the count so
    far (for a progress bar). ``where`` is the portal's own filter (a query string,
    or a dict of filters for CKAN). Needs sqlite-utils (``pip install 'civickit[load]'``).
    """
    try:
        import sqlite_utils
    except ImportError as exc:  # pragma: no cover - the dev and load extras carry it
        raise MissingExtra(
            "civickit load needs sqlite-utils: pip install 'civickit[load]'"
        ) from exc

    if table is None:
        label = resource.name or resource.id if isinstance(resource, Resource) else resource
        table = table_name(str(label).rstrip("/").rsplit("/", 1)[-1])
    try:
        types = portal.fields(resource)
    except APIError:
        types = {}  # the rows still load; their types are inferred from the values
    path = Path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    database = sqlite_utils.Database(path)
    scratch = f"_civickit_loading_{table}"
    database[scratch].drop(ignore=True)
    count = 0
    try:
        if types:
            database[scratch].create({name: _PYTHON_TYPES[kind] for name, kind in types.items()})  # type: ignore[union-attr]
        rows = portal.records(resource, where=where, limit=limit)

        def counted() -> Iterator[Row]:
            nonlocal count
            for row in _typed(rows, types):
                count += 1
                if on_row is not None and count % BATCH == 0:
                    on_row(count)
                yield row

        database[scratch].insert_all(counted(), batch_size=BATCH, alter=True)  # type: ignore[union-attr]
        if not database[scratch].exists():
            database[scratch].create({"no_rows": int})  # type: ignore[union-attr]
        conn = database.conn
        conn.execute("BEGIN")
        try:
            conn.execute(f"DROP TABLE IF EXISTS [{table}]")
            conn.execute(f"ALTER TABLE [{scratch}] RENAME TO [{table}]")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except BaseException:
        database[scratch].drop(ignore=True)
        database.close()
        raise
    if on_row is not None:
        on_row(count)
    columns = {c.name: c.type for c in database[table].columns}
    database.close()
    return LoadResult(path, table, count, columns)
