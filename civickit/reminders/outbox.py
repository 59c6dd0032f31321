"""An SMS outbox in your database: every reminder sent at most once.

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
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, NotRequired, Protocol, TypedDict

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .._records import Record
from ..db import UTCDateTime, dialect_insert, make_engine
from ..errors import (
    InvalidArgument,
    SMSError,
)

__all__ = [
    "STATUSES",
    "DispatchReport",
    "Outbox",
    "OutboxRow",
    "Reminder",
    "ReminderDict",
    "Sender",
]

STATUSES = ("pending", "claimed", "sending", "sent", "failed", "retry", "unknown", "skipped")
_WAITING = ("pending", "retry")
_UNSETTLED = ("claimed", "sending", "unknown")
_FINISHED = ("sent", "failed", "skipped")

_PLAN_CHUNK = 1000  # reminders inserted per statement


class Sender(Protocol):
    """Anything with ``send(to, body)``, returning what it likes.

    The outbox keeps the result's ``sid``, if it has one, as the row's provider id
    (:class:`civickit.sms.SentMessage` has one).
    """

    def send(self, to: str, body: str) -> object: ...


@dataclass(frozen=True)
class Reminder:
    """One message to plan: ``send_after`` (aware) defaults to the planning time."""

    subscription_id: str | int
    due_date: date
    recipient: str
    body: str
    channel: str = "sms"
    send_after: datetime | None = None


class ReminderDict(TypedDict):
    """A :class:`Reminder` as a dict, which :meth:`Outbox.plan` takes too.

    ``not_before`` is another name for ``send_after``.
    """

    subscription_id: str | int
    due_date: date
    recipient: str
    body: str
    channel: NotRequired[str | None]
    send_after: NotRequired[datetime | None]
    not_before: NotRequired[datetime | None]


@dataclass(frozen=True)
class OutboxRow(Record):
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
class DispatchReport(Record):
    """What one :meth:`Outbox.dispatch` call did; ``claimed`` is 0 when no row was due."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    skipped: int = 0
    recovered: int = 0
    #: claimed but given back unsent, because ``should_stop`` said so
    released: int = 0


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidArgument(
            f"{name} must be timezone-aware (e.g. datetime.now(UTC)), not {value!r}"
        )
    return value


class Outbox:
    """A table of reminders, each sent at most once however many workers run.

    ``engine`` is an SQLAlchemy engine (or a URL, passed to
    :func:`civickit.db.make_engine`). ``metadata`` lets an app add the table to
    its own ``MetaData`` (and so to its migrations). ``claim_timeout`` is how
    long a claim may stay unfinished before another worker treats its owner as
    dead; keep it well above the time one batch takes to send. Transient
    failures wait ``retry_backoff``, doubling per attempt up to
    ``retry_backoff_max``.
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
        self._insert = dialect_insert(self.engine)
        self.claim_timeout = claim_timeout
        self.retry_backoff = retry_backoff
        self.retry_backoff_max = retry_backoff_max
        # single statements are atomic on their own: run them without BEGIN/COMMIT
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.table = _outbox_table(table_name, metadata or sa.MetaData())
        self._sql = _Statements.for_table(self.table)
        self._created = False

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

    # -- planning -------------------------------------------------------------------

    def plan(self, rows: Iterable[Reminder | ReminderDict], *, now: datetime | None = None) -> int:
        """Insert reminders that are not planned yet; return how many were new.

        ``rows`` are :class:`Reminder` objects or dicts with the same keys
        (:class:`ReminderDict`).
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
        on_permanent_failure: Callable[[OutboxRow, SMSError], object] | None = None,
        max_attempts: int = 5,
        in_flight: int = 1,
        should_stop: Callable[[], bool] | None = None,
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

        ``should_stop()`` is asked before each message (or group of
        ``in_flight``): once it says yes, the message in hand has been settled
        and every claimed row not yet handed to the sender goes back to
        ``pending`` for a later dispatch (``report.released``). A worker that
        passes ``StopSignals().requested`` stops between messages on SIGTERM,
        leaving no row ``unknown``.
        """
        self._ready()
        now = _aware(now, "now") if now is not None else _utcnow()
        if batch < 1 or in_flight < 1 or max_attempts < 1:
            raise InvalidArgument("batch, in_flight and max_attempts must be at least 1")
        report = DispatchReport(recovered=self.recover(now=now))
        run = _DispatchRun(
            self,
            sender,
            report,
            now=now,
            consent=consent,
            on_permanent_failure=on_permanent_failure,
            max_attempts=max_attempts,
            in_flight=in_flight,
            should_stop=should_stop,
        )
        # one connection for the call's single statements, each atomic on its own
        with self._autocommit.connect() as auto:
            claimed = run.claim(auto, batch, worker_id or f"{socket.gethostname()}:{os.getpid()}")
            report.claimed = len(claimed)
            try:
                run.send_all(auto, claimed)
            except BaseException:
                run.give_back()
                raise
        return report

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
                raise InvalidArgument(
                    f"lookup must return 'sent', 'not_sent' or None, not {answer!r}"
                )
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

    def purge(self, *, older_than: datetime) -> int:
        """Delete finished rows (sent, failed, skipped) last changed before ``older_than``.

        Each row holds a phone number and a message, so keep them only as long
        as they are needed (storage limitation): long enough to answer "did my
        reminder go?", not for ever. ``unknown`` rows stay until reconciled,
        and rows still to be sent are never touched. Returns how many went.
        """
        self._ready()
        c = self.table.c
        with self.engine.begin() as conn:
            deleted: int = conn.execute(
                sa.delete(self.table).where(
                    _status_in(c.status, _FINISHED),
                    c.updated_at < _aware(older_than, "older_than"),
                )
            ).rowcount
        return deleted

    def counts(self) -> dict[str, int]:
        """Rows per status, every status present (zero when none)."""
        self._ready()
        c = self.table.c
        query = sa.select(c.status, sa.func.count()).group_by(c.status)
        with self.engine.connect() as conn:
            found: dict[str, int] = {status: n for status, n in conn.execute(query).all()}
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


class _DispatchRun:
    """One :meth:`Outbox.dispatch` call: its claim, the outcomes not yet written, its report."""

    def __init__(
        self,
        outbox: Outbox,
        sender: Sender,
        report: DispatchReport,
        *,
        now: datetime,
        consent: Callable[[OutboxRow], bool] | None,
        on_permanent_failure: Callable[[OutboxRow, SMSError], object] | None,
        max_attempts: int,
        in_flight: int,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.outbox = outbox
        self.should_stop = should_stop
        self.sql = outbox._sql
        self.sender = sender
        self.report = report
        self.now = now
        self.consent = consent
        self.on_permanent_failure = on_permanent_failure
        self.max_attempts = max_attempts
        self.in_flight = in_flight
        self.token = uuid.uuid4().hex  # marks this run's claim on its rows
        # parameters of the outcome statement, for rows settled but not yet written
        self.outcomes: list[dict[str, Any]] = []
        # rows marked 'sending' but not yet handed to the sender
        self.unsent: set[int] = set()

    def claim(self, auto: sa.Connection, batch: int, worker: str) -> list[OutboxRow]:
        """Claim up to ``batch`` due rows for this run (one committed statement), in send order."""
        params = {"now": self.now, "batch": batch, "worker": worker, "token": self.token}
        claimed = [_to_row(found) for found in auto.execute(self.sql.claim, params).mappings()]
        claimed.sort(key=lambda row: (row.not_before, row.id))
        return claimed

    def send_all(self, auto: sa.Connection, claimed: list[OutboxRow]) -> None:
        """Send the claimed rows, ``in_flight`` at a time, each marked 'sending' first."""
        queue = iter(claimed)
        while True:
            if self.should_stop is not None and self.should_stop():
                self.report.released = self.give_back()
                return
            group = self._next_group(queue)
            if not group and not self.outcomes:
                return
            marked = self._settle_and_mark(auto, [row.id for row in group])
            self.outcomes.clear()
            self.unsent = set(marked)
            for row in group:
                if row.id not in marked:  # our claim was recovered by another worker
                    continue
                self.unsent.discard(row.id)
                self._send(row)

    def give_back(self) -> int:
        """After an error or a stop: write the outcomes learnt, release the rows never
        sent; return how many were released."""
        release = {"token": self.token, "unsent": list(self.unsent), "now": self.now}
        with self.outbox.engine.begin() as conn:
            if self.outcomes:
                conn.execute(self.sql.outcome, self.outcomes)
                self.outcomes.clear()
            released: int = conn.execute(self.sql.release, release).rowcount
        self.unsent.clear()
        return released

    def _next_group(self, queue: Iterator[OutboxRow]) -> list[OutboxRow]:
        """The next ``in_flight`` rows that still have consent; the others are skipped."""
        group: list[OutboxRow] = []
        for row in queue:
            if self.consent is not None and not self.consent(row):
                self._record(
                    row, "skipped", attempted=False, error_message="no consent at send time"
                )
                self.report.skipped += 1
                continue
            group.append(row)
            if len(group) == self.in_flight:
                break
        return group

    def _settle_and_mark(self, auto: sa.Connection, ids: list[int]) -> set[int]:
        """Write the outcomes so far, then mark ``ids`` 'sending'; return the ids marked."""
        sql, outcomes = self.sql, self.outcomes
        mark = {"ids": ids, "token": self.token, "now": self.now}
        if len(outcomes) <= 1 and len(ids) <= 1:
            # one statement, so no BEGIN/COMMIT round trips: the common case
            if outcomes and ids:
                params = {**outcomes[0], "mark_id": ids[0]}
                marked = set(auto.execute(sql.settle_and_mark, params).scalars())
                return marked - {params["row_id"]}
            if outcomes:
                auto.execute(sql.outcome, outcomes[0])
                return set()
            return set(auto.execute(sql.mark, mark).scalars())
        with self.outbox.engine.begin() as conn:
            if outcomes:
                conn.execute(sql.outcome, outcomes)
            if not ids:
                return set()
            return set(conn.execute(sql.mark, mark).scalars())

    def _send(self, row: OutboxRow) -> None:
        try:
            message = self.sender.send(row.recipient, row.body)
        except SMSError as error:
            self._record_failure(row, error)
        except BaseException as error:
            # not an SMSError: we cannot know whether the provider got it
            self._record(row, "unknown", error_message=f"{type(error).__name__}: {error}")
            self.report.unknown += 1
            raise
        else:
            sid = getattr(message, "sid", None)
            self._record(row, "sent", provider_id=None if sid is None else str(sid))
            self.report.sent += 1

    def _record_failure(self, row: OutboxRow, error: SMSError) -> None:
        """Ambiguous: unknown. Permanent, or out of attempts: failed. Else: retry later."""
        code = None if error.code is None else str(error.code)
        text = str(error)
        if error.ambiguous:
            self._record(row, "unknown", error_code=code, error_message=text)
            self.report.unknown += 1
        elif error.permanent:
            self._record(row, "failed", error_code=code, error_message=text)
            self.report.failed += 1
            if self.on_permanent_failure is not None:
                self.on_permanent_failure(row, error)
        elif row.attempts + 1 >= self.max_attempts:
            self._record(row, "failed", error_code=code, error_message=f"gave up: {text}")
            self.report.failed += 1
        else:
            backoff = self.outbox.retry_backoff * 2**row.attempts
            self._record(
                row,
                "retry",
                not_before=self.now + min(backoff, self.outbox.retry_backoff_max),
                error_code=code,
                error_message=text,
            )
            self.report.retried += 1

    def _record(
        self,
        row: OutboxRow,
        status: str,
        *,
        attempted: bool = True,
        not_before: datetime | None = None,
        provider_id: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """Keep ``row``'s outcome, to be written by the run's next statement."""
        self.outcomes.append(
            {
                "row_id": row.id,
                "token": self.token,
                "now": self.now,
                "new_status": status,
                "inc": 1 if attempted else 0,
                "new_not_before": row.not_before if not_before is None else not_before,
                "new_provider_id": provider_id,
                "new_error_code": error_code,
                "new_error_message": error_message,
            }
        )


# -- SQL -----------------------------------------------------------------------------


def _status_in(column: Any, statuses: tuple[str, ...]) -> Any:
    """``status IN ('a', 'b')`` with the values written into the SQL.

    Bound parameters would hide the values from the planner, and neither
    SQLite nor a prepared PostgreSQL statement could then use the partial
    indexes below (every claim would scan the whole table).
    """
    return column.in_([sa.literal_column(f"'{status}'", sa.String) for status in statuses])


@dataclass(frozen=True)
class _Statements:
    """The statements a dispatch runs, built once per table; values are bound when run."""

    claim: sa.Executable
    mark: sa.Executable
    outcome: sa.Executable
    settle_and_mark: sa.Executable
    release: sa.Executable

    @classmethod
    def for_table(cls, table: sa.Table) -> _Statements:
        return cls(
            claim=_claim_statement(table),
            mark=_mark_statement(table),
            outcome=_outcome_statement(table),
            settle_and_mark=_settle_and_mark_statement(table),
            release=_release_statement(table),
        )


def _claim_statement(t: sa.Table) -> sa.Executable:
    """Claim up to ``:batch`` rows due at ``:now`` for ``:worker``/``:token``; return them."""
    c = t.c
    due = (
        sa.select(c.id)
        .where(_status_in(c.status, _WAITING), c.not_before <= sa.bindparam("now"))
        .order_by(c.not_before, c.id)
        .limit(sa.bindparam("batch"))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        sa.update(t)
        .where(c.id.in_(due), _status_in(c.status, _WAITING))
        .values(
            status="claimed",
            claimed_by=sa.bindparam("worker"),
            claim_token=sa.bindparam("token"),
            claimed_at=sa.bindparam("now"),
            updated_at=sa.bindparam("now"),
        )
        .returning(*_row_columns(t))
    )


def _mark_statement(t: sa.Table) -> sa.Executable:
    """Mark the claimed rows ``:ids`` of ``:token`` 'sending'; return the ids marked."""
    c = t.c
    return (
        sa.update(t)
        .where(
            c.id.in_(sa.bindparam("ids", expanding=True)), c.claim_token == sa.bindparam("token")
        )
        .where(c.status == "claimed")
        .values(status="sending", updated_at=sa.bindparam("now"))
        .returning(c.id)
    )


def _still_ours(c: Any) -> Any:
    """The row is still this claim's to settle.

    A row that went 'unknown' meanwhile (its claim timed out while sending)
    gets the real answer. Written as ORs, not IN (...): an expanding IN cannot
    be used with executemany.
    """
    return sa.or_(c.status == "claimed", c.status == "sending", c.status == "unknown")


def _outcome_values(c: Any) -> dict[str, Any]:
    """The new values of a settled row, from the outcome's parameters."""
    return {
        "status": sa.bindparam("new_status", type_=sa.String),
        "attempts": c.attempts + sa.bindparam("inc", type_=sa.Integer),
        "not_before": sa.bindparam("new_not_before", type_=UTCDateTime()),
        "provider_id": sa.bindparam("new_provider_id", type_=sa.String),
        "error_code": sa.bindparam("new_error_code", type_=sa.String),
        "error_message": sa.bindparam("new_error_message", type_=sa.Text),
    }


def _outcome_statement(t: sa.Table) -> sa.Executable:
    """Settle row ``:row_id`` of ``:token`` with its outcome, if it is still the claim's."""
    c = t.c
    return (
        sa.update(t)
        .where(
            c.id == sa.bindparam("row_id"), c.claim_token == sa.bindparam("token"), _still_ours(c)
        )
        .values(**_outcome_values(c), updated_at=sa.bindparam("now", type_=UTCDateTime()))
    )


def _settle_and_mark_statement(t: sa.Table) -> sa.Executable:
    """Settle row ``:row_id`` and mark row ``:mark_id`` 'sending', in one statement.

    The steady state of ``in_flight=1``: one round trip fewer per message.
    Returns the ids updated (the settled row's among them).
    """
    c = t.c
    marking = c.id == sa.bindparam("mark_id")
    settled = _outcome_values(c)
    # the marked row keeps its values (but its status); the settled row takes the outcome's
    values = {name: sa.case((marking, c[name]), else_=value) for name, value in settled.items()}
    values["status"] = sa.case((marking, "sending"), else_=settled["status"])
    return (
        sa.update(t)
        .where(
            c.claim_token == sa.bindparam("token"),
            sa.or_(
                sa.and_(c.id == sa.bindparam("row_id"), _still_ours(c)),
                sa.and_(marking, c.status == "claimed"),
            ),
        )
        .values(**values, updated_at=sa.bindparam("now", type_=UTCDateTime()))
        .returning(c.id)
    )


def _release_statement(t: sa.Table) -> sa.Executable:
    """Give back ``:token``'s rows never handed to a sender (claimed, or ``:unsent``)."""
    c = t.c
    return (
        sa.update(t)
        .where(
            c.claim_token == sa.bindparam("token"),
            sa.or_(
                c.status == "claimed",
                sa.and_(c.status == "sending", c.id.in_(sa.bindparam("unsent", expanding=True))),
            ),
        )
        .values(
            status="pending",
            claim_token=None,
            claimed_by=None,
            claimed_at=None,
            updated_at=sa.bindparam("now"),
        )
    )


def _outbox_table(name: str, metadata: sa.MetaData) -> sa.Table:
    status: sa.ColumnClause[str] = sa.column("status")
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
        sa.Column("not_before", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claim_token", sa.String(32)),
        sa.Column("claimed_at", UTCDateTime()),
        sa.Column("provider_id", sa.String(64)),
        sa.Column("error_code", sa.String(32)),
        sa.Column("error_message", sa.Text),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
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


def _row_columns(table: sa.Table) -> list[sa.Column[Any]]:
    return [table.c[name] for name in OutboxRow.__dataclass_fields__]


def _to_row(mapping: Any) -> OutboxRow:
    return OutboxRow(**{name: mapping[name] for name in OutboxRow.__dataclass_fields__})


def _plan_params(row: Reminder | ReminderDict, now: datetime) -> dict[str, Any]:
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
        raise InvalidArgument(f"a reminder needs {', '.join(sorted(missing))}: {row!r}")
    send_after = row.get("send_after") or row.get("not_before") or now
    due_date = row["due_date"]
    if isinstance(due_date, datetime) or not isinstance(due_date, date):
        raise InvalidArgument(f"due_date must be a date, not {due_date!r}")
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
