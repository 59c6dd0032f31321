"""The app's long-lived objects, made once per app by :func:`init_app` (flaskr's ``get_db()``).

Views, commands and jobs ask for them through the accessors below, which
take the app explicitly or use the current one. Only this module knows
where they are kept.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from civickit.reminders import Outbox, Sender
from civickit.sms import ConsoleSender, TwilioSender
from examples.common import MemoryCache, make_engine

from . import importer, models

_KEY = "leeds_bins"
META_MAX_AGE_S = 30.0  # how long a page may show a stale "sample data" flag


class DataMeta:
    """The record of the import serving now, re-read at most every ``max_age`` seconds.

    Every page says whether the sample is in use, and the page cache keys on
    the data version, so this is asked on every request.
    """

    def __init__(self, engine: sa.Engine, max_age: float = META_MAX_AGE_S) -> None:
        self._engine = engine
        self._max_age = max_age
        # (when read, what was read), replaced whole: two threads may both re-read, harmlessly
        self._read: tuple[float, dict[str, Any] | None] | None = None

    def get(self) -> dict[str, Any] | None:
        read = self._read
        if read is None or time.monotonic() - read[0] > self._max_age:
            read = (time.monotonic(), importer.current_meta(self._engine))
            self._read = read
        return read[1]

    def forget(self) -> None:
        """Re-read on the next :meth:`get` (after an import in this process)."""
        self._read = None


@dataclass(frozen=True)
class State:
    engine: sa.Engine
    outbox: Outbox
    sender: Sender
    cache: MemoryCache  # rendered premises pages, calendar feeds and API answers
    meta: DataMeta


def init_app(app: Flask) -> None:
    """Connect to the database (creating missing tables), and make the sender and caches."""
    engine = make_engine(app.config["DATABASE_URL"])
    models.create_all(engine)
    outbox = Outbox(engine)
    outbox.create_all()
    app.extensions[_KEY] = State(
        engine=engine,
        outbox=outbox,
        sender=make_sender(app.config),
        cache=MemoryCache(app.config.get("PAGE_CACHE_SIZE", 2048)),
        meta=DataMeta(engine),
    )

    @app.context_processor
    def _sample() -> dict[str, Any]:
        meta = get_data_meta(app)
        return {"sample_data": bool(meta and meta["is_sample"]), "data_meta": meta}


def make_sender(config: Mapping[str, Any]) -> Sender:
    """``SMS_SENDER`` if given (tests); Twilio when its keys are set; else the console."""
    if config.get("SMS_SENDER") is not None:
        sender: Sender = config["SMS_SENDER"]
        return sender
    sid, token = config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN")
    service, from_ = config.get("TWILIO_MESSAGING_SERVICE_SID"), config.get("TWILIO_FROM")
    if sid and token and (service or from_):
        base = config.get("PUBLIC_BASE_URL")
        return TwilioSender(
            sid,
            token,
            messaging_service_sid=service,
            from_=None if service else from_,
            status_callback=f"{base}/twilio/status" if base else None,
        )
    return ConsoleSender()


def _state(app: Flask | None) -> State:
    state: State = (app or current_app).extensions[_KEY]
    return state


def get_engine(app: Flask | None = None) -> sa.Engine:
    """The app's database engine."""
    return _state(app).engine


def get_outbox(app: Flask | None = None) -> Outbox:
    """The reminders outbox (``civickit_outbox``)."""
    return _state(app).outbox


def get_sender(app: Flask | None = None) -> Sender:
    """Where texts go: Twilio, the console, or a test's sender."""
    return _state(app).sender


def get_cache(app: Flask | None = None) -> MemoryCache:
    """Rendered pages and answers; keys carry the data version and the date."""
    return _state(app).cache


def get_data_meta(app: Flask | None = None) -> dict[str, Any] | None:
    """The record of the import serving now (``None`` before the first import)."""
    return _state(app).meta.get()


def forget_data_meta(app: Flask | None = None) -> None:
    """Make the next request re-read the import record (call after an import)."""
    _state(app).meta.forget()


def data_version(app: Flask | None = None) -> str:
    """Which import is serving, for cache keys and ETags."""
    meta = get_data_meta(app)
    return f"{meta['id']}:{meta['imported_at'].isoformat()}" if meta else "none"
