"""The JSON endpoint: ``/api/near?postcode=...``."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

import civickit

from ..near import rows_near
from ..state import get_index, get_postcodes

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/near")
def near() -> ResponseReturnValue:
    """The rows near ``?postcode=``; ``{"error": "..."}`` and 400 for bad input."""
    text = request.args.get("postcode", "")
    try:
        return jsonify(rows_near(text, get_postcodes(), get_index(), current_app.config))
    except civickit.CivicKitError as exc:
        return jsonify({"error": str(exc)}), 400
