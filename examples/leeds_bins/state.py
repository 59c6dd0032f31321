"""The app's long-lived objects, each made once per app on first use (flaskr's ``get_db()``).

Views, commands, jobs and the app's own modules ask for them through the
accessors below, which take the app explicitly or use the current one. Only
this module knows where they are kept, and it imports nothing of the app but
its tables: the modules that use these objects import this one, never the
reverse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from civickit.reminders import Outbox, Sender
from civickit.sms import ConsoleSender, TwilioSender
from examples.common import ImportLog, MemoryCache, made_once, make_engine, show_sample_notice

from . import models

#: How long a page may go on showing the data before an import in another process
#: (the scheduler's refresh): every page asks, and the page cache keys on its version.
SERVING_MAX_AGE_S = 30.0


def init_app(app: Flask) -> None:
    """Show the "Sample data" notice on every page while the bundled sample is serving."""
    show_sample_notice(app, lambda: get_import_log(app).serving().is_sample)


def get_engine(app: Flask | None = None) -> sa.Engine:
    """The app's database engine (its tables and the outbox's are created on first use)."""
    return made_once(app or current_app, _engine)


def get_outbox(app: Flask | None = None) -> Outbox:
    """The reminders outbox (``civickit_outbox``)."""
    return made_once(app or current_app, _outbox)


def get_sender(app: Flask | None = None) -> Sender:
    """Where texts go: Twilio, the console, or a test's sender."""
    return made_once(app or current_app, _sender)


def get_cache(app: Flask | None = None) -> MemoryCache:
    """Rendered pages and answers; keys carry the data version and the date."""
    return made_once(app or current_app, _cache)


def get_import_log(app: Flask | None = None) -> ImportLog:
    """The record of imports, and of the data serving now (``.serving()``).

    An import in this process calls ``.forget()`` on it, so the next page sees
    the new data at once.
    """
    return made_once(app or current_app, _import_log)


def _engine(app: Flask) -> sa.Engine:
    engine = make_engine(app.config["DATABASE_URL"])
    models.create_all(engine)
    Outbox(engine).create_all()
    return engine


def _outbox(app: Flask) -> Outbox:
    return Outbox(get_engine(app))


def _sender(app: Flask) -> Sender:
    return make_sender(app.config)


def _cache(app: Flask) -> MemoryCache:
    return MemoryCache(app.config.get("PAGE_CACHE_SIZE", 2048))


def _import_log(app: Flask) -> ImportLog:
    return ImportLog(get_engine(app), models.imports, max_age=SERVING_MAX_AGE_S)


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
