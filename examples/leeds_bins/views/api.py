"""JSON API: addresses by postcode and collections by premises. One error shape."""

from __future__ import annotations

import json
from datetime import date, timedelta

from flask import Blueprint, Response, current_app, jsonify, request

from civickit.errors import InvalidPostcode
from civickit.postcodes import normalise
from examples.common import ApiError

from .. import lookup
from ..state import get_cache, get_import_log
from ..words import bin_label, today

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_DAYS = 366
# Dates outside these are refused: far from any bin day, and the default "to"
# (8 weeks after "from") must not run past the year 9999.
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)


@bp.get("/addresses")
def addresses():
    text = request.args.get("postcode", "")
    if not text.strip():
        raise ApiError(400, "postcode_required", "Give a postcode, e.g. ?postcode=LS5 3DH.")
    try:
        postcode = normalise(text[:40])
    except InvalidPostcode as exc:
        raise ApiError(400, "invalid_postcode", str(exc)) from None
    body = get_cache().get_or_render(
        ("api-addresses", postcode, get_import_log().serving().version),
        lambda: json.dumps(
            {
                "postcode": postcode,
                "addresses": [p.to_dict() for p in lookup.addresses(current_app, postcode)],
            }
        ),
    )
    return current_app.response_class(body, mimetype="application/json")


def _date(name: str) -> date | None:
    """``?name=`` as a date between EARLIEST and LATEST; None when absent."""
    text = request.args.get(name)
    if not text:
        return None
    try:
        day = date.fromisoformat(text[:10]) if len(text) == 10 else date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or not EARLIEST <= day <= LATEST:
        raise ApiError(
            400,
            "invalid_date",
            f"'{name}' must be a date between {EARLIEST} and {LATEST}, like 2025-07-04.",
        )
    return day


@bp.get("/premises/<int:premises_id>/collections")
def collections(premises_id: int) -> Response:
    place = lookup.premises(current_app, premises_id)
    if place is None:
        raise ApiError(404, "premises_not_found", f"No premises with id {premises_id}.")
    start = _date("from") or today()
    end = _date("to") or start + timedelta(weeks=8)
    if end < start:
        raise ApiError(400, "invalid_range", "'to' must not be before 'from'.")
    if (end - start).days > MAX_DAYS:
        raise ApiError(400, "range_too_long", f"Ask for at most {MAX_DAYS} days at a time.")
    rows = lookup.collections(current_app, premises_id, start, end)
    return jsonify(
        {
            "premises": place.to_dict(),
            "from": start.isoformat(),
            "to": end.isoformat(),
            "collections": [
                {"date": d.isoformat(), "bin": b, "label": bin_label(b)} for d, b in rows
            ],
        }
    )
