"""Liveness (/healthz) and readiness (/readyz) for load balancers and monitoring."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from civickit.reminders import read_heartbeat
from examples.common.web import readiness

from .. import importer
from ..models import utcnow
from ..state import get_engine, get_import_log

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up (no I/O)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready to serve: the database answers, the data is fresh, the scheduler is alive.

    The checks' detail only with the ``READYZ_TOKEN`` (see :func:`readiness`).
    """
    config = current_app.config
    engine = get_engine()
    now = utcnow()
    checks: dict[str, dict] = {}
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:
        checks["database"] = {
            "ok": False,
            "message": f"database unreachable ({exc.__class__.__name__})",
        }
        return readiness(checks)

    checks["data"] = (
        get_import_log()
        .serving(fresh=True)
        .check(
            [importer.KIND],
            how_to_import="`flask --app examples.leeds_bins bins import --from-portal`",
            max_age=timedelta(hours=config["DATA_MAX_AGE_HOURS"]),
            now=now,
        )
    )

    if config["READYZ_REQUIRE_SCHEDULER"]:
        beat = read_heartbeat(engine, "leeds_bins.scheduler")
        limit = timedelta(minutes=config["HEARTBEAT_MAX_AGE_MINUTES"])
        if beat is None:
            checks["scheduler"] = {
                "ok": False,
                "message": "the scheduler has never run: start `flask bins scheduler`",
            }
        else:
            age = now - beat.at
            checks["scheduler"] = {
                "ok": age <= limit,
                "last_beat": beat.at.isoformat(),
                "age_seconds": int(age.total_seconds()),
            }
            if age > limit:
                checks["scheduler"]["message"] = "no scheduler heartbeat for too long"
    return readiness(checks)
