"""The rows near a postcode: what the page and the JSON both show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import civickit

from .state import Row


def rows_near(
    text: str,
    postcodes: civickit.Postcodes,
    index: civickit.PointIndex[Row],
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """The rows near the postcode ``text``, nearest first; raises CivicKitError for bad input."""
    place = postcodes.lookup(text)
    if place.latitude is None or place.longitude is None:
        raise civickit.PostcodeNotFound(place.postcode)
    found = index.within(place.latitude, place.longitude, radius_m=config["RADIUS_M"])
    return {
        "postcode": place.postcode,
        "latitude": place.latitude,
        "longitude": place.longitude,
        "radius_m": config["RADIUS_M"],
        "rows": [
            {"name": name_of(row, config["NAME_FIELD"]), "distance_m": round(metres)}
            | {k: v for k, v in row.items() if isinstance(v, str | int | float | None)}
            for row, metres in found[: config["MAX_ROWS"]]
        ],
    }


def name_of(row: Row, field: str | None) -> str:
    """The row's ``field``, else its first text."""
    if field and row.get(field):
        return str(row[field])
    text = [v for k, v in row.items() if isinstance(v, str) and v and k not in ("geometry",)]
    return text[0] if text else "(no name)"
