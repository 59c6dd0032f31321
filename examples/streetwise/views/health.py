"""Liveness (/healthz) and readiness (/readyz) for load balancers and monitoring."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify

from examples.common.web import readiness

from ..models import DataMeta
from ..state import get_engine

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
        with get_engine().connect() as conn:
            loaded = conn.execute(
                sa.select(DataMeta.source, DataMeta.imported_at, DataMeta.rows, DataMeta.is_sample)
            ).all()
    except sa.exc.SQLAlchemyError as exc:
        checks["database"] = {
            "ok": False,
            "message": f"database unreachable ({exc.__class__.__name__})",
        }
        return readiness(checks)
    checks["database"] = {"ok": True}
    data: dict[str, Any] = {
        row.source: {
            "imported_at": row.imported_at.isoformat(),
            "rows": row.rows,
            "sample": bool(row.is_sample),
        }
        for row in loaded
    }
    missing = [name for name in NEEDED if name not in data]
    data["ok"] = not missing
    if missing:
        data["message"] = (
            f"no {' or '.join(missing)} loaded yet: run `flask --app examples.streetwise "
            "sw import --sample` (or --from-portal)"
        )
    checks["data"] = data
    return readiness(checks)
