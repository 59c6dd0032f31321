"""The SMS outbox: planned once, sent at most once, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from civickit.errors import SMSError
from civickit.reminders import DispatchReport, Outbox, OutboxRow, Reminder, make_engine
from civickit.sms import MemorySender

ROOT = Path(__file__).parent.parent
WORKER = Path(__file__).parent / "_outbox_worker.py"
NOW = datetime(2026, 1, 5, 18, 0, tzinfo=UTC)
TOMORROW = date(2026, 1, 6)
OPTED_OUT = SMSError(21610, True, "Attempt to send to unsubscribed recipient")
TOO_MANY = SMSError(20429, False, "Too Many Requests")
TIMED_OUT = SMSError(None, False, "read timed out after sending", ambiguous=True)


@dataclass
class DB:
    url: str
    engine: sa.Engine
    table: str


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DB]:
    """An empty database of each kind, with a table name of its own (the server is shared)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'outbox.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    table = f"test_outbox_{uuid.uuid4().hex[:10]}"
    engine = make_engine(url)
    yield DB(url, engine, table)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()


@pytest.fixture
def outbox(db: DB) -> Outbox:
    return Outbox(db.engine, table_name=db.table)


def number(i: int) -> str:
    return f"+44770090{i:04d}"


def reminders(n: int, start: int = 0) -> list[Reminder]:
    return [
        Reminder(i, TOMORROW, number(i), f"Bins tomorrow ({i})") for i in range(start, start + n)
    ]


def drain(outbox: Outbox, sender: object, now: datetime = NOW, **kw: object) -> DispatchReport:
    """Dispatch until nothing is due; return the summed report."""
    total = DispatchReport()
    while True:
        report = outbox.dispatch(sender, now=now, **kw)
        for name, value in report.to_dict().items():
            setattr(total, name, getattr(total, name) + value)
        if not report.claimed:
            return total


# -- planning -----------------------------------------------------------------------


def test_replanning_creates_no_duplicates(outbox: Outbox, db: DB) -> None:
    assert outbox.plan(reminders(50), now=NOW) == 50
    assert outbox.plan(reminders(60), now=NOW) == 10  # only the ten new ones
    assert outbox.plan(reminders(60), now=NOW) == 0
    with db.engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {db.table}")).scalar() == 60


def test_replanning_leaves_sent_rows_alone(outbox: Outbox) -> None:
    sender = MemorySender()
    outbox.plan(reminders(3), now=NOW)
    drain(outbox, sender)
    assert outbox.plan(reminders(3), now=NOW + timedelta(hours=1)) == 0
    assert outbox.counts()["sent"] == 3
    assert drain(outbox, sender, now=NOW + timedelta(days=1)).claimed == 0
    assert len(sender.sent) == 3


def test_plan_takes_dicts_and_a_channel_per_row(outbox: Outbox) -> None:
    row = {"subscription_id": 7, "due_date": TOMORROW, "recipient": number(7), "body": "Hi"}
    assert outbox.plan([row, {**row, "channel": "email"}, row], now=NOW) == 2
    planned = outbox.get(7, TOMORROW)
    assert planned is not None
    assert (planned.subscription_id, planned.status, planned.not_before) == ("7", "pending", NOW)
    with pytest.raises(ValueError, match="recipient"):
        outbox.plan([{"subscription_id": 1, "due_date": TOMORROW, "body": "x"}])


def test_send_after_holds_a_row_back(outbox: Outbox) -> None:
    evening = NOW + timedelta(hours=1)
    outbox.plan([Reminder(1, TOMORROW, number(1), "Bins", send_after=evening)], now=NOW)
    assert outbox.due(NOW) == []
    assert outbox.pending() == 1 and outbox.pending(NOW) == 0
    sender = MemorySender()
    assert outbox.dispatch(sender, now=NOW).claimed == 0
    assert [r.recipient for r in outbox.due(evening)] == [number(1)]
    assert outbox.dispatch(sender, now=evening).sent == 1


def test_times_must_be_timezone_aware(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="aware"):
        outbox.dispatch(MemorySender(), now=datetime(2026, 1, 5, 18))
    with pytest.raises(ValueError, match="aware"):
        outbox.plan([Reminder(1, TOMORROW, "+447700900001", "x", send_after=datetime(2026, 1, 5))])


# -- sending ------------------------------------------------------------------------


def test_dispatch_sends_each_due_row_once(outbox: Outbox) -> None:
    outbox.plan(reminders(250), now=NOW)
    sender = MemorySender()
    first = outbox.dispatch(sender, now=NOW, batch=100)
    assert (first.claimed, first.sent) == (100, 100)
    total = drain(outbox, sender, batch=100)
    assert total.sent == 150
    assert sorted(m.to for m in sender.sent) == sorted(number(i) for i in range(250))
    assert outbox.counts()["sent"] == 250
    row = outbox.get(0, TOMORROW)
    assert row is not None and row.provider_id == sender.messages_to(number(0))[0].sid


def test_stop_between_planning_and_sending_prevents_the_send(outbox: Outbox) -> None:
    subscribed = {"1": True, "2": True, "3": True}
    outbox.plan(reminders(3, start=1), now=NOW)
    subscribed["2"] = False  # the STOP webhook lands after planning
    sender = MemorySender()
    report = drain(outbox, sender, consent=lambda row: subscribed[row.subscription_id])
    assert (report.sent, report.skipped) == (2, 1)
    assert [m.to for m in sender.sent] == [number(1), number(3)]
    assert outbox.get(2, TOMORROW).status == "skipped"
    # skipped is final: a START later does not resend yesterday's reminder
    subscribed["2"] = True
    drain(outbox, sender, now=NOW + timedelta(hours=2), consent=lambda row: True)
    assert not sender.messages_to(number(2))


def test_permanent_failure_fails_the_row_and_calls_the_hook_once(outbox: Outbox) -> None:
    outbox.plan(reminders(3), now=NOW)
    sender = MemorySender()
    sender.fail_for(number(1), OPTED_OUT)
    calls: list[tuple[OutboxRow, SMSError]] = []
    report = drain(outbox, sender, on_permanent_failure=lambda row, e: calls.append((row, e)))
    assert (report.sent, report.failed) == (2, 1)
    assert [(row.recipient, error.code) for row, error in calls] == [(number(1), 21610)]
    failed = outbox.get(1, TOMORROW)
    assert (failed.status, failed.error_code, failed.attempts) == ("failed", "21610", 1)
    hook = lambda row, e: calls.append((row, e))  # noqa: E731
    drain(outbox, sender, now=NOW + timedelta(days=1), on_permanent_failure=hook)
    assert len(calls) == 1


def test_transient_failure_retries_with_backoff_then_sends(outbox: Outbox) -> None:
    outbox.plan(reminders(1), now=NOW)
    sender = MemorySender()
    sender.fail_next(TOO_MANY, times=2)
    assert outbox.dispatch(sender, now=NOW).retried == 1
    row = outbox.get(0, TOMORROW)
    assert (row.status, row.attempts, row.error_code) == ("retry", 1, "20429")
    assert row.not_before == NOW + timedelta(minutes=1)
    assert outbox.dispatch(sender, now=NOW + timedelta(seconds=59)).claimed == 0  # backing off
    later = NOW + timedelta(minutes=1)
    assert outbox.dispatch(sender, now=later).retried == 1
    assert outbox.get(0, TOMORROW).not_before == later + timedelta(minutes=2)  # doubled
    assert outbox.dispatch(sender, now=later + timedelta(minutes=2)).sent == 1
    row = outbox.get(0, TOMORROW)
    assert (row.status, row.attempts) == ("sent", 3)
    assert len(sender.sent) == 1


def test_transient_failures_give_up_after_max_attempts(outbox: Outbox) -> None:
    outbox.plan(reminders(1), now=NOW)
    sender = MemorySender()
    sender.fail_next(TOO_MANY, times=10)
    hooked: list[object] = []
    for minute in range(0, 600, 60):
        outbox.dispatch(
            sender,
            now=NOW + timedelta(minutes=minute),
            max_attempts=3,
            on_permanent_failure=lambda row, e: hooked.append(e),
        )
    row = outbox.get(0, TOMORROW)
    assert (row.status, row.attempts) == ("failed", 3)
    assert hooked == []  # giving up is not an opt-out
    assert not sender.sent


def test_ambiguous_failure_is_unknown_and_never_resent(outbox: Outbox) -> None:
    outbox.plan(reminders(2), now=NOW)
    sender = MemorySender()
    sender.fail_next(TIMED_OUT)  # Twilio accepted it, then the answer was lost
    report = drain(outbox, sender)
    assert (report.unknown, report.sent) == (1, 1)
    for day in range(1, 4):
        drain(outbox, sender, now=NOW + timedelta(days=day))
    assert Counter(m.to for m in sender.sent) == {number(0): 1, number(1): 1}
    assert outbox.get(0, TOMORROW).status == "unknown"


def test_reconcile_settles_unknown_rows(outbox: Outbox) -> None:
    outbox.plan(reminders(3), now=NOW)
    sender = MemorySender()
    sender.fail_next(TIMED_OUT, times=3, delivered=False)
    assert drain(outbox, sender).unknown == 3
    answers = {number(0): "sent", number(1): "not_sent", number(2): None}
    asked: list[str] = []

    def lookup(row: OutboxRow) -> str | None:
        asked.append(row.recipient)
        return answers[row.recipient]

    assert outbox.reconcile(lookup, now=NOW + timedelta(minutes=5)) == 2
    assert sorted(asked) == sorted(answers)
    statuses = {r.recipient: r.status for r in outbox.rows()}
    assert statuses == {number(0): "sent", number(1): "pending", number(2): "unknown"}
    assert drain(outbox, sender, now=NOW + timedelta(minutes=5)).sent == 1
    assert [m.to for m in sender.sent] == [number(1)]
    with pytest.raises(ValueError, match="not_sent"):
        outbox.reconcile(lambda row: "maybe")


def test_an_unexpected_error_marks_that_row_unknown_and_releases_the_rest(outbox: Outbox) -> None:
    outbox.plan(reminders(5), now=NOW)

    class Broken:
        calls = 0

        def send(self, to: str, body: str) -> None:
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("socket closed")
            return None

    with pytest.raises(RuntimeError):
        outbox.dispatch(Broken(), now=NOW, batch=5)
    counts = outbox.counts()
    assert (counts["sent"], counts["unknown"], counts["pending"], counts["claimed"]) == (1, 1, 3, 0)
    sender = MemorySender()
    drain(outbox, sender)
    assert sorted(m.to for m in sender.sent) == [number(2), number(3), number(4)]


@pytest.mark.parametrize("in_flight", [1, 4, 100])
def test_marking_several_rows_per_commit_still_sends_each_once(
    outbox: Outbox, in_flight: int
) -> None:
    outbox.plan(reminders(30), now=NOW)
    sender = MemorySender()
    sender.fail_next(TOO_MANY)
    report = drain(outbox, sender, batch=10, in_flight=in_flight)
    assert (report.sent, report.retried) == (29, 1)
    drain(outbox, sender, now=NOW + timedelta(minutes=1), in_flight=in_flight)
    assert sorted(m.to for m in sender.sent) == [number(i) for i in range(30)]


def test_an_error_mid_group_gives_back_the_rows_never_handed_over(outbox: Outbox) -> None:
    outbox.plan(reminders(10), now=NOW)

    class Broken:
        calls = 0

        def send(self, to: str, body: str) -> None:
            self.calls += 1
            if self.calls == 2:
                raise KeyboardInterrupt  # not even an Exception
            return None

    with pytest.raises(KeyboardInterrupt):
        outbox.dispatch(Broken(), now=NOW, batch=10, in_flight=5)
    counts = outbox.counts()
    # rows 2-4 were marked 'sending' with row 1 but never handed to the sender
    assert (counts["sent"], counts["unknown"], counts["pending"], counts["sending"]) == (1, 1, 8, 0)


@pytest.mark.parametrize(("in_flight", "handed_over"), [(1, 3), (5, 5)])
def test_should_stop_gives_back_every_row_not_yet_handed_over(
    outbox: Outbox, in_flight: int, handed_over: int
) -> None:
    """Asked before each message (or group): a stop settles the message in hand and
    releases the rest to pending, leaving nothing 'sending' and nothing 'unknown'."""
    outbox.plan(reminders(10), now=NOW)
    sender = MemorySender()
    report = outbox.dispatch(
        sender, now=NOW, batch=10, in_flight=in_flight, should_stop=lambda: len(sender.sent) >= 3
    )
    assert (report.claimed, report.sent, report.released) == (10, handed_over, 10 - handed_over)
    counts = outbox.counts()
    assert (counts["sent"], counts["pending"]) == (handed_over, 10 - handed_over)
    assert counts["unknown"] == counts["sending"] == counts["claimed"] == 0
    rest = drain(outbox, sender)
    assert rest.sent == 10 - handed_over
    assert sorted(m.to for m in sender.sent) == sorted(number(i) for i in range(10))


def test_purge_deletes_finished_rows_past_their_retention_only(outbox: Outbox) -> None:
    outbox.plan(reminders(6), now=NOW)
    sender = MemorySender()
    sender.fail_for(number(1), OPTED_OUT)
    sender.fail_for(number(2), TIMED_OUT)
    outbox.dispatch(sender, now=NOW, batch=4)  # rows 0-3: sent, failed, unknown, sent
    later = NOW + timedelta(days=30)
    assert outbox.purge(older_than=NOW) == 0  # nothing finished before NOW
    assert outbox.purge(older_than=later) == 3  # sent, failed, sent
    left = {r.recipient: r.status for r in outbox.rows()}
    assert left == {number(2): "unknown", number(4): "pending", number(5): "pending"}


def test_make_engine_puts_sqlite_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}", timeout=5)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()


def test_a_worker_whose_claim_timed_out_sends_nothing_it_lost(outbox: Outbox) -> None:
    """A stalled worker must not send rows another worker recovered and sent meanwhile."""
    outbox.plan(reminders(3), now=NOW)
    slow, fast = MemorySender(), MemorySender()
    late = NOW + outbox.claim_timeout + timedelta(seconds=1)
    asked: list[str] = []
    stalled: list[DispatchReport] = []

    def consent(row: OutboxRow) -> bool:
        asked.append(row.recipient)
        if len(asked) == 2:  # the slow worker stalls after its first send...
            stalled.append(outbox.dispatch(fast, now=late))  # ...and its claim expires
        return True

    report = outbox.dispatch(slow, now=NOW, consent=consent)
    # the fast worker found row 0 'sending' (unknown) and rows 1-2 claimed (re-queued)
    assert (stalled[0].recovered, stalled[0].sent) == (3, 2)
    assert [m.to for m in slow.sent] == [number(0)] and report.sent == 1
    assert [m.to for m in fast.sent] == [number(1), number(2)]
    # the slow worker's late answer for row 0 is the truth, and it is kept
    assert outbox.get(0, TOMORROW).status == "sent"
    assert outbox.counts()["sent"] == 3


def test_counts_and_due_describe_the_outbox(outbox: Outbox) -> None:
    outbox.plan(reminders(4), now=NOW)
    assert [r.subscription_id for r in outbox.due(NOW, limit=2)] == ["0", "1"]
    sender = MemorySender()
    sender.fail_next(OPTED_OUT)
    outbox.dispatch(sender, now=NOW, batch=2)
    counts = outbox.counts()
    assert set(counts) >= {"pending", "claimed", "sending", "sent", "failed", "retry", "unknown"}
    assert (counts["failed"], counts["sent"], counts["pending"]) == (1, 1, 2)


# -- real processes -----------------------------------------------------------------


def spawn(db: DB, out: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(WORKER), db.url, db.table, str(out), "--now", NOW.isoformat()]
    return subprocess.Popen([*cmd, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60  # generous: only a hang reaches it
    while not path.exists():
        assert proc.poll() is None, f"worker exited before {what}"
        assert time.monotonic() < deadline, f"worker never reached {what}"
        time.sleep(0.02)


@pytest.mark.slow
def test_a_worker_sent_sigterm_mid_send_finishes_that_send_and_releases_the_rest(
    outbox: Outbox, db: DB, tmp_path: Path
) -> None:
    outbox.plan(reminders(100), now=NOW)
    log, ready = tmp_path / "stopped.log", tmp_path / "in-flight"
    proc = spawn(
        db, log, "--batch", "50", "--block-at", "20", "--ready", str(ready), "--block-for", "1"
    )
    wait_for(ready, proc, "its 20th send")
    proc.send_signal(signal.SIGTERM)  # lands while the 20th message is with the provider
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert json.loads(out) == {"batches": 1, "claimed": 50, "sent": 20, "released": 30}
    assert len(log.read_text().splitlines()) == 20
    counts = outbox.counts()
    assert (counts["sent"], counts["pending"]) == (20, 80)
    assert counts["unknown"] == counts["sending"] == counts["claimed"] == 0
    sender = MemorySender()
    assert drain(outbox, sender).sent == 80  # at once: nothing waits for a claim timeout


@pytest.mark.slow
def test_four_worker_processes_send_each_row_exactly_once(
    outbox: Outbox, db: DB, tmp_path: Path
) -> None:
    outbox.plan(reminders(5000), now=NOW)
    go = tmp_path / "go"
    outs = [tmp_path / f"worker{i}.log" for i in range(4)]
    procs = [spawn(db, out, "--batch", "25", "--go", str(go)) for out in outs]
    for out, proc in zip(outs, procs, strict=True):
        wait_for(Path(f"{out}.up"), proc, "the start line")
    go.touch()  # all four start claiming together
    results = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0
        results.append(json.loads(stdout))
    sends = Counter(line for out in outs for line in out.read_text().splitlines())
    assert sum(sends.values()) == 5000
    assert set(sends.values()) == {1}
    assert set(sends) == {number(i) for i in range(5000)}
    assert outbox.counts()["sent"] == 5000
    assert sum(1 for r in results if r["sent"]) >= 2, f"the workers did not overlap: {results}"


@pytest.mark.slow
def test_a_worker_killed_mid_send_loses_nothing_and_duplicates_nothing(
    outbox: Outbox, db: DB, tmp_path: Path
) -> None:
    outbox.plan(reminders(200), now=NOW)
    log, ready = tmp_path / "killed.log", tmp_path / "in-flight"
    proc = spawn(db, log, "--batch", "50", "--block-at", "20", "--ready", str(ready))
    wait_for(ready, proc, "its 20th send")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    in_flight = ready.read_text()
    before = log.read_text().splitlines()
    assert len(before) == 19
    counts = outbox.counts()
    assert (counts["sent"], counts["sending"], counts["claimed"], counts["pending"]) == (
        19,
        1,
        30,
        150,
    )

    # before the claim times out, the dead worker's rows are left alone
    sender = MemorySender()
    assert drain(outbox, sender).sent == 150
    assert outbox.counts()["claimed"] == 30

    # after it, the 30 claimed rows were never handed over: send them; the
    # one in flight may have reached the provider: unknown, not resent
    later = NOW + outbox.claim_timeout + timedelta(seconds=1)
    report = drain(outbox, sender, now=later)
    assert (report.recovered, report.sent) == (31, 30)
    row = next(r for r in outbox.rows() if r.recipient == in_flight)
    assert row.status == "unknown"
    sends = Counter(before + [m.to for m in sender.sent])
    assert in_flight not in sends
    assert set(sends.values()) == {1}
    assert set(sends) == {number(i) for i in range(200)} - {in_flight}
    assert outbox.counts()["sent"] == 199
