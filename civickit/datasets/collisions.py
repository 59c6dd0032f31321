"""Road collisions: DfT STATS19 files and Leeds City Council's yearly RTC files.

**STATS19** (``dft-road-casualty-statistics-collision-*.csv``), one row per
collision, in three header eras, all read alike:

* before 2016: ``Accident_Index``, ``Accident_Severity``, ``Date``, ``Time``,
  ``Longitude``, ``Latitude``, ``Location_Easting_OSGR``, ``1st_Road_Class`` ...
* 2021-2023: ``accident_index``, ``accident_severity``, ``accident_reference`` ...
* 2024 on: ``collision_index``, ``collision_severity``, ``first_road_class`` ...

Severity 1/2/3 is fatal/serious/slight; ``-1`` (and an empty field) means
missing; dates are ``dd/mm/yyyy``; empty WGS84 columns are filled in from the
British National Grid ones. The district is the ONS code of
``local_authority_ons_district``; where a file has no such column or gives
``-1`` (older files, and the early years of the 1979-to-latest file), it comes
from DfT's numeric ``local_authority_district`` through DfT's data guide
(``civickit/data/stats19_districts.csv``). ``local_authority_highway`` is never
used: it names the county or unitary highway authority.

**Leeds RTC** (Data Mill North "road-traffic-accidents"), one row *per
casualty*: consecutive rows of one collision are folded into one
:class:`Collision` with its casualties counted and the worst severity kept.
Severity is text (``Slight``) or a code; times are unpadded HHMM (``5`` is
00:05, ``930`` is 09:30); copies that went through Excel have ``16-Jan-15``
dates and references such as ``1.3E+038``, kept as the text they are (the
original cannot be recovered); column names vary by year (``Easting`` or
``Grid Ref: Easting``, extra unnamed columns). Coordinates are British
National Grid only, converted in batches.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .._fastrecords import fast_constructor
from .._records import Record
from ..errors import (
    DataFormatError,
    InvalidArgument,
)
from ..geo import osgb_to_wgs84_many
from ..tabular import Table, open_table
from ._common import Memo, OnError, Source, parse_date, problem

__all__ = ["SEVERITIES", "Collision", "read_leeds_rtc", "read_stats19"]

#: Severities, worst first.
SEVERITIES = ("fatal", "serious", "slight")

_BATCH = 2048  # rows converted from the National Grid in one pyproj call


@dataclass(frozen=True)
class Collision(Record):
    """One road collision with its location in WGS84.

    ``source`` is ``"stats19"`` or ``"leeds-rtc"``. ``severity`` is
    ``"fatal" | "serious" | "slight"`` or ``None`` where the file says
    "missing"; other fields are ``None`` where the file has no value.
    ``district`` is the local authority district's ONS code as the file
    records it at the time of the collision (STATS19's
    ``local_authority_ons_district``), or, where the file has only DfT's
    numeric code, the ONS code DfT's data guide lists under the same name;
    ``None`` in Leeds RTC files and for districts abolished before ONS codes
    (Chester, Congleton, ...: 122 of DfT's 531 numbers).
    """

    reference: str
    date: date | None
    time: time | None
    latitude: float | None
    longitude: float | None
    severity: str | None
    vehicles: int | None
    casualties: int | None
    road_class: str | None
    source: str
    district: str | None = None


_collision = fast_constructor(Collision)  # Collision(**fields), without its __setattr__s

# STATS19 first_road_class codes, named as the Leeds files name them
ROAD_CLASSES = {"1": "Motorway", "2": "A(M)", "3": "A", "4": "B", "5": "C", "6": "Unclassified"}
_SEVERITY_CODES = {"1": "fatal", "2": "serious", "3": "slight"}
_MISSING = {"", "-1", "NULL", "null", "NA", "N/A"}


# -- STATS19 ---------------------------------------------------------------------------

_STATS19_COLUMNS = {
    "reference": ("collision_index", "accident_index"),
    "severity": ("collision_severity", "accident_severity"),
    "date": ("date",),
    "time": ("time",),
    "longitude": ("longitude",),
    "latitude": ("latitude",),
    "easting": ("location_easting_osgr",),
    "northing": ("location_northing_osgr",),
    "vehicles": ("number_of_vehicles",),
    "casualties": ("number_of_casualties",),
    "road_class": ("first_road_class", "1st_road_class"),
    # the district code at the time (never local_authority_highway: that is
    # the county or unitary highway authority)
    "district": ("local_authority_ons_district",),
    # DfT's own number for the district (Leeds is 204): the only district code of older files
    "district_number": ("local_authority_district", "Local_Authority_(District)"),
}
_STATS19_REQUIRED = {
    k: v for k, v in _STATS19_COLUMNS.items() if k not in ("district", "district_number")
}
_DISTRICT_NUMBERS = Path(__file__).resolve().parent.parent / "data" / "stats19_districts.csv"


@functools.cache
def dft_district_codes() -> dict[str, str]:
    """DfT's numeric district code -> the ONS code its data guide gives the same name.

    Numbers naming districts abolished before ONS codes are left out. Written by
    ``scripts/stats19_district_codes.py`` from DfT's 2024 data guide.
    """
    with _DISTRICT_NUMBERS.open(encoding="utf-8", newline="") as f:
        return {
            row["local_authority_district"]: row["ons_code"]
            for row in csv.DictReader(f)
            if row["ons_code"]
        }


class _AwaitingGrid(NamedTuple):
    """A row whose coordinates come from its grid reference, converted in the next batch."""

    line: int
    fields: dict[str, Any]  # the Collision's fields but latitude and longitude
    easting: str
    northing: str


def read_stats19(
    src: Source, *, on_error: OnError = None, encoding: str | None = None
) -> Iterator[Collision]:
    """Stream the collisions in a DfT STATS19 collision (accident) file, any era."""
    with open_table(src, has_header=True, encoding=encoding) as table:
        source = table.source
        cols = _find_columns(table, _STATS19_COLUMNS, _STATS19_REQUIRED, "a STATS19 collision")
        # column positions, read once: this loop runs a million times
        i_ref = cols["reference"]
        i_sev = cols["severity"]
        i_date = cols["date"]
        i_time = cols["time"]
        i_lon = cols["longitude"]
        i_lat = cols["latitude"]
        i_east = cols["easting"]
        i_north = cols["northing"]
        i_veh = cols["vehicles"]
        i_cas = cols["casualties"]
        i_road = cols["road_class"]
        i_district = cols.get("district")
        i_number = cols.get("district_number")
        numbers = dft_district_codes() if i_number is not None else {}
        width = max(cols.values()) + 1
        parse_day = Memo(parse_date)
        parse_time = Memo(_hh_mm)
        days, clocks = parse_day.known, parse_time.known
        severities = _SEVERITY_CODES
        roads = ROAD_CLASSES
        missing = _MISSING
        make = _collision
        # rows waiting, in file order, for the grid references among them to be converted
        held: list[Collision | _AwaitingGrid] = []
        waiting = 0  # how many of the held rows are _AwaitingGrid
        for line, f in table.records(max_fields=width):
            try:
                sev = f[i_sev]
                severity = severities.get(sev)
                if severity is None and sev not in missing:
                    raise ValueError
                la = f[i_lat]
                lo = f[i_lon]
                if la in missing or lo in missing:
                    lat = lon = None
                else:
                    lat = float(la)
                    lon = float(lo)
                when = f[i_date]
                day = days.get(when) or (parse_day(when) if when else None)
                clock = f[i_time]
                tm = clocks.get(clock) or (parse_time(clock) if clock else None)
                vehicles = int(f[i_veh])
                casualties = int(f[i_cas])
                road = f[i_road]
                district = None if i_district is None else f[i_district]
            except (ValueError, IndexError):
                problem(on_error, source, line, _explain_stats19(f, cols, width))
                continue
            road_class = roads.get(road) or (None if road in missing else road)
            if district is not None and (district in missing or not district.strip()):
                district = None
            if district is None and i_number is not None and i_number < len(f):
                district = numbers.get(f[i_number].strip())
            if lat is None and f[i_east] not in missing and f[i_north] not in missing:
                fields = {"reference": f[i_ref], "date": day, "time": tm, "severity": severity,
                          "vehicles": vehicles if vehicles >= 0 else None,
                          "casualties": casualties if casualties >= 0 else None,
                          "road_class": road_class, "source": "stats19",
                          "district": district}  # fmt: skip
                held.append(_AwaitingGrid(line, fields, f[i_east], f[i_north]))
                waiting += 1
            else:
                record = make(reference=f[i_ref], date=day, time=tm, latitude=lat, longitude=lon,
                              severity=severity, vehicles=vehicles if vehicles >= 0 else None,
                              casualties=casualties if casualties >= 0 else None,
                              road_class=road_class, source="stats19",
                              district=district)  # fmt: skip
                if not waiting:
                    yield record
                    continue
                held.append(record)  # after a row awaiting its grid reference: keep the order
            if len(held) >= _BATCH:
                yield from _release(held, source, on_error)
                held = []
                waiting = 0
        yield from _release(held, source, on_error)


def _explain_stats19(f: list[str], cols: dict[str, int], width: int) -> str:
    """Say which field of a bad STATS19 row is wrong (the slow path)."""
    if len(f) < width:
        return f"expected at least {width} fields, found {len(f)}"
    sev = f[cols["severity"]]
    if sev not in _SEVERITY_CODES and sev not in _MISSING:
        return f"severity {sev!r} is not 1, 2, 3 or -1"
    checks = (
        ("latitude", float),
        ("longitude", float),
        ("date", parse_date),
        ("time", _hh_mm),
        ("vehicles", int),
        ("casualties", int),
    )
    for name, parse in checks:
        value = f[cols[name]]
        if value in _MISSING and name in ("latitude", "longitude", "date", "time"):
            continue
        try:
            parse(value)
        except ValueError:
            return f"{name} {value!r} is not valid"
    return "the row does not match the STATS19 layout"


def _hh_mm(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    return time(int(hours), int(minutes[:2]))


def _release(
    held: Sequence[Collision | _AwaitingGrid], source: str, on_error: OnError
) -> Iterator[Collision]:
    """Convert the held rows' grid references in one call and yield the rows in file order."""
    awaiting = [row for row in held if isinstance(row, _AwaitingGrid)]
    places = iter(_grid_to_wgs84(awaiting, source, on_error))
    for row in held:
        if not isinstance(row, _AwaitingGrid):
            yield row
            continue
        place = next(places)
        if place is not None:  # None: a bad grid reference, reported and left out
            yield _collision(**row.fields, latitude=place[0], longitude=place[1])


def _grid_to_wgs84(
    rows: list[_AwaitingGrid], source: str, on_error: OnError
) -> list[tuple[float | None, float | None] | None]:
    """Each row's ``(latitude, longitude)``, from its grid reference in one pyproj call.

    ``(None, None)`` for a point that cannot be placed; ``None`` for a row
    whose grid reference is not numeric (reported through ``on_error``).
    """
    if not rows:
        return []
    numeric: list[bool] = []
    try:
        eastings = np.array([float(row.easting) for row in rows])
        northings = np.array([float(row.northing) for row in rows])
        numeric = [True] * len(rows)
    except ValueError:
        eastings, northings, numeric = _grid_one_by_one(rows, source, on_error)
    lats, lons = osgb_to_wgs84_many(eastings, northings)
    return [
        (None if la != la else la, None if la != la else lo) if ok else None  # la != la: NaN
        for ok, la, lo in zip(numeric, lats.tolist(), lons.tolist(), strict=True)
    ]


def _grid_one_by_one(
    rows: list[_AwaitingGrid], source: str, on_error: OnError
) -> tuple[np.ndarray, np.ndarray, list[bool]]:
    """Eastings and northings (NaN where not numeric), and which rows were numeric."""
    eastings, northings, numeric = [], [], []
    for row in rows:
        try:
            e, n = float(row.easting), float(row.northing)
            numeric.append(True)
        except ValueError:
            message = f"grid reference {row.easting!r}, {row.northing!r} is not numeric"
            problem(on_error, source, row.line, message)
            e = n = float("nan")
            numeric.append(False)
        eastings.append(e)
        northings.append(n)
    return np.array(eastings), np.array(northings), numeric


# -- Leeds RTC -------------------------------------------------------------------------

_LEEDS_COLUMNS = {
    "reference": ("reference number", "reference", "ref number", "ref no", "accident reference"),
    "easting": ("easting", "grid ref easting"),
    "northing": ("northing", "grid ref northing"),
    "date": ("accident date", "date"),
    "time": ("time 24hr", "time"),
    "severity": ("casualty severity", "severity"),
    "vehicles": ("number of vehicles", "no of vehicles", "vehicles"),
    "road_class": ("1st road class", "first road class", "road class"),
}
_LEEDS_REQUIRED = ("reference", "easting", "northing", "date", "time", "severity")
_LEEDS_SEVERITY = {"fatal": 0, "serious": 1, "slight": 2, "1": 0, "2": 1, "3": 2}


class _Casualty(NamedTuple):
    """One row of a Leeds file: one casualty of a collision."""

    reference: str
    date: date | None
    time: time | None
    easting: str  # "" when the file gives none
    northing: str
    severity: int  # an index into SEVERITIES: 0 is the worst
    vehicles: int | None
    road_class: str | None


@dataclass(slots=True)
class _LeedsCollision:
    """A collision being folded from its casualties' consecutive rows."""

    first: _Casualty
    severity: int  # the worst so far
    casualties: int = 1


def read_leeds_rtc(
    src: Source, *, on_error: OnError = None, encoding: str | None = None
) -> Iterator[Collision]:
    """Stream the collisions in a Leeds City Council road traffic accidents file.

    Consecutive rows with the same reference, date, time and grid reference
    are one collision's casualties; a collision's ``casualties`` counts its
    rows and ``severity`` is the worst of theirs. A bad casualty row is
    reported and left out of the count.
    """
    with open_table(src, has_header=True, encoding=encoding) as table:
        source = table.source
        required = {k: _LEEDS_COLUMNS[k] for k in _LEEDS_REQUIRED}
        cols = _find_columns(table, _LEEDS_COLUMNS, required, "a Leeds road traffic accidents")
        dates = Memo(parse_date)
        times = Memo(_unpadded_time)
        chunk: list[_LeedsCollision] = []
        group: _LeedsCollision | None = None
        key: tuple[str, ...] | None = None
        for line, f in table.records():
            try:
                row = _leeds_row(f, cols, dates, times)
            except (ValueError, IndexError, KeyError) as exc:
                problem(on_error, source, line, _explain_leeds(f, cols, exc))
                continue
            this = (row.reference, f[cols["date"]].strip(), f[cols["time"]].strip(),
                    row.easting, row.northing)  # fmt: skip
            if this == key and group is not None:
                group.severity = min(group.severity, row.severity)
                group.casualties += 1
                continue
            if group is not None:
                chunk.append(group)
                if len(chunk) >= _BATCH:
                    yield from _release_leeds(chunk)
                    chunk = []
            key = this
            group = _LeedsCollision(row, row.severity)
        if group is not None:
            chunk.append(group)
        yield from _release_leeds(chunk)


def _leeds_row(
    f: list[str], cols: dict[str, int], dates: Memo[date], times: Memo[time]
) -> _Casualty:
    reference = f[cols["reference"]].strip()
    if not reference:
        raise InvalidArgument("reference")
    severity = _LEEDS_SEVERITY[f[cols["severity"]].strip().lower()]
    east, north = f[cols["easting"]].strip(), f[cols["northing"]].strip()
    east = east if east not in _MISSING and east != "0" else ""
    north = north if north not in _MISSING and north != "0" else ""
    if east or north:
        float(east), float(north)
    when = f[cols["date"]].strip()
    clock = f[cols["time"]].strip()
    vehicles = None
    if "vehicles" in cols:
        text = f[cols["vehicles"]].strip()
        vehicles = int(text) if text and text not in _MISSING else None
    road = None
    if "road_class" in cols:
        road = f[cols["road_class"]].strip() or None
        road = ROAD_CLASSES.get(road, road) if road else None
    return _Casualty(
        reference=reference,
        date=dates(when) if when else None,
        time=times(clock) if clock else None,
        easting=east,
        northing=north,
        severity=severity,
        vehicles=vehicles,
        road_class=road,
    )


def _explain_leeds(f: list[str], cols: dict[str, int], exc: Exception) -> str:
    need = max(cols.values()) + 1
    if isinstance(exc, IndexError) or len(f) < need:
        return f"expected at least {need} fields, found {len(f)}"
    if not f[cols["reference"]].strip():
        return "the reference number is empty"
    severity = f[cols["severity"]].strip()
    if severity.lower() not in _LEEDS_SEVERITY:
        return f"casualty severity {severity!r} is not Fatal, Serious or Slight (or 1, 2, 3)"
    for name, parse in (
        ("easting", float),
        ("northing", float),
        ("date", parse_date),
        ("time", _unpadded_time),
        ("vehicles", int),
    ):
        if name not in cols:
            continue
        value = f[cols[name]].strip()
        if not value or value in _MISSING:
            continue
        try:
            parse(value)
        except ValueError:
            return f"{name} {value!r} is not valid"
    return "the row does not match the Leeds road traffic accidents layout"


def _unpadded_time(text: str) -> time:
    """``1730`` -> 17:30, ``930`` -> 09:30, ``5`` -> 00:05; ``17:30`` too."""
    text = text.strip()
    if ":" in text:
        hours, _, rest = text.partition(":")
        return time(int(hours), int(rest[:2]))
    if not text.isdigit() or len(text) > 4:
        raise InvalidArgument(f"{text!r} is not a time")
    value = int(text)
    return time(value // 100, value % 100)


def _release_leeds(chunk: list[_LeedsCollision]) -> Iterator[Collision]:
    """Convert the chunk's grid references in one call and yield its collisions in order."""
    located = [group for group in chunk if group.first.easting and group.first.northing]
    places: dict[int, tuple[float, float]] = {}  # id(group) -> (latitude, longitude)
    if located:
        lats, lons = osgb_to_wgs84_many(
            [float(group.first.easting) for group in located],
            [float(group.first.northing) for group in located],
        )
        for group, la, lo in zip(located, lats.tolist(), lons.tolist(), strict=True):
            if la == la:  # not NaN
                places[id(group)] = (la, lo)
    for group in chunk:
        first = group.first
        latitude, longitude = places.get(id(group), (None, None))
        yield _collision(
            reference=first.reference,
            date=first.date,
            time=first.time,
            latitude=latitude,
            longitude=longitude,
            severity=SEVERITIES[group.severity],
            vehicles=first.vehicles,
            casualties=group.casualties,
            road_class=first.road_class,
            source="leeds-rtc",
            district=None,
        )


# -- columns ---------------------------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


def _find_columns(
    table: Table,
    wanted: dict[str, tuple[str, ...]],
    required: dict[str, tuple[str, ...]],
    layout: str,
) -> dict[str, int]:
    """Map field -> column position from the header, by any of each field's names."""
    names = [_norm(n) for n in table.fieldnames or ()]
    found: dict[str, int] = {}
    for field, aliases in wanted.items():
        for alias in aliases:
            key = _norm(alias)
            if key in names:
                found[field] = names.index(key)
                break
    missing = [aliases[0] for field, aliases in required.items() if field not in found]
    if missing:
        raise DataFormatError(
            table.source,
            table.header_line or 1,
            f"this is not {layout} file: no column named {', '.join(missing)} "
            f"(columns: {', '.join(table.fieldnames or []) or 'none'})",
        )
    return found
