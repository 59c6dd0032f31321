"""Distances, British National Grid conversion and a fast exact point index.

* :func:`distance_m` is the haversine great-circle distance on a sphere of the
  mean Earth radius (6,371,008.8 m). Across Great Britain it comes out 0.03%
  to 0.37% shorter than the WGS84 ellipsoid distance (measured by
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

__all__ = ["EARTH_RADIUS_M", "PointIndex", "distance_m", "osgb_to_wgs84", "osgb_to_wgs84_many"]

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M = 6371008.8

_DIAMETER = 2 * EARTH_RADIUS_M
_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180
_radians = math.radians
_sin = math.sin
_cos = math.cos
_asin = math.asin
_sqrt = math.sqrt
_floor = math.floor
_HALF_PI = math.pi / 2
_PI = math.pi
_TWO_PI = 2 * math.pi

T = TypeVar("T")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points (haversine).

    Uses a sphere of the mean Earth radius, so results are within about 0.5%
    of the true ellipsoidal distance.
    """
    p1 = _radians(lat1)
    p2 = _radians(lat2)
    a = _sin((p2 - p1) * 0.5)
    b = _sin((_radians(lon2) - _radians(lon1)) * 0.5)
    h = a * a + _cos(p1) * _cos(p2) * b * b
    return _DIAMETER * _asin(_sqrt(h) if h < 1.0 else 1.0)


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
        raise ValueError(f"cannot convert easting {easting}, northing {northing} to WGS84")
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
        raise ValueError(f"{e.size} eastings but {n.size} northings")
    lon, lat = _transformer().transform(e, n)
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    bad = ~(np.isfinite(lat) & np.isfinite(lon))
    if bad.any():
        lat[bad] = np.nan
        lon[bad] = np.nan
    return lat, lon


# -- PointIndex ------------------------------------------------------------------------

_RAD = math.pi / 180  # math.radians(x) is exactly x * _RAD
_SMALL = 48  # up to this many candidates in a run, plain Python beats NumPy's per-call cost
# Candidates are picked by the dot product of unit vectors, which is good to a few
# 1e-16: they are taken this far below the threshold, then measured exactly
_DOT_SLACK = 1e-13


def _getter(spec: str | Callable[[Any], Any]) -> Callable[[Any], Any]:
    if callable(spec):
        return spec

    def get(item: Any) -> Any:
        if isinstance(item, Mapping):
            return item.get(spec)
        return getattr(item, spec, None)

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
    longitude, and every answer is measured with :func:`distance_m`. Results
    are ``(item, distance_m)`` pairs sorted by distance; equal distances keep
    the items' original order.
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
            raise ValueError("lats and lons must be one-dimensional and the same length")
        if items is not None and len(items) != la.size:
            raise ValueError(f"{len(items)} items but {la.size} coordinates")
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
        n = len(lats)
        self._n = n
        # in input order; an answer's item is items[rank], or the rank itself when None
        self._items = items
        if n == 0:
            self._nrows = self._ncols = 0
            return
        lat0, lat1 = float(lats.min()), float(lats.max())
        lon0, lon1 = float(lons.min()), float(lons.max())
        mid = math.radians((lat0 + lat1) / 2)
        shrink = max(math.cos(mid), 0.05)
        area = max((lat1 - lat0) * _M_PER_DEG, 1.0) * max((lon1 - lon0) * _M_PER_DEG * shrink, 1.0)
        cell_m = min(max(math.sqrt(self.POINTS_PER_CELL * area / n), 20.0), 200_000.0)
        cell_lat = cell_m / _M_PER_DEG
        cell_lon = cell_lat / shrink / self.COLUMNS_PER_CELL
        nrows = int((lat1 - lat0) / cell_lat) + 1
        ncols = int((lon1 - lon0) / cell_lon) + 1
        self._lat0, self._lon0 = math.radians(lat0), math.radians(lon0)
        self._lon1 = math.radians(lon1)
        self._cell_lat, self._cell_lon = math.radians(cell_lat), math.radians(cell_lon)
        self._cell_m = cell_m
        self._nrows, self._ncols = nrows, ncols
        # cells are computed in radians, as queries compute them
        plat = np.radians(lats)
        plon = np.radians(lons)
        rows = ((plat - self._lat0) / self._cell_lat).astype(np.int64)
        np.clip(rows, 0, nrows - 1, out=rows)
        cells = ((plon - self._lon0) / self._cell_lon).astype(np.int64)
        np.clip(cells, 0, ncols - 1, out=cells)
        cells += rows * ncols
        # Band b holds the points of grid rows b and b+1, column by column (within a
        # column, row b's points first), so that a query less than two rows tall reads
        # one contiguous run. Each point is in two bands (one for the first row).
        order = np.argsort(cells)  # the order within a cell does not matter
        cells = cells[order]
        rows = rows[order]
        count = np.bincount(cells, minlength=nrows * ncols)
        first = np.zeros(nrows * ncols, dtype=np.int64)  # where each cell's points begin
        np.cumsum(count[:-1], out=first[1:])
        within = np.arange(n, dtype=np.int64)  # a point's place among its cell's points
        within -= first[cells]
        del first
        in_band = count.copy()
        in_band[:-ncols] += count[ncols:]
        starts = np.zeros(nrows * ncols + 1, dtype=np.int64)
        np.cumsum(in_band, out=starts[1:])
        del in_band
        size = int(starts[-1])
        where = np.empty(size, dtype=np.int64)  # the point behind each entry
        where[starts[cells] + within] = order
        upper = rows > 0
        cells = cells[upper] - ncols
        where[starts[cells] + count[cells] + within[upper]] = order[upper]
        del cells, rows, within, upper, order, count
        # each entry of a band: unit vector (x, y, z), then latitude, longitude and
        # cos latitude in radians, for the exact distance (cos from math.cos, so that
        # distances match distance_m to the last bit)
        band = np.empty((size, 6), dtype=np.float64)
        np.take(plat, where, out=band[:, 3])
        np.take(plon, where, out=band[:, 4])
        del plon
        np.take(np.frombuffer(array("d", map(_cos, memoryview(plat)))), where, out=band[:, 5])
        del plat
        np.multiply(band[:, 5], np.cos(band[:, 4]), out=band[:, 0])
        np.multiply(band[:, 5], np.sin(band[:, 4]), out=band[:, 1])
        np.sin(band[:, 3], out=band[:, 2])
        # each entry's position in the input, to order ties and to find its item
        rank = where if original is None else original[where]
        self._arrays = (starts, band, rank)
        self._share()

    def _share(self) -> None:
        """Memoryviews of the arrays: as fast as Python's own to index one number at a time."""
        starts, band, rank = self._arrays
        self._starts = memoryview(starts)
        self._band = memoryview(band.reshape(-1))
        self._rank = memoryview(rank)
        self._grid = (
            self._lat0, self._lon0, self._cell_lat, self._cell_lon, self._nrows, self._ncols,
            self._starts, self._band, self._rank,
        )  # fmt: skip

    def __getstate__(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in self.__dict__.items()
            if k not in ("_starts", "_band", "_rank", "_grid")
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._n:
            self._share()

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"<PointIndex of {self._n:,} points, {self.skipped:,} skipped>"

    # -- queries -----------------------------------------------------------------

    def within(self, lat: float, lon: float, radius_m: float) -> list[tuple[T, float]]:
        """Items no further than ``radius_m`` metres (inclusive), nearest first."""
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ValueError(f"({lat}, {lon}) is not a latitude and longitude")
        if not 0.0 <= radius_m < math.inf:
            raise ValueError(f"radius_m must be a non-negative number, not {radius_m!r}")
        items = self._items
        if items is None:
            return [(r, d) for d, r in self._search(lat, lon, radius_m)]  # type: ignore[misc]
        return [(items[r], d) for d, r in self._search(lat, lon, radius_m)]

    def nearest(
        self, lat: float, lon: float, k: int = 5, *, max_m: float | None = None
    ) -> list[tuple[T, float]]:
        """The ``k`` nearest items (fewer if the index is smaller), nearest first.

        ``max_m`` leaves out anything further than that many metres.
        """
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ValueError(f"({lat}, {lon}) is not a latitude and longitude")
        if k <= 0 or self._n == 0:
            return []
        limit = math.pi * EARTH_RADIUS_M if max_m is None else float(max_m)
        if not limit >= 0:
            return []
        k = min(k, self._n)
        found = self._nearest_band(lat, lon, k)
        if found.__class__ is not list:
            if found is not None:  # a radius known to hold at least k points
                radius = min(found, limit)
            else:  # a radius that should hold a few times k points at the average density
                radius = min(self._cell_m * math.sqrt(k / self.POINTS_PER_CELL) * 1.5, limit)
            while True:
                found = self._search(lat, lon, radius)
                if len(found) >= k or radius >= limit:
                    break
                # grow by the shortfall, at least doubling
                grow = math.sqrt(k / len(found)) * 1.2 if found else 2.0
                radius = min(radius * max(grow, 2.0), limit)
            found = found[:k]
        items = self._items
        if items is None:
            return [(r, d) for d, r in found if d <= limit]
        return [(items[r], d) for d, r in found if d <= limit]

    def _nearest_band(self, lat: float, lon: float, k: int) -> Any:
        """The k nearest, read from the one run of a band around the query, if that settles it.

        Returns the sorted ``(distance, rank)`` of the k nearest; or a radius holding
        at least k points, when a point outside the run might be nearer than the
        run's k-th; or ``None`` when the run holds fewer than k points or the query
        is too near a pole or the antimeridian for this path.
        """
        p1 = lat * _RAD
        l1 = lon * _RAD
        s = self._cell_lat
        y = (p1 - self._lat0) / s
        b = _floor(y)
        if y - b < 0.5:  # the band of the query's row and the nearer of its neighbours
            b -= 1
        nrows = self._nrows
        b = 0 if b < 0 else nrows - 1 if b >= nrows else b
        c1 = _cos(p1)
        if c1 < 0.1:
            return None
        dl = s / c1  # about a row's height of longitude either side
        if dl > 0.5 or l1 - self._lon0 > _PI or self._lon1 - l1 > _PI:
            return None
        # how far the query is from the nearest point outside the run (radians)
        margin = _PI
        if b > 0:
            margin = p1 - (self._lat0 + b * s)
        if b + 2 < nrows:
            edge = self._lat0 + (b + 2) * s - p1
            margin = edge if edge < margin else margin
        w = self._cell_lon
        ncols = self._ncols
        c0 = _floor((l1 - dl - self._lon0) / w)
        c9 = _floor((l1 + dl - self._lon0) / w) + 1
        if c0 > 0:  # distance to the meridian at the run's western edge
            c0 = c0 if c0 < ncols else ncols
            edge = _asin(c1 * _sin(l1 - (self._lon0 + c0 * w)))
            margin = edge if edge < margin else margin
        else:
            c0 = 0
        if c9 < ncols:
            c9 = c9 if c9 > 0 else 0
            edge = _asin(c1 * _sin(self._lon0 + c9 * w - l1))
            margin = edge if edge < margin else margin
        else:
            c9 = ncols
        base = b * ncols
        a = self._starts[base + c0]
        e = self._starts[base + c9]
        count = e - a
        if count < k:
            return None
        dots = self._arrays[1][a:e].dot(
            np.array((c1 * _cos(l1), c1 * _sin(l1), _sin(p1), 0.0, 0.0, 0.0))
        )
        if count > k:
            # the k-th largest dot product; the k nearest are among those near it or above
            if count <= 256:
                t = sorted(dots.tolist())[count - k]
            else:
                t = float(np.partition(dots, count - k)[count - k])
            pick = (dots >= t - _DOT_SLACK).nonzero()[0].tolist()
        else:
            pick = range(count)
        band = self._band
        rank = self._rank
        hits = []
        for i in pick:
            i += a
            o = 6 * i
            x = _sin((band[o + 3] - p1) * 0.5)
            y = _sin((band[o + 4] - l1) * 0.5)
            h = x * x + c1 * band[o + 5] * y * y
            hits.append((_DIAMETER * _asin(_sqrt(h) if h < 1.0 else 1.0), rank[i]))
        hits.sort()
        kth = hits[k - 1][0]
        if kth < (margin - 1e-12) * EARTH_RADIUS_M * (1 - 1e-9):
            return hits[:k]
        return kth

    def _search(self, lat: float, lon: float, radius: float) -> list[tuple[float, int]]:
        """Sorted ``(distance, rank)`` of the points within ``radius``.

        A query reads one run of a band for every two grid rows it spans (two runs
        per band when it crosses the antimeridian).
        """
        if self._n == 0:
            return []
        lat0, lon0, cell_lat, cell_lon, nrows, ncols, starts, band, rank = self._grid
        p1 = lat * _RAD
        l1 = lon * _RAD
        delta = radius / EARTH_RADIUS_M  # angular radius
        slack = 1e-12 + delta * 1e-9
        lat_lo = p1 - delta - slack
        lat_hi = p1 + delta + slack
        c1 = _cos(p1)
        if lat_hi >= _HALF_PI or lat_lo <= -_HALF_PI or delta >= _HALF_PI:
            dlon = _TWO_PI
        else:
            ratio = _sin(delta) / c1
            dlon = _TWO_PI if ratio >= 1.0 else _asin(ratio) + slack
        lon_lo = l1 - dlon
        lon_hi = l1 + dlon
        r0 = _floor((lat_lo - lat0) / cell_lat)
        r1 = _floor((lat_hi - lat0) / cell_lat)
        r0 = r0 if r0 > 0 else 0
        r1 = r1 if r1 < nrows else nrows - 1
        if r0 > r1:
            return []
        wraps = lon_lo < -_PI or lon_hi > _PI
        if r1 - r0 < 2 and not wraps and dlon < _PI:  # the usual case: one run
            c0 = _floor((lon_lo - lon0) / cell_lon)
            c9 = _floor((lon_hi - lon0) / cell_lon) + 1
            c0 = 0 if c0 < 0 else ncols if c0 > ncols else c0
            c9 = 0 if c9 < 0 else ncols if c9 > ncols else c9
            base = r0 * ncols
            runs: Any = ((starts[base + c0], starts[base + c9]),)
        else:
            if dlon >= _PI:
                spans = [(0, ncols)]
            else:
                spans = []
                for lo, hi in _lon_intervals(lon_lo, lon_hi):
                    c0 = max(_floor((lo - lon0) / cell_lon), 0)
                    c9 = min(_floor((hi - lon0) / cell_lon) + 1, ncols)
                    spans.append((c0, c9))
            runs = [
                (starts[base + c0], starts[base + c9])
                for base in range(r0 * ncols, r1 * ncols + 1, 2 * ncols)
                for c0, c9 in spans
                if c0 < c9
            ]
        hits: list[tuple[float, int]] = []
        qv = thr = None
        for a, e in runs:
            if e - a <= _SMALL:
                # the body of distance_m, inlined, with the query's side computed
                # once and the point's radians and cosine precomputed
                for o in range(6 * a + 3, 6 * e, 6):
                    p2 = band[o]
                    if lat_lo <= p2 <= lat_hi:
                        l2 = band[o + 1]
                        if wraps or lon_lo <= l2 <= lon_hi:
                            x = _sin((p2 - p1) * 0.5)
                            y = _sin((l2 - l1) * 0.5)
                            h = x * x + c1 * band[o + 2] * y * y
                            d = _DIAMETER * _asin(_sqrt(h) if h < 1.0 else 1.0)
                            if d <= radius:
                                hits.append((d, rank[o // 6]))
                continue
            if qv is None:
                qv = np.array((c1 * _cos(l1), c1 * _sin(l1), _sin(p1), 0.0, 0.0, 0.0))
                reach = delta + slack
                thr = _cos(reach) - _DOT_SLACK if reach < _PI else -2.0
            # pick the candidates by dot product, then measure them exactly
            for i in (self._arrays[1][a:e].dot(qv) >= thr).nonzero()[0].tolist():
                i += a
                o = 6 * i
                x = _sin((band[o + 3] - p1) * 0.5)
                y = _sin((band[o + 4] - l1) * 0.5)
                h = x * x + c1 * band[o + 5] * y * y
                d = _DIAMETER * _asin(_sqrt(h) if h < 1.0 else 1.0)
                if d <= radius:
                    hits.append((d, rank[i]))
        hits.sort()
        return hits


def _lon_intervals(lo: float, hi: float) -> list[tuple[float, float]]:
    """Split a longitude interval (radians) that crosses the antimeridian into two."""
    if lo < -math.pi:
        return [(-math.pi, hi), (lo + 2 * math.pi, math.pi)]
    if hi > math.pi:
        return [(lo, math.pi), (-math.pi, hi - 2 * math.pi)]
    return [(lo, hi)]
