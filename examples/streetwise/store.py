"""The loaded data: collisions and hospitals in spatial indexes, plus the Leeds-wide totals.

Built once per data load and kept on the app (:class:`LoadedData`). Every
request asks the database one cheap question (the ``sw_data_meta`` rows);
when an import has changed them, even from another process such as
``flask sw import``, the indexes are rebuilt before the request is answered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa

from civickit.geo import PointIndex

from . import region
from .models import Collision, DataMeta, Hospital

SEVERITIES = ("fatal", "serious", "slight")
_SEVERITY_CODE = {name: i for i, name in enumerate(SEVERITIES)}


@dataclass
class Loaded:
    """Everything an area lookup reads, built from one data load."""

    version: tuple[Any, ...]
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
    leeds_collisions: dict[str, Any]
    leeds_hospitals: int
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def is_sample(self) -> bool:
        return any(m["is_sample"] for m in self.meta.values())


def distinct_places(hospitals: Iterable[dict[str, Any]]) -> set[tuple[float, float]]:
    """Sites, not rows: Hospital.csv lists some sites twice under different codes."""
    return {(round(h["latitude"], 5), round(h["longitude"], 5)) for h in hospitals}


def data_version(engine: sa.Engine) -> tuple[Any, ...]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(DataMeta.source, DataMeta.imported_at, DataMeta.rows).order_by(
                DataMeta.source
            )
        ).all()
    return tuple(tuple(r) for r in rows)


class LoadedData:
    """One app's current :class:`Loaded`, rebuilt when an import has changed the data.

    A rebuild takes seconds on a million collisions: requests that arrive
    meanwhile wait for it (the lock) rather than each building their own.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._current: Loaded | None = None

    def get(self) -> Loaded:
        version = data_version(self._engine)
        with self._lock:
            if self._current is None or self._current.version != version:
                self._current = build(self._engine, version)
            return self._current


def build(engine: sa.Engine, version: tuple[Any, ...] | None = None) -> Loaded:
    """Read collisions and hospitals from the database and index them."""
    version = data_version(engine) if version is None else version
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                Collision.id,
                Collision.latitude,
                Collision.longitude,
                Collision.severity,
                Collision.date,
                Collision.casualties,
            )
        ).all()
        hospitals = [dict(r._mapping) for r in conn.execute(sa.select(Hospital.__table__))]
        meta = {
            r.source: {
                "imported_at": r.imported_at,
                "is_sample": bool(r.is_sample),
                "rows": r.rows,
                "detail": r.detail,
            }
            for r in conn.execute(sa.select(DataMeta))
        }
    n = len(rows)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    lats = np.fromiter((r[1] for r in rows), dtype=np.float64, count=n)
    lons = np.fromiter((r[2] for r in rows), dtype=np.float64, count=n)
    severity = np.fromiter((_SEVERITY_CODE.get(r[3], 2) for r in rows), dtype=np.int8, count=n)
    year = np.fromiter((r[4].year if r[4] else 0 for r in rows), dtype=np.int16, count=n)
    casualties = np.fromiter((r[5] or 0 for r in rows), dtype=np.int32, count=n)
    del rows
    years = sorted(int(y) for y in np.unique(year) if y)

    in_leeds = region.inside(lats, lons)
    leeds = {
        "count": int(in_leeds.sum()),
        "casualties": int(casualties[in_leeds].sum()),
        "by_severity": np.bincount(severity[in_leeds], minlength=3).tolist(),
        "by_year": {
            int(y): int(c)
            for y, c in zip(*np.unique(year[in_leeds], return_counts=True), strict=True)
        },
    }
    hospital_index = PointIndex(hospitals, lat="latitude", lon="longitude")
    places = sorted(distinct_places(hospitals))
    leeds_hospitals = (
        int(
            region.inside(
                np.array([p[0] for p in places], dtype=float),
                np.array([p[1] for p in places], dtype=float),
            ).sum()
        )
        if places
        else 0
    )
    return Loaded(
        version=version,
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
        leeds_collisions=leeds,
        leeds_hospitals=leeds_hospitals,
        meta=meta,
    )
