"""Leeds bin days: find your address, see which bin goes out when, subscribe a calendar,
get a text the evening before.

``create_app()`` is the factory (``flask --app examples.leeds_bins run``); the
``bins`` commands import data, run the scheduler and send due reminders.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from examples.common import configure, init_app, new_app
from examples.common.web import exempt_from_csrf

SERVICE_NAME = "Leeds bin days"


def _env_config() -> dict[str, Any]:
    env = os.environ
    return {
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID") or None,
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN") or None,
        "TWILIO_MESSAGING_SERVICE_SID": env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
        "TWILIO_FROM": env.get("TWILIO_FROM") or None,
        # When reminders go out, the evening before a collection (Europe/London).
        "REMINDER_TIME": env.get("LEEDS_BINS_REMINDER_TIME", "19:00"),
        # When the scheduler refreshes the data (portal, or the sample in a demo).
        "REFRESH_TIME": env.get("LEEDS_BINS_REFRESH_TIME", "05:30"),
        "DATA_MAX_AGE_HOURS": int(env.get("LEEDS_BINS_DATA_MAX_AGE_HOURS", "72")),
        "HEARTBEAT_MAX_AGE_MINUTES": int(env.get("LEEDS_BINS_HEARTBEAT_MAX_AGE_MINUTES", "5")),
        "READYZ_REQUIRE_SCHEDULER": env.get("LEEDS_BINS_READYZ_REQUIRE_SCHEDULER", "1")
        not in ("0", "false", "no"),
        "SIGNUP_LIMIT_IP": env.get("LEEDS_BINS_SIGNUP_LIMIT_IP", "10/hour;30/day"),
        "SIGNUP_LIMIT_PHONE": env.get("LEEDS_BINS_SIGNUP_LIMIT_PHONE", "3/hour;6/day"),
        "VERIFY_LIMIT_IP": env.get("LEEDS_BINS_VERIFY_LIMIT_IP", "20/hour;60/day"),
        "VERIFY_LIMIT_PHONE": env.get("LEEDS_BINS_VERIFY_LIMIT_PHONE", "10/hour"),
        "BENCH": env.get("LEEDS_BINS_BENCH", "0") in ("1", "true", "yes"),
        "SMS_SENDER": None,  # a sender object (tests pass MemorySender())
    }


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create and configure the leeds_bins app (``config`` overrides the environment)."""
    app = new_app(__name__)
    configure(app, "leeds_bins", {**_env_config(), **(config or {})})
    instance = Path(app.instance_path)
    app.config.setdefault("SAMPLE_DIR", str(instance / "leeds_bins_sample"))
    app.config.setdefault("DOWNLOAD_DIR", str(instance / "leeds_bins_downloads"))
    init_app(app, service_name=SERVICE_NAME)
    from govuk_frontend_wtf.main import wtforms_errors

    app.add_template_global(wtforms_errors)

    from . import cli, state
    from .views import api, health, pages, sms, twilio

    state.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(sms.bp)
    app.register_blueprint(twilio.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    # Twilio cannot send our CSRF token; its webhooks are signature-checked instead.
    exempt_from_csrf(app, twilio.bp)

    if app.config["BENCH"]:
        # the ceiling for `make bench`: the same app, middleware and headers, no work
        app.add_url_rule("/bench/hello", "bench_hello", lambda: "Hello, World!")

    cli.init_app(app)
    return app
