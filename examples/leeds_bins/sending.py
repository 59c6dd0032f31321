"""Texts: which sender, what the messages say, and planning and sending reminders.

Reminders go through :class:`civickit.reminders.Outbox`, so each subscriber
gets at most one text per collection evening however often planning runs,
however many dispatchers run, and across restarts. Consent is checked again
just before each send (a STOP may have arrived since planning).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import Flask

from civickit.errors import SMSError
from civickit.reminders import DispatchReport, OutboxRow, Reminder
from civickit.sms import mask_phone

from . import models
from .state import get_engine, get_outbox, get_sender
from .words import LONDON, bins_in_words

log = logging.getLogger(__name__)

LATEST_SEND = time(21, 30)  # no reminder later than this on the evening before


def parse_time(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


# -- wording (GSM-7 characters only: one SMS segment costs less than UCS-2) ---------


def code_message(code: str) -> str:
    return (
        f"Your Leeds bin days code is {code}. It expires in 10 minutes. "
        "If you did not ask for it, ignore this text."
    )


def already_message(address: str) -> str:
    """For the owner of a number someone tried to sign up again (no code: nothing to confirm)."""
    return (
        f"Leeds bin days: someone asked for texts about {short_address(address)} to this "
        "number. You are already signed up, so nothing has changed. Reply STOP to stop."
    )


def short_address(address: str, limit: int = 60) -> str:
    """The first parts of an address that fit in ``limit`` characters."""
    parts = [p.strip() for p in address.split(",") if p.strip()]
    out = parts[0] if parts else address
    for part in parts[1:]:
        if len(out) + 2 + len(part) > limit or part.casefold() == "leeds":
            break
        out += ", " + part
    return out[:limit]


def confirmed_message(address: str, reminder_time: str, unsubscribe_url: str) -> str:
    return (
        f"Leeds bin days: you will get a text at {reminder_time} the evening before each "
        f"bin collection at {short_address(address)}. Reply STOP to stop, or use "
        f"{unsubscribe_url}"
    )


#: One GSM-7 SMS segment; a longer text is sent as several and costs that many.
SEGMENT_CHARACTERS = 160


def reminder_message(address: str, bins: list[str], day: date) -> str:
    """The evening-before text, in one segment: the bins lose their "(what goes in
    it)" and then the address its later parts, as far as needed to fit."""
    when = f"{day:%a} {day.day} {day:%b}"
    for described, address_limit in ((True, 60), (False, 60), (False, 40)):
        text = (
            f"Leeds bin days: tomorrow ({when}) at {short_address(address, address_limit)}: "
            f"{bins_in_words(bins, described=described)}. Reply STOP to stop."
        )
        if len(text) <= SEGMENT_CHARACTERS:
            break
    return text


def help_message() -> str:
    return (
        "Leeds bin days sends a text the evening before your bin collection. "
        "Reply STOP to stop, START to start again."
    )


# -- planning ------------------------------------------------------------------------


def _london(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(LONDON)


def reminders_due(app: Flask, now: datetime) -> tuple[date | None, list[Reminder]]:
    """The reminders for tomorrow's collections, if ``now`` is in the sending window."""
    local = _london(now)
    start = parse_time(app.config["REMINDER_TIME"])
    if not start <= local.time() <= LATEST_SEND:
        return None, []
    tomorrow = local.date() + timedelta(days=1)
    s, c, p = models.subscriptions, models.collections, models.premises
    query = (
        sa.select(s.c.id, s.c.phone, p.c.address, c.c.bin)
        .select_from(s.join(c, c.c.premises_id == s.c.premises_id))
        .join(p, p.c.id == s.c.premises_id)
        .where(s.c.status == "active", c.c.date == tomorrow)
        .order_by(s.c.id)
    )
    grouped: dict[int, tuple[str, str, list[str]]] = {}
    with get_engine(app).connect() as conn:
        for sub_id, phone, address, bin_ in conn.execute(query):
            grouped.setdefault(sub_id, (phone, address, []))[2].append(bin_)
    send_after = max(now, datetime.combine(local.date(), start, LONDON))
    return tomorrow, [
        Reminder(
            subscription_id=sub_id,
            due_date=tomorrow,
            recipient=phone,
            body=reminder_message(address, bins, tomorrow),
            send_after=send_after,
        )
        for sub_id, (phone, address, bins) in grouped.items()
    ]


def plan(app: Flask, now: datetime) -> int:
    """Put tomorrow's reminders in the outbox (idempotent); return how many were new."""
    day, rows = reminders_due(app, now)
    if day is None:
        return 0
    planned = get_outbox(app).plan(rows, now=now)
    log.info("planned %d new reminders for %s (%d subscribers)", planned, day, len(rows))
    return planned


def _still_wanted(app: Flask, now: datetime) -> Callable[[OutboxRow], bool]:
    local = _london(now)
    s = models.subscriptions

    def consent(row: OutboxRow) -> bool:
        # the evening before only: never a reminder at night or on the day itself
        if row.due_date != local.date() + timedelta(days=1) or local.time() > LATEST_SEND:
            return False
        with get_engine(app).connect() as conn:
            status = conn.execute(
                sa.select(s.c.status).where(s.c.id == int(row.subscription_id))
            ).scalar()
        return status == "active"

    return consent


def _opt_out(app: Flask, now: datetime) -> Callable[[OutboxRow, SMSError], None]:
    def on_permanent_failure(row: OutboxRow, error: SMSError) -> None:
        reason = "provider" if str(error.code) == "21610" else "bad_number"
        stop_phone(app, row.recipient, reason=reason, now=now)
        log.warning(
            "stopped reminders to %s after permanent error %s",
            mask_phone(row.recipient),
            error.code,
        )

    return on_permanent_failure


def dispatch(
    app: Flask,
    now: datetime,
    *,
    batch: int = 100,
    should_stop: Callable[[], bool] | None = None,
) -> DispatchReport:
    """Send every due reminder (consent re-checked per message).

    ``should_stop()`` is asked before each message: once it says yes, the rows
    not yet sent go back to pending for the next run (SIGTERM stops cleanly).
    """
    outbox = get_outbox(app)
    sender = get_sender(app)
    total = DispatchReport()
    while True:
        report = outbox.dispatch(
            sender,
            now=now,
            batch=batch,
            consent=_still_wanted(app, now),
            on_permanent_failure=_opt_out(app, now),
            should_stop=should_stop,
        )
        for key, value in report.to_dict().items():
            setattr(total, key, getattr(total, key) + value)
        if report.claimed < batch or report.released:
            return total


def stop_phone(app: Flask, phone: str, *, reason: str, now: datetime) -> int:
    """Stop every subscription of ``phone``; return how many were stopped."""
    with get_engine(app).begin() as conn:
        return _stop(conn, phone, reason, now)


def restart_phone(app: Flask, phone: str) -> int:
    """START: resume subscriptions that a STOP (or the provider's opt-out) stopped."""
    with get_engine(app).begin() as conn:
        return _restart(conn, phone)


def _stop(conn: sa.Connection, phone: str, reason: str, now: datetime) -> int:
    s = models.subscriptions
    return conn.execute(
        sa.update(s)
        .where(s.c.phone == phone, s.c.status != "stopped")
        .values(status="stopped", stopped_at=now, stop_reason=reason)
    ).rowcount


def _restart(conn: sa.Connection, phone: str) -> int:
    s = models.subscriptions
    return conn.execute(
        sa.update(s)
        .where(
            s.c.phone == phone,
            s.c.status == "stopped",
            s.c.stop_reason.in_(("sms_stop", "provider")),
            s.c.consented_at.is_not(None),
        )
        .values(status="active", stopped_at=None, stop_reason=None)
    ).rowcount


# -- Twilio webhooks, each acted on once ------------------------------------------------


def _first_time(conn: sa.Connection, message_sid: str, event: str, now: datetime) -> bool:
    """Record the webhook ``(message_sid, event)``; False if it was recorded before."""
    from sqlalchemy.dialects import postgresql, sqlite

    values = {"message_sid": message_sid, "event": event, "received_at": now}
    table = models.twilio_webhooks
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(values).on_conflict_do_nothing()
    # RETURNING, not rowcount: an INSERT's rowcount is not reliable across drivers
    return conn.execute(stmt.returning(table.c.message_sid)).first() is not None


def stop_phone_once(
    app: Flask, phone: str, *, reason: str, now: datetime, message_sid: str, event: str
) -> int | None:
    """:func:`stop_phone` for a webhook: None, and nothing done, if it was seen before."""
    with get_engine(app).begin() as conn:
        if not _first_time(conn, message_sid, event, now):
            return None
        return _stop(conn, phone, reason, now)


def restart_phone_once(
    app: Flask, phone: str, *, now: datetime, message_sid: str, event: str
) -> int | None:
    """:func:`restart_phone` for a webhook: None, and nothing done, if it was seen before."""
    with get_engine(app).begin() as conn:
        if not _first_time(conn, message_sid, event, now):
            return None
        return _restart(conn, phone)
