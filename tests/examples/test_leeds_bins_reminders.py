"""Reminders end to end: the scheduler's real jobs and triggers, on the clock tests set.

``bins scheduler`` registers its jobs with :func:`examples.leeds_bins.cli.register_jobs`;
here ``SchedulerClock`` (tests/examples/helpers.py) registers them with the same
function on a real (unstarted) APScheduler. The one
clock (time-machine's, which every ``datetime.now()`` reads, the triggers' included)
is moved forward in steps, and each job runs, as the production scheduler would run
it, when its real trigger says so, coalescing missed runs as APScheduler does. Texts
land in a MemorySender.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from civickit.errors import SMSError
from tests.examples.helpers import (
    SchedulerClock,
    leeds_engine,
    load_leeds_sample,
    make_leeds_app,
    status_of,
    subscribed,
    twilio_post,
)

LONDON = ZoneInfo("Europe/London")
ABBEY = "+447700900123"  # 1 Abbey Avenue (666057): black bin Friday 4 December
ASH = "+447700900456"  # 1 Ash Road (622884): green Friday 4 December, brown Monday 7 December
GONE = "+447700900789"  # 2 Ash Road: Twilio says this number opted out (21610)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=LONDON)


@pytest.fixture
def world(leeds_clock, database_url, tmp_path, leeds_sender):
    """An app with three confirmed subscribers, and a way to 'restart' it."""
    apps = []

    def start():
        app = make_leeds_app(database_url, tmp_path, leeds_sender)
        apps.append(app)
        return app

    app = start()
    load_leeds_sample(app)
    client = app.test_client()
    subscribed(client, leeds_sender, "07700 900123", 666057)
    subscribed(app.test_client(), leeds_sender, "07700 900456", 622884)
    subscribed(app.test_client(), leeds_sender, "07700 900789", 900101)
    leeds_sender.sent.clear()
    yield app, start
    for a in apps:
        leeds_engine(a).dispose()


def reminders(sender, number):
    return [
        m.body for m in sender.messages_to(number) if m.body.startswith("Leeds bin days: tomorrow")
    ]


def test_one_text_per_subscriber_per_evening_none_after_stop_none_twice_after_restart(
    world, leeds_sender, leeds_clock
):
    app, start = world
    leeds_sender.fail_for(GONE, SMSError(21610, True, "recipient opted out"))
    clock = SchedulerClock(app, leeds_clock, at(3, 12))
    try:
        clock.advance(at(3, 18, 50))
        assert leeds_sender.sent == []  # nothing before the reminder time
        clock.advance(at(3, 19, 20))
        assert reminders(leeds_sender, ABBEY) == [
            "Leeds bin days: tomorrow (Fri 4 Dec) at "
            "1 Abbey Avenue, Bramley: black bin (general waste). Reply STOP to stop."
        ]
        assert reminders(leeds_sender, ASH) == [
            "Leeds bin days: tomorrow (Fri 4 Dec) at "
            "1 Ash Road, Headingley: green bin (recycling). Reply STOP to stop."
        ]
        assert reminders(leeds_sender, GONE) == []
    finally:
        clock.stop()

    # the provider's 21610 opted that subscriber out for good

    assert status_of(app, GONE) == ["stopped"]

    # restart: a new process (app, outbox, scheduler) carries on the same evening
    app = start()
    clock = SchedulerClock(app, leeds_clock, at(3, 19, 20))
    try:
        clock.advance(at(4, 23, 0))
        assert len(reminders(leeds_sender, ABBEY)) == 1
        assert len(reminders(leeds_sender, ASH)) == 1
        # Friday: the Ash Road resident texts STOP
        response = twilio_post(app.test_client(), "/twilio/inbound", {"From": ASH, "Body": "STOP"})
        assert response.status_code == 200
        clock.advance(at(6, 23, 0))  # Sunday evening: Monday's brown bin
        assert len(reminders(leeds_sender, ASH)) == 1  # none after STOP
        assert clock.runs["leeds_bins.plan"] == 3  # every evening: Friday, Saturday, Sunday
        assert clock.runs["leeds_bins.refresh"] >= 1
    finally:
        clock.stop()


def test_scheduler_down_at_reminder_time_catches_up_once_that_evening(
    world, leeds_sender, leeds_clock
):
    app, _ = world
    clock = SchedulerClock(app, leeds_clock, at(3, 20, 30))  # came back up at 20:30
    try:
        clock.advance(at(3, 21, 0))
        assert len(reminders(leeds_sender, ABBEY)) == 1
        clock.advance(at(3, 21, 20))
        assert len(reminders(leeds_sender, ABBEY)) == 1
    finally:
        clock.stop()


def test_no_reminder_late_at_night_or_on_the_day(world, leeds_sender, leeds_clock):
    app, _ = world
    clock = SchedulerClock(app, leeds_clock, at(3, 22, 0))  # down all evening; back at 22:00
    try:
        clock.advance(at(4, 12, 0))
        assert reminders(leeds_sender, ABBEY) == []
    finally:
        clock.stop()


def test_planning_is_idempotent(world, leeds_sender):
    from examples.leeds_bins import sending

    app, _ = world
    first = sending.plan(app, at(3, 19, 0))
    assert first == 3
    assert sending.plan(app, at(3, 19, 5)) == 0
    assert sending.plan(app, at(3, 12, 0)) == 0  # outside the evening window: nothing


def test_send_due_dry_run_sends_nothing(world, leeds_sender, leeds_clock):
    app, _ = world
    leeds_clock.move_to(at(3, 19, 30))
    result = app.test_cli_runner().invoke(args=["bins", "send-due", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would send to +44 77** ***123" in result.output
    assert "black bin (general waste)" in result.output
    assert leeds_sender.sent == []
    result = app.test_cli_runner().invoke(args=["bins", "send-due"])
    assert result.exit_code == 0, result.output
    assert len(reminders(leeds_sender, ABBEY)) == 1


def test_send_due_stopped_by_sigterm_sends_no_further_message(
    world, leeds_sender, leeds_clock, monkeypatch
):
    """SIGTERM lands while the first text is with the provider: that text is kept,
    the others go back to pending and the next run sends them, each once."""
    import json
    import os
    import signal

    app, _ = world
    leeds_clock.move_to(at(3, 19, 30))
    send = leeds_sender.send

    def send_then_sigterm(to, body):
        sent = send(to, body)
        if len(leeds_sender.sent) == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return sent

    monkeypatch.setattr(leeds_sender, "send", send_then_sigterm)
    result = app.test_cli_runner().invoke(args=["bins", "send-due"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["planned"], report["sent"], report["released"]) == (3, 1, 2)
    assert report["unknown"] == 0
    first = [m.to for m in leeds_sender.sent]

    monkeypatch.setattr(leeds_sender, "send", send)
    result = app.test_cli_runner().invoke(args=["bins", "send-due"])
    report = json.loads(result.output)
    assert (report["planned"], report["sent"], report["released"]) == (0, 2, 0)
    everyone = [m.to for m in leeds_sender.sent]
    assert len(everyone) == len(set(everyone)) == 3 and everyone[:1] == first


GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def segments(text: str) -> int:
    """SMS segments for a text (GSM 03.38: 160 basic characters in one, 153 a part
    after that; a character outside the basic set makes it UCS-2: 70, then 67)."""
    if set(text) <= GSM7_BASIC:
        return 1 if len(text) <= 160 else -(-len(text) // 153)
    return 1 if len(text) <= 70 else -(-len(text) // 67)


def test_every_sample_reminder_fits_one_segment(leeds_clock, tmp_path, leeds_sender):
    """Every collection day of every premises in the bundled sample, and the worst
    case the wording allows (four bins, a long address), is one GSM-7 segment."""
    from collections import defaultdict

    from examples.leeds_bins import models, sending

    app = make_leeds_app(f"sqlite:///{tmp_path / 'bins.db'}", tmp_path, leeds_sender)
    load_leeds_sample(app)
    p, c = models.premises, models.collections
    days: dict[tuple[str, object], list[str]] = defaultdict(list)
    with leeds_engine(app).connect() as conn:
        for address, day, bin_ in conn.execute(
            sa.select(p.c.address, c.c.date, c.c.bin).join(c, c.c.premises_id == p.c.id)
        ):
            days[(address, day)].append(bin_)
    texts = [sending.reminder_message(a, bins, day) for (a, day), bins in days.items()]
    assert len(texts) > 300
    worst = sending.reminder_message(
        "Flat 12, Wellington House Apartments, 100 Kirkstall Road, Burley, Leeds",
        ["black", "green", "brown", "food"],
        date(2025, 9, 24),
    )
    longest = max([*texts, worst], key=len)
    assert segments(longest) == 1, longest
    assert {segments(t) for t in texts} == {1}


def test_a_stopped_number_is_gone_from_every_table_after_the_grace_period(world, leeds_sender):
    """STOP keeps the number 30 days (so START can resume), then forgets it: the
    subscription, its codes and every text sent to it."""
    from examples.leeds_bins import models, retention, sending

    app, _ = world
    sending.plan(app, at(3, 19, 30))
    sending.dispatch(app, at(3, 19, 30))
    assert reminders(leeds_sender, ABBEY)  # texts were sent, so the outbox holds the number
    stopped = at(3, 21, 0)
    assert sending.stop_phone(app, ABBEY, reason="sms_stop", now=stopped) == 1

    def tables_holding(number: str) -> list[str]:
        found = []
        with leeds_engine(app).connect() as conn:
            meta = sa.MetaData()
            meta.reflect(bind=conn)
            for table in meta.sorted_tables:
                text = [c for c in table.columns if isinstance(c.type, sa.String | sa.Text)]
                if not text:
                    continue
                hit = sa.or_(*(c.contains(number) for c in text))
                if conn.execute(sa.select(sa.func.count()).select_from(table).where(hit)).scalar():
                    found.append(table.name)
        return found

    retention.forget_old_numbers(app, stopped + timedelta(days=29))
    assert tables_holding(ABBEY) == ["civickit_outbox", "subscriptions"]  # START still works
    assert sending.restart_phone(app, ABBEY) == 1
    assert sending.stop_phone(app, ABBEY, reason="sms_stop", now=stopped) == 1

    forgotten = retention.forget_old_numbers(app, stopped + timedelta(days=31))
    assert forgotten["subscriptions"] == 1 and forgotten["texts"] >= 1
    assert tables_holding(ABBEY) == []
    assert tables_holding("7700900123") == []  # in no spelling either
    # an active subscription keeps its number; its texts go after 30 days like anyone's
    assert tables_holding(ASH) == ["subscriptions"]
    s = models.subscriptions
    with leeds_engine(app).connect() as conn:
        assert conn.execute(sa.select(s.c.status).where(s.c.phone == ASH)).scalar() == "active"
