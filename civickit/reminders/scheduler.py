"""The one scheduler process: APScheduler 3 with its jobs kept in your database.

:func:`make_scheduler` builds it; :func:`add_job` registers a job so that
restarts neither duplicate it nor lose a run that was due while the process
was down.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, overload

import sqlalchemy as sa

from ..db import make_engine
from ..errors import InvalidArgument

if TYPE_CHECKING:
    from apscheduler.job import Job
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.base import BaseScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.base import BaseTrigger

__all__ = ["add_job", "make_scheduler"]


@overload
def make_scheduler(
    db_url: str,
    *,
    timezone: str = ...,
    jobstore_table: str = ...,
    misfire_grace_time: timedelta | int = ...,
    max_workers: int = ...,
    blocking: Literal[True] = ...,
) -> BlockingScheduler: ...


@overload
def make_scheduler(
    db_url: str,
    *,
    timezone: str = ...,
    jobstore_table: str = ...,
    misfire_grace_time: timedelta | int = ...,
    max_workers: int = ...,
    blocking: Literal[False],
) -> BackgroundScheduler: ...


@overload
def make_scheduler(
    db_url: str,
    *,
    timezone: str = ...,
    jobstore_table: str = ...,
    misfire_grace_time: timedelta | int = ...,
    max_workers: int = ...,
    blocking: bool,
) -> BaseScheduler: ...


def make_scheduler(
    db_url: str,
    *,
    timezone: str = "Europe/London",
    jobstore_table: str = "civickit_apscheduler_jobs",
    misfire_grace_time: timedelta | int = timedelta(hours=6),
    max_workers: int = 4,
    blocking: bool = True,
) -> BaseScheduler:
    """The one scheduler process: APScheduler 3 with its jobs kept in ``db_url``.

    Jobs persist in ``jobstore_table`` and run on a thread pool in
    ``timezone`` (never the host's, which is UTC in most containers). Every job
    defaults to ``coalesce=True`` (runs missed while the process was down
    collapse into one), a ``misfire_grace_time`` of hours (a run up to that late
    still happens; APScheduler's own default of one second silently skips it)
    and ``max_instances=1``. Returns a ``BlockingScheduler`` (``start()`` runs
    until stopped), or a ``BackgroundScheduler`` with ``blocking=False``.

    Run exactly one such process per job store: APScheduler 3 cannot share a
    store between processes, so never start it inside web workers. Register
    jobs with :func:`civickit.reminders.add_job` (also ``civickit.add_job``).
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    grace = misfire_grace_time
    if isinstance(grace, timedelta):
        grace = int(grace.total_seconds())
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler: BaseScheduler = cls(
        jobstores={
            "default": SQLAlchemyJobStore(engine=make_engine(db_url), tablename=jobstore_table)
        },
        executors={"default": ThreadPoolExecutor(max_workers)},
        job_defaults={"coalesce": True, "misfire_grace_time": grace, "max_instances": 1},
        timezone=timezone,
    )
    return scheduler


def add_job(
    scheduler: BaseScheduler,
    func_ref: str,
    trigger: BaseTrigger | str | None,
    *,
    id: str,
    jobstore: str = "default",
    **kw: object,
) -> Job:
    """Register a persistent job so that restarts neither copy it nor drop a missed run.

    ``func_ref`` is the textual ``"package.module:function"`` (what the job
    store can save); ``id`` is required and the job replaces any stored one of
    that id (``replace_existing=True``), so every start-up can call this. If the
    stored job's next run fell while the process was down, that run is kept,
    so on start-up it fires once (coalesced) when within the misfire grace;
    a plain ``replace_existing`` would recompute it from now and skip it.
    ``trigger`` is an APScheduler trigger, or the name of one (``"cron"``) with
    its fields in ``kw``. ``kw`` goes to ``scheduler.add_job`` (``args``,
    ``kwargs``, ``name``...); keep arguments primitive, since they are pickled.
    """
    if not isinstance(func_ref, str) or ":" not in func_ref:
        raise InvalidArgument(
            f"func_ref must be a textual reference like 'package.module:function', "
            f"not {func_ref!r}: the job store saves the reference, not the function"
        )
    if "next_run_time" not in kw:
        missed = _missed_run_time(scheduler, jobstore, id)
        if missed is not None:
            kw["next_run_time"] = missed
    job: Job = scheduler.add_job(
        func_ref, trigger, id=id, jobstore=jobstore, replace_existing=True, **kw
    )
    return job


def _missed_run_time(scheduler: BaseScheduler, jobstore: str, job_id: str) -> datetime | None:
    """The stored next run time of ``job_id`` if it is already past, else None."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    # The scheduler may not be started, so its job stores cannot unpickle jobs
    # yet; the next run time is a plain column we can read directly.
    store = scheduler._jobstores.get(jobstore)
    if not isinstance(store, SQLAlchemyJobStore):
        return None
    if not sa.inspect(store.engine).has_table(store.jobs_t.name, schema=store.jobs_t.schema):
        return None
    query = sa.select(store.jobs_t.c.next_run_time).where(store.jobs_t.c.id == job_id)
    with store.engine.connect() as conn:
        stamp = conn.execute(query).scalar()
    if stamp is None:
        return None
    when = datetime.fromtimestamp(stamp, UTC)
    return when if when < datetime.now(UTC) else None
