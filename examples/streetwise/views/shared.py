"""What the pages and the JSON API both need: the radius argument, the per-address limits,
finding the place, and the cache of answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app, request

from examples.common import ApiError
from examples.common.web import spend_limit

from .. import area, state, store
from ..upstream import Location, resolve

T = TypeVar("T")

RADIUS_LABELS = {500: "500 metres", 1000: "1 kilometre", 2000: "2 kilometres"}


def radius_arg() -> int:
    """``?radius_m=``: 500, 1000 (the default) or 2000; anything else is a 400."""
    text = request.args.get("radius_m", "1000").strip()
    try:
        radius = int(text)
    except ValueError:
        radius = -1
    if radius not in area.RADII:
        raise ApiError(
            400,
            "invalid_radius",
            "Choose a distance of 500 metres, 1 kilometre or 2 kilometres "
            "(radius_m=500, 1000 or 2000).",
        )
    return radius


def count_area_request() -> None:
    """Count this area request against the caller's address (``AREA_LIMIT_IP``); 429 when over."""
    _spend("AREA_LIMIT_IP", "area", "asked about a lot of places")


def _count_lookup() -> None:
    _spend("LOOKUP_LIMIT_IP", "lookup", "looked up a lot of postcodes")


def _spend(setting: str, kind: str, what: str) -> None:
    """One request against the caller's address under the limit ``setting``; 429 when over."""
    if not spend_limit(current_app.config[setting], "streetwise", kind, _address()):
        raise ApiError(
            429,
            "too_many_requests",
            f"You have {what} in a short time. Wait a few minutes and try again.",
        )


def _address() -> str:
    from flask_limiter.util import get_remote_address

    return get_remote_address()


def locate(postcode: str) -> Location:
    """:func:`..upstream.resolve`, counting each postcodes.io lookup (``LOOKUP_LIMIT_IP``)."""
    return resolve(current_app, postcode, before_lookup=_count_lookup)


def cached(kind: str, where: Location, radius: int, render: Callable[[], T]) -> T:
    """``render()`` once per place, radius and data version, reused from the page cache.

    Crime can come live from police.uk, so entries also expire after
    ``PAGE_CACHE_TTL`` seconds (0 turns the cache off).
    """
    version = store.get_data(current_app).version
    key = (kind, where.postcode, where.latitude, where.longitude, radius, version)
    return state.get_cache(current_app).get_or_render(key, render)
