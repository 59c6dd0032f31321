"""``flask --app examples.leeds_bins bins ...``: import data, run the scheduler, send reminders."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, ScriptInfo

from civickit.cli import FilePath
from civickit.sms import mask_phone
from civickit.stopping import StopSignals
from examples.common import ImportFailed, ImportReport
from examples.common.console import ProgressBar, import_failed, print_json, print_report

from . import importer, jobs, sample_projection, sending, state
from .models import utcnow
from .words import LONDON, today

bins = AppGroup(
    "bins",
    help="Leeds bin data, text reminders and the scheduler.",
    context_settings={"help_option_names": ["-h", "--help"]},  # as `civickit -h`
)


def init_app(app: Flask) -> None:
    app.cli.add_command(bins)


def _app() -> Flask:
    """The app this command runs in: the object itself, for threads outside its context."""
    app: Flask = click.get_current_context().ensure_object(ScriptInfo).load_app()
    return app


@bins.command("import")
@click.argument("premises", required=False, type=FilePath(dir_okay=False, path_type=Path))
@click.argument(
    "jobs_file", metavar="JOBS", required=False, type=FilePath(dir_okay=False, path_type=Path)
)
@click.option(
    "--from-portal",
    is_flag=True,
    help="Download dm_premises.csv and dm_jobs.csv from Data Mill North (only when they changed).",
)
@click.option(
    "--force", is_flag=True, help="With --from-portal: import even if the files have not changed."
)
@click.option(
    "--allow-shrink", is_flag=True, help="Accept files much smaller than the data serving now."
)
@click.option(
    "--max-bad-rows",
    type=int,
    default=1000,
    show_default=True,
    help="Refuse the import beyond this many bad rows.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_command(premises, jobs_file, from_portal, force, allow_shrink, max_bad_rows, as_json):
    """Import Leeds bin data from PREMISES and JOBS files, or --from-portal.

    The new data replaces the old in one transaction: if anything is wrong
    (too many bad rows, a file cut off, a failed download) the old data keeps
    serving and the reason is printed.
    """
    if from_portal == bool(premises or jobs_file):
        raise click.UsageError("Give either --from-portal or both PREMISES and JOBS files.")
    if not from_portal and not (premises and jobs_file):
        raise click.UsageError("Give both PREMISES and JOBS files.")
    engine = state.get_engine()
    kwargs = {"allow_shrink": allow_shrink, "max_bad_rows": max_bad_rows}
    report: ImportReport
    with ProgressBar(enabled=not as_json) as progress:
        try:
            if from_portal:
                report = importer.import_from_portal(
                    engine,
                    current_app.config["DOWNLOAD_DIR"],
                    http_cache=current_app.config["REDIS_URL"],
                    force=force,
                    progress=progress,
                    **kwargs,
                )
            else:
                report = importer.import_files(
                    engine, premises, jobs_file, progress=progress, **kwargs
                )
        except ImportFailed as exc:
            report = exc.report
    state.get_import_log().forget()
    if as_json:
        print_json(report)
    else:
        print_report(report)
    if not report.ok:
        raise import_failed()


@bins.command("demo-data")
@click.option(
    "--if-needed", is_flag=True, help="Only when there is no data or the sample's dates run out."
)
def demo_data(if_needed):
    """Load the bundled sample, with its dates projected forward from today."""
    engine = state.get_engine()
    day = today()
    if if_needed and not sample_projection.needs_refresh(engine, day):
        click.echo("Data already loaded; nothing to do.")
        return
    try:
        report = sample_projection.load(engine, Path(current_app.config["SAMPLE_DIR"]), day)
    except ImportFailed as exc:
        print_report(exc.report)
        raise import_failed() from exc
    state.get_import_log().forget()
    print_report(report)


@bins.command("send-due")
@click.option("--dry-run", is_flag=True, help="Show what would be sent, send nothing.")
def send_due(dry_run):
    """Plan tonight's reminders (in the evening window) and send what is due now."""
    app = _app()
    now = utcnow()
    if dry_run:
        day, rows = sending.reminders_due(app, now)
        due = state.get_outbox(app).due(now)
        if day is None and not due:
            click.echo(
                f"Nothing due: reminders go out from {app.config['REMINDER_TIME']} "
                f"to {sending.LATEST_SEND:%H:%M} (Europe/London) the evening before."
            )
            return
        already = {(r.subscription_id, r.due_date) for r in due}
        for r in due:
            click.echo(f"would send (planned) to {mask_phone(r.recipient)}: {r.body}")
        for reminder in rows:
            if (str(reminder.subscription_id), reminder.due_date) not in already:
                click.echo(f"would send to {mask_phone(reminder.recipient)}: {reminder.body}")
        return
    planned = sending.plan(app, now)
    # SIGTERM or Ctrl-C: the message in hand is finished, the rest wait for the next run
    with StopSignals() as stop:
        report = sending.dispatch(app, now, should_stop=lambda: stop.requested)
    click.echo(json.dumps({"planned": planned, **report.to_dict()}))


@bins.command("scheduler")
def scheduler_command():
    """Run the one scheduler process: plan, dispatch every minute, refresh data daily."""
    from civickit.reminders import make_scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    app = _app()
    jobs.use_app(app)
    config = app.config
    # Jobs run on the scheduler's threads; this (main) thread only waits for a
    # stop. A service manager's SIGTERM ends it as cleanly as Ctrl-C, and a
    # stop that lands while something is starting up is still seen.
    with StopSignals() as stop:
        scheduler = make_scheduler(config["DATABASE_URL"], timezone="Europe/London", blocking=False)
        register_jobs(scheduler, config)
        jobs.beat_job()
        if not stop.requested:
            scheduler.start()
            click.echo(
                f"Scheduler running: reminders from {config['REMINDER_TIME']} the evening "
                f"before, data refresh at {config['REFRESH_TIME']} (Europe/London). "
                "Ctrl-C stops it."
            )
            stop.wait()
            click.echo("Stopping the scheduler: letting running jobs finish...")
            jobs.stopping.set()  # a dispatch in progress gives back what it has not sent
            scheduler.shutdown(wait=True)
    click.echo("Scheduler stopped.")


def register_jobs(scheduler: Any, config: Mapping[str, Any]) -> list[Any]:
    """Add the five jobs (by textual reference, fixed ids) to ``scheduler``."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    from civickit.reminders import add_job

    plan_at = sending.parse_time(config["REMINDER_TIME"])
    refresh_at = sending.parse_time(config["REFRESH_TIME"])
    return [
        add_job(
            scheduler,
            "examples.leeds_bins.jobs:plan_job",
            CronTrigger(hour=plan_at.hour, minute=plan_at.minute, timezone=LONDON),
            id="leeds_bins.plan",
            name="plan tomorrow's reminders",
        ),
        add_job(
            scheduler,
            "examples.leeds_bins.jobs:dispatch_job",
            IntervalTrigger(minutes=1, timezone=LONDON),
            id="leeds_bins.dispatch",
            name="send due reminders",
        ),
        add_job(
            scheduler,
            "examples.leeds_bins.jobs:refresh_job",
            CronTrigger(hour=refresh_at.hour, minute=refresh_at.minute, timezone=LONDON),
            id="leeds_bins.refresh",
            name="refresh bin data",
        ),
        add_job(
            scheduler,
            "examples.leeds_bins.jobs:retention_job",
            CronTrigger(hour=3, minute=15, timezone=LONDON),
            id="leeds_bins.retention",
            name="forget numbers and texts kept long enough",
        ),
        add_job(
            scheduler,
            "examples.leeds_bins.jobs:beat_job",
            IntervalTrigger(minutes=1, timezone=LONDON),
            id="leeds_bins.heartbeat",
            name="heartbeat",
            next_run_time=datetime.now(LONDON),
        ),
    ]
