"""The grid behind :class:`civickit.geo.PointIndex`: exact radius and nearest queries, fast.

**Layout.** Points sit in a uniform grid of rows (latitude) and columns
(longitude), computed in radians. *Band* ``b`` holds the points of grid rows
``b`` and ``b + 1``, column by column (within a column, row ``b``'s points
first), so a query less than two rows tall reads one contiguous *run* of one
band. Each point is stored in two bands (one for the first row). An entry of a
band is six floats: the point's unit vector ``(x, y, z)``, then its latitude,
longitude and cos(latitude) in radians.

**Candidates.** A run of up to ``_SMALL`` entries is scanned in plain Python
(below that size NumPy's per-call cost dominates); a longer run is filtered by
the dot product of unit vectors in NumPy, and the survivors are measured.

**Distances.** Every distance is the haversine of
:func:`civickit._sphere.distance_m` (``geo.distance_m``), written out once, by
design, in :func:`_measure`'s loop, which every query calls once per run:
there the query's side is computed once and each point's radians and cosine
are precomputed, where a call to ``distance_m`` per point would double a
query's cost. ``tests/test_geo.py`` pins it to ``distance_m``, bit for bit.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from math import asin, cos, floor, inf, pi, radians, sin, sqrt
from typing import Any, NamedTuple

import numpy as np

from ._sphere import EARTH_DIAMETER_M, EARTH_RADIUS_M, M_PER_DEGREE

__all__ = ["GridShape", "Hit", "PointGrid", "RunNearest", "build_grid"]

#: A point found by a query: (distance in metres, rank). The rank is the point's
#: position among the indexed points, so sorting hits orders ties by input order.
Hit = tuple[float, int]

_RAD = pi / 180  # radians(x) is exactly x * _RAD
_HALF_PI = pi / 2
_TWO_PI = 2 * pi
_SMALL = 48  # up to this many entries in a run, plain Python beats NumPy's per-call cost
# Candidates are picked by the dot product of unit vectors, which is good to a few
# 1e-16: they are taken this far below the threshold, then measured exactly
_DOT_SLACK = 1e-13
_FLOATS_PER_ENTRY = 6  # x, y, z, latitude, longitude, cos(latitude)

#: The latitudes and longitudes (radians) a query's candidates must lie within:
#: (south, north, west, east, whether the longitudes wrap and are not checked).
Box = tuple[float, float, float, float, bool]
#: The box of a query that measures every candidate it is given.
_EVERYWHERE: Box = (-inf, inf, -inf, inf, True)


class GridShape(NamedTuple):
    """Where the grid lies and how it is cut (angles in radians)."""

    lat0: float  # the southern edge of row 0
    lon0: float  # the western edge of column 0
    lon1: float  # the easternmost point's longitude
    cell_lat: float  # a row's height
    cell_lon: float  # a column's width
    cell_m: float  # a row's height in metres
    nrows: int
    ncols: int


class RunNearest(NamedTuple):
    """The k nearest points within one run around a query."""

    hits: list[Hit]  # sorted, exactly k of them
    #: no point outside the run can be nearer than the k-th: these are the k nearest
    settled: bool


class PointGrid:
    """The bands of an index, and the two queries on them (see the module docstring)."""

    __slots__ = (
        "band",
        "cell_lat",
        "cell_lon",
        "cell_m",
        "entries",
        "lat0",
        "lon0",
        "lon1",
        "ncols",
        "nrows",
        "rank",
        "shape",
        "starts",
        "vectors",
    )

    def __init__(self, shape: GridShape, starts: np.ndarray, band: np.ndarray, rank: np.ndarray):
        self.shape = shape
        # the shape's fields as attributes: a query reads each once
        self.lat0, self.lon0, self.lon1 = shape.lat0, shape.lon0, shape.lon1
        self.cell_lat, self.cell_lon, self.cell_m = shape.cell_lat, shape.cell_lon, shape.cell_m
        self.nrows, self.ncols = shape.nrows, shape.ncols
        #: every band's entries, one row of six floats each, for NumPy
        self.vectors = band
        # memoryviews are as fast as Python's own lists to read one number at a time
        #: where each cell's entries begin in its band, for every cell, then the end
        self.starts: memoryview = starts.data
        #: the entries flat: entry i is band[6 * i : 6 * i + 6]
        self.band: memoryview = band.reshape(-1).data
        #: each entry's point's rank
        self.rank: memoryview = rank.data
        self.entries = (starts, band, rank)

    def __reduce__(self) -> tuple[Any, ...]:
        return (PointGrid, (self.shape, *self.entries))

    # -- queries ---------------------------------------------------------------------

    def search(self, lat: float, lon: float, radius: float) -> list[Hit]:
        """Sorted hits for the points within ``radius`` metres (inclusive) of the query.

        A query reads one run of a band for every two grid rows it spans (two
        runs per band when it crosses the antimeridian).
        """
        lat0, lon0, cell_lat, cell_lon = self.lat0, self.lon0, self.cell_lat, self.cell_lon
        nrows, ncols, starts, band, rank = self.nrows, self.ncols, self.starts, self.band, self.rank
        p1 = lat * _RAD
        l1 = lon * _RAD
        delta = radius / EARTH_RADIUS_M  # angular radius
        slack = 1e-12 + delta * 1e-9
        lat_lo = p1 - delta - slack
        lat_hi = p1 + delta + slack
        c1 = cos(p1)
        if lat_hi >= _HALF_PI or lat_lo <= -_HALF_PI or delta >= _HALF_PI:
            dlon = _TWO_PI
        else:
            ratio = sin(delta) / c1
            dlon = _TWO_PI if ratio >= 1.0 else asin(ratio) + slack
        lon_lo = l1 - dlon
        lon_hi = l1 + dlon
        r0 = floor((lat_lo - lat0) / cell_lat)
        r1 = floor((lat_hi - lat0) / cell_lat)
        r0 = r0 if r0 > 0 else 0
        r1 = r1 if r1 < nrows else nrows - 1
        if r0 > r1:
            return []
        wraps = lon_lo < -pi or lon_hi > pi
        runs: Iterable[tuple[int, int]]
        if r1 - r0 < 2 and not wraps and dlon < pi:  # the usual case: one run
            c0 = floor((lon_lo - lon0) / cell_lon)
            c9 = floor((lon_hi - lon0) / cell_lon) + 1
            c0 = 0 if c0 < 0 else ncols if c0 > ncols else c0
            c9 = 0 if c9 < 0 else ncols if c9 > ncols else c9
            base = r0 * ncols
            runs = ((starts[base + c0], starts[base + c9]),)
        else:
            runs = self._runs(r0, r1, lon_lo, lon_hi, dlon)
        hits: list[Hit] = []
        box = (lat_lo, lat_hi, lon_lo, lon_hi, wraps)
        query = threshold = None
        for a, e in runs:
            if e - a <= _SMALL:  # every entry of the run, by its latitude's offset
                hits += _measure(band, rank, range(6 * a + 3, 6 * e, 6), p1, l1, c1, radius, box)
                continue
            if query is None:
                # the query's unit vector, and zeros against the entry's other three floats
                query = np.array((c1 * cos(l1), c1 * sin(l1), sin(p1), 0.0, 0.0, 0.0))
                reach = delta + slack
                threshold = cos(reach) - _DOT_SLACK if reach < pi else -2.0
            # pick the candidates by dot product, then measure them exactly
            picked = (self.vectors[a:e].dot(query) >= threshold).nonzero()[0] * 6 + (6 * a + 3)
            hits += _measure(band, rank, picked.tolist(), p1, l1, c1, radius, box)
        hits.sort()
        return hits

    def _runs(
        self, r0: int, r1: int, lon_lo: float, lon_hi: float, dlon: float
    ) -> list[tuple[int, int]]:
        """The runs of a query spanning rows ``r0..r1``, or crossing the antimeridian."""
        ncols, cell_lon, lon0, starts = self.ncols, self.cell_lon, self.lon0, self.starts
        if dlon >= pi:
            spans = [(0, ncols)]
        else:
            spans = []
            for lo, hi in _lon_intervals(lon_lo, lon_hi):
                c0 = max(floor((lo - lon0) / cell_lon), 0)
                c9 = min(floor((hi - lon0) / cell_lon) + 1, ncols)
                spans.append((c0, c9))
        return [
            (starts[base + c0], starts[base + c9])
            for base in range(r0 * ncols, r1 * ncols + 1, 2 * ncols)
            for c0, c9 in spans
            if c0 < c9
        ]

    def nearest_in_run(self, lat: float, lon: float, k: int) -> RunNearest | None:
        """The k nearest points in the run of one band around the query.

        ``None`` when that run holds fewer than k points, or the query is too
        near a pole or the antimeridian for this shortcut.
        """
        p1 = lat * _RAD
        l1 = lon * _RAD
        s = self.cell_lat
        lat0 = self.lat0
        lon0 = self.lon0
        y = (p1 - lat0) / s
        b = floor(y)
        if y - b < 0.5:  # the band of the query's row and the nearer of its neighbours
            b -= 1
        nrows = self.nrows
        b = 0 if b < 0 else nrows - 1 if b >= nrows else b
        c1 = cos(p1)
        if c1 < 0.1:
            return None
        dl = s / c1  # about a row's height of longitude either side
        if dl > 0.5 or l1 - lon0 > pi or self.lon1 - l1 > pi:
            return None
        # how far the query is from the nearest point outside the run (radians)
        margin = pi
        if b > 0:
            margin = p1 - (lat0 + b * s)
        if b + 2 < nrows:
            edge = lat0 + (b + 2) * s - p1
            margin = edge if edge < margin else margin
        w = self.cell_lon
        ncols = self.ncols
        c0 = floor((l1 - dl - lon0) / w)
        c9 = floor((l1 + dl - lon0) / w) + 1
        if c0 > 0:  # distance to the meridian at the run's western edge
            c0 = c0 if c0 < ncols else ncols
            edge = asin(c1 * sin(l1 - (lon0 + c0 * w)))
            margin = edge if edge < margin else margin
        else:
            c0 = 0
        if c9 < ncols:
            c9 = c9 if c9 > 0 else 0
            edge = asin(c1 * sin(lon0 + c9 * w - l1))
            margin = edge if edge < margin else margin
        else:
            c9 = ncols
        base = b * ncols
        a = self.starts[base + c0]
        e = self.starts[base + c9]
        count = e - a
        if count < k:
            return None
        offsets: Iterable[int]  # of the candidates' latitudes in the band
        if count > k:
            # the query's unit vector, and zeros against the entry's other three floats
            query = np.array((c1 * cos(l1), c1 * sin(l1), sin(p1), 0.0, 0.0, 0.0))
            dots = self.vectors[a:e].dot(query)
            # the k-th largest dot product; the k nearest are among those near it or above
            if count <= 256:
                t = sorted(dots.tolist())[count - k]
            else:
                t = float(np.partition(dots, count - k)[count - k])
            first = 6 * a + 3  # a few candidates: Python's arithmetic beats two NumPy calls
            offsets = [first + 6 * i for i in (dots >= t - _DOT_SLACK).nonzero()[0].tolist()]
        else:
            offsets = range(6 * a + 3, 6 * e, 6)
        hits = _measure(self.band, self.rank, offsets, p1, l1, c1, inf, _EVERYWHERE)
        hits.sort()
        del hits[k:]
        settled = hits[-1][0] < (margin - 1e-12) * EARTH_RADIUS_M * (1 - 1e-9)
        # RunNearest(hits, settled), minus NamedTuple's Python-level __new__ (2% of a query)
        return tuple.__new__(RunNearest, (hits, settled))


def _measure(
    band: memoryview,
    rank: memoryview,
    offsets: Iterable[int],
    p1: float,
    l1: float,
    c1: float,
    radius: float,
    box: Box,
) -> list[Hit]:
    """Hits for the entries whose latitudes are at ``offsets`` in ``band``, unsorted: those
    inside ``box`` and within ``radius`` metres of the query.

    The point index's one haversine: :func:`civickit._sphere.distance_m`'s body,
    inlined by design (see the module docstring). ``p1`` and ``l1`` are the
    query in radians, ``c1`` the cosine of its latitude; an entry's latitude,
    longitude and cosine are at ``o``, ``o + 1`` and ``o + 2``, and its rank
    at ``o // 6``.
    """
    lat_lo, lat_hi, lon_lo, lon_hi, wraps = box
    hits = []
    for o in offsets:
        p2 = band[o]
        if lat_lo <= p2 <= lat_hi:
            l2 = band[o + 1]
            if wraps or lon_lo <= l2 <= lon_hi:
                x = sin((p2 - p1) * 0.5)
                y = sin((l2 - l1) * 0.5)
                h = x * x + c1 * band[o + 2] * y * y
                d = EARTH_DIAMETER_M * asin(sqrt(h) if h < 1.0 else 1.0)
                if d <= radius:
                    hits.append((d, rank[o // 6]))
    return hits


def _lon_intervals(lo: float, hi: float) -> list[tuple[float, float]]:
    """Split a longitude interval (radians) that crosses the antimeridian into two."""
    if lo < -pi:
        return [(-pi, hi), (lo + 2 * pi, pi)]
    if hi > pi:
        return [(lo, pi), (-pi, hi - 2 * pi)]
    return [(lo, hi)]


# -- building --------------------------------------------------------------------------


def build_grid(
    lats: np.ndarray,
    lons: np.ndarray,
    *,
    points_per_cell: float,
    columns_per_cell: int,
    original: np.ndarray | None = None,
) -> PointGrid:
    """Lay out at least one point (degrees) in bands.

    Rows are sized for ``points_per_cell`` points per square cell on average;
    columns are ``columns_per_cell`` times narrower (a band's columns are
    contiguous, so narrow ones cost nothing and trim the candidates). A
    point's rank is its position in ``lats``, or ``original[position]``.
    """
    shape = _shape(lats, lons, points_per_cell, columns_per_cell)
    n = len(lats)
    nrows, ncols = shape.nrows, shape.ncols
    # cells are computed in radians, as queries compute them
    plat = np.radians(lats)
    plon = np.radians(lons)
    rows = ((plat - shape.lat0) / shape.cell_lat).astype(np.int64)
    np.clip(rows, 0, nrows - 1, out=rows)
    cells = ((plon - shape.lon0) / shape.cell_lon).astype(np.int64)
    np.clip(cells, 0, ncols - 1, out=cells)
    cells += rows * ncols
    # Band b holds rows b and b+1 column by column: see the module docstring.
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
    # the entries: unit vector, then latitude, longitude and cos(latitude) in radians
    # (cos from math.cos, so that distances match distance_m to the last bit)
    band = np.empty((size, _FLOATS_PER_ENTRY), dtype=np.float64)
    np.take(plat, where, out=band[:, 3])
    np.take(plon, where, out=band[:, 4])
    del plon
    np.take(np.frombuffer(array("d", map(cos, plat.data))), where, out=band[:, 5])
    del plat
    np.multiply(band[:, 5], np.cos(band[:, 4]), out=band[:, 0])
    np.multiply(band[:, 5], np.sin(band[:, 4]), out=band[:, 1])
    np.sin(band[:, 3], out=band[:, 2])
    rank = where if original is None else original[where]
    return PointGrid(shape, starts, band, rank)


def _shape(
    lats: np.ndarray, lons: np.ndarray, points_per_cell: float, columns_per_cell: int
) -> GridShape:
    """Rows and columns over the points' bounding box, for the wanted density."""
    n = len(lats)
    lat0, lat1 = float(lats.min()), float(lats.max())
    lon0, lon1 = float(lons.min()), float(lons.max())
    shrink = max(cos(radians((lat0 + lat1) / 2)), 0.05)
    area = max((lat1 - lat0) * M_PER_DEGREE, 1.0) * max((lon1 - lon0) * M_PER_DEGREE * shrink, 1.0)
    cell_m = min(max(sqrt(points_per_cell * area / n), 20.0), 200_000.0)
    cell_lat = cell_m / M_PER_DEGREE
    cell_lon = cell_lat / shrink / columns_per_cell
    return GridShape(
        lat0=radians(lat0),
        lon0=radians(lon0),
        lon1=radians(lon1),
        cell_lat=radians(cell_lat),
        cell_lon=radians(cell_lon),
        cell_m=cell_m,
        nrows=int((lat1 - lat0) / cell_lat) + 1,
        ncols=int((lon1 - lon0) / cell_lon) + 1,
    )
