"""Signing up for texts: double opt-in with a 6-digit code, and stopping.

The code is stored only as an HMAC keyed with the app's secret, lives 10
minutes and allows 5 tries. Consent (the exact wording shown, its version and
when it was confirmed) is kept with the subscription as evidence.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from . import models
from .state import get_engine

CODE_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
CONSENT_VERSION = "2026-11-1"
CONSENT_TEXT = (
    "I agree to Leeds bin days texting this mobile number the evening before each bin "
    "collection at this address. I can stop at any time by replying STOP or using the "
    "link in the confirmation text."
)


def _hash(app: Flask, subscription_id: int, code: str) -> str:
    key = app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{subscription_id}:{code}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Subscription:
    id: int
    phone: str
    premises_id: int
    status: str
    unsubscribe_token: str


def _row(row: sa.Row | None) -> Subscription | None:
    if row is None:
        return None
    return Subscription(row.id, row.phone, row.premises_id, row.status, row.unsubscribe_token)


def _columns() -> list:
    s = models.subscriptions
    return [s.c.id, s.c.phone, s.c.premises_id, s.c.status, s.c.unsubscribe_token]


def get(app: Flask, subscription_id: int) -> Subscription | None:
    s = models.subscriptions
    with get_engine(app).connect() as conn:
        return _row(conn.execute(sa.select(*_columns()).where(s.c.id == subscription_id)).first())


def by_token(app: Flask, token: str) -> Subscription | None:
    s = models.subscriptions
    with get_engine(app).connect() as conn:
        return _row(
            conn.execute(sa.select(*_columns()).where(s.c.unsubscribe_token == token)).first()
        )


@dataclass(frozen=True)
class Started:
    """A sign-up begun: the subscription, and its new code.

    ``already`` says the number already gets texts for this address: the code
    is then never sent (the owner is told instead), but it exists and counts
    tries like any other, so the sign-up looks the same to whoever asked.
    """

    subscription: Subscription
    code: str
    already: bool


def start(app: Flask, phone: str, premises_id: int, now: datetime) -> Started:
    """Create (or reuse) the subscription of ``phone`` to ``premises_id``, with a fresh code."""
    s, v = models.subscriptions, models.verification_codes
    code = f"{secrets.randbelow(1_000_000):06d}"
    already = False
    with get_engine(app).begin() as conn:
        row = conn.execute(
            sa.select(*_columns()).where(s.c.phone == phone, s.c.premises_id == premises_id)
        ).first()
        if row is None:
            sub_id = conn.execute(
                sa.insert(s)
                .values(
                    phone=phone,
                    premises_id=premises_id,
                    status="pending",
                    consent_text=CONSENT_TEXT,
                    consent_version=CONSENT_VERSION,
                    created_at=now,
                    unsubscribe_token=secrets.token_urlsafe(24),
                )
                .returning(s.c.id)
            ).scalar_one()
        elif row.status == "active":
            sub_id, already = row.id, True  # its consent stands as given
        else:
            sub_id = row.id
            # a stopped or pending sign-up starts again, with today's consent wording
            conn.execute(
                sa.update(s)
                .where(s.c.id == sub_id)
                .values(consent_text=CONSENT_TEXT, consent_version=CONSENT_VERSION)
            )
        # only the newest code counts
        conn.execute(
            sa.update(v)
            .where(v.c.subscription_id == sub_id, v.c.used_at.is_(None))
            .values(used_at=now)
        )
        conn.execute(
            sa.insert(v).values(
                subscription_id=sub_id,
                code_hash=_hash(app, sub_id, code),
                expires_at=now + CODE_LIFETIME,
                attempts=0,
                created_at=now,
            )
        )
    sub = get(app, sub_id)
    assert sub is not None
    return Started(sub, code, already)


class CodeProblem(Exception):
    """Why a code was not accepted, in words for the person."""


def verify(app: Flask, subscription_id: int, code: str, now: datetime) -> Subscription:
    """Check ``code``; on success make the subscription active and record consent.

    Each check first spends one of the code's tries in a single statement
    (``UPDATE ... SET attempts = attempts + 1 WHERE attempts < 5 RETURNING``),
    so guesses sent in parallel can never share a try: a code is compared at
    most 5 times, on SQLite and on PostgreSQL alike.
    """
    s, v = models.subscriptions, models.verification_codes
    code = "".join(code.split())
    engine = get_engine(app)
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(v.c.id, v.c.code_hash, v.c.expires_at)
            .where(v.c.subscription_id == subscription_id, v.c.used_at.is_(None))
            .order_by(v.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        raise CodeProblem("That code has been used or replaced. Ask for a new code.")
    if models.aware(row.expires_at) < now:
        raise CodeProblem("That code has expired. Ask for a new code.")
    # a transaction that begins by writing: no read snapshot to upgrade (SQLite's WAL)
    with engine.begin() as conn:
        attempts = conn.execute(
            sa.update(v)
            .where(v.c.id == row.id, v.c.used_at.is_(None), v.c.attempts < MAX_ATTEMPTS)
            .values(attempts=v.c.attempts + 1)
            .returning(v.c.attempts)
        ).scalar()
    if attempts is None:
        raise CodeProblem("Too many wrong codes. Ask for a new code.")
    right = len(code) == 6 and code.isdigit()
    if not (right and hmac.compare_digest(row.code_hash, _hash(app, subscription_id, code))):
        left = MAX_ATTEMPTS - attempts
        if left <= 0:
            raise CodeProblem("Too many wrong codes. Ask for a new code.")
        raise CodeProblem(
            "That code is not right. Check the text and try again "
            f"({left} {'try' if left == 1 else 'tries'} left)."
        )
    with engine.begin() as conn:
        used = conn.execute(
            sa.update(v).where(v.c.id == row.id, v.c.used_at.is_(None)).values(used_at=now)
        ).rowcount
        if not used:  # a newer code replaced it meanwhile
            raise CodeProblem("That code has been used or replaced. Ask for a new code.")
        conn.execute(
            sa.update(s)
            .where(s.c.id == subscription_id)
            .values(status="active", consented_at=now, stopped_at=None, stop_reason=None)
        )
    sub = get(app, subscription_id)
    assert sub is not None
    return sub


def unsubscribe(app: Flask, token: str, now: datetime) -> Subscription | None:
    """Stop the subscription behind ``token`` (idempotent)."""
    s = models.subscriptions
    sub = by_token(app, token)
    if sub is None:
        return None
    with get_engine(app).begin() as conn:
        conn.execute(
            sa.update(s)
            .where(s.c.id == sub.id, s.c.status != "stopped")
            .values(status="stopped", stopped_at=now, stop_reason="web")
        )
    return get(app, sub.id)
