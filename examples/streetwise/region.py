"""The comparison area (Leeds) and the small bits of plane geometry the app needs.

Every figure on an area page is compared with the same figure across Leeds,
as a rate per square kilometre: ``count inside the circle / circle area``
against ``count inside the Leeds outline / area of that outline``. The outline
below is a hand-simplified, approximate trace of the Leeds Metropolitan
District (15 points; about 545 km² against the official 552 km²). Counting and
measuring use the same polygon, so the rate is consistent with itself even
where the outline cuts a corner.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

import numpy as np

from civickit.geo import EARTH_RADIUS_M

Point = tuple[float, float]

#: Approximate outline of Leeds Metropolitan District, (lat, lon), WGS84.
LEEDS_OUTLINE: tuple[Point, ...] = (
    (53.925, -1.745),
    (53.915, -1.620),
    (53.905, -1.520),
    (53.935, -1.400),
    (53.915, -1.310),
    (53.860, -1.310),
    (53.800, -1.300),
    (53.745, -1.340),
    (53.725, -1.420),
    (53.715, -1.520),
    (53.725, -1.600),
    (53.745, -1.670),
    (53.790, -1.690),
    (53.840, -1.700),
    (53.880, -1.730),
)
LEEDS_NAME = "Leeds"


@cache
def outline_area_km2(outline: tuple[Point, ...] = LEEDS_OUTLINE) -> float:
    """The geodesic area of ``outline`` in km² (WGS84 ellipsoid)."""
    from pyproj import Geod

    area, _ = Geod(ellps="WGS84").polygon_area_perimeter(
        [p[1] for p in outline], [p[0] for p in outline]
    )
    return abs(area) / 1e6


def circle_area_km2(radius_m: float) -> float:
    return math.pi * (radius_m / 1000) ** 2


def inside(
    lats: np.ndarray, lons: np.ndarray, outline: Sequence[Point] = LEEDS_OUTLINE
) -> np.ndarray:
    """Boolean mask: which points fall inside ``outline`` (even-odd ray casting)."""
    lats = np.asarray(lats, dtype=float)
    lons = np.asarray(lons, dtype=float)
    result = np.zeros(lats.shape, dtype=bool)
    n = len(outline)
    for i in range(n):
        lat1, lon1 = outline[i]
        lat2, lon2 = outline[i - 1]
        crosses = (lat1 > lats) != (lat2 > lats)
        with np.errstate(divide="ignore", invalid="ignore"):
            at_lon = (lon2 - lon1) * (lats - lat1) / (lat2 - lat1) + lon1
        result ^= crosses & (lons < at_lon)
    return result


def point_inside(lat: float, lon: float, outline: Sequence[Point] = LEEDS_OUTLINE) -> bool:
    return bool(inside(np.array([lat]), np.array([lon]), outline)[0])


def circle_polygon(lat: float, lon: float, radius_m: float, sides: int = 12) -> list[Point]:
    """A polygon that contains the circle (its edges touch it from outside).

    police.uk takes polygons, not circles: ask for this, then keep only the
    crimes whose distance is within the radius.
    """
    outer = radius_m / math.cos(math.pi / sides)
    dlat = math.degrees(outer / EARTH_RADIUS_M)
    dlon = dlat / math.cos(math.radians(lat))
    return [
        (
            round(lat + dlat * math.sin(2 * math.pi * k / sides), 6),
            round(lon + dlon * math.cos(2 * math.pi * k / sides), 6),
        )
        for k in range(sides)
    ]
