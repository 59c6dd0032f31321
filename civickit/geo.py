"""Distances, British National Grid conversion and a fast exact point index.

* :func:`distance_m` is the haversine great-circle distance on a sphere of the
  mean Earth radius (6,371,008.8 m), and :func:`distance_m_many` the same from
  one point to arrays of many (NumPy); both are written once, in
  ``civickit/_sphere.py``. Across Great Britain it comes out 0.03% to 0.37%
  shorter than the WGS84 ellipsoid distance (measured by
  ``tests/test_geo.py``), which no civic question (which hospital is
  nearest?) can notice.
* :func:`osgb_to_wgs84` and :func:`osgb_to_wgs84_many` convert British
  National Grid eastings and northings (EPSG:27700) to WGS84 latitude and
  longitude through one reusable pyproj ``Transformer``. Without the OSTN15
  grid installed pyproj uses a Helmert transformation, good to a few metres.
* :class:`PointIndex` answers "what lies within r metres?" and "what are the
  k nearest?" over millions of points, exactly: every answer and every
  distance is what :func:`distance_m` would give.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Generic, TypeVar

import numpy as np

from ._pointindex import Hit, PointGrid, RunNearest, build_grid
from ._sphere import EARTH_RADIUS_M, distance_m, distance_m_many
from .errors import InvalidArgument

__all__ = [
    "EARTH_RADIUS_M",
    "PointIndex",
    "distance_m",
    "distance_m_many",
    "osgb_to_wgs84",
    "osgb_to_wgs84_many",
]

T = TypeVar("T")


@lru_cache(maxsize=1)
def _transformer() -> Any:
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def osgb_to_wgs84(easting: float, northing: float) -> tuple[float, float]:
    """Convert one British National Grid point to WGS84 ``(latitude, longitude)``.

    ``osgb_to_wgs84(430000, 433500)`` is about ``(53.797, -1.546)``, central Leeds.
    Raises ``ValueError`` for a point the transformation cannot place.
    """
    lon, lat = _transformer().transform(float(easting), float(northing))
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise InvalidArgument(f"cannot convert easting {easting}, northing {northing} to WGS84")
    return lat, lon


def osgb_to_wgs84_many(
    eastings: Sequence[float] | np.ndarray, northings: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Convert arrays of eastings and northings to ``(latitudes, longitudes)`` arrays.

    One call for the whole batch, as fast as pyproj itself. Points that cannot
    be converted, including NaN input, come back as NaN.
    """
    e = np.asarray(eastings, dtype=np.float64)
    n = np.asarray(northings, dtype=np.float64)
    if e.shape != n.shape:
        raise InvalidArgument(f"{e.size} eastings but {n.size} northings")
    lon, lat = _transformer().transform(e, n)
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    bad = ~(np.isfinite(lat) & np.isfinite(lon))
    if bad.any():
        lat[bad] = np.nan
        lon[bad] = np.nan
    return lat, lon


# -- PointIndex ------------------------------------------------------------------------


def _getter(spec: str | Callable[[Any], Any]) -> Callable[[Any], Any]:
    if callable(spec):
        return spec

    def get(item: Any) -> Any:
        if isinstance(item, Mapping):
            return item.get(spec)  # a row without the key simply has no coordinate
        try:
            return getattr(item, spec)
        except AttributeError:  # a misspelt name would otherwise skip every item
            raise InvalidArgument(
                f"{type(item).__name__} has no attribute {spec!r}: give lat= and lon= as "
                "attribute names the items have, or as callables"
            ) from None

    return get


def _coordinate(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class PointIndex(Generic[T]):
    """An exact spatial index of items with latitude and longitude.

    ``lat`` and ``lon`` name an attribute or dict key of each item, or are
    callables returning the coordinate. Items without usable coordinates
    (``None``, empty, NaN, out of range) are left out and counted in
    :attr:`skipped`.

    Answers are exact: candidates come from a uniform grid over latitude and
    longitude (see ``civickit/_pointindex.py``), and every answer is measured
    as :func:`distance_m` measures it. Results are ``(item, distance_m)``
    pairs sorted by distance; equal distances keep the items' original order.
    """

    #: average points per square grid cell (a row's height squared)
    POINTS_PER_CELL = 8.0
    #: columns are this many times narrower than rows are tall: a band's columns are
    #: stored contiguously, so narrow ones cost nothing and trim the candidates
    COLUMNS_PER_CELL = 4

    def __init__(
        self,
        items: Iterable[T],
        *,
        lat: str | Callable[[T], Any],
        lon: str | Callable[[T], Any],
    ) -> None:
        get_lat, get_lon = _getter(lat), _getter(lon)
        kept: list[T] = []
        lats = array("d")
        lons = array("d")
        skipped = 0
        for item in items:
            la = _coordinate(get_lat(item))
            lo = _coordinate(get_lon(item))
            if la is None or lo is None or not (-90 <= la <= 90 and -180 <= lo <= 180):
                skipped += 1
                continue
            kept.append(item)
            lats.append(la)
            lons.append(lo)
        self._build(kept, np.frombuffer(lats), np.frombuffer(lons), skipped)

    @classmethod
    def from_arrays(cls, lats: Any, lons: Any, items: Sequence[T] | None = None) -> PointIndex[T]:
        """Build from coordinate arrays; ``items`` defaults to the row numbers 0..n-1."""
        la = np.asarray(lats, dtype=np.float64)
        lo = np.asarray(lons, dtype=np.float64)
        if la.shape != lo.shape or la.ndim != 1:
            raise InvalidArgument("lats and lons must be one-dimensional and the same length")
        if items is not None and len(items) != la.size:
            raise InvalidArgument(f"{len(items)} items but {la.size} coordinates")
        ok = np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90) & (np.abs(lo) <= 180)
        keep = np.flatnonzero(ok)
        self = cls.__new__(cls)
        skipped = int(la.size - keep.size)
        if items is None:  # the items are the row numbers: no list of a million ints
            self._build(None, la[keep], lo[keep], skipped, original=keep)
        else:
            kept = list(items)
            if skipped:
                kept = [kept[i] for i in keep.tolist()]
            self._build(kept, la[keep], lo[keep], skipped)
        return self

    def _build(
        self,
        items: list[T] | None,
        lats: np.ndarray,
        lons: np.ndarray,
        skipped: int,
        original: np.ndarray | None = None,
    ) -> None:
        #: items left out for want of usable coordinates
        self.skipped = skipped
        self._n = len(lats)
        # in input order; a hit's item is items[rank], or the rank itself when None
        self._items = items
        self._grid: PointGrid | None = None
        if self._n:
            self._grid = build_grid(
                lats,
                lons,
                points_per_cell=self.POINTS_PER_CELL,
                columns_per_cell=self.COLUMNS_PER_CELL,
                original=original,
            )

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"<PointIndex of {self._n:,} points, {self.skipped:,} skipped>"

    # -- queries -----------------------------------------------------------------

    def within(self, lat: float, lon: float, radius_m: float) -> list[tuple[T, float]]:
        """Items no further than ``radius_m`` metres (inclusive), nearest first."""
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise InvalidArgument(f"({lat}, {lon}) is not a latitude and longitude")
        if not 0.0 <= radius_m < math.inf:
            raise InvalidArgument(f"radius_m must be a non-negative number, not {radius_m!r}")
        grid = self._grid
        if grid is None:
            return []
        hits = grid.search(lat, lon, radius_m)
        items = self._items
        if items is None:  # the items are the ranks (from_arrays without items)
            return [(rank, d) for d, rank in hits]  # type: ignore[misc]
        return [(items[rank], d) for d, rank in hits]

    def nearest(
        self, lat: float, lon: float, k: int = 5, *, max_m: float | None = None
    ) -> list[tuple[T, float]]:
        """The ``k`` nearest items (fewer if the index is smaller), nearest first.

        ``max_m`` leaves out anything further than that many metres.
        """
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise InvalidArgument(f"({lat}, {lon}) is not a latitude and longitude")
        grid = self._grid
        if k <= 0 or grid is None:
            return []
        limit = math.pi * EARTH_RADIUS_M if max_m is None else float(max_m)
        if not limit >= 0:
            return []
        k = min(k, self._n)
        run = grid.nearest_in_run(lat, lon, k)
        hits = (
            run.hits
            if run is not None and run.settled
            else self._search_wider(grid, lat, lon, k, limit, run)
        )
        items = self._items
        if items is None:  # the items are the ranks (from_arrays without items)
            return [(rank, d) for d, rank in hits if d <= limit]  # type: ignore[misc]
        return [(items[rank], d) for d, rank in hits if d <= limit]

    def _search_wider(
        self, grid: PointGrid, lat: float, lon: float, k: int, limit: float, run: RunNearest | None
    ) -> list[Hit]:
        """The k nearest hits when one run did not settle them: radius searches, growing."""
        if run is not None:  # its k-th distance is a radius known to hold k points
            radius = min(run.hits[-1][0], limit)
        else:  # a radius that should hold a few times k points at the average density
            radius = min(grid.cell_m * math.sqrt(k / self.POINTS_PER_CELL) * 1.5, limit)
        while True:
            hits = grid.search(lat, lon, radius)
            if len(hits) >= k or radius >= limit:
                return hits[:k]
            # grow by the shortfall, at least doubling
            grow = math.sqrt(k / len(hits)) * 1.2 if hits else 2.0
            radius = min(radius * max(grow, 2.0), limit)
