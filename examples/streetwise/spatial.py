"""The radius query over collisions, asked of the database instead of a per-process index.

A worker that loads and indexes every collision at its first request pays
seconds and hundreds of megabytes per million rows. So the collisions stay
in the database, with a spatial index made at import time:

* SQLite: a covering B-tree index on a grid cell of about 1 km (the latitude
  and longitude in hundredths of a degree) and the columns a page reads,
  asked for the cells of the circle's bounding box, one range per row of
  cells. An R*Tree did the same job, but was slower to build and to ask:
  ``make bench BENCH=streetwise`` builds both on the imported table and
  compares them (docs/streetwise.md gives the recorded run);
* PostgreSQL with PostGIS: a ``geography(Point, 4326)`` column with a GiST
  index, the table clustered on it, asked with ``ST_DWithin`` (1% wider than
  the radius, so that its ellipsoidal distances never drop a point the
  spherical ones keep).

Both then keep exactly the points whose haversine distance (the sphere every
civickit distance uses) is within the radius, so every backend and the
in-memory :class:`civickit.geo.PointIndex` fallback (PostgreSQL without
PostGIS, or ``STREETWISE_COLLISION_INDEX=memory``) give the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import sqlalchemy as sa

from civickit.geo import EARTH_RADIUS_M, distance_m_many

from .models import collisions

RTREE = "sw_collisions_rtree"  # the index before the grid: dropped by the next import
GRID_INDEX = "ix_sw_collisions_cell"
#: The cell of a row: latitude and longitude in hundredths of a degree (truncated; any
#: monotonic rounding keeps every point of a box inside the box's cells). Index and
#: queries must use this same expression for SQLite to match them.
CELL = "(CAST(latitude * 100 AS INTEGER) * 100000 + CAST(longitude * 100 AS INTEGER))"
CELL_ROW = 100_000  # the cells of one row of latitude: its hundredths x CELL_ROW + longitude's
SEVERITY_CODE = {"fatal": 0, "serious": 1, "slight": 2}


@dataclass
class Found:
    """Collisions within a radius, nearest first, as parallel arrays."""

    lats: np.ndarray
    lons: np.ndarray
    severity: np.ndarray  # 0 fatal, 1 serious, 2 slight
    year: np.ndarray  # 0 when the date is missing
    casualties: np.ndarray
    distance: np.ndarray  # metres

    def __len__(self) -> int:
        return len(self.lats)

    def take(self, mask: np.ndarray) -> Found:
        return Found(
            self.lats[mask],
            self.lons[mask],
            self.severity[mask],
            self.year[mask],
            self.casualties[mask],
            self.distance[mask],
        )


def box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(south, north, west, east) of a box holding the circle."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(abs(lat) + dlat)), 1e-6)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


@cache
def _postgis(url: str) -> str | None:
    """The schema PostGIS is installed in (its types and functions are named through it,
    so an app whose ``search_path`` leaves that schema out still finds them), or None."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                "ON n.oid = e.extnamespace WHERE e.extname = 'postgis'"
            ).first()
            return None if row is None else str(row[0])
    finally:
        engine.dispose()


def _schema(engine: sa.Engine) -> str:
    found = _postgis(engine.url.render_as_string(hide_password=False))
    assert found is not None
    return found


def backend(engine: sa.Engine) -> str:
    """``grid`` (SQLite), ``postgis`` (PostgreSQL with PostGIS) or ``memory`` (neither)."""
    if engine.dialect.name == "sqlite":
        return "grid"
    if (
        engine.dialect.name == "postgresql"
        and _postgis(engine.url.render_as_string(hide_password=False)) is not None
    ):
        return "postgis"
    return "memory"


def has_index(engine: sa.Engine) -> bool:
    """Whether the spatial index of the current collisions exists (made by an import)."""
    kind = backend(engine)
    with engine.connect() as conn:
        if kind == "grid":
            return bool(
                conn.exec_driver_sql(
                    "SELECT 1 FROM sqlite_master WHERE type = 'index' AND "
                    "tbl_name = 'sw_collisions' AND name LIKE ?",
                    (GRID_INDEX + "%",),
                ).first()
            )
        if kind == "postgis":
            return bool(
                conn.exec_driver_sql(
                    "SELECT 1 FROM information_schema.columns WHERE table_schema = "
                    "current_schema() AND table_name = 'sw_collisions' AND column_name = 'geog'"
                ).first()
            )
    return False


def prepare(conn: sa.Connection, table: str, kind: str, token: str) -> None:
    """Build the spatial index of a staging copy ``table`` (before the swap)."""
    pg = _schema(conn.engine) if kind == "postgis" else ""
    if kind == "grid":
        conn.exec_driver_sql(
            f"CREATE INDEX {GRID_INDEX}_{token} ON {table} "
            f"({CELL}, latitude, longitude, severity, year, casualties)"
        )
    elif kind == "postgis":
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN geog {pg}.geography(Point, 4326)")
        conn.exec_driver_sql(
            f"UPDATE {table} SET geog = "
            f"{pg}.ST_SetSRID({pg}.ST_MakePoint(longitude, latitude), 4326)::{pg}.geography"
        )
        conn.exec_driver_sql(
            f"CREATE INDEX ix_sw_collisions_geog_{token} ON {table} "
            f"USING gist (geog {pg}.gist_geography_ops)"
        )
        # rows in the order of the spatial index: a circle's rows then share a few pages
        # instead of one page each (and the rewrite drops the UPDATE's dead rows)
        conn.exec_driver_sql(f"CLUSTER {table} USING ix_sw_collisions_geog_{token}")
        conn.exec_driver_sql(f"ANALYZE {table}")


def swap_in(conn: sa.Connection, kind: str) -> None:
    """Inside the swap's transaction: drop the R*Tree of a database made before the grid."""
    if kind == "grid":
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {RTREE}")


def within(engine: sa.Engine, lat: float, lon: float, radius_m: float) -> Found:
    """The collisions within ``radius_m`` of a point, from the database's spatial index."""
    kind = backend(engine)
    c = collisions.c
    south, north, west, east = box(lat, lon, radius_m)
    if kind == "grid":
        ranges = cell_ranges(south, north, west, east)
        sql = (
            "SELECT latitude, longitude, severity, year, casualties FROM sw_collisions WHERE "
            + " OR ".join([f"{CELL} BETWEEN ? AND ?"] * len(ranges))
        )
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(sql, tuple(x for r in ranges for x in r)).all()
        return _nearest(lat, lon, radius_m, rows)
    if kind == "postgis":
        pg = _schema(engine)
        query = sa.select(c.latitude, c.longitude, c.severity, c.year, c.casualties).where(
            sa.text(
                f"{pg}.ST_DWithin(geog, {pg}.ST_SetSRID({pg}.ST_MakePoint(:lon, :lat), 4326)"
                f"::{pg}.geography, :r)"
            ).bindparams(lon=lon, lat=lat, r=radius_m * 1.01)
        )
    else:
        raise ValueError("no spatial index in this database; use the in-memory index")
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return _nearest(lat, lon, radius_m, rows)


def cell_ranges(south: float, north: float, west: float, east: float) -> list[tuple[int, int]]:
    """The ``CELL`` ranges covering a box: one per row of cells (as SQLite computes CELL)."""
    w, e = int(west * 100), int(east * 100)
    return [
        (row * CELL_ROW + w, row * CELL_ROW + e)
        for row in range(int(south * 100), int(north * 100) + 1)
    ]


def _nearest(lat: float, lon: float, radius_m: float, rows: Sequence[Any]) -> Found:
    """The rows (lat, lon, severity, year, casualties) within the radius, nearest first."""
    n = len(rows)
    lats = np.fromiter((row[0] for row in rows), dtype=np.float64, count=n)
    lons = np.fromiter((row[1] for row in rows), dtype=np.float64, count=n)
    sev = np.fromiter((SEVERITY_CODE.get(row[2], 2) for row in rows), dtype=np.int8, count=n)
    year = np.fromiter((row[3] or 0 for row in rows), dtype=np.int16, count=n)
    cas = np.fromiter((row[4] or 0 for row in rows), dtype=np.int32, count=n)
    order, distance = nearest_first(lat, lon, radius_m, lats, lons)
    return Found(lats[order], lons[order], sev[order], year[order], cas[order], distance)


def nearest_first(
    lat: float, lon: float, radius_m: float, lats: np.ndarray, lons: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The positions of the points within ``radius_m`` (haversine), nearest first (ties in
    their given order), and their distances in metres."""
    distance = distance_m_many(lat, lon, lats, lons)
    inside = np.flatnonzero(distance <= radius_m)
    inside = inside[np.argsort(distance[inside], kind="stable")]
    return inside, distance[inside]
