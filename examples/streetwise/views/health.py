"""Liveness (/healthz) for load balancers and monitoring."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify

from ..state import get_engine

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up and the database answers."""
    with get_engine().connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    return jsonify({"status": "ok"})
