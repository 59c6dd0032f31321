"""Load collisions, hospitals and postcodes into the app database, atomically.

Each import reads its files through the civickit readers into a staging copy
of its table (:class:`examples.common.Staging`). Only when every file has been
read, and no more rows were skipped than allowed, is the copy swapped in over
the live table, in one transaction with its row in the import log
(``sw_data_meta``). Anything that goes wrong before that commit raises
:class:`~examples.common.ImportFailed`, is written to the log as a failure, and
leaves the old data serving.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from civickit.errors import DataFormatError
from civickit.postcodes import PostcodeDirectory
from examples.common import (
    ImportFailed,
    ImportLog,
    ImportReport,
    Progress,
    Refused,
    Staging,
    attempt,
)
from examples.common.importing import plural

from . import spatial
from .districts import current_code
from .models import TABLES, create_all, imports

SAMPLE_DIR = Path(__file__).parent / "data"
#: The bundled Hospital.csv is NHS Choices' list as published in January 2018.
SAMPLE_HOSPITALS_AS_OF = "January 2018"
PROGRESS_EVERY = 5000  # rows between progress reports

__all__ = [
    "ImportFailed",
    "TableReport",
    "import_collisions",
    "import_hospitals",
    "import_log",
    "import_postcodes",
    "import_sample",
]


@dataclass(kw_only=True)
class TableReport(ImportReport):
    """An import of one kind of data (``source``: collisions, hospitals or postcodes)."""

    rows: int = 0  # rows loaded
    per_year: dict[int, int] = field(default_factory=dict)  # collisions: rows per year
    sources: list[str] = field(default_factory=list)  # collisions: stats19, leeds_rtc
    as_of: str | None = None  # hospitals: when the list was published

    def figures(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rows": self.rows}
        if self.per_year:
            out["per_year"] = {str(y): n for y, n in sorted(self.per_year.items())}
        if self.sources:
            out["sources"] = list(self.sources)
        if self.as_of:
            out["as_of"] = self.as_of
        return out

    def summary(self) -> str | None:
        if not self.per_year:
            return None
        return "per year: " + ", ".join(f"{y} {n:,}" for y, n in sorted(self.per_year.items()))


#: Collisions STATS19 published for Great Britain per year (DfT's single-year files).
PUBLISHED_COLLISIONS = {
    2017: 129_982,
    2018: 122_635,
    2019: 117_536,
    2020: 91_199,
    2021: 101_087,
    2022: 106_004,
    2023: 104_258,
    2024: 100_927,
}
SHORT = 0.95  # a national file's year with fewer than this share of the published total


def short_years(per_year: dict[int, int], districts: int) -> list[str]:
    """Warnings for the years of a national file that hold fewer rows than DfT published.

    A file is national when it holds at least half of some year's published total
    or more than 100 districts (a council's own extract is not "short").
    """
    national = districts > 100 or any(
        n >= PUBLISHED_COLLISIONS[y] / 2 for y, n in per_year.items() if y in PUBLISHED_COLLISIONS
    )
    if not national:
        return []
    return [
        f"{year} holds {per_year[year]:,} collisions but DfT published {published:,} for that "
        f"year; the file looks short (load {year} from its single-year file)"
        for year, published in sorted(PUBLISHED_COLLISIONS.items())
        if year in per_year and per_year[year] < published * SHORT
    ]


def import_log(engine: sa.Engine) -> ImportLog:
    """The app's import log on ``engine`` (each kind of data is one ``kind`` in it)."""
    return ImportLog(engine, imports)


def _load(
    engine: sa.Engine,
    rows: Iterable[dict[str, Any]],
    report: TableReport,
    *,
    max_skipped: int,
    progress: Progress | None,
    dedupe_key: str | None = None,
) -> TableReport:
    """Fill a staging copy of the table from ``rows``, then swap it in (or change nothing)."""
    kind = report.source
    live = TABLES[kind]
    # the collisions' surrogate id is numbered by the database
    columns = [c.name for c in live.columns if c.name != "id"]
    log = import_log(engine)
    with (
        attempt(report, record_failure=lambda r: log.record_failure(r, kind=kind)),
        _collector_paused(),
    ):
        create_all(engine)
        with Staging(engine, [live]) as staging:
            checked = _checked(rows, report, max_skipped, progress, dedupe_key)
            in_order = operator.itemgetter(*columns)
            report.rows = staging.load(live, map(in_order, checked), columns)
            if report.skipped_count > max_skipped:
                raise _too_many_skipped(report, max_skipped)
            if report.rows == 0:
                raise Refused("the files held no usable rows")
            staging.index()
            index = spatial.backend(engine) if kind == "collisions" else ""
            if index in ("grid", "postgis"):
                with staging.transaction():
                    spatial.prepare(
                        staging.conn, staging.copies[live.name].name, index, staging.token
                    )
            report.status = "ok"
            report.message = (
                f"{plural(report.rows, 'row')} loaded from {plural(len(report.files), 'file')}"
            )
            if report.skipped_count:
                report.message += f"; {plural(report.skipped_count, 'row')} skipped"

            def record(conn: sa.Connection) -> None:
                spatial.swap_in(conn, index)
                log.record(conn, report, kind=kind)

            staging.swap(record)
    return report


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector for a bulk load.

    Each row makes a few short-lived objects without cycles, which reference
    counting frees; but the collector, woken every few hundred allocations,
    walks the live objects each time, a large share of a bulk import's time.
    It runs once at the end.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


def _checked(
    rows: Iterable[dict[str, Any]],
    report: TableReport,
    max_skipped: int,
    progress: Progress | None,
    dedupe_key: str | None,
) -> Iterator[dict[str, Any]]:
    """``rows`` with duplicates dropped (and warned of), stopping once too many were bad."""
    seen: set[Any] = set()
    count = 0
    for row in rows:
        if report.skipped_count > max_skipped:
            raise _too_many_skipped(report, max_skipped)
        if dedupe_key is not None:
            key = row[dedupe_key]
            if key in seen:
                report.warnings.append(f"duplicate {dedupe_key} {key} kept once")
                continue
            seen.add(key)
        count += 1
        if progress and count % PROGRESS_EVERY == 0:
            progress(report.source, count, None)
        yield row
    if progress:
        progress(report.source, count, None)


def _too_many_skipped(report: TableReport, max_skipped: int) -> Refused:
    first = report.skipped[0] if report.skipped else "none listed"
    return Refused(f"more than {max_skipped:,} bad rows (first: {first}); is this the right file?")


# -- collisions ---------------------------------------------------------------------


LEEDS = "E08000035"  # Leeds RTC files are Leeds City Council's own: every row is in Leeds


@functools.cache
def _clock(time: Any) -> str | None:
    """'HH:MM' (a day has 1,440 of them: worked out once each, not once per row)."""
    return None if time is None else time if isinstance(time, str) else time.strftime("%H:%M")


def _collision_row(c: Any, source: str) -> dict[str, Any]:
    time = _clock(c.time)
    recorded = LEEDS if source == "leeds_rtc" else c.district
    return {
        "reference": str(c.reference),
        "date": c.date,
        "time": time,
        "latitude": float(c.latitude),
        "longitude": float(c.longitude),
        "severity": c.severity,
        "vehicles": c.vehicles,
        "casualties": int(c.casualties or 0),
        "road_class": c.road_class,
        "source": source,
        "year": c.date.year if c.date is not None else None,
        "district": current_code(recorded),
        "district_recorded": recorded,
    }


def import_collisions(
    engine: sa.Engine,
    *,
    stats19: Iterable[Path] = (),
    leeds_rtc: Iterable[Path] = (),
    is_sample: bool = False,
    max_skipped: int = 1000,
    progress: Progress | None = None,
) -> TableReport:
    """Replace all collisions with those in the given STATS19 and Leeds RTC files."""
    from civickit.datasets.collisions import read_leeds_rtc, read_stats19

    stats19, leeds_rtc = [Path(p) for p in stats19], [Path(p) for p in leeds_rtc]
    given = [name for name, paths in (("stats19", stats19), ("leeds_rtc", leeds_rtc)) if paths]
    report = TableReport(source="collisions", is_sample=is_sample, sources=given)
    if not stats19 and not leeds_rtc:
        report.message = "give at least one STATS19 or Leeds RTC file"
        raise ImportFailed(report)
    years: dict[str, set[int]] = {"stats19": set(), "leeds_rtc": set()}
    stats19_years: dict[int, int] = {}
    stats19_districts: set[str] = set()

    def rows() -> Iterator[dict[str, Any]]:
        for source, paths, reader in (
            ("leeds_rtc", leeds_rtc, read_leeds_rtc),
            ("stats19", stats19, read_stats19),
        ):
            for path in paths:
                report.files.append(str(path))
                for c in reader(str(path), on_error=report.skip):
                    missing = (
                        "coordinates"
                        if c.latitude is None or c.longitude is None
                        else "severity"
                        if c.severity is None
                        else None
                    )
                    if missing:
                        report.skip(
                            DataFormatError(str(path), None, f"{c.reference}: no {missing}")
                        )
                        continue
                    row = _collision_row(c, source)
                    if c.date is not None:
                        years[source].add(c.date.year)
                        report.per_year[c.date.year] = report.per_year.get(c.date.year, 0) + 1
                        if source == "stats19":
                            stats19_years[c.date.year] = stats19_years.get(c.date.year, 0) + 1
                            if row["district"]:
                                stats19_districts.add(row["district"])
                    yield row

    _load(engine, rows(), report, max_skipped=max_skipped, progress=progress)
    report.warnings += short_years(stats19_years, len(stats19_districts))
    both = sorted(years["stats19"] & years["leeds_rtc"])
    if both:
        report.warnings.append(
            "years "
            + ", ".join(map(str, both))
            + " came from both STATS19 and Leeds RTC files, so Leeds collisions in them "
            "are probably counted twice; load each year from one source"
        )
    return report


# -- hospitals ----------------------------------------------------------------------


def import_hospitals(
    engine: sa.Engine,
    path: Path,
    *,
    as_of: str | None = None,
    is_sample: bool = False,
    max_skipped: int = 1000,
    progress: Progress | None = None,
) -> TableReport:
    """Replace all hospitals with the sites in an NHS ``Hospital.csv``.

    ``as_of`` says when the list was published (the bundled copy: January 2018);
    pages show it, since the list is not current.
    """
    from civickit.datasets.hospitals import read_nhs

    report = TableReport(source="hospitals", files=[str(path)], is_sample=is_sample, as_of=as_of)

    def rows() -> Iterator[dict[str, Any]]:
        for h in read_nhs(str(path), on_error=report.skip):
            if h.latitude is None or h.longitude is None:
                report.skip(DataFormatError(str(path), None, f"{h.code}: no coordinates"))
                continue
            yield {
                "code": h.code,
                "name": (h.name or "").strip(),
                "address": h.address,
                "postcode": h.postcode,
                "latitude": float(h.latitude),
                "longitude": float(h.longitude),
                "sector": h.sector,
                "parent": h.parent,
                "phone": h.phone,
                "website": h.website,
            }

    return _load(
        engine,
        rows(),
        report,
        max_skipped=max_skipped,
        progress=progress,
        dedupe_key="code",
    )


# -- postcodes ----------------------------------------------------------------------


def import_postcodes(
    engine: sa.Engine,
    src: Path | list[Path],
    dest: Path,
    *,
    is_sample: bool = False,
    max_skipped: int = 1000,
    progress: Progress | None = None,
) -> TableReport:
    """Build the local postcode directory (:class:`civickit.PostcodeDirectory`) at ``dest``.

    ``src``: the ONS Postcode Directory or NSPL (zip or CSV), Code-Point Open, or
    a CSV in the ONSPD's column names. The new file replaces the old one only
    when complete. The running app opens it at its next start.
    """
    paths = [Path(p) for p in (src if isinstance(src, list) else [src])]
    report = TableReport(source="postcodes", files=[str(p) for p in paths], is_sample=is_sample)
    log = import_log(engine)
    with attempt(report, record_failure=lambda r: log.record_failure(r, kind="postcodes")):
        directory = PostcodeDirectory.build(paths, dest, on_error=report.skip)
        if report.skipped_count > max_skipped:
            raise _too_many_skipped(report, max_skipped)
        report.rows = len(directory)
        directory.close()
        report.status = "ok"
        report.message = f"{plural(report.rows, 'postcode')} in {dest}"
        if report.skipped_count:
            report.message += f"; {plural(report.skipped_count, 'row')} skipped"
        create_all(engine)
        with engine.begin() as conn:
            log.record(conn, report, kind="postcodes")
    return report


# -- the bundled sample -------------------------------------------------------------


def sample_files() -> dict[str, list[Path]]:
    """The bundled sample, by kind (see ``data/SOURCE.txt``)."""
    return {
        "leeds_rtc": sorted(SAMPLE_DIR.glob("leeds_rtc_*.csv")),
        "stats19": sorted(SAMPLE_DIR.glob("stats19_collision_*.csv")),
        "hospitals": [SAMPLE_DIR / "nhs_hospital_2018-01.csv"],
    }


def import_sample(engine: sa.Engine, progress: Progress | None = None) -> list[TableReport]:
    """Load the whole bundled sample (each kind swapped in atomically).

    Postcodes are not imported: the sample's postcodes are civickit's bundled
    directory (``civickit/data/postcodes_sample.db``), which the demo uses.
    """
    files = sample_files()
    return [
        import_hospitals(
            engine,
            files["hospitals"][0],
            as_of=SAMPLE_HOSPITALS_AS_OF,
            is_sample=True,
            progress=progress,
        ),
        import_collisions(
            engine,
            stats19=files["stats19"],
            leeds_rtc=files["leeds_rtc"],
            is_sample=True,
            progress=progress,
        ),
    ]
