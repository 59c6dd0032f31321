"""The sphere civickit measures distances on, and its haversine, written once.

:func:`distance_m` (one pair of points) and :func:`distance_m_many` (one
point to many, NumPy) are the library's two haversines; :mod:`civickit.geo`
re-exports both. The point index's grid (:mod:`civickit._pointindex`) writes
the same formula out in its one hot loop, by design, and a test pins that
copy to :func:`distance_m` bit for bit.
"""

from __future__ import annotations

from math import asin, cos, pi, radians, sin, sqrt

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["EARTH_DIAMETER_M", "EARTH_RADIUS_M", "M_PER_DEGREE", "distance_m", "distance_m_many"]

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M = 6371008.8
#: Twice the radius: the factor in front of the haversine's arcsine.
EARTH_DIAMETER_M = 2 * EARTH_RADIUS_M
#: Metres per degree of latitude (and of longitude at the equator).
M_PER_DEGREE = EARTH_RADIUS_M * pi / 180


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points (haversine).

    Uses a sphere of the mean Earth radius, so results are within about 0.5%
    of the true ellipsoidal distance.
    """
    p1 = radians(lat1)
    p2 = radians(lat2)
    a = sin((p2 - p1) * 0.5)
    b = sin((radians(lon2) - radians(lon1)) * 0.5)
    h = a * a + cos(p1) * cos(p2) * b * b
    return EARTH_DIAMETER_M * asin(sqrt(h) if h < 1.0 else 1.0)


def distance_m_many(
    lat: float, lon: float, lats: ArrayLike, lons: ArrayLike
) -> NDArray[np.float64]:
    """Great-circle distances in metres from one WGS84 point to many (haversine, NumPy).

    ``lats`` and ``lons`` are sequences or arrays of the same shape; the
    answer is a float array of that shape, each distance what
    :func:`distance_m` gives to within a few units in the last place (NumPy's
    sine and cosine may round differently from the math module's). NaN in,
    NaN out.
    """
    p1 = radians(lat)
    p2 = np.radians(np.asarray(lats, dtype=np.float64))
    a = np.sin((p2 - p1) * 0.5)
    b = np.sin((np.radians(np.asarray(lons, dtype=np.float64)) - radians(lon)) * 0.5)
    h = a * a + cos(p1) * np.cos(p2) * b * b
    result: NDArray[np.float64] = EARTH_DIAMETER_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    return result
