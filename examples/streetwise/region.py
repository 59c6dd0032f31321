"""The small bits of plane geometry the app needs: the circle and point-in-polygon.

The comparison area is the postcode's own district (:mod:`.districts`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from civickit.geo import EARTH_RADIUS_M

Point = tuple[float, float]


def circle_area_km2(radius_m: float) -> float:
    return math.pi * (radius_m / 1000) ** 2


def inside(lats: np.ndarray, lons: np.ndarray, outline: Sequence[Point]) -> np.ndarray:
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


def point_inside(lat: float, lon: float, outline: Sequence[Point]) -> bool:
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
