"""The loaded data: collisions and hospitals in spatial indexes; district totals from the database.

Built once per data load and kept on the app (:func:`get_data`). Every
request asks the import log what is serving (one cheap query); when an
import has changed it, even from another process such as ``flask sw import``,
the indexes are rebuilt before the request is answered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import Flask, g, has_request_context

from civickit.geo import PointIndex
from examples.common import Serving
from examples.common.cache import settled

from . import models, spatial, state
from .districts import District, Districts

log = logging.getLogger(__name__)
SEVERITIES = ("fatal", "serious", "slight")
_SEVERITY_CODE = {name: i for i, name in enumerate(SEVERITIES)}


@dataclass
class Loaded:
    """Everything an area lookup reads, built from one data load.

    ``spatial`` says where radius queries go: ``grid`` or ``postgis`` (the
    database's spatial index; the collision arrays below are then empty) or
    ``memory`` (every collision in a :class:`PointIndex` in this process).
    """

    version: str  # Serving.version of the imports it was built from
    spatial: str
    collisions: PointIndex[int]
    ids: np.ndarray  # database ids, by row
    lats: np.ndarray
    lons: np.ndarray
    severity: np.ndarray  # 0 fatal, 1 serious, 2 slight
    year: np.ndarray  # 0 when the date is missing
    casualties: np.ndarray
    years: list[int]
    hospitals: PointIndex[dict[str, Any]]
    hospital_rows: list[dict[str, Any]]
    serving: Serving = field(default_factory=Serving)  # the imports it was built from
    # per-district totals, worked out on first use for this data version
    district_totals: dict[tuple[str, str], Any] = field(default_factory=dict)


def site(hospital: dict[str, Any]) -> tuple[float, float]:
    """Where a hospital row is, to about a metre: rows at one site share it."""
    return (round(hospital["latitude"], 5), round(hospital["longitude"], 5))


def distinct_places(hospitals: Iterable[dict[str, Any]]) -> set[tuple[float, float]]:
    """Sites, not rows: Hospital.csv lists some sites twice under different codes."""
    return {site(h) for h in hospitals}


def get_data(app: Flask | None = None) -> Loaded:
    """The loaded collisions and hospitals, rebuilt first if an import has changed them.

    Asked once per request (the answer is kept on ``flask.g``): one request sees one
    version of the data, and asks the database about it once.
    """
    if not has_request_context():
        return _current(app)
    found: Loaded | None = g.get("_streetwise_data")
    if found is None:
        found = g._streetwise_data = _current(app)
    return found


def _current(app: Flask | None) -> Loaded:
    return state.kept(_loaded_data, app).get(state.get_import_log(app).serving())


def _loaded_data(app: Flask) -> LoadedData:
    return LoadedData(state.get_engine(app), app.config.get("COLLISION_INDEX", "auto"))


class LoadedData:
    """One app's current :class:`Loaded`, rebuilt when an import has changed the data.

    A rebuild takes seconds on a million collisions: requests that arrive
    meanwhile wait for it (the lock) rather than each building their own.
    """

    def __init__(self, engine: sa.Engine, index: str = "auto") -> None:
        self._engine = engine
        self._index = index  # auto | memory
        self._lock = threading.Lock()
        self._current: Loaded | None = None

    def get(self, serving: Serving) -> Loaded:
        """The data built from the imports ``serving`` names (built now if it is not)."""
        with self._lock:
            if self._current is None or self._current.version != serving.version:
                self._current = None  # the old data can go before the new is read
                self._current = settled(build(self._engine, serving, self._index))
            return self._current


def build(engine: sa.Engine, serving: Serving, index: str = "auto") -> Loaded:
    """Read hospitals (and, without a spatial index in the database, collisions) and index them."""
    kind = spatial.backend(engine) if index == "auto" else "memory"
    if kind != "memory" and not spatial.has_index(engine):
        if serving.get("collisions") is not None:  # loaded by an older version
            log.warning(
                "streetwise: the collisions have no %s index yet, so each worker loads them "
                "all into memory; run `flask --app examples.streetwise sw import` again",
                kind,
            )
        kind = "memory"
    c = models.collisions.c
    with engine.connect() as conn:
        query = sa.select(c.id, c.latitude, c.longitude, c.severity, c.date, c.casualties)
        # with a spatial index, radius queries go to the database: nothing is loaded here
        rows = conn.execute(query if kind == "memory" else query.where(sa.false())).all()
        hospitals = [dict(r._mapping) for r in conn.execute(sa.select(models.hospitals))]
    n = len(rows)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    lats = np.fromiter((r[1] for r in rows), dtype=np.float64, count=n)
    lons = np.fromiter((r[2] for r in rows), dtype=np.float64, count=n)
    severity = np.fromiter((_SEVERITY_CODE.get(r[3], 2) for r in rows), dtype=np.int8, count=n)
    year = np.fromiter((r[4].year if r[4] else 0 for r in rows), dtype=np.int16, count=n)
    casualties = np.fromiter((r[5] or 0 for r in rows), dtype=np.int32, count=n)
    del rows
    years = sorted(int(y) for y in np.unique(year) if y)
    collisions = serving.get("collisions")
    if kind != "memory" and collisions is not None:  # the years the import counted
        years = sorted(int(y) for y in collisions.figures.get("per_year") or {})

    hospital_index = PointIndex(hospitals, lat="latitude", lon="longitude")
    return Loaded(
        version=serving.version,
        spatial=kind,
        collisions=PointIndex.from_arrays(lats, lons),
        ids=ids,
        lats=lats,
        lons=lons,
        severity=severity,
        year=year,
        casualties=casualties,
        years=years,
        hospitals=hospital_index,
        hospital_rows=hospitals,
        serving=serving,
    )


def district_collisions(engine: sa.Engine, data: Loaded, code: str) -> dict[str, Any]:
    """Collisions recorded in a district (by STATS19's district code, old codes mapped to
    the current one): count, casualties, per severity and per year."""
    key = ("collisions", code)
    found = data.district_totals.get(key)
    if found is not None:
        return found
    by_severity = [0, 0, 0]
    by_year: dict[int, int] = {}
    count = casualties = 0
    c = models.collisions.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                c.year,
                c.severity,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(c.casualties), 0),
            )
            .where(c.district == code)
            .group_by(c.year, c.severity)
        ).all()
    for year, severity, n, cas in rows:
        count += n
        casualties += int(cas)
        by_severity[_SEVERITY_CODE.get(severity, 2)] += n
        if year:
            by_year[int(year)] = by_year.get(int(year), 0) + n
    found = {
        "count": count,
        "casualties": casualties,
        "by_severity": by_severity,
        "by_year": by_year,
    }
    data.district_totals[key] = found
    return found


def hospital_sites(data: Loaded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latitudes, longitudes and "any NHS row here" of each hospital site (see
    :func:`distinct_places`), worked out once per data version."""
    key = ("hospital-sites", "")
    found = data.district_totals.get(key)
    if found is None:
        nhs: dict[tuple[float, float], bool] = {}
        for h in data.hospital_rows:
            place = site(h)
            nhs[place] = nhs.get(place, False) or (h.get("sector") or "").startswith("NHS")
        places = sorted(nhs)
        found = data.district_totals[key] = (
            np.array([p[0] for p in places], dtype=float),
            np.array([p[1] for p in places], dtype=float),
            np.array([nhs[p] for p in places], dtype=bool),
        )
    return found


def district_hospitals(data: Loaded, district: District) -> int:
    """Hospital sites inside the district's boundary."""
    key = ("hospitals", district.code)
    found = data.district_totals.get(key)
    if found is None:
        lats, lons, _ = hospital_sites(data)
        found = data.district_totals[key] = (
            int(district.contains(lats, lons).sum()) if len(lats) else 0
        )
    return int(found)


def country_hospitals(data: Loaded, districts: Districts, prefix: str) -> tuple[int, int]:
    """Hospital sites, and NHS ones among them, inside the districts whose codes start
    with ``prefix`` (``W``: Wales, ``S``: Scotland)."""
    key = ("hospitals-in", prefix)
    found = data.district_totals.get(key)
    if found is None:
        lats, lons, is_nhs = hospital_sites(data)
        inside = np.zeros(len(lats), dtype=bool)
        for code in districts.codes():
            district = districts.get(code)
            if code.startswith(prefix) and district is not None and len(lats):
                inside |= district.contains(lats, lons)
        found = (int(inside.sum()), int((inside & is_nhs).sum()))
        data.district_totals[key] = found
    return found


def collisions_within(
    engine: sa.Engine, data: Loaded, lat: float, lon: float, radius_m: float
) -> spatial.Found:
    """The collisions within ``radius_m`` of a point, nearest first, from wherever they are."""
    if data.spatial != "memory":
        return spatial.within(engine, lat, lon, radius_m)
    found = data.collisions.within(lat, lon, radius_m)
    rows = np.fromiter((r for r, _ in found), dtype=np.int64, count=len(found))
    return spatial.Found(
        data.lats[rows],
        data.lons[rows],
        data.severity[rows],
        data.year[rows],
        data.casualties[rows],
        np.fromiter((d for _, d in found), dtype=np.float64, count=len(found)),
    )
