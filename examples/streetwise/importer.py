"""Load collisions, hospitals and postcodes into the app database, atomically.

Each import reads its files through the civickit readers into a staging table
(``sw_<kind>_staging``). Only when every file has been read, and no more rows
were skipped than allowed, are the live rows replaced, in one transaction:
delete, insert from staging, record provenance. Anything that goes wrong
before that commit leaves the old data serving.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from civickit.errors import DataFormatError, InvalidPostcode
from civickit.postcodes import normalise

from .models import TABLES, DataMeta, create_all

SAMPLE_DIR = Path(__file__).parent / "data"
BATCH = 5000
Progress = Callable[[str, int], None]


class ImportFailed(Exception):
    """The import stopped before the swap; the old data is untouched."""


@dataclass
class ImportReport:
    """What an import loaded and which rows it skipped (with file and line)."""

    kind: str
    rows: int = 0
    files: list[str] = field(default_factory=list)
    skipped: list[DataFormatError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "files": self.files,
            "skipped": [
                {"source": e.source, "line": e.line, "message": e.message} for e in self.skipped
            ],
            "warnings": self.warnings,
        }


def _staging(kind: str) -> sa.Table:
    table = TABLES[kind]
    return table.to_metadata(sa.MetaData(), name=f"{table.name}_staging")


def _load(
    engine: sa.Engine,
    kind: str,
    rows: Iterable[dict[str, Any]],
    report: ImportReport,
    *,
    is_sample: bool,
    max_skipped: int,
    progress: Progress | None,
    dedupe_key: str | None = None,
) -> ImportReport:
    """Fill the staging table from ``rows``, then swap it in (or leave everything alone)."""
    create_all(engine)
    live = TABLES[kind]
    staging = _staging(kind)
    staging.drop(engine, checkfirst=True)
    staging.create(engine)
    seen: set[Any] = set()
    try:
        with engine.begin() as conn:
            batch: list[dict[str, Any]] = []
            for row in rows:
                if dedupe_key is not None:
                    key = row[dedupe_key]
                    if key in seen:
                        report.warnings.append(f"{kind}: duplicate {dedupe_key} {key} kept once")
                        continue
                    seen.add(key)
                batch.append(row)
                if len(batch) >= BATCH:
                    conn.execute(staging.insert(), batch)
                    report.rows += len(batch)
                    batch.clear()
                    if progress:
                        progress(kind, report.rows)
                if len(report.skipped) > max_skipped:
                    raise ImportFailed(
                        f"{kind}: more than {max_skipped} bad rows (first: {report.skipped[0]}); "
                        "is this the right file? Nothing was changed."
                    )
            if batch:
                conn.execute(staging.insert(), batch)
                report.rows += len(batch)
            if progress:
                progress(kind, report.rows)
        if len(report.skipped) > max_skipped:
            raise ImportFailed(
                f"{kind}: more than {max_skipped} bad rows (first: {report.skipped[0]}); "
                "is this the right file? Nothing was changed."
            )
        if report.rows == 0:
            raise ImportFailed(f"{kind}: the files held no usable rows. Nothing was changed.")
        # the collisions' surrogate id is left to the live table
        columns = [c.name for c in live.columns if c.name != "id"]
        cols = ", ".join(columns)
        with engine.begin() as conn:  # the swap: one transaction
            conn.execute(live.delete())
            conn.execute(
                sa.text(f"INSERT INTO {live.name} ({cols}) SELECT {cols} FROM {staging.name}")
            )
            conn.execute(sa.delete(DataMeta).where(DataMeta.source == kind))
            conn.execute(
                sa.insert(DataMeta).values(
                    source=kind,
                    imported_at=datetime.now(UTC),
                    is_sample=is_sample,
                    rows=report.rows,
                    detail=json.dumps({"files": report.files, "skipped": len(report.skipped)}),
                )
            )
    except DataFormatError as exc:
        raise ImportFailed(f"{exc}. Nothing was changed.") from exc
    finally:
        staging.drop(engine, checkfirst=True)
    return report


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
) -> ImportReport:
    """Replace all collisions with those in the given STATS19 and Leeds RTC files."""
    from civickit.datasets.collisions import read_leeds_rtc, read_stats19

    report = ImportReport("collisions")
    stats19, leeds_rtc = [Path(p) for p in stats19], [Path(p) for p in leeds_rtc]
    if not stats19 and not leeds_rtc:
        raise ImportFailed("collisions: give at least one STATS19 or Leeds RTC file")
    years: dict[str, set[int]] = {"stats19": set(), "leeds_rtc": set()}

    def rows() -> Iterator[dict[str, Any]]:
        for source, paths, reader in (
            ("leeds_rtc", leeds_rtc, read_leeds_rtc),
            ("stats19", stats19, read_stats19),
        ):
            for path in paths:
                report.files.append(str(path))
                for c in reader(str(path), on_error=report.skipped.append):
                    missing = (
                        "coordinates"
                        if c.latitude is None or c.longitude is None
                        else "severity"
                        if c.severity is None
                        else None
                    )
                    if missing:
                        report.skipped.append(
                            DataFormatError(str(path), None, f"{c.reference}: no {missing}")
                        )
                        continue
                    if c.date is not None:
                        years[source].add(c.date.year)
                    yield _collision_row(c, source)

    _load(
        engine,
        "collisions",
        rows(),
        report,
        is_sample=is_sample,
        max_skipped=max_skipped,
        progress=progress,
    )
    both = sorted(years["stats19"] & years["leeds_rtc"])
    if both:
        report.warnings.append(
            "collisions: years "
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
) -> ImportReport:
    """Replace all hospitals with the sites in an NHS ``Hospital.csv``."""
    from civickit.datasets.hospitals import read_nhs

    report = ImportReport("hospitals", files=[str(path)])

    def rows() -> Iterator[dict[str, Any]]:
        for h in read_nhs(str(path), on_error=report.skipped.append):
            if h.latitude is None or h.longitude is None:
                report.skipped.append(DataFormatError(str(path), None, f"{h.code}: no coordinates"))
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
        "hospitals",
        rows(),
        report,
        is_sample=is_sample,
        max_skipped=max_skipped,
        progress=progress,
        dedupe_key="code",
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
) -> ImportReport:
    """Replace the local postcode table with the rows of a postcode CSV."""
    report = ImportReport("postcodes", files=[str(path)])
    return _load(
        engine,
        "postcodes",
        read_postcode_table(Path(path), report.skipped.append),
        report,
        is_sample=is_sample,
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


def import_sample(engine: sa.Engine, progress: Progress | None = None) -> list[ImportReport]:
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
