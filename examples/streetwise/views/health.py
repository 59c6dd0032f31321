"""Liveness (/healthz) and readiness (/readyz) for load balancers and monitoring."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify

from examples.common.web import readiness

from ..state import get_import_log

bp = Blueprint("health", __name__)

#: What the pages cannot do without (postcodes fall back to postcodes.io; crime is live).
NEEDED = ("collisions", "hospitals")


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up (no I/O)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Ready to serve: the database answers and holds collisions and hospitals.

    The checks' detail only with the ``READYZ_TOKEN`` (see :func:`readiness`).
    """
    checks: dict[str, dict[str, Any]] = {}
    try:
        serving = get_import_log().serving(fresh=True)
    except sa.exc.SQLAlchemyError as exc:
        checks["database"] = {
            "ok": False,
            "message": f"database unreachable ({exc.__class__.__name__})",
        }
        return readiness(checks)
    checks["database"] = {"ok": True}
    checks["data"] = serving.check(
        NEEDED,
        how_to_import="`flask --app examples.streetwise sw import --sample` (or --from-portal)",
    )
    return readiness(checks)
