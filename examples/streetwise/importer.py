"""Load collisions, hospitals and postcodes into the app database, atomically.

Each import reads its files through the civickit readers into a staging copy
of its table (:class:`examples.common.Staging`). Only when every file has been
read, and no more rows were skipped than allowed, is the copy swapped in over
the live table, in one transaction with the provenance row in
``sw_data_meta``. Anything that goes wrong before that commit raises
:class:`~examples.common.ImportFailed` and leaves the old data serving.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from civickit.errors import DataFormatError, InvalidPostcode
from civickit.postcodes import normalise
from examples.common import ImportFailed, ImportReport, Progress, Refused, Staging, attempt
from examples.common.importing import plural

from .models import TABLES, DataMeta, create_all

SAMPLE_DIR = Path(__file__).parent / "data"
PROGRESS_EVERY = 5000  # rows between progress reports

__all__ = [
    "ImportFailed",
    "TableReport",
    "import_collisions",
    "import_hospitals",
    "import_postcodes",
    "import_sample",
]


@dataclass(kw_only=True)
class TableReport(ImportReport):
    """An import of one kind of data (``source``: collisions, hospitals or postcodes)."""

    rows: int = 0  # rows loaded

    def figures(self) -> dict[str, Any]:
        return {"rows": self.rows}


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
    with attempt(report):
        create_all(engine)
        with Staging(engine, [live]) as staging:
            checked = _checked(rows, report, max_skipped, progress, dedupe_key)
            report.rows = staging.load(
                live, (tuple(r[c] for c in columns) for r in checked), columns
            )
            if report.skipped_count > max_skipped:
                raise _too_many_skipped(report, max_skipped)
            if report.rows == 0:
                raise Refused("the files held no usable rows")
            report.status = "ok"
            report.message = (
                f"{plural(report.rows, 'row')} loaded from {plural(len(report.files), 'file')}"
            )
            if report.skipped_count:
                report.message += f"; {plural(report.skipped_count, 'row')} skipped"
            staging.swap(lambda conn: _record(conn, report))
    return report


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


def _record(conn: sa.Connection, report: TableReport) -> None:
    """Where this kind of data now comes from, written inside the swap's transaction."""
    conn.execute(sa.delete(DataMeta).where(DataMeta.source == report.source))
    conn.execute(
        sa.insert(DataMeta).values(
            source=report.source,
            imported_at=datetime.now(UTC),
            is_sample=report.is_sample,
            rows=report.rows,
            detail=json.dumps({"files": report.files, "skipped": report.skipped_count}),
        )
    )


# -- collisions ---------------------------------------------------------------------


def _collision_row(c: Any, source: str) -> dict[str, Any]:
    time = c.time
    if time is not None and not isinstance(time, str):
        time = time.strftime("%H:%M")
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

    report = TableReport(source="collisions", is_sample=is_sample)
    stats19, leeds_rtc = [Path(p) for p in stats19], [Path(p) for p in leeds_rtc]
    if not stats19 and not leeds_rtc:
        report.message = "give at least one STATS19 or Leeds RTC file"
        raise ImportFailed(report)
    years: dict[str, set[int]] = {"stats19": set(), "leeds_rtc": set()}

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
                    if c.date is not None:
                        years[source].add(c.date.year)
                    yield _collision_row(c, source)

    _load(engine, rows(), report, max_skipped=max_skipped, progress=progress)
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
    is_sample: bool = False,
    max_skipped: int = 1000,
    progress: Progress | None = None,
) -> TableReport:
    """Replace all hospitals with the sites in an NHS ``Hospital.csv``."""
    from civickit.datasets.hospitals import read_nhs

    report = TableReport(source="hospitals", files=[str(path)], is_sample=is_sample)

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
        engine, rows(), report, max_skipped=max_skipped, progress=progress, dedupe_key="code"
    )


# -- postcodes ----------------------------------------------------------------------

_PC_COLUMNS = ("postcode", "pcds", "pcd", "pcd2", "pcd7", "pcd8")
_LAT_COLUMNS = ("latitude", "lat")
_LON_COLUMNS = ("longitude", "long", "lon", "lng")


def read_postcode_table(
    path: Path, on_error: Callable[[DataFormatError], None]
) -> Iterator[dict[str, Any]]:
    """Rows of a postcode CSV: ours (``postcode,latitude,longitude``) or ONSPD/NSPL.

    ONSPD and NSPL mark postcodes without a grid reference with latitude
    99.999999, and retired postcodes with a ``doterm`` date: both are skipped
    (reported as bad rows only in the first case).
    """
    source = str(path)
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise DataFormatError(source, 1, "the file is empty") from None

        def pick(names: tuple[str, ...]) -> int:
            for name in names:
                if name in header:
                    return header.index(name)
            raise DataFormatError(
                source, 1, f"no {names[0]} column (looked for {', '.join(names)})"
            )

        i_pc, i_lat, i_lon = pick(_PC_COLUMNS), pick(_LAT_COLUMNS), pick(_LON_COLUMNS)
        i_term = header.index("doterm") if "doterm" in header else None
        for line_no, fields in enumerate(reader, start=2):
            if not fields or not any(f.strip() for f in fields):
                continue
            try:
                if i_term is not None and fields[i_term].strip():
                    continue
                pc = normalise(fields[i_pc])
                lat, lon = float(fields[i_lat]), float(fields[i_lon])
            except (IndexError, ValueError, InvalidPostcode) as exc:
                on_error(DataFormatError(source, line_no, f"not a postcode row ({exc})"))
                continue
            if not (49 <= lat <= 61 and -9 <= lon <= 2.5):
                on_error(
                    DataFormatError(source, line_no, f"{pc}: no usable coordinates ({lat}, {lon})")
                )
                continue
            yield {"postcode": pc, "latitude": lat, "longitude": lon}


def import_postcodes(
    engine: sa.Engine,
    path: Path,
    *,
    is_sample: bool = False,
    max_skipped: int = 1000,
    progress: Progress | None = None,
) -> TableReport:
    """Replace the local postcode table with the rows of a postcode CSV."""
    report = TableReport(source="postcodes", files=[str(path)], is_sample=is_sample)
    return _load(
        engine,
        read_postcode_table(Path(path), report.skip),
        report,
        max_skipped=max_skipped,
        progress=progress,
        dedupe_key="postcode",
    )


# -- the bundled sample -------------------------------------------------------------


def sample_files() -> dict[str, list[Path]]:
    """The bundled sample, by kind (see ``data/SOURCE.txt``)."""
    return {
        "leeds_rtc": sorted(SAMPLE_DIR.glob("leeds_rtc_*.csv")),
        "stats19": sorted(SAMPLE_DIR.glob("stats19_collision_*.csv")),
        "hospitals": [SAMPLE_DIR / "nhs_hospital_sample.csv"],
        "postcodes": [SAMPLE_DIR / "postcodes.csv"],
    }


def import_sample(engine: sa.Engine, progress: Progress | None = None) -> list[TableReport]:
    """Load the whole bundled sample (each kind swapped in atomically)."""
    files = sample_files()
    return [
        import_postcodes(engine, files["postcodes"][0], is_sample=True, progress=progress),
        import_hospitals(engine, files["hospitals"][0], is_sample=True, progress=progress),
        import_collisions(
            engine,
            stats19=files["stats19"],
            leeds_rtc=files["leeds_rtc"],
            is_sample=True,
            progress=progress,
        ),
    ]
