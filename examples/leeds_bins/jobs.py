"""The scheduler's jobs, referenced by text (``examples.leeds_bins.jobs:plan_job``).

APScheduler keeps jobs in the database by reference, so these are plain
module functions with no arguments. They run against the app the ``bins
scheduler`` command built and handed to :func:`use_app`, and read the time from
the one clock, the system's, as the scheduler's triggers do: tests set that
clock (time-machine) and call these very functions, never a variant of them.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from flask import Flask

from civickit.reminders import heartbeat

from . import importer, retention, sample_projection, sending, state
from .models import utcnow
from .words import today

log = logging.getLogger(__name__)

HEARTBEAT = "leeds_bins.scheduler"
_app: Flask | None = None
# Set by `bins scheduler` when it is asked to stop: a dispatch in progress then
# sends no further message and gives the rest back (see sending.dispatch).
stopping = threading.Event()


def use_app(app: Flask | None) -> None:
    """Make the jobs in this process run against ``app``."""
    global _app
    _app = app


def _current() -> Flask:
    # (the app is handed in, not made here: the factory imports this module's command)
    if _app is None:
        raise RuntimeError(
            "the leeds_bins jobs run in `flask --app examples.leeds_bins bins scheduler`, "
            "which hands them its app (jobs.use_app)"
        )
    return _app


def plan_job() -> int:
    """Plan tomorrow's reminders (idempotent; does nothing outside the evening window)."""
    return sending.plan(_current(), utcnow())


def dispatch_job() -> dict[str, int]:
    """Send whatever is due; also plans, so a late start still reminds people tonight."""
    app = _current()
    now = utcnow()
    sending.plan(app, now)
    report = sending.dispatch(app, now, should_stop=stopping.is_set)
    if report.claimed:
        log.info("dispatch: %s", report.to_dict())
    return report.to_dict()


def retention_job() -> dict[str, int]:
    """Forget the phone numbers and texts kept long enough (see retention.py)."""
    forgotten = retention.forget_old_numbers(_current(), utcnow())
    if any(forgotten.values()):
        log.info("retention: deleted %s", forgotten)
    return forgotten


def refresh_job() -> str:
    """Daily data refresh: the portal for real data; a re-projection for the sample."""
    app = _current()
    engine = state.get_engine(app)
    serving = importer.serving(engine)
    day = today()
    try:
        if serving is None or serving.is_sample:
            if not sample_projection.needs_refresh(engine, day):
                return "sample still current"
            report = sample_projection.load(engine, Path(app.config["SAMPLE_DIR"]), day)
        else:
            report = importer.import_from_portal(
                engine, app.config["DOWNLOAD_DIR"], http_cache=app.config["REDIS_URL"]
            )
    except importer.ImportFailed as exc:
        log.error("data refresh failed, previous data still serving: %s", exc.report.message)
        return f"failed: {exc.report.message}"
    state.get_import_log(app).forget()
    log.info("data refresh: %s", report.message)
    return report.message


def beat_job() -> None:
    """Tell /readyz the scheduler is alive."""
    heartbeat(_current().config["DATABASE_URL"], HEARTBEAT)
