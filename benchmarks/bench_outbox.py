"""Dispatching 100,000 due reminders with a sender that does no I/O.

Goal: at least 2,000 messages/s on PostgreSQL with 4 worker
processes, and 0 duplicates. There is no peer: the SMS provider's own rate is
the real ceiling. Each configuration plans the rows afresh, starts its worker
processes, and times them from a common start signal until the outbox is
empty; every recipient handed to a sender is collected, so a duplicate or a
lost row shows in the last columns.

``in_flight`` is how many rows a worker marks ``sending`` per commit: 1 (the
default) commits around every message, so a killed worker leaves at most one
row ``unknown``; 100 (the batch size) marks and settles a whole batch per
commit. PostgreSQL rows are skipped, saying why, when TEST_DATABASE_URL (or the
default local server) is unreachable. ``BENCH_OUTBOX_ROWS`` changes the size.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from benchmarks._common import data_dir, table
from civickit.reminders import Outbox, Reminder, make_engine

ROWS = int(os.environ.get("BENCH_OUTBOX_ROWS", "100000"))
BATCH = 100
NOW = datetime(2026, 1, 5, 18, 0, tzinfo=UTC)
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TABLE = f"bench_outbox_{os.getpid()}"


class NullSender:
    """Accepts every message at once and remembers who it was for."""

    def __init__(self) -> None:
        self.recipients: list[str] = []

    def send(self, to: str, body: str) -> SimpleNamespace:
        self.recipients.append(to)
        return SimpleNamespace(sid=f"SM{len(self.recipients)}")


def _worker(url: str, name: str, in_flight: int, ready: Any, go: Any, results: Any) -> None:
    outbox = Outbox(make_engine(url), table_name=name)
    outbox.create_all()
    sender = NullSender()
    ready.release()
    go.wait()
    while outbox.dispatch(sender, now=NOW, batch=BATCH, in_flight=in_flight).claimed:
        pass
    results.put(sender.recipients)


def _run(url: str, workers: int, in_flight: int) -> list[Any]:
    engine = make_engine(url)
    outbox = Outbox(engine, table_name=TABLE)
    outbox.table.drop(engine, checkfirst=True)
    outbox.create_all()
    rows = (Reminder(i, date(2026, 1, 6), f"+4477{i:08d}", "Bins tomorrow") for i in range(ROWS))
    plan_seconds = time.perf_counter()
    outbox.plan(rows, now=NOW)
    plan_seconds = time.perf_counter() - plan_seconds
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"VACUUM ANALYZE {TABLE}"))

    ctx = multiprocessing.get_context("spawn")
    ready, go, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(url, TABLE, in_flight, ready, go, results))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.acquire()
    start = time.perf_counter()
    go.set()
    sent = [to for _ in procs for to in results.get()]
    seconds = time.perf_counter() - start
    for proc in procs:
        proc.join()

    counts = Counter(sent)
    duplicates = len(sent) - len(counts)
    db_sent = outbox.counts()["sent"]
    outbox.table.drop(engine)
    engine.dispose()
    return [
        engine.dialect.name,
        workers,
        in_flight,
        ROWS / plan_seconds,
        ROWS / seconds,
        duplicates,
        ROWS - len(counts),
        db_sent,
    ]


def _postgres_reason() -> str | None:
    try:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure: no server to measure here
        return f"PostgreSQL not reachable at {PG_URL} ({exc.__class__.__name__})"
    return None


def main() -> None:
    sqlite_path = data_dir() / "outbox.db"
    for suffix in ("", "-wal", "-shm"):
        sqlite_path.with_name(sqlite_path.name + suffix).unlink(missing_ok=True)
    sqlite_url = f"sqlite:///{sqlite_path}"
    configs = [(sqlite_url, 1, 1), (sqlite_url, 1, BATCH)]
    skipped = _postgres_reason()
    if skipped is None:
        configs += [(PG_URL, w, f) for w in (1, 4) for f in (1, BATCH)]
    rows = [_run(url, workers, in_flight) for url, workers, in_flight in configs]
    print(f"{ROWS:,} due reminders, batches of {BATCH}, sender without I/O")
    table(
        [
            "database",
            "workers",
            "in_flight",
            "plan rows/s",
            "dispatch msg/s",
            "duplicates",
            "unsent",
            "rows 'sent'",
        ],
        rows,
    )
    if skipped:
        print(f"skipped the PostgreSQL rows: {skipped}; set TEST_DATABASE_URL to measure them")
    print("goal: >= 2,000 msg/s on PostgreSQL with 4 workers, 0 duplicates")


if __name__ == "__main__":
    main()
