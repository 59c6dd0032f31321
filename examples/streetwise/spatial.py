"""The radius query over collisions, asked of the database instead of a per-process index.

A worker that loads and indexes every collision at its first request pays
seconds and hundreds of megabytes per million rows. So the collisions stay
in the database, with a spatial index made at import time:

* SQLite: an R*Tree virtual table ``sw_collisions_rtree`` (one degenerate box
  per collision), asked for the circle's bounding box;
* PostgreSQL with PostGIS: a ``geography(Point, 4326)`` column with a GiST
  index, asked with ``ST_DWithin`` (1% wider than the radius, so that its
  ellipsoidal distances never drop a point the spherical ones keep).

Both then keep exactly the points whose haversine distance (the sphere every
civickit distance uses) is within the radius, so every backend and the
in-memory :class:`civickit.geo.PointIndex` fallback (PostgreSQL without
PostGIS, or ``STREETWISE_COLLISION_INDEX=memory``) give the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import sqlalchemy as sa

from civickit.geo import EARTH_RADIUS_M

from .models import Collision

RTREE = "sw_collisions_rtree"
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


def haversine_m(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Great-circle distances in metres from one point to many (civickit's sphere)."""
    p1, p2 = math.radians(lat), np.radians(lats)
    dp = p2 - p1
    dl = np.radians(lons) - math.radians(lon)
    h = np.sin(dp / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


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
    """``rtree`` (SQLite), ``postgis`` (PostgreSQL with PostGIS) or ``memory`` (neither)."""
    if engine.dialect.name == "sqlite":
        return "rtree"
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
        if kind == "rtree":
            return bool(
                conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = ?", (RTREE,)).first()
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
    if kind == "rtree":
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {RTREE}_staging")
        conn.exec_driver_sql(f"CREATE VIRTUAL TABLE {RTREE}_staging USING rtree(id, s, n, w, e)")
        conn.exec_driver_sql(
            f"INSERT INTO {RTREE}_staging SELECT id, latitude, latitude, longitude, longitude "
            f"FROM {table}"
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


def swap_in(conn: sa.Connection, kind: str) -> None:
    """Inside the swap's transaction: the staging R*Tree replaces the live one."""
    if kind == "rtree":
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {RTREE}")
        conn.exec_driver_sql(f"ALTER TABLE {RTREE}_staging RENAME TO {RTREE}")


def within(engine: sa.Engine, lat: float, lon: float, radius_m: float) -> Found:
    """The collisions within ``radius_m`` of a point, from the database's spatial index."""
    kind = backend(engine)
    c = Collision.__table__.c
    south, north, west, east = box(lat, lon, radius_m)
    if kind == "rtree":
        r = sa.table(RTREE, sa.column("id"), sa.column("s"), sa.column("n"), sa.column("w"),
                     sa.column("e"))  # fmt: skip
        query = (
            sa.select(c.latitude, c.longitude, c.severity, c.year, c.casualties)
            .select_from(r.join(Collision.__table__, c.id == r.c.id))
            .where(r.c.s >= south, r.c.n <= north, r.c.w >= west, r.c.e <= east)
        )
    elif kind == "postgis":
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
    n = len(rows)
    lats = np.fromiter((row[0] for row in rows), dtype=np.float64, count=n)
    lons = np.fromiter((row[1] for row in rows), dtype=np.float64, count=n)
    sev = np.fromiter((SEVERITY_CODE.get(row[2], 2) for row in rows), dtype=np.int8, count=n)
    year = np.fromiter((row[3] or 0 for row in rows), dtype=np.int16, count=n)
    cas = np.fromiter((row[4] or 0 for row in rows), dtype=np.int32, count=n)
    dist = haversine_m(lat, lon, lats, lons)
    keep = dist <= radius_m
    order = np.argsort(dist[keep], kind="stable")
    found = Found(lats[keep], lons[keep], sev[keep], year[keep], cas[keep], dist[keep])
    return found.take(order)
