"""The import framework both example apps share: the report, progress, failure and the attempt.

An import reads published files into staging tables (:mod:`.staging`), checks
what it read, and only then swaps the new data in. Whatever happens, it ends
in one of two ways:

* it returns an :class:`ImportReport` (``status`` ``ok``, or ``unchanged``
  when there was nothing new), or
* it raises :class:`ImportFailed`, whose ``report`` says why, and nothing was
  changed: the previous data is still serving.

Rows that do not match the published layout are skipped and counted; the
first :data:`LISTED_SKIPS` are kept with their file and line for the report,
and the rest are stated as a count. :mod:`.console` prints reports.

Every outcome is written to the app's import log (:func:`import_log`, one
table per app), a success inside the swap's own transaction. The log says
what data is serving now (:class:`Serving`: the newest successful import of
each kind), so every app answers the same way whether it is sample data,
which version is serving (for cache keys and ETags) and whether it is ready.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from civickit.errors import CivicKitError, DataFormatError

from .cache import MemoryCache

log = logging.getLogger(__name__)

#: Skipped rows kept, with file and line, in a report; any more are only counted.
LISTED_SKIPS = 50

#: ``progress(label, done, total)``: ``done`` and ``total`` in one unit (bytes
#: read, rows loaded); ``total`` is None when it is not known in advance.
Progress = Callable[[str, int, int | None], None]


def no_progress(label: str, done: int, total: int | None) -> None:
    """A :data:`Progress` that shows nothing."""


def plural(count: int, word: str, words: str | None = None) -> str:
    """``"1 row"``, ``"2,000 rows"``."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


@dataclass(kw_only=True)
class ImportReport:
    """What an import did, or why it did nothing. Each app subclasses it to add its counts."""

    source: str  # what was imported, in words; it starts every printed line
    status: str = "failed"  # ok | failed | unchanged
    message: str = ""  # one sentence: what was loaded, or why nothing was
    files: list[str] = field(default_factory=list)
    skipped: list[DataFormatError] = field(default_factory=list)  # the first LISTED_SKIPS
    skipped_count: int = 0  # every skipped row, listed or not
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    is_sample: bool = False

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "unchanged")

    def skip(self, error: DataFormatError) -> None:
        """Count a row that does not match its layout (an ``on_error`` for the readers)."""
        self.skipped_count += 1
        if len(self.skipped) < LISTED_SKIPS:
            self.skipped.append(error)

    @property
    def unlisted_skips(self) -> int:
        """Skipped rows counted but not listed."""
        return self.skipped_count - len(self.skipped)

    def skipped_lines(self) -> list[str]:
        """``"dm_jobs.csv, line 7: ..."`` for each listed skipped row."""
        return [
            f"{Path(e.source).name}, line {e.line}: {e.message}"
            if e.line
            else f"{Path(e.source).name}: {e.message}"
            for e in self.skipped
        ]

    def figures(self) -> dict[str, Any]:
        """The app's own counts, for :meth:`to_dict` (subclasses add theirs)."""
        return {}

    def summary(self) -> str | None:
        """A second printed line of figures after a successful import, if the app has one."""
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status,
            "message": self.message,
            **self.figures(),
            "files": list(self.files),
            "skipped_count": self.skipped_count,
            "skipped": [
                {"file": Path(e.source).name, "line": e.line, "message": e.message}
                for e in self.skipped
            ],
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 2),
            "is_sample": self.is_sample,
        }


class ImportFailed(CivicKitError):
    """The import stopped before its swap: nothing was changed. ``report`` says why."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        super().__init__(report.message)

    def __str__(self) -> str:
        reason = self.report.message.rstrip(".")
        return (
            f"{self.report.source}: {reason}. "
            "Nothing was changed: the previous data is still serving."
        )


class Refused(Exception):
    """Raise inside :func:`attempt` to refuse the data; the message is the reason, as it is."""


R = TypeVar("R", bound=ImportReport)


@contextlib.contextmanager
def attempt(report: R, *, record_failure: Callable[[R], None] | None = None) -> Iterator[R]:
    """Time an import; turn any error in it into :class:`ImportFailed` with the reason.

    ``record_failure(report)`` runs first, to keep the failure on record (a
    failure to record is logged, never raised over the import's own error).
    An interruption (Ctrl-C) is recorded too, then passed on as it is.
    """
    started = time.perf_counter()
    try:
        yield report
    except BaseException as exc:
        report.status = "failed"
        report.message = _reason(exc)
        report.seconds = time.perf_counter() - started
        if record_failure is not None:
            try:
                record_failure(report)
            except Exception:
                log.exception("could not record the failed import")
        if isinstance(exc, ImportFailed) or not isinstance(exc, Exception):
            raise
        raise ImportFailed(report) from exc
    report.seconds = time.perf_counter() - started


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ImportFailed):
        return exc.report.message
    if isinstance(exc, (Refused, CivicKitError)):
        return str(exc)
    if isinstance(exc, Exception):
        return f"{exc.__class__.__name__}: {exc}"
    return "interrupted"


# -- the import log: what is serving now -------------------------------------------


def import_log(metadata: sa.MetaData, name: str) -> sa.Table:
    """The table of an app's imports in ``metadata``: one row per attempt, with its outcome.

    Each app names its own (``data_meta``, ``sw_data_meta``) so that two apps
    can share one database. ``kind`` says what was imported (``bins``;
    ``collisions``, ``hospitals``...): an app whose kinds are imported apart
    serves the newest successful import of each.
    """
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),  # ImportReport.source
        sa.Column("status", sa.String(10), nullable=False),  # ok | failed
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_sample", sa.Boolean, nullable=False, default=False),
        sa.Column("skipped", sa.Integer, nullable=False, default=0),
        sa.Column("message", sa.Text, nullable=False, default=""),
        sa.Column("version", sa.String(500), nullable=False, default=""),  # the files' ETags
        sa.Column("figures", sa.JSON, nullable=False),  # ImportReport.figures(), and its files
        sa.Index(f"ix_{name}_kind_status", "kind", "status", "id"),
    )


@dataclass(frozen=True)
class ImportRecord:
    """One row of an import log."""

    id: int
    kind: str
    source: str
    status: str
    imported_at: datetime  # aware, UTC
    is_sample: bool
    skipped: int
    message: str
    version: str
    figures: Mapping[str, Any]  # the app's own counts (ImportReport.figures) and "files"

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> ImportRecord:
        at: datetime = row["imported_at"]
        if at.tzinfo is None:  # SQLite hands back naive datetimes for UTC values
            at = at.replace(tzinfo=UTC)
        return cls(
            id=row["id"],
            kind=row["kind"],
            source=row["source"],
            status=row["status"],
            imported_at=at,
            is_sample=bool(row["is_sample"]),
            skipped=row["skipped"],
            message=row["message"],
            version=row["version"],
            figures=row["figures"] or {},
        )


@dataclass(frozen=True)
class Serving:
    """The data serving now: the newest successful import of each kind."""

    imports: Mapping[str, ImportRecord] = field(default_factory=dict)

    def get(self, kind: str) -> ImportRecord | None:
        """The import of ``kind`` serving now, if any."""
        return self.imports.get(kind)

    @property
    def is_sample(self) -> bool:
        """Whether any of it is sample data (pages then say so)."""
        return any(record.is_sample for record in self.imports.values())

    @property
    def version(self) -> str:
        """Which imports are serving, for cache keys and ETags (``"none"`` before any)."""
        if not self.imports:
            return "none"
        return " ".join(
            f"{kind}:{record.id}:{record.imported_at.isoformat()}"
            for kind, record in sorted(self.imports.items())
        )

    def check(
        self,
        needed: Sequence[str],
        *,
        how_to_import: str,
        max_age: timedelta | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """The readiness check of the data (``/readyz``'s ``data``).

        Ok when every kind ``needed`` has been imported, and none is older than
        ``max_age`` (if given). ``how_to_import`` ends the message when one is
        missing: the command that imports it.
        """
        now = now or datetime.now(UTC)
        imports: dict[str, dict[str, Any]] = {}
        for kind, record in sorted(self.imports.items()):
            age = now - record.imported_at
            imports[kind] = {
                "imported_at": record.imported_at.isoformat(),
                "age_hours": round(age.total_seconds() / 3600, 1),
                "sample": record.is_sample,
                **{k: v for k, v in record.figures.items() if k != "files"},
            }
        missing = [kind for kind in needed if kind not in self.imports]
        old = [
            kind
            for kind in needed
            if max_age is not None and kind in self.imports
            if now - self.imports[kind].imported_at > max_age
        ]
        check: dict[str, Any] = {
            "ok": not missing and not old,
            "sample": self.is_sample,
            "imports": imports,
        }
        if missing:
            check["message"] = f"no {' or '.join(missing)} data imported yet: run {how_to_import}"
        elif old and max_age is not None:
            hours = f"{max_age.total_seconds() / 3600:g}"
            check["message"] = f"{' and '.join(old)} data is older than {hours} hours"
        return check


class ImportLog:
    """An app's import log (:func:`import_log`) on its engine: writing, and what is serving.

    :meth:`serving` is asked on every page (the sample notice, cache keys), so
    it keeps its answer ``max_age`` seconds (0: asks every time). An import in
    this process calls :meth:`forget` to be seen at once; one in another
    process is seen once the kept answer expires.
    """

    def __init__(self, engine: sa.Engine, table: sa.Table, *, max_age: float = 0) -> None:
        self.engine = engine
        self.table = table
        self._kept = MemoryCache(1, ttl=max_age)
        t = table.c
        newest = sa.select(sa.func.max(t.id)).where(t.status == "ok").group_by(t.kind)
        self._serving = sa.select(table).where(t.id.in_(newest))  # built once: asked often

    def serving(self, *, fresh: bool = False) -> Serving:
        """The newest successful import of each kind (``fresh``: read now, not kept)."""
        if fresh:
            return self._read()
        return self._kept.get_or_render("serving", self._read)

    def forget(self) -> None:
        """Read the log again at the next :meth:`serving` (after an import here)."""
        self._kept.clear()

    def _read(self) -> Serving:
        with self.engine.connect() as conn:
            rows = conn.execute(self._serving).mappings().all()
        records = (ImportRecord.from_row(row) for row in rows)
        return Serving({record.kind: record for record in records})

    def last_attempt(self, kind: str | None = None) -> ImportRecord | None:
        """The newest import attempt (of ``kind``), whatever its outcome."""
        t = self.table.c
        query = sa.select(self.table).order_by(t.id.desc()).limit(1)
        if kind is not None:
            query = query.where(t.kind == kind)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else ImportRecord.from_row(row)

    def record(
        self, conn: sa.Connection, report: ImportReport, *, kind: str, version: str = ""
    ) -> None:
        """Write ``report``'s outcome on ``conn`` (inside the swap's transaction, on success)."""
        conn.execute(
            sa.insert(self.table).values(
                kind=kind,
                source=report.source[:500],
                status="ok" if report.ok else "failed",
                imported_at=datetime.now(UTC),
                is_sample=report.is_sample,
                skipped=report.skipped_count,
                message=report.message,
                version=version[:500],
                figures={**report.figures(), "files": list(report.files)},
            )
        )

    def record_failure(self, report: ImportReport, *, kind: str, version: str = "") -> None:
        """Write a failed import in a transaction of its own (an ``attempt`` ``record_failure``)."""
        with self.engine.begin() as conn:
            self.record(conn, report, kind=kind, version=version)
