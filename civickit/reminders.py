"""Reminders sent at most once: an SMS outbox in your database, and one scheduler.

An :class:`Outbox` row is one message for one subscription on one day, keyed
``UNIQUE(subscription_id, due_date, channel)``, so planning twice plans once.
Each row moves through these states::

    plan() ──> pending ──claim──> claimed ──mark──> sending ──send()──> sent
                 ^  ^                │                 │ │ │
                 │  │  consent says no: skipped        │ │ └─ ambiguous ──> unknown
                 │  └── stale claim (never sent)       │ └─── permanent ──> failed
                 │      goes back to pending           └──── transient ──> retry ──> (due again
                 │                                           (max_attempts: failed)   after backoff)
                 │               stale 'sending' (worker died mid-send) ──> unknown
                 └── reconcile(): "not_sent" ── unknown ── "sent" ──> sent

The claim is committed before anything is sent; a row is marked ``sending`` in
its own commit just before it is handed to the sender (with the default
``in_flight=1``), and its outcome is committed before the next row is marked.
So after a crash a ``claimed`` row was certainly never sent (it goes back to
``pending``), and a ``sending`` row may have been (it becomes ``unknown`` and
is never resent blindly). The guarantee is
*at most once*: no duplicate, ever; a message the provider may have accepted is
reported as ``unknown`` for :meth:`Outbox.reconcile` instead.

Workers claim rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number
can run side by side; on SQLite the claim is one ``UPDATE ... RETURNING``
statement, which SQLite runs under its single writer lock.

:func:`make_scheduler` builds the one APScheduler 3 process that runs the daily
planning and dispatch jobs; :func:`add_job` registers a job so restarts neither
duplicate it nor lose a run that was due while the process was down.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .errors import SMSError

if TYPE_CHECKING:
    from apscheduler.job import Job
    from apscheduler.schedulers.base import BaseScheduler

__all__ = [
    "STATUSES",
    "Beat",
    "DispatchReport",
    "Outbox",
    "OutboxRow",
    "Reminder",
    "add_job",
    "heartbeat",
    "make_engine",
    "make_scheduler",
    "read_heartbeat",
]

STATUSES = ("pending", "claimed", "sending", "sent", "failed", "retry", "unknown", "skipped")
_WAITING = ("pending", "retry")
_UNSETTLED = ("claimed", "sending", "unknown")


def _status_in(column: Any, statuses: tuple[str, ...]) -> Any:
    """``status IN ('a', 'b')`` with the values written into the SQL.

    Bound parameters would hide the values from the planner, and neither
    SQLite nor a prepared PostgreSQL statement could then use the partial
    indexes below (every claim would scan the whole table).
    """
    return column.in_([sa.literal_column(f"'{status}'", sa.String) for status in statuses])


_PLAN_CHUNK = 1000


class Sender(Protocol):
    """Anything with ``send(to, body)`` returning an object with a ``sid``."""

    def send(self, to: str, body: str) -> Any: ...


@dataclass(frozen=True)
class Reminder:
    """One message to plan: ``send_after`` (aware) defaults to the planning time."""

    subscription_id: str | int
    due_date: date
    recipient: str
    body: str
    channel: str = "sms"
    send_after: datetime | None = None


@dataclass(frozen=True)
class OutboxRow:
    """A row of the outbox as callbacks (``consent``, hooks, ``lookup``) see it."""

    id: int
    subscription_id: str
    due_date: date
    channel: str
    recipient: str
    body: str
    status: str
    attempts: int
    not_before: datetime
    claimed_at: datetime | None = None
    provider_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass
class DispatchReport:
    """What one :meth:`Outbox.dispatch` call did; ``claimed`` is 0 when no row was due."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    skipped: int = 0
    recovered: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class _UTCDateTime(sa.TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every dialect.

    SQLite has no time zones: values are stored as naive UTC text, which also
    keeps its string comparisons in time order.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware one, e.g. in UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. datetime.now(UTC)), not {value!r}")
    return value


def make_engine(db_url: str, *, timeout: float = 30.0, **kw: Any) -> Engine:
    """Create an engine fit for the outbox and the job store.

    SQLite files are switched to WAL (readers never block the writer) with
    ``synchronous=NORMAL``, and wait up to ``timeout`` seconds for the write
    lock instead of failing with "database is locked". Other URLs (PostgreSQL
    through psycopg 3: ``postgresql+psycopg://...``) are passed to
    :func:`sqlalchemy.create_engine` with ``kw``.
    """
    url = sa.make_url(db_url)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, **kw)
    connect_args = {"timeout": timeout, **kw.pop("connect_args", {})}
    engine = sa.create_engine(url, connect_args=connect_args, **kw)
    if url.database and url.database != ":memory:":

        @sa.event.listens_for(engine, "connect")
        def _wal(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def _dialect_insert(engine: Engine) -> Callable[[sa.Table], Any]:
    name = engine.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise ValueError(
            f"the outbox supports SQLite and PostgreSQL, not {name!r}: "
            "use a sqlite:/// or postgresql+psycopg:// URL"
        )
    return insert


class Outbox:
    """A table of reminders, each sent at most once however many workers run.

    ``engine`` is an SQLAlchemy engine (or a URL, passed to :func:`make_engine`).
    ``metadata`` lets an app add the table to its own ``MetaData`` (and so to
    its migrations). ``claim_timeout`` is how long a claim may stay unfinished
    before another worker treats its owner as dead; keep it well above the
    time one batch takes to send. Transient failures wait ``retry_backoff``,
    doubling per attempt up to ``retry_backoff_max``.
    """

    def __init__(
        self,
        engine: Engine | str,
        *,
        table_name: str = "civickit_outbox",
        metadata: sa.MetaData | None = None,
        claim_timeout: timedelta = timedelta(minutes=10),
        retry_backoff: timedelta = timedelta(minutes=1),
        retry_backoff_max: timedelta = timedelta(hours=1),
    ) -> None:
        self.engine = make_engine(engine) if isinstance(engine, str) else engine
        self._insert = _dialect_insert(self.engine)
        self.claim_timeout = claim_timeout
        self.retry_backoff = retry_backoff
        self.retry_backoff_max = retry_backoff_max
        # single statements are atomic on their own: run them without BEGIN/COMMIT
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.table = _outbox_table(table_name, metadata or sa.MetaData())
        self._created = False
        self._statements()

    # -- schema ---------------------------------------------------------------------

    def create_all(self) -> None:
        """Create the table and its indexes if they do not exist yet."""
        try:
            self.table.create(self.engine, checkfirst=True)
        except sa.exc.DBAPIError:
            # workers starting together: another one created it between check and create
            if not sa.inspect(self.engine).has_table(self.table.name, schema=self.table.schema):
                raise
        self._created = True

    def _ready(self) -> None:
        if not self._created:
            self.create_all()

    def _statements(self) -> None:
        t = self.table
        c = t.c
        b = sa.bindparam
        self._claim_stmt = (
            sa.update(t)
            .where(
                c.id.in_(
                    sa.select(c.id)
                    .where(_status_in(c.status, _WAITING), c.not_before <= b("now"))
                    .order_by(c.not_before, c.id)
                    .limit(b("batch"))
                    .with_for_update(skip_locked=True)
                    .scalar_subquery()
                ),
                _status_in(c.status, _WAITING),
            )
            .values(
                status="claimed",
                claimed_by=b("worker"),
                claim_token=b("token"),
                claimed_at=b("now"),
                updated_at=b("now"),
            )
            .returning(*_row_columns(t))
        )
        self._mark_stmt = (
            sa.update(t)
            .where(c.id.in_(b("ids", expanding=True)), c.claim_token == b("token"))
            .where(c.status == "claimed")
            .values(status="sending", updated_at=b("now"))
            .returning(c.id)
        )
        # An outcome lands only if the row is still this claim's; a row that went
        # 'unknown' meanwhile (claim timed out while sending) gets the real answer.
        self._outcome_stmt = (
            sa.update(t)
            .where(
                c.id == b("row_id"),
                c.claim_token == b("token"),
                # not IN (...): an expanding IN cannot be used with executemany
                sa.or_(c.status == "claimed", c.status == "sending", c.status == "unknown"),
            )
            .values(
                status=b("new_status"),
                attempts=c.attempts + b("inc", type_=sa.Integer),
                not_before=b("new_not_before", type_=_UTCDateTime()),
                provider_id=b("new_provider_id", type_=sa.String),
                error_code=b("new_error_code", type_=sa.String),
                error_message=b("new_error_message", type_=sa.Text),
                updated_at=b("now", type_=_UTCDateTime()),
            )
        )
        # The steady state of in_flight=1 in one statement: settle the row just
        # sent and mark the next one 'sending' (one round trip fewer per message).
        marking = c.id == b("mark_id")

        def settle(column: sa.Column, value: Any) -> Any:
            return sa.case((marking, column), else_=value)

        self._settle_and_mark_stmt = (
            sa.update(t)
            .where(
                c.claim_token == b("token"),
                sa.or_(
                    sa.and_(
                        c.id == b("row_id"),
                        sa.or_(c.status == "claimed", c.status == "sending", c.status == "unknown"),
                    ),
                    sa.and_(marking, c.status == "claimed"),
                ),
            )
            .values(
                status=sa.case((marking, "sending"), else_=b("new_status", type_=sa.String)),
                attempts=settle(c.attempts, c.attempts + b("inc", type_=sa.Integer)),
                not_before=settle(c.not_before, b("new_not_before", type_=_UTCDateTime())),
                provider_id=settle(c.provider_id, b("new_provider_id", type_=sa.String)),
                error_code=settle(c.error_code, b("new_error_code", type_=sa.String)),
                error_message=settle(c.error_message, b("new_error_message", type_=sa.Text)),
                updated_at=b("now", type_=_UTCDateTime()),
            )
            .returning(c.id)
        )
        self._release_stmt = (
            sa.update(t)
            .where(
                c.claim_token == b("token"),
                sa.or_(
                    c.status == "claimed",
                    sa.and_(c.status == "sending", c.id.in_(b("unsent", expanding=True))),
                ),
            )
            .values(
                status="pending",
                claim_token=None,
                claimed_by=None,
                claimed_at=None,
                updated_at=b("now"),
            )
        )

    # -- planning -------------------------------------------------------------------

    def plan(
        self, rows: Iterable[Reminder | dict[str, Any]], *, now: datetime | None = None
    ) -> int:
        """Insert reminders that are not planned yet; return how many were new.

        ``rows`` are :class:`Reminder` objects or dicts with the same keys.
        A row whose ``(subscription_id, due_date, channel)`` exists already is
        left exactly as it is (``INSERT ... ON CONFLICT DO NOTHING``), whatever
        its status, so re-running a planning job is harmless.
        """
        self._ready()
        now = _aware(now, "now") if now is not None else _utcnow()
        t = self.table
        stmt = (
            self._insert(t)
            .on_conflict_do_nothing(index_elements=["subscription_id", "due_date", "channel"])
            .returning(t.c.id)
        )
        planned = 0
        with self.engine.begin() as conn:
            for chunk in _chunks((_plan_params(r, now) for r in rows), _PLAN_CHUNK):
                planned += len(conn.execute(stmt, chunk).all())
        return planned

    # -- dispatch -------------------------------------------------------------------

    def recover(self, *, now: datetime) -> int:
        """Deal with claims older than ``claim_timeout``; return how many rows moved.

        A stale ``claimed`` row was never handed to a sender, so it goes back to
        ``pending``. A stale ``sending`` row may have reached the provider before
        its worker died, so it becomes ``unknown`` (see :meth:`reconcile`).
        """
        self._ready()
        now = _aware(now, "now")
        c = self.table.c
        # the IN term repeats the partial index's condition, so SQLite uses it too
        stale = sa.and_(_status_in(c.status, _UNSETTLED), c.claimed_at < now - self.claim_timeout)
        with self._autocommit.connect() as conn:  # two independent statements
            requeued = conn.execute(
                sa.update(self.table)
                .where(stale, c.status == "claimed")
                .values(
                    status="pending",
                    claim_token=None,
                    claimed_by=None,
                    claimed_at=None,
                    updated_at=now,
                )
            ).rowcount
            lost = conn.execute(
                sa.update(self.table)
                .where(stale, c.status == "sending")
                .values(
                    status="unknown",
                    error_message="worker stopped while sending; check the provider's log",
                    updated_at=now,
                )
            ).rowcount
        return requeued + lost

    def dispatch(
        self,
        sender: Sender,
        *,
        now: datetime | None = None,
        batch: int = 100,
        worker_id: str | None = None,
        consent: Callable[[OutboxRow], bool] | None = None,
        on_permanent_failure: Callable[[OutboxRow, SMSError], Any] | None = None,
        max_attempts: int = 5,
        in_flight: int = 1,
    ) -> DispatchReport:
        """Claim up to ``batch`` due rows, send them, record each outcome.

        ``consent(row)`` is asked just before each send (a STOP may have arrived
        since planning); ``False`` marks the row ``skipped``. A permanent
        :class:`~civickit.errors.SMSError` (e.g. 21610, opted out) marks the row
        ``failed`` and calls ``on_permanent_failure(row, error)`` once, the place
        to record the opt-out. A transient one schedules a retry with
        exponential backoff (``failed`` after ``max_attempts`` tries). An
        ambiguous one (a timeout after sending) marks the row ``unknown``: it
        is never resent, only reconciled.

        ``in_flight`` rows are marked ``sending`` per commit. At 1 (the default)
        a worker killed mid-send leaves at most one row ``unknown``; raising it
        (up to ``batch``) means fewer commits per message and, after a crash,
        up to that many ``unknown`` rows. Call repeatedly (or in a loop while
        ``report.claimed``) to drain the outbox; any number of processes may.
        """
        self._ready()
        now = _aware(now, "now") if now is not None else _utcnow()
        if batch < 1 or in_flight < 1 or max_attempts < 1:
            raise ValueError("batch, in_flight and max_attempts must be at least 1")
        report = DispatchReport(recovered=self.recover(now=now))
        token = uuid.uuid4().hex
        worker = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        # one connection for the call's single statements, each atomic on its own
        with self._autocommit.connect() as auto:
            claimed = [
                _to_row(r)
                for r in auto.execute(
                    self._claim_stmt, {"now": now, "batch": batch, "worker": worker, "token": token}
                ).mappings()
            ]
            claimed.sort(key=lambda r: (r.not_before, r.id))
            report.claimed = len(claimed)
            outcomes: list[dict[str, Any]] = []

            def outcome(row: OutboxRow, status: str, **values: Any) -> None:
                outcomes.append(
                    {
                        "row_id": row.id,
                        "token": token,
                        "now": now,
                        "new_status": status,
                        "inc": values.get("inc", 1),
                        "new_not_before": values.get("not_before", row.not_before),
                        "new_provider_id": values.get("provider_id"),
                        "new_error_code": values.get("error_code"),
                        "new_error_message": values.get("error_message"),
                    }
                )

            unsent: set[int] = set()  # marked 'sending' but not yet handed to the sender
            try:
                queue = iter(claimed)
                while True:
                    group: list[OutboxRow] = []
                    for row in queue:
                        if consent is not None and not consent(row):
                            outcome(row, "skipped", inc=0, error_message="no consent at send time")
                            report.skipped += 1
                            continue
                        group.append(row)
                        if len(group) == in_flight:
                            break
                    if not outcomes and not group:
                        break
                    marked = self._settle_and_mark(
                        auto, outcomes, [r.id for r in group], token, now
                    )
                    outcomes.clear()
                    unsent = set(marked)
                    for row in group:
                        if row.id not in marked:  # our claim was recovered by another worker
                            continue
                        unsent.discard(row.id)
                        self._send_one(
                            sender, row, now, outcome, report, on_permanent_failure, max_attempts
                        )
            except BaseException:
                # keep what we learnt, and give back the rows never handed to the sender
                with self.engine.begin() as conn:
                    if outcomes:
                        conn.execute(self._outcome_stmt, outcomes)
                    conn.execute(
                        self._release_stmt, {"token": token, "unsent": list(unsent), "now": now}
                    )
                raise
        return report

    def _settle_and_mark(
        self,
        auto: sa.Connection,
        outcomes: list[dict[str, Any]],
        ids: list[int],
        token: str,
        now: datetime,
    ) -> set[int]:
        """Commit the outcomes so far, then mark ``ids`` 'sending'; return the ids marked."""
        if len(outcomes) <= 1 and len(ids) <= 1:
            # one statement, so no BEGIN/COMMIT round trips: the common case
            if outcomes and ids:
                params = {**outcomes[0], "mark_id": ids[0]}
                marked = set(auto.execute(self._settle_and_mark_stmt, params).scalars())
                return marked - {params["row_id"]}
            if outcomes:
                auto.execute(self._outcome_stmt, outcomes[0])
                return set()
            params = {"ids": ids, "token": token, "now": now}
            return set(auto.execute(self._mark_stmt, params).scalars())
        with self.engine.begin() as conn:
            if outcomes:
                conn.execute(self._outcome_stmt, outcomes)
            if not ids:
                return set()
            params = {"ids": ids, "token": token, "now": now}
            return set(conn.execute(self._mark_stmt, params).scalars())

    def _send_one(
        self,
        sender: Sender,
        row: OutboxRow,
        now: datetime,
        outcome: Callable[..., None],
        report: DispatchReport,
        on_permanent_failure: Callable[[OutboxRow, SMSError], Any] | None,
        max_attempts: int,
    ) -> None:
        try:
            message = sender.send(row.recipient, row.body)
        except SMSError as error:
            code = None if error.code is None else str(error.code)
            text = str(error)
            if error.ambiguous:
                outcome(row, "unknown", error_code=code, error_message=text)
                report.unknown += 1
            elif error.permanent:
                outcome(row, "failed", error_code=code, error_message=text)
                report.failed += 1
                if on_permanent_failure is not None:
                    on_permanent_failure(row, error)
            elif row.attempts + 1 >= max_attempts:
                outcome(row, "failed", error_code=code, error_message=f"gave up: {text}")
                report.failed += 1
            else:
                wait = self.retry_backoff * 2**row.attempts
                outcome(
                    row,
                    "retry",
                    not_before=now + min(wait, self.retry_backoff_max),
                    error_code=code,
                    error_message=text,
                )
                report.retried += 1
        except BaseException as error:
            # not an SMSError: we cannot know whether the provider got it
            outcome(row, "unknown", error_message=f"{type(error).__name__}: {error}")
            report.unknown += 1
            raise
        else:
            sid = getattr(message, "sid", None)
            outcome(row, "sent", provider_id=None if sid is None else str(sid))
            report.sent += 1

    def reconcile(
        self,
        lookup: Callable[[OutboxRow], Literal["sent", "not_sent"] | None],
        *,
        now: datetime | None = None,
    ) -> int:
        """Settle ``unknown`` rows by asking ``lookup(row)``; return how many changed.

        ``lookup`` checks the provider's own record (for Twilio,
        ``client.messages.list(to=row.recipient, date_sent_after=row.claimed_at)``)
        and answers ``"sent"`` (the row becomes ``sent``), ``"not_sent"`` (back to
        ``pending``, to be sent by the next dispatch) or ``None`` (not sure yet:
        the row stays ``unknown``).
        """
        self._ready()
        now = _aware(now, "now") if now is not None else _utcnow()
        c = self.table.c
        changed = 0
        for row in self.rows("unknown"):
            answer = lookup(row)
            if answer is None:
                continue
            if answer == "sent":
                values: dict[str, Any] = {"status": "sent"}
            elif answer == "not_sent":
                values = {
                    "status": "pending",
                    "not_before": now,
                    "claim_token": None,
                    "claimed_by": None,
                    "claimed_at": None,
                }
            else:
                raise ValueError(f"lookup must return 'sent', 'not_sent' or None, not {answer!r}")
            with self.engine.begin() as conn:
                changed += conn.execute(
                    sa.update(self.table)
                    .where(c.id == row.id, c.status == "unknown")
                    .values(updated_at=now, **values)
                ).rowcount
        return changed

    # -- reading --------------------------------------------------------------------

    def due(self, now: datetime, *, limit: int | None = None) -> list[OutboxRow]:
        """The rows a dispatch at ``now`` would claim, in order (a dry run)."""
        self._ready()
        c = self.table.c
        query = (
            sa.select(*_row_columns(self.table))
            .where(_status_in(c.status, _WAITING), c.not_before <= _aware(now, "now"))
            .order_by(c.not_before, c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_to_row(r) for r in conn.execute(query).mappings()]

    def pending(self, now: datetime | None = None) -> int:
        """How many rows wait to be sent (``pending`` or ``retry``); with ``now``, only due ones."""
        self._ready()
        c = self.table.c
        query = sa.select(sa.func.count()).where(_status_in(c.status, _WAITING))
        if now is not None:
            query = query.where(c.not_before <= _aware(now, "now"))
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def counts(self) -> dict[str, int]:
        """Rows per status, every status present (zero when none)."""
        self._ready()
        c = self.table.c
        query = sa.select(c.status, sa.func.count()).group_by(c.status)
        with self.engine.connect() as conn:
            found = dict(conn.execute(query).all())
        return {status: found.get(status, 0) for status in STATUSES}

    def rows(self, status: str | None = None) -> Iterator[OutboxRow]:
        """Every row (or those in ``status``) in id order."""
        self._ready()
        query = sa.select(*_row_columns(self.table)).order_by(self.table.c.id)
        if status is not None:
            query = query.where(self.table.c.status == status)
        with self.engine.connect() as conn:
            rows = [_to_row(r) for r in conn.execute(query).mappings()]
        yield from rows

    def get(
        self, subscription_id: str | int, due_date: date, channel: str = "sms"
    ) -> OutboxRow | None:
        """The row for one subscription, day and channel, if planned."""
        self._ready()
        c = self.table.c
        query = sa.select(*_row_columns(self.table)).where(
            c.subscription_id == str(subscription_id), c.due_date == due_date, c.channel == channel
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).mappings().first()
        return None if found is None else _to_row(found)


def _outbox_table(name: str, metadata: sa.MetaData) -> sa.Table:
    status = sa.column("status")
    waiting = status.in_(_WAITING)
    unsettled = status.in_(_UNSETTLED)
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False, default="sms"),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("not_before", _UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claim_token", sa.String(32)),
        sa.Column("claimed_at", _UTCDateTime()),
        sa.Column("provider_id", sa.String(64)),
        sa.Column("error_code", sa.String(32)),
        sa.Column("error_message", sa.Text),
        sa.Column("created_at", _UTCDateTime(), nullable=False),
        sa.Column("updated_at", _UTCDateTime(), nullable=False),
        sa.UniqueConstraint("subscription_id", "due_date", "channel", name=f"{name}_key"),
        sa.CheckConstraint(status.in_(STATUSES), name=f"{name}_status_check"),
        # what a claim scans: only rows still waiting, in send order
        sa.Index(
            f"{name}_due_idx",
            "not_before",
            "id",
            postgresql_where=waiting,
            sqlite_where=waiting,
        ),
        # what recovery and reconcile look for; rows leave it once settled
        sa.Index(
            f"{name}_open_idx",
            "status",
            "claimed_at",
            postgresql_where=unsettled,
            sqlite_where=unsettled,
        ),
    )


def _row_columns(table: sa.Table) -> list[sa.Column]:
    return [table.c[name] for name in OutboxRow.__dataclass_fields__]


def _to_row(mapping: Any) -> OutboxRow:
    return OutboxRow(**{name: mapping[name] for name in OutboxRow.__dataclass_fields__})


def _plan_params(row: Reminder | dict[str, Any], now: datetime) -> dict[str, Any]:
    if isinstance(row, Reminder):
        row = {
            "subscription_id": row.subscription_id,
            "due_date": row.due_date,
            "recipient": row.recipient,
            "body": row.body,
            "channel": row.channel,
            "send_after": row.send_after,
        }
    missing = {"subscription_id", "due_date", "recipient", "body"} - row.keys()
    if missing:
        raise ValueError(f"a reminder needs {', '.join(sorted(missing))}: {row!r}")
    send_after = row.get("send_after") or row.get("not_before") or now
    due_date = row["due_date"]
    if isinstance(due_date, datetime) or not isinstance(due_date, date):
        raise ValueError(f"due_date must be a date, not {due_date!r}")
    return {
        "subscription_id": str(row["subscription_id"]),
        "due_date": due_date,
        "channel": row.get("channel") or "sms",
        "recipient": row["recipient"],
        "body": row["body"],
        "status": "pending",
        "attempts": 0,
        "not_before": _aware(send_after, "send_after"),
        "created_at": now,
        "updated_at": now,
    }


def _chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- scheduling -------------------------------------------------------------------


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
    jobs with :func:`add_job`.
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    grace = misfire_grace_time
    if isinstance(grace, timedelta):
        grace = int(grace.total_seconds())
    cls = BlockingScheduler if blocking else BackgroundScheduler
    return cls(
        jobstores={
            "default": SQLAlchemyJobStore(engine=make_engine(db_url), tablename=jobstore_table)
        },
        executors={"default": ThreadPoolExecutor(max_workers)},
        job_defaults={"coalesce": True, "misfire_grace_time": grace, "max_instances": 1},
        timezone=timezone,
    )


def add_job(
    scheduler: BaseScheduler,
    func_ref: str,
    trigger: Any,
    *,
    id: str,
    jobstore: str = "default",
    **kw: Any,
) -> Job:
    """Register a persistent job so that restarts neither copy it nor drop a missed run.

    ``func_ref`` is the textual ``"package.module:function"`` (what the job
    store can save); ``id`` is required and the job replaces any stored one of
    that id (``replace_existing=True``), so every start-up can call this. If the
    stored job's next run fell while the process was down, that run is kept,
    so on start-up it fires once (coalesced) when within the misfire grace;
    a plain ``replace_existing`` would recompute it from now and skip it.
    ``kw`` goes to ``scheduler.add_job`` (``args``, ``kwargs``, ``name``...);
    keep arguments primitive, since they are pickled.
    """
    if not isinstance(func_ref, str) or ":" not in func_ref:
        raise ValueError(
            f"func_ref must be a textual reference like 'package.module:function', "
            f"not {func_ref!r}: the job store saves the reference, not the function"
        )
    if "next_run_time" not in kw:
        missed = _missed_run_time(scheduler, jobstore, id)
        if missed is not None:
            kw["next_run_time"] = missed
    return scheduler.add_job(
        func_ref, trigger, id=id, jobstore=jobstore, replace_existing=True, **kw
    )


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
    return when if when < _utcnow() else None


# -- heartbeat --------------------------------------------------------------------


class Beat(NamedTuple):
    """The last heartbeat of a process: when, and how many beats so far."""

    name: str
    at: datetime
    runs: int


def _heartbeat_table(table_name: str) -> sa.Table:
    return sa.Table(
        table_name,
        sa.MetaData(),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("at", _UTCDateTime(), nullable=False),
        sa.Column("runs", sa.Integer, nullable=False),
    )


def heartbeat(
    db_url: str,
    name: str = "scheduler",
    *,
    table_name: str = "civickit_heartbeat",
    now: datetime | None = None,
) -> None:
    """Record that ``name`` is alive: schedule ``"civickit.reminders:heartbeat"`` every minute.

    A web app's ``/readyz`` reads it back with :func:`read_heartbeat` and
    reports not-ready when it is older than a few minutes.
    """
    now = _aware(now, "now") if now is not None else _utcnow()
    engine = make_engine(db_url)
    try:
        table = _heartbeat_table(table_name)
        table.create(engine, checkfirst=True)
        stmt = _dialect_insert(engine)(table).values(name=name, at=now, runs=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"], set_={"at": stmt.excluded.at, "runs": table.c.runs + 1}
        )
        with engine.begin() as conn:
            conn.execute(stmt)
    finally:
        engine.dispose()


def read_heartbeat(
    engine: Engine | str, name: str = "scheduler", *, table_name: str = "civickit_heartbeat"
) -> Beat | None:
    """The last :func:`heartbeat` of ``name``, or None if it never beat."""
    own = isinstance(engine, str)
    eng = make_engine(engine) if isinstance(engine, str) else engine
    try:
        table = _heartbeat_table(table_name)
        if not sa.inspect(eng).has_table(table_name):
            return None
        with eng.connect() as conn:
            found = conn.execute(sa.select(table).where(table.c.name == name)).first()
        return None if found is None else Beat(found.name, found.at, found.runs)
    finally:
        if own:
            eng.dispose()
