"""Load Leeds ``dm_premises.csv`` + ``dm_jobs.csv`` and swap them in atomically.

The files are read with :mod:`civickit.datasets.bins` (NUL fields, Windows-1252,
optional header, ``DD/MM/YY`` dates, exact duplicates dropped) into staging
copies of ``premises`` and ``collections`` (:class:`examples.common.Staging`:
``executemany`` on SQLite, ``COPY`` on PostgreSQL), checked, indexed, and only
then renamed over the live tables in one short transaction. So:

* a bad file, a file cut off halfway, or a failed download raises
  :class:`~examples.common.ImportFailed` and the previous data keeps serving;
* readers never see a half-loaded table;
* every outcome, good or bad, is written to the import log (``data_meta``)
  with its reason; the newest successful import is the data serving now.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from civickit.datasets import bins as bins_reader
from civickit.errors import DataFormatError
from civickit.http import Download
from civickit.portals.ckan import CKAN
from examples.common import (
    ImportFailed,
    ImportLog,
    ImportRecord,
    ImportReport,
    Progress,
    Refused,
    Staging,
    attempt,
)
from examples.common.importing import no_progress, plural

from . import models

DATASET = "household-waste-collections"
KIND = "bins"  # what the import log calls this app's one kind of data
PREMISES_FILE = "dm_premises.csv"
JOBS_FILE = "dm_jobs.csv"
PREMISES_COLUMNS = ("id", "saon", "paon", "street", "locality", "town", "postcode", "address")
COLLECTIONS_COLUMNS = ("premises_id", "bin", "date")
# Refuse a new file much smaller than the data serving now: it is almost always cut off.
MIN_PREMISES_KEPT = 0.9
MIN_COLLECTIONS_KEPT = 0.5

__all__ = [
    "BinsReport",
    "ImportFailed",
    "Limits",
    "import_files",
    "import_from_portal",
    "import_log",
    "serving",
]


@dataclass(kw_only=True)
class BinsReport(ImportReport):
    """An import of the two files: premises and collections loaded, and the dates they cover."""

    premises: int = 0
    collections: int = 0
    orphans: int = 0  # jobs for premises that are not in the premises file
    first_date: date | None = None
    last_date: date | None = None

    def figures(self) -> dict[str, Any]:
        return {
            "premises": self.premises,
            "collections": self.collections,
            "orphans": self.orphans,
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
        }

    def summary(self) -> str:
        return (
            f"premises: {self.premises:,}  collections: {self.collections:,}"
            f"  dates: {self.first_date} to {self.last_date}  ({self.seconds:.1f} s)"
        )


@dataclass(frozen=True)
class Limits:
    """When to refuse an import rather than swap it in."""

    max_bad_rows: int = 1000  # rows that do not match the layout, at most
    max_bad_fraction: float = 0.01  # ... and at most this share of the rows read
    allow_shrink: bool = False  # accept far fewer rows than the data serving now


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
) -> BinsReport:
    """Import both files and swap them in; raise :class:`ImportFailed` and keep the old data otherwise.

    Rows that do not match the layout are skipped and reported by line, up to
    ``max_bad_rows`` and ``max_bad_fraction`` of the rows read; beyond either
    the whole import is refused. Unless ``allow_shrink``, a file with far fewer
    premises or collections than the data serving now is refused as cut off.
    """
    premises_path, jobs_path = Path(premises_path), Path(jobs_path)
    limits = Limits(max_bad_rows, max_bad_fraction, allow_shrink)
    progress = progress or no_progress
    report = BinsReport(
        source=source or f"files: {premises_path.name}, {jobs_path.name}",
        files=[str(premises_path), str(jobs_path)],
        is_sample=is_sample,
    )
    models.create_all(engine)
    log = import_log(engine)
    with attempt(
        report, record_failure=lambda r: log.record_failure(r, kind=KIND, version=version)
    ):
        for path in (premises_path, jobs_path):
            if not path.is_file():
                raise Refused(f"{path} does not exist or is not a file")
        with Staging(engine, [models.premises, models.collections]) as staging:
            _load(staging, premises_path, jobs_path, report, progress)
            _check(report, engine, limits)
            progress("indexes", 0, None)
            staging.index()
            report.first_date, report.last_date = _date_range(staging)
            report.status, report.message = "ok", _loaded_message(report)
            staging.swap(lambda conn: log.record(conn, report, kind=KIND, version=version))
    _checkpoint(engine)
    return report


def import_from_portal(
    engine: sa.Engine,
    download_dir: str | os.PathLike[str],
    *,
    portal: CKAN | None = None,
    http_cache: str | None = None,
    dataset: str = DATASET,
    force: bool = False,
    progress: Progress | None = None,
    **kwargs: Any,
) -> BinsReport:
    """Download both files from Data Mill North when they changed, then :func:`import_files`.

    A failed download raises :class:`ImportFailed` with the reason and leaves
    the data serving now untouched. ``http_cache`` (a path or ``redis://``
    URL) caches the catalogue calls. When neither file changed since the
    import serving now, nothing is imported and the report says ``unchanged``.
    """
    source = f"Data Mill North dataset {dataset}"
    models.create_all(engine)
    report = BinsReport(source=source)
    log = import_log(engine)
    with attempt(report, record_failure=lambda r: log.record_failure(r, kind=KIND)):
        downloads = _download(Path(download_dir), portal, http_cache, dataset, progress)
    version = " ".join(
        f"{name}={d.etag or d.last_modified or d.bytes}" for name, d in downloads.items()
    )
    current = serving(engine)
    unchanged = not any(d.changed for d in downloads.values())
    if unchanged and not force and current and current.version == version:
        return BinsReport(
            source=source,
            status="unchanged",
            premises=current.figures["premises"],
            collections=current.figures["collections"],
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


def import_log(engine: sa.Engine) -> ImportLog:
    """The app's import log on ``engine``, asked afresh each time (the app keeps its own)."""
    return ImportLog(engine, models.imports)


def serving(engine: sa.Engine) -> ImportRecord | None:
    """The import serving now (the newest successful one), if any."""
    return import_log(engine).serving().get(KIND)


def last_date(record: ImportRecord) -> date | None:
    """The last collection date an import holds."""
    text = record.figures.get("last_date")
    return date.fromisoformat(text) if text else None


# -- reading ------------------------------------------------------------------------


def _load(
    staging: Staging,
    premises_path: Path,
    jobs_path: Path,
    report: BinsReport,
    progress: Progress,
) -> None:
    """Read both files into the staging tables, counting what was loaded and skipped."""
    known: set[int] = set()
    report.premises = staging.load(
        models.premises,
        _premises_rows(premises_path, known, report, progress),
        PREMISES_COLUMNS,
    )
    report.collections = staging.load(
        models.collections,
        _collection_rows(jobs_path, known, report, progress),
        COLLECTIONS_COLUMNS,
    )
    for path in (premises_path, jobs_path):
        _check_complete(path, report)


def _position(fh: io.BufferedReader) -> int:
    # the OS position, whatever buffering the reader adds on top
    return os.lseek(fh.fileno(), 0, os.SEEK_CUR)


def _premises_rows(
    path: Path, known: set[int], report: BinsReport, progress: Progress
) -> Iterator[tuple[Any, ...]]:
    """Premises rows in :data:`PREMISES_COLUMNS` order; each id once (the first kept)."""
    total = path.stat().st_size
    with path.open("rb") as fh:
        for n, p in enumerate(bins_reader.read_premises(fh, on_error=report.skip), 1):
            if n % 20_000 == 0:
                progress("premises", _position(fh), total)
            pid = int(p.id)
            if pid in known:
                message = f"premises {pid} is listed twice; the first is kept"
                report.skip(DataFormatError(str(path), None, message))
                continue
            known.add(pid)
            yield (
                pid,
                p.saon or "",
                p.paon or "",
                p.street or "",
                p.locality or "",
                p.town or "",
                p.postcode or "",  # the reader normalises it ("LS5 3DH") where it can
                p.address or "",
            )
        progress("premises", total, total)


def _collection_rows(
    path: Path, known: set[int], report: BinsReport, progress: Progress
) -> Iterator[tuple[int, str, date]]:
    """Collections of the ``known`` premises; jobs for any other are counted as orphans."""
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


# -- checking -----------------------------------------------------------------------


def _check_complete(path: Path, report: BinsReport) -> None:
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
            raise Refused(
                f"{path.name} ends in the middle of line {last} ({error.message}): "
                "the file looks cut off"
            )


def _check(report: BinsReport, engine: sa.Engine, limits: Limits) -> None:
    """Refuse too many bad rows, empty files, orphaned jobs, or files far smaller than now."""
    seen = report.premises + report.collections + report.skipped_count
    where = ""
    if report.skipped:
        where = " (" + "; ".join(report.skipped_lines()[:5]) + ")"
    if report.skipped_count > limits.max_bad_rows or (
        seen and report.skipped_count / seen > limits.max_bad_fraction
    ):
        raise Refused(
            f"{report.skipped_count:,} of {seen:,} rows do not match the published layout, "
            f"more than allowed{where}"
        )
    if report.premises == 0:
        raise Refused("the premises file has no usable rows")
    if report.collections == 0:
        raise Refused("the jobs file has no collections for the premises listed")
    jobs_read = report.collections + report.orphans
    if report.orphans > limits.max_bad_rows or report.orphans > max(
        10, jobs_read * limits.max_bad_fraction
    ):
        raise Refused(
            f"{report.orphans:,} jobs name premises that are not in the premises file; "
            "the premises file looks incomplete"
        )
    if not limits.allow_shrink:
        _check_not_shrunk(report, serving(engine))


def _check_not_shrunk(report: BinsReport, current: ImportRecord | None) -> None:
    if not current or current.is_sample:
        return
    for what, new, old, keep in (
        ("premises", report.premises, current.figures.get("premises"), MIN_PREMISES_KEPT),
        (
            "collections",
            report.collections,
            current.figures.get("collections"),
            MIN_COLLECTIONS_KEPT,
        ),
    ):
        if old and new < old * keep:
            raise Refused(
                f"the new files have {new:,} {what}, far fewer than the {old:,} serving now; "
                "they look cut off (use --allow-shrink if the drop is real)"
            )


# -- recording ----------------------------------------------------------------------


def _loaded_message(report: BinsReport) -> str:
    message = f"{report.premises:,} premises and {report.collections:,} collections imported"
    if report.skipped_count:
        message += f"; {plural(report.skipped_count, 'row')} skipped"
    if report.orphans:
        message += f"; {plural(report.orphans, 'job')} for unknown premises skipped"
    return message


def _date_range(staging: Staging) -> tuple[date | None, date | None]:
    c = staging.copy_of(models.collections).c
    first, last = staging.conn.execute(sa.select(sa.func.min(c.date), sa.func.max(c.date))).one()
    return first, last


def _checkpoint(engine: sa.Engine) -> None:
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:  # keep the WAL file from growing without bound
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


# -- downloading --------------------------------------------------------------------


def _download(
    folder: Path,
    portal: CKAN | None,
    http_cache: str | None,
    dataset: str,
    progress: Progress | None,
) -> dict[str, Download]:
    """Both files, from the portal's catalogue (only re-downloaded when they changed)."""
    from civickit.http import HttpClient
    from civickit.portals import known_portals

    folder.mkdir(parents=True, exist_ok=True)
    try:
        # the catalogue calls share the app's cache (REDIS_URL); downloads bypass it
        http = HttpClient(cache=http_cache) if http_cache else None
        # Data Mill North is CKAN (DataPress): the client's own HttpClient gives the
        # conditional download (ETag, Last-Modified) that only re-fetches changed files
        ckan = portal or CKAN(known_portals()["datamillnorth"].url, http=http)
        resources = list(ckan.dataset(dataset).resources)
        return {
            filename: ckan.http.download(
                _pick(resources, filename).url,
                folder / filename,
                progress=progress is not None,
            )
            for filename in (PREMISES_FILE, JOBS_FILE)
        }
    except Exception as exc:
        raise Refused(f"download failed: {exc}") from exc


def _pick(resources: list[Any], filename: str) -> Any:
    for r in resources:
        if (r.url or "").lower().rstrip("/").endswith(filename):
            return r
    stem = filename.split("_", 1)[1].split(".")[0]  # "premises" / "jobs"
    for r in resources:
        if stem in (r.name or "").lower():
            return r
    raise Refused(f"the dataset has no {filename} resource")
