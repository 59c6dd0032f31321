"""The sphere civickit measures distances on (shared by :mod:`civickit.geo` and its point index)."""

from __future__ import annotations

from math import pi

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M = 6371008.8
#: Twice the radius: the factor in front of the haversine's arcsine.
EARTH_DIAMETER_M = 2 * EARTH_RADIUS_M
#: Metres per degree of latitude (and of longitude at the equator).
M_PER_DEGREE = EARTH_RADIUS_M * pi / 180
