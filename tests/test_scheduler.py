"""The one scheduler process: jobs survive restarts once, and a missed run runs once."""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from civickit.reminders import add_job, heartbeat, make_scheduler, read_heartbeat

JOB = "civickit.reminders:heartbeat"
JOBS_TABLE = "civickit_apscheduler_jobs"


@pytest.fixture
def urls(tmp_path: Path) -> tuple[str, str]:
    """The job store's database, and another one the job writes its heartbeat to."""
    return f"sqlite:///{tmp_path / 'jobs.db'}", f"sqlite:///{tmp_path / 'beats.db'}"


@pytest.fixture
def schedulers() -> Iterator[Callable[..., BackgroundScheduler]]:
    """Make schedulers as the app would (non-blocking here), shut down after the test."""
    made: list[BackgroundScheduler] = []

    def make(db_url: str, **kw: object) -> BackgroundScheduler:
        scheduler = make_scheduler(db_url, blocking=False, **kw)
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        if scheduler.running:
            scheduler.shutdown()


def stored_jobs(db_url: str) -> list[tuple[str, float | None]]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT id, next_run_time FROM {JOBS_TABLE}")).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def rewind(db_url: str, job_id: str, when: datetime) -> None:
    """Make the stored job due at ``when``, as if the process had been down since before it.

    (Setting it through a running scheduler would not do: on shutdown APScheduler
    3 makes one last pass that advances a due job without running it.)
    """
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        state = pickle.loads(
            conn.execute(
                sa.text(f"SELECT job_state FROM {JOBS_TABLE} WHERE id = :id"), {"id": job_id}
            ).scalar_one()
        )
        state["next_run_time"] = when
        conn.execute(
            sa.text(
                f"UPDATE {JOBS_TABLE} SET job_state = :state, next_run_time = :at WHERE id = :id"
            ),
            {"state": pickle.dumps(state), "at": when.timestamp(), "id": job_id},
        )
    engine.dispose()


def wait_until(condition: Callable[[], object], seconds: float = 10.0) -> None:
    """Poll briefly; the limit is only there to turn a hang into a failure."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the scheduler"
        time.sleep(0.02)


def test_make_scheduler_defaults(urls: tuple[str, str]) -> None:
    scheduler = make_scheduler(urls[0])
    assert isinstance(scheduler, BlockingScheduler)
    assert str(scheduler.timezone) == "Europe/London"
    assert scheduler._job_defaults == {
        "coalesce": True,
        "misfire_grace_time": 6 * 3600,
        "max_instances": 1,
    }


def test_a_job_added_at_every_start_exists_once(urls: tuple[str, str], schedulers) -> None:
    jobs_url, beats_url = urls
    for _restart in range(2):
        scheduler = schedulers(jobs_url)
        add_job(scheduler, JOB, "cron", hour=18, id="heartbeat", args=[beats_url])
        scheduler.start(paused=True)
        assert [job.id for job in scheduler.get_jobs()] == ["heartbeat"]
        scheduler.shutdown()
    assert [job_id for job_id, _ in stored_jobs(jobs_url)] == ["heartbeat"]


def test_a_run_missed_while_down_runs_once_on_start(urls: tuple[str, str], schedulers) -> None:
    jobs_url, beats_url = urls
    first = schedulers(jobs_url)
    add_job(first, JOB, "interval", hours=1, id="heartbeat", args=[beats_url])
    first.start(paused=True)
    first.shutdown()
    # the process went down three and a half hours ago: four hourly runs were missed
    rewind(jobs_url, "heartbeat", datetime.now(UTC) - timedelta(hours=3.5))
    assert read_heartbeat(beats_url) is None

    second = schedulers(jobs_url)
    add_job(second, JOB, "interval", hours=1, id="heartbeat", args=[beats_url])
    ran: list[object] = []
    second.add_listener(ran.append, EVENT_JOB_EXECUTED)
    second.start()
    wait_until(lambda: ran)
    second.shutdown(wait=True)
    beat = read_heartbeat(beats_url)
    assert beat is not None and beat.runs == 1  # coalesced: once, not four times
    [(_, next_run)] = stored_jobs(jobs_url)
    assert next_run > time.time()


def test_a_run_missed_beyond_the_grace_is_skipped(urls: tuple[str, str], schedulers) -> None:
    jobs_url, beats_url = urls
    first = schedulers(jobs_url, misfire_grace_time=timedelta(hours=6))
    add_job(first, JOB, "interval", days=1, id="heartbeat", args=[beats_url])
    first.start(paused=True)
    first.shutdown()
    rewind(jobs_url, "heartbeat", datetime.now(UTC) - timedelta(hours=8))

    second = schedulers(jobs_url, misfire_grace_time=timedelta(hours=6))
    add_job(second, JOB, "interval", days=1, id="heartbeat", args=[beats_url])
    missed: list[object] = []
    second.add_listener(missed.append, EVENT_JOB_MISSED)
    second.start()
    wait_until(lambda: missed)
    second.shutdown(wait=True)
    assert read_heartbeat(beats_url) is None


def test_add_job_wants_a_textual_reference(urls: tuple[str, str]) -> None:
    scheduler = make_scheduler(urls[0])
    with pytest.raises(ValueError, match="module:function"):
        add_job(scheduler, heartbeat, "interval", minutes=1, id="heartbeat")
    with pytest.raises(TypeError):
        add_job(scheduler, JOB, "interval", minutes=1)  # no id: refused


def test_heartbeat_records_when_and_how_often(urls: tuple[str, str]) -> None:
    _, beats_url = urls
    assert read_heartbeat(beats_url) is None
    first = datetime(2026, 1, 5, 18, 0, tzinfo=UTC)
    heartbeat(beats_url, now=first)
    heartbeat(beats_url, now=first + timedelta(minutes=1))
    heartbeat(beats_url, "dispatcher", now=first)
    beat = read_heartbeat(beats_url)
    assert (beat.at, beat.runs) == (first + timedelta(minutes=1), 2)
    assert read_heartbeat(beats_url, "dispatcher").runs == 1
