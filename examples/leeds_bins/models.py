"""The app's tables (SQLAlchemy 2 Core).

``premises`` and ``collections`` are replaced wholesale by each import (see
:mod:`.importer`): the importer loads copies under staging names, builds the
indexes declared here on them after the load, then swaps them in inside one
transaction. Everything else is ordinary, long-lived application state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

import sqlalchemy as sa

from examples.common import import_log

metadata = sa.MetaData()
# The council's premises ids: a BIGINT, but SQLite's INTEGER (the rowid, so the fastest key).
PremisesId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

BINS = ("black", "green", "brown", "food")


def utcnow() -> datetime:
    return datetime.now(UTC)


premises = sa.Table(
    "premises",
    metadata,
    sa.Column("id", PremisesId, primary_key=True, autoincrement=False),  # the council's key
    sa.Column("saon", sa.String(200), nullable=False, default=""),  # flat / room
    sa.Column("paon", sa.String(200), nullable=False, default=""),  # house number / name
    sa.Column("street", sa.String(200), nullable=False, default=""),
    sa.Column("locality", sa.String(200), nullable=False, default=""),
    sa.Column("town", sa.String(200), nullable=False, default=""),
    sa.Column("postcode", sa.String(8), nullable=False, default=""),  # "LS5 3DH"
    sa.Column("address", sa.String(600), nullable=False, default=""),
)
sa.Index("ix_premises_postcode", premises.c.postcode)

collections = sa.Table(
    "collections",
    metadata,
    sa.Column("premises_id", PremisesId, nullable=False),
    sa.Column("bin", sa.String(5), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
)
sa.Index(
    "ux_collections", collections.c.premises_id, collections.c.date, collections.c.bin, unique=True
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("phone", sa.String(20), nullable=False),  # E.164
    sa.Column("premises_id", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(10), nullable=False, default="pending"),  # pending|active|stopped
    sa.Column("consent_text", sa.Text, nullable=False),
    sa.Column("consent_version", sa.String(20), nullable=False),
    sa.Column("consented_at", sa.DateTime(timezone=True)),  # when the code was confirmed
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, default=utcnow),
    sa.Column("stopped_at", sa.DateTime(timezone=True)),
    sa.Column("stop_reason", sa.String(20)),  # web | sms_stop | provider
    sa.Column("unsubscribe_token", sa.String(64), nullable=False, unique=True),
    sa.UniqueConstraint("phone", "premises_id", name="uq_subscriptions_phone_premises"),
)
sa.Index("ix_subscriptions_premises_status", subscriptions.c.premises_id, subscriptions.c.status)

verification_codes = sa.Table(
    "verification_codes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "subscription_id",
        sa.Integer,
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("code_hash", sa.String(64), nullable=False),  # HMAC-SHA256, never the code
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("used_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, default=utcnow),
)

# Twilio webhooks that changed something, so that a replay of one (same message, same
# event) changes nothing: Twilio's signature has no timestamp, a copy stays valid.
twilio_webhooks = sa.Table(
    "twilio_webhooks",
    metadata,
    sa.Column("message_sid", sa.String(64), primary_key=True),
    sa.Column("event", sa.String(40), primary_key=True),  # inbound | status:<MessageStatus>
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, default=utcnow),
)

# Every import attempt and its outcome; the newest successful one is the data serving now.
imports = import_log(metadata, "data_meta")

scheduler_heartbeat = sa.Table(
    "scheduler_heartbeat",
    metadata,
    sa.Column("job", sa.String(40), primary_key=True),
    sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, default=""),
)


def create_all(engine: sa.Engine) -> None:
    """Create any missing tables (idempotent; safe on every start)."""
    metadata.create_all(engine, checkfirst=True)


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for UTC values; make them aware again."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
