"""The JSON API: ``/api/area/<postcode>``, the figures of the area page. One error shape."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from civickit.errors import InvalidPostcode, PostcodeNotFound
from civickit.postcodes import normalise
from examples.common import ApiError

from .. import area
from ..upstream import Location, UpstreamFailed, terminated_words
from .shared import cached, count_area_request, locate, radius_arg

bp = Blueprint("api", __name__, url_prefix="/api")


def _body(where: Location, radius: int) -> bytes:
    """The area's JSON; NaN or infinity (which JSON has not) would come out as null."""
    report = area.public(area.report(current_app, where, radius, with_map=False))
    try:
        text = current_app.json.dumps(report, allow_nan=False)
    except ValueError:
        text = current_app.json.dumps(area.finite(report))
    return (text + "\n").encode()


@bp.get("/area/<postcode>")
def area_json(postcode: str) -> Response:
    count_area_request()
    radius = radius_arg()
    try:
        canonical = normalise(postcode)
    except InvalidPostcode as exc:
        raise ApiError(400, "invalid_postcode", str(exc)) from exc
    try:
        where = locate(canonical)
    except PostcodeNotFound as exc:
        code = "postcode_terminated" if exc.terminated else "postcode_not_found"
        raise ApiError(404, code, terminated_words(exc)) from exc
    except UpstreamFailed as failure:
        raise ApiError(503, failure.code, failure.message) from failure
    body = cached("api", where, radius, lambda: _body(where, radius))
    return current_app.response_class(body, mimetype="application/json")
