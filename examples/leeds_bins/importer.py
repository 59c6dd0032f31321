"""Load Leeds ``dm_premises.csv`` + ``dm_jobs.csv`` and swap them in atomically.

The files are read with :mod:`civickit.datasets.bins` (NUL fields, Windows-1252,
optional header, ``DD/MM/YY`` dates, exact duplicates dropped). Rows go into
staging tables with one bulk insert per table (``executemany`` on SQLite,
``COPY`` on PostgreSQL), indexes are built after the load, and only then are
the staging tables renamed over the live ones, in one short transaction. So:

* a bad file, a file cut off halfway, or a failed download raises
  :class:`ImportFailed` and the previous data keeps serving;
* readers never see a half-loaded table;
* every outcome, good or bad, is written to ``data_meta`` with its reason.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from civickit.datasets import bins as bins_reader
from civickit.errors import CivicKitError, DataFormatError

from . import models

log = logging.getLogger(__name__)

DATASET = "household-waste-collections"
PREMISES_FILE = "dm_premises.csv"
JOBS_FILE = "dm_jobs.csv"
BATCH = 50_000
# Refuse a new file much smaller than the data serving now: it is almost always cut off.
MIN_PREMISES_KEPT = 0.9
MIN_COLLECTIONS_KEPT = 0.5
REPORTED_LINES = 50  # skipped rows listed by line number in the report


class ImportFailed(CivicKitError):
    """The import was refused; the previous data is still serving. ``report`` says why."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        super().__init__(report.message)

    def __str__(self) -> str:
        return f"Import failed, the previous data is still serving: {self.report.message}"


@dataclass
class ImportReport:
    """What an import did (or why it did nothing)."""

    source: str
    status: str = "failed"  # ok | failed | unchanged
    premises: int = 0
    collections: int = 0
    orphans: int = 0  # jobs for premises that are not in the premises file
    skipped: list[DataFormatError] = field(default_factory=list)
    skipped_count: int = 0
    first_date: date | None = None
    last_date: date | None = None
    message: str = ""
    seconds: float = 0.0
    is_sample: bool = False

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "unchanged")

    def skip(self, error: DataFormatError) -> None:
        self.skipped_count += 1
        if len(self.skipped) < REPORTED_LINES:
            self.skipped.append(error)

    def skipped_lines(self) -> list[str]:
        """``"dm_jobs.csv, line 7: ..."`` for each reported skipped row."""
        return [
            f"{Path(str(e.source)).name}, line {e.line}: {e.message}"
            if e.line
            else f"{Path(str(e.source)).name}: {e.message}"
            for e in self.skipped
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status,
            "premises": self.premises,
            "collections": self.collections,
            "orphans": self.orphans,
            "skipped_count": self.skipped_count,
            "skipped": [
                {"file": Path(e.source).name, "line": e.line, "message": e.message}
                for e in self.skipped
            ],
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "message": self.message,
            "seconds": round(self.seconds, 2),
        }


Progress = Callable[[str, int, int | None], None]  # (label, bytes done, bytes total)


def _no_progress(label: str, done: int, total: int | None) -> None:
    pass


# -- reading -------------------------------------------------------------------------


def _position(fh: io.BufferedReader) -> int:
    # the OS position, whatever buffering the reader adds on top
    return os.lseek(fh.fileno(), 0, os.SEEK_CUR)


def _read_premises(path: Path, report: ImportReport, progress: Progress) -> Iterator[tuple]:
    total = path.stat().st_size
    with path.open("rb") as fh:
        for n, p in enumerate(bins_reader.read_premises(fh, on_error=report.skip), 1):
            if n % 20_000 == 0:
                progress("premises", _position(fh), total)
            yield (
                int(p.id),
                p.saon or "",
                p.paon or "",
                p.street or "",
                p.locality or "",
                p.town or "",
                p.postcode or "",  # the reader normalises it ("LS5 3DH") where it can
                p.address or "",
            )
        progress("premises", total, total)


def _read_jobs(
    path: Path, known: set[int], report: ImportReport, progress: Progress
) -> Iterator[tuple[int, str, date]]:
    total = path.stat().st_size
    with path.open("rb") as fh:
        for n, c in enumerate(bins_reader.read_jobs(fh, on_error=report.skip), 1):
            if n % 100_000 == 0:
                progress("collections", _position(fh), total)
            pid = int(c.premises_id)
            if pid not in known:
                report.orphans += 1
                continue
            yield pid, c.bin, c.date
        progress("collections", total, total)


def _batches(rows: Iterator[tuple], size: int = BATCH) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- staging and swapping ---------------------------------------------------------


class _Loader:
    """Bulk-load staging tables through the raw DBAPI connection (the fast path)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.token = secrets.token_hex(4)  # unique index names for this generation
        self.raw = engine.raw_connection()
        self.dbapi = self.raw.driver_connection
        if self.sqlite:
            self.dbapi.isolation_level = None  # we say BEGIN / COMMIT ourselves
            self.execute("PRAGMA cache_size=-65536")  # 64 MB for building the indexes
        else:
            self.dbapi.autocommit = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if not self.sqlite:
                self.dbapi.rollback()
        if self.sqlite:
            self.execute("PRAGMA cache_size=-2000")
            self.dbapi.isolation_level = ""
        else:
            self.dbapi.autocommit = False
        self.raw.close()

    def execute(self, sql: str, params: Any = None) -> Any:
        cur = self.dbapi.cursor()
        cur.execute(sql, params) if params is not None else cur.execute(sql)
        return cur

    def begin(self) -> None:
        if self.sqlite:
            self.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if self.sqlite:
            self.execute("COMMIT")
        else:
            self.dbapi.commit()

    def rollback(self) -> None:
        if self.sqlite:
            with contextlib.suppress(Exception):
                self.execute("ROLLBACK")
        else:
            self.dbapi.rollback()

    def create_staging(self) -> None:
        self.begin()
        self.execute("DROP TABLE IF EXISTS premises_stage")
        self.execute("DROP TABLE IF EXISTS collections_stage")
        pk = "INTEGER" if self.sqlite else "BIGINT"
        self.execute(
            f"CREATE TABLE premises_stage (id {pk} NOT NULL,"
            " saon VARCHAR(200) NOT NULL, paon VARCHAR(200) NOT NULL,"
            " street VARCHAR(200) NOT NULL, locality VARCHAR(200) NOT NULL,"
            " town VARCHAR(200) NOT NULL, postcode VARCHAR(8) NOT NULL,"
            " address VARCHAR(600) NOT NULL,"
            f" CONSTRAINT pk_premises_{self.token} PRIMARY KEY (id))"
        )
        self.execute(
            f"CREATE TABLE collections_stage (premises_id {pk} NOT NULL,"
            " bin VARCHAR(5) NOT NULL, date DATE NOT NULL)"
        )
        self.commit()

    def load(self, table: str, columns: tuple[str, ...], rows: Iterator[tuple]) -> int:
        count = 0
        self.begin()
        cur = self.dbapi.cursor()
        if self.sqlite:
            marks = ",".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})"
            for batch in _batches(rows):
                if table == "collections_stage":
                    batch = [(p, b, d.isoformat()) for p, b, d in batch]
                cur.executemany(sql, batch)
                count += len(batch)
        else:
            with cur.copy(f"COPY {table} ({','.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        self.commit()
        return count

    def index(self) -> None:
        t = self.token
        self.begin()
        self.execute(f"CREATE INDEX ix_premises_postcode_{t} ON premises_stage (postcode)")
        self.execute(
            f"CREATE UNIQUE INDEX ux_collections_{t} ON collections_stage (premises_id, date, bin)"
        )
        self.commit()
        if not self.sqlite:
            self.dbapi.autocommit = True
            self.execute("ANALYZE premises_stage")
            self.execute("ANALYZE collections_stage")
            self.dbapi.autocommit = False

    def date_range(self) -> tuple[date | None, date | None]:
        first, last = self.execute("SELECT MIN(date), MAX(date) FROM collections_stage").fetchone()
        if isinstance(first, str):
            first, last = date.fromisoformat(first), date.fromisoformat(last)
        return first, last

    def swap(self, meta: dict[str, Any]) -> None:
        """Rename staging over live and record the import, all or nothing."""
        self.begin()
        try:
            if not self.sqlite:
                self.execute("SET LOCAL lock_timeout = '30s'")
            for name in ("premises", "collections"):
                self.execute(f"DROP TABLE IF EXISTS {name}")
                self.execute(f"ALTER TABLE {name}_stage RENAME TO {name}")
            self._record(meta)
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def _record(self, meta: dict[str, Any]) -> None:
        cols = list(meta)
        dialect = self.engine.dialect
        values = []
        for name in cols:
            process = models.data_meta.c[name].type.bind_processor(dialect)
            values.append(process(meta[name]) if process else meta[name])
        mark = "?" if self.sqlite else "%s"
        self.execute(
            f"INSERT INTO data_meta ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})",
            values,
        )

    def drop_staging(self) -> None:
        with contextlib.suppress(Exception):
            self.rollback()
            self.begin()
            self.execute("DROP TABLE IF EXISTS premises_stage")
            self.execute("DROP TABLE IF EXISTS collections_stage")
            self.commit()


def current_meta(engine: sa.Engine) -> dict[str, Any] | None:
    """The record of the import now serving (the newest successful one), if any."""
    m = models.data_meta
    with engine.connect() as conn:
        row = (
            conn.execute(sa.select(m).where(m.c.status == "ok").order_by(m.c.id.desc()).limit(1))
            .mappings()
            .first()
        )
    if row is None:
        return None
    out = dict(row)
    out["imported_at"] = models.aware(out["imported_at"])
    return out


def last_attempt(engine: sa.Engine) -> dict[str, Any] | None:
    """The newest import attempt of any outcome (to say why a refresh failed)."""
    m = models.data_meta
    with engine.connect() as conn:
        row = conn.execute(sa.select(m).order_by(m.c.id.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def _record_failure(engine: sa.Engine, report: ImportReport, version: str = "") -> None:
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(models.data_meta).values(
                    source=report.source[:500],
                    status=report.status,
                    is_sample=report.is_sample,
                    premises_count=report.premises,
                    collections_count=report.collections,
                    skipped_count=report.skipped_count,
                    message=report.message,
                    version=version,
                )
            )
    except Exception:  # never hide the import's own error behind a bookkeeping one
        log.exception("could not record the failed import")


# -- the public entry points --------------------------------------------------------


def import_files(
    engine: sa.Engine,
    premises_path: str | os.PathLike[str],
    jobs_path: str | os.PathLike[str],
    *,
    source: str | None = None,
    is_sample: bool = False,
    max_bad_rows: int = 1000,
    max_bad_fraction: float = 0.01,
    allow_shrink: bool = False,
    progress: Progress | None = None,
    version: str = "",
) -> ImportReport:
    """Import both files and swap them in; raise :class:`ImportFailed` and keep the old data otherwise.

    Rows that do not match the layout are skipped and reported by line, up to
    ``max_bad_rows`` and ``max_bad_fraction`` of the rows read; beyond either
    the whole import is refused. Unless ``allow_shrink``, a file with far fewer
    premises or collections than the data serving now is refused as cut off.
    """
    premises_path, jobs_path = Path(premises_path), Path(jobs_path)
    progress = progress or _no_progress
    report = ImportReport(
        source=source or f"files: {premises_path.name}, {jobs_path.name}", is_sample=is_sample
    )
    models.create_all(engine)
    started = time.perf_counter()
    loader = _Loader(engine)
    try:
        for path in (premises_path, jobs_path):
            if not path.is_file():
                raise _Refused(f"{path} does not exist or is not a file")
        loader.create_staging()
        known: set[int] = set()

        def premises_rows() -> Iterator[tuple]:
            for row in _read_premises(premises_path, report, progress):
                if row[0] in known:
                    report.skip(
                        DataFormatError(
                            str(premises_path),
                            None,
                            f"premises {row[0]} is listed twice; the first is kept",
                        )
                    )
                    continue
                known.add(row[0])
                yield row

        report.premises = loader.load(
            "premises_stage",
            ("id", "saon", "paon", "street", "locality", "town", "postcode", "address"),
            premises_rows(),
        )
        report.collections = loader.load(
            "collections_stage",
            ("premises_id", "bin", "date"),
            _read_jobs(jobs_path, known, report, progress),
        )
        for path in (premises_path, jobs_path):
            _check_complete(path, report)
        _check(report, engine, max_bad_rows, max_bad_fraction, allow_shrink)
        progress("indexes", 0, None)
        loader.index()
        report.first_date, report.last_date = loader.date_range()
        report.status = "ok"
        report.message = (
            f"{report.premises:,} premises and {report.collections:,} collections imported"
            + (f"; {report.skipped_count:,} rows skipped" if report.skipped_count else "")
            + (f"; {report.orphans:,} jobs for unknown premises skipped" if report.orphans else "")
        )
        report.seconds = time.perf_counter() - started
        loader.swap(
            {
                "source": report.source[:500],
                "status": "ok",
                "is_sample": is_sample,
                "premises_count": report.premises,
                "collections_count": report.collections,
                "skipped_count": report.skipped_count + report.orphans,
                "first_date": report.first_date,
                "last_date": report.last_date,
                "message": report.message,
                "version": version,
                "imported_at": models.utcnow(),
            }
        )
    except BaseException as exc:
        report.status = "failed"
        if isinstance(exc, (_Refused, DataFormatError)):
            report.message = str(exc)
        elif isinstance(exc, Exception):
            report.message = f"{exc.__class__.__name__}: {exc}"
        else:
            report.message = "interrupted"
        loader.drop_staging()
        loader.close()
        report.seconds = time.perf_counter() - started
        _record_failure(engine, report, version)
        if isinstance(exc, Exception):
            raise ImportFailed(report) from exc
        raise
    loader.close()
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:  # keep the WAL file from growing without bound
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return report


class _Refused(Exception):
    pass


def _check_complete(path: Path, report: ImportReport) -> None:
    """Refuse a file whose last row was cut off (no line end, and that row is bad)."""
    size = path.stat().st_size
    if not size:
        return
    with path.open("rb") as fh:
        fh.seek(size - 1)
        if fh.read(1) in (b"\n", b"\r"):
            return
        fh.seek(0)
        last = 1 + sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    for error in report.skipped:
        if error.line == last and Path(str(error.source)).name == path.name:
            raise _Refused(
                f"{path.name} ends in the middle of line {last} ({error.message}): "
                "the file looks cut off"
            )


def _check(
    report: ImportReport,
    engine: sa.Engine,
    max_bad_rows: int,
    max_bad_fraction: float,
    allow_shrink: bool,
) -> None:
    seen = report.premises + report.collections + report.skipped_count
    where = ""
    if report.skipped:
        where = " (" + "; ".join(report.skipped_lines()[:5]) + ")"
    if report.skipped_count > max_bad_rows or (
        seen and report.skipped_count / seen > max_bad_fraction
    ):
        raise _Refused(
            f"{report.skipped_count:,} of {seen:,} rows do not match the published layout, "
            f"more than allowed{where}"
        )
    if report.premises == 0:
        raise _Refused("the premises file has no usable rows")
    if report.collections == 0:
        raise _Refused("the jobs file has no collections for the premises listed")
    jobs_read = report.collections + report.orphans
    if report.orphans > max_bad_rows or report.orphans > max(10, jobs_read * max_bad_fraction):
        raise _Refused(
            f"{report.orphans:,} jobs name premises that are not in the premises file; "
            "the premises file looks incomplete"
        )
    current = current_meta(engine)
    if current and not current["is_sample"] and not allow_shrink:
        for what, new, old, keep in (
            ("premises", report.premises, current["premises_count"], MIN_PREMISES_KEPT),
            ("collections", report.collections, current["collections_count"], MIN_COLLECTIONS_KEPT),
        ):
            if old and new < old * keep:
                raise _Refused(
                    f"the new files have {new:,} {what}, far fewer than the {old:,} serving now; "
                    "they look cut off (use --allow-shrink if the drop is real)"
                )


def _pick(resources: list[Any], filename: str) -> Any:
    for r in resources:
        if (r.url or "").lower().rstrip("/").endswith(filename):
            return r
    stem = filename.split("_", 1)[1].split(".")[0]  # "premises" / "jobs"
    for r in resources:
        if stem in (r.name or "").lower():
            return r
    raise _Refused(f"the dataset has no {filename} resource")


def import_from_portal(
    engine: sa.Engine,
    download_dir: str | os.PathLike[str],
    *,
    portal: Any = None,
    http_cache: str | None = None,
    dataset: str = DATASET,
    force: bool = False,
    progress: Progress | None = None,
    **kwargs: Any,
) -> ImportReport:
    """Download both files from Data Mill North when they changed, then :func:`import_files`.

    A failed download raises :class:`ImportFailed` with the reason and leaves
    the data serving now untouched. ``http_cache`` (a path or ``redis://``
    URL) caches the catalogue calls. When neither file changed since the
    import serving now, nothing is imported and the report says ``unchanged``.
    """
    import civickit
    from civickit.http import HttpClient

    download_dir = Path(download_dir)
    download_dir.mkdir(parents=True, exist_ok=True)
    source = f"Data Mill North dataset {dataset}"
    models.create_all(engine)
    try:
        # the catalogue calls share the app's cache (REDIS_URL); downloads bypass it
        http = HttpClient(cache=http_cache) if http_cache else None
        ckan = portal or civickit.portal("datamillnorth", http=http)
        ds = ckan.dataset(dataset)
        downloads = {}
        for filename in (PREMISES_FILE, JOBS_FILE):
            resource = _pick(list(ds.resources), filename)
            downloads[filename] = ckan.http.download(
                resource.url, download_dir / filename, progress=progress is not None
            )
    except Exception as exc:
        report = ImportReport(source=source, message=f"download failed: {exc}")
        _record_failure(engine, report)
        raise ImportFailed(report) from exc
    version = " ".join(
        f"{name}={d.etag or d.last_modified or d.bytes}" for name, d in downloads.items()
    )
    current = current_meta(engine)
    unchanged = not any(d.changed for d in downloads.values())
    if unchanged and not force and current and current.get("version") == version:
        return ImportReport(
            source=source,
            status="unchanged",
            premises=current["premises_count"],
            collections=current["collections_count"],
            message="the published files have not changed since the last import",
        )
    return import_files(
        engine,
        downloads[PREMISES_FILE].path,
        downloads[JOBS_FILE].path,
        source=source,
        progress=progress,
        version=version,
        **kwargs,
    )
