"""The postcode directory, written: :meth:`PostcodeDirectory.build <civickit.postcodes.PostcodeDirectory.build>`'s work.

The rows come from :mod:`.sources` (the ONSPD, NSPL or Code-Point Open, any
header era); the file they go into is described in :mod:`.fileformat`.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataFormatError
from .fileformat import _FORMAT, _FORMAT_VERSION, _RUN, _RUN_SPAN_E6, _key, _schema
from .place import CODE_FIELDS

if TYPE_CHECKING:
    from .sources import Plan, Row

__all__ = ["BUILTIN_NAMES", "build"]

#: Names of the codes every ONSPD, NSPL and Code-Point Open row can carry that do not
#: change between releases (ONS Register of Geographic Codes).
BUILTIN_NAMES = {
    "E92000001": "England",
    "W92000004": "Wales",
    "S92000003": "Scotland",
    "N92000002": "Northern Ireland",
    "L93000001": "Channel Islands",
    "M83000003": "Isle of Man",
    "E12000001": "North East",
    "E12000002": "North West",
    "E12000003": "Yorkshire and The Humber",
    "E12000004": "East Midlands",
    "E12000005": "West Midlands",
    "E12000006": "East of England",
    "E12000007": "London",
    "E12000008": "South East",
    "E12000009": "South West",
}
_PSEUDO = re.compile(r"[A-Z]99999999")


def build(
    src: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    dest: str | os.PathLike[str],
    *,
    progress: bool = False,
    on_error: Callable[[DataFormatError], None] | None = None,
) -> Path:
    """Write a directory at ``dest`` from ``src``, replacing it only once complete; its path.

    See :meth:`PostcodeDirectory.build <civickit.postcodes.PostcodeDirectory.build>`.
    """
    # the sources read through numpy and pyproj: loaded only when a build runs
    from . import sources

    srcs = [src] if isinstance(src, str | os.PathLike) else list(src)
    plan = sources.plan(srcs)
    path = Path(dest).expanduser()
    _check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _write(tmp, plan, progress=progress, on_error=on_error)
        tmp.chmod(0o644)  # a data file anyone may read, not mkstemp's private 0600
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _write(
    path: Path,
    plan: Plan,
    *,
    progress: bool,
    on_error: Callable[[DataFormatError], None] | None,
) -> None:
    """Write a whole directory into ``path`` (a new, empty file)."""
    from ..http import _progress

    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        try:
            db.executescript(_schema(CODE_FIELDS))
        except sqlite3.OperationalError as exc:
            if "rtree" not in str(exc):
                raise
            raise DataFormatError(
                str(path),
                None,
                "this Python's SQLite has no R*Tree module, which the directory needs; "
                "use a Python whose SQLite has it (python.org's and Linux builds do)",
            ) from None
        table = _Rows()

        def skip(error: DataFormatError) -> None:
            table.skipped += 1
            if on_error is not None:
                on_error(error)

        db.execute("BEGIN")
        with _progress(progress, plan.total_bytes, "postcodes") as advance:
            rows = plan.read(on_error=skip if on_error else None, advance=advance)
            inserted = db.executemany(
                "INSERT OR IGNORE INTO postcodes VALUES (?, ?, ?, ?, ?, ?, ?)", table.records(rows)
            ).rowcount
        names = {**BUILTIN_NAMES, **plan.names}
        db.executemany(
            "INSERT INTO codes VALUES (?, ?, ?)",
            (
                (i, code, None if _PSEUDO.fullmatch(code) else names.get(code))
                for code, i in table.codes.items()
            ),
        )
        db.executemany(
            f"INSERT INTO areas VALUES ({', '.join('?' * (len(CODE_FIELDS) + 1))})",
            ((i, *(table.codes.get(code) for code in combo)) for combo, i in table.areas.items()),
        )
        _write_locations(db)
        in_use = db.execute("SELECT count(*) FROM postcodes WHERE terminated IS NULL").fetchone()
        db.executemany("INSERT INTO meta VALUES (?, ?)", table.meta(plan, inserted, in_use[0]))
        db.execute("COMMIT")
        if not table.in_order:
            db.execute("VACUUM")  # rows arrived out of order: pack the half-empty pages
    finally:
        db.close()
    with path.open("rb+") as f:
        os.fsync(f.fileno())


class _Rows:
    """Turns read rows into table rows, numbering codes and areas and counting as it goes."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}  # code -> id; "" (none) is never given one
        self.areas: dict[tuple[str, ...], int] = {}  # codes, in CODE_FIELDS order -> id
        self._same: dict[str, str] = {}
        self.rows = self.retired = self.without_location = self.skipped = 0
        self.in_order = True

    def records(self, rows: Iterable[Row]) -> Iterator[tuple[Any, ...]]:
        areas = self.areas
        key_of = _key
        last = -1
        for postcode, lat, lon, east, north, terminated, codes in rows:
            area = areas.get(codes)
            if area is None:
                area = self._new_area(codes)
            key = key_of(postcode)
            if key < last:
                self.in_order = False
            last = key
            self.rows += 1
            if terminated is not None:
                self.retired += 1
            if lat is None:
                self.without_location += 1
            yield key, lat, lon, east, north, area, terminated

    def _new_area(self, codes: tuple[str, ...]) -> int:
        # keyed by each code's first string object, so the areas share their strings
        same = self._same
        shared = []
        for code in codes:
            first = same.get(code)
            if first is None:
                first = same[code] = code
                if code:
                    self.codes[code] = len(self.codes) + 1
            shared.append(first)
        area = self.areas[tuple(shared)] = len(self.areas) + 1
        return area

    def meta(self, plan: Plan, inserted: int, in_use: int) -> list[tuple[str, str]]:
        return [
            ("format", _FORMAT),
            ("version", str(_FORMAT_VERSION)),
            ("built", datetime.now(UTC).isoformat(timespec="seconds")),
            ("source", ", ".join(plan.sources)),
            ("release", plan.release),
            ("layout", plan.layouts()),
            ("rows", str(inserted)),
            ("in_use", str(in_use)),
            ("retired", str(self.retired)),
            ("without_location", str(self.without_location)),
            ("duplicates", str(self.rows - inserted)),
            ("skipped", str(self.skipped)),
            ("ignored", ", ".join(plan.ignored)),
        ]


def _write_locations(db: sqlite3.Connection) -> None:
    """Boxes around runs of consecutive located postcodes in use, into the R*Tree.

    A run ends after ``_RUN`` postcodes, at the end of a postcode sector, or
    before it would span more than ``_RUN_SPAN_E6``: consecutive postcodes in a
    sector are neighbours on the ground, so the boxes stay small.
    """
    boxes: list[tuple[int, int, int, int, int, int]] = []
    run: list[tuple[int, int, int]] = []
    insert = (
        "INSERT INTO locations (min_lat, max_lat, min_lon, max_lon, first, last) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    )

    def close_run() -> None:
        lats = [r[1] for r in run]
        lons = [r[2] for r in run]
        boxes.append((min(lats), max(lats), min(lons), max(lons), run[0][0], run[-1][0]))
        run.clear()
        if len(boxes) >= 10_000:
            writer.executemany(insert, boxes)
            boxes.clear()

    writer = db.cursor()  # the read below stays open while boxes are written
    rows = db.execute(
        "SELECT key, latitude, longitude FROM postcodes "
        "WHERE terminated IS NULL AND latitude IS NOT NULL ORDER BY key"
    )
    lat0 = lat1 = lon0 = lon1 = 0
    for key, lat, lon in rows:
        if run:
            lat0, lat1 = min(lat0, lat), max(lat1, lat)
            lon0, lon1 = min(lon0, lon), max(lon1, lon)
            if (
                len(run) >= _RUN
                or key // 1369 != run[0][0] // 1369  # another sector (37**2: the last two letters)
                or lat1 - lat0 > _RUN_SPAN_E6
                or lon1 - lon0 > _RUN_SPAN_E6
            ):
                close_run()
        if not run:
            lat0 = lat1 = lat
            lon0 = lon1 = lon
        run.append((key, lat, lon))
    if run:
        close_run()
    writer.executemany(insert, boxes)


def _check_replaceable(dest: Path) -> None:
    """A build replaces ``dest`` only if it is missing, empty, or an SQLite file (a directory
    built before): never a folder, and never some other file given by mistake."""
    if dest.is_dir():
        raise DataFormatError(
            str(dest), None, "is a folder; give a file name for the postcode directory"
        )
    if dest.is_file() and dest.stat().st_size:
        with dest.open("rb") as f:
            header = f.read(16)
        if header != b"SQLite format 3\x00":
            raise DataFormatError(
                str(dest),
                None,
                "exists and is not a postcode directory; give a new file name "
                "(a build never writes over another file)",
            )
