"""Fixtures for the example apps' tests (each app's fixtures are prefixed with its name)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> Iterator[str]:
    """A fresh app database: SQLite in tmp_path, or a throwaway PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.sqlite3'}"
        return
    import sqlalchemy as sa

    base = request.getfixturevalue("postgres_url")
    schema = "ex_" + secrets.token_hex(4)
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


# -- leeds_bins ------------------------------------------------------------------------

# A Thursday: "tomorrow" is Friday 4 December 2026, and Christmas Day (a Friday
# bank holiday) falls within the next 8 weeks.
LEEDS_TODAY = date(2026, 12, 3)


@pytest.fixture
def leeds_sender():
    """Texts kept in memory: ``leeds_sender.last_code_for(number)`` reads a code."""
    from civickit.sms import MemorySender

    return MemorySender()


def make_leeds_app(database_url: str, tmp_path: Path, sender, **config):
    from examples.leeds_bins import create_app

    settings = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "SMS_SENDER": sender,
        "TODAY": LEEDS_TODAY,
        "SAMPLE_DIR": str(tmp_path / "sample"),
        "DOWNLOAD_DIR": str(tmp_path / "downloads"),
        "TWILIO_AUTH_TOKEN": "test-auth-token",
        "PUBLIC_BASE_URL": None,
        "REDIS_URL": None,
        **config,
    }
    app = create_app(settings)
    return app


def load_leeds_sample(app, today: date = LEEDS_TODAY):
    from examples.leeds_bins import sample

    report = sample.load(app.extensions["leeds_bins.engine"], Path(app.config["SAMPLE_DIR"]), today)
    app.extensions["leeds_bins.meta_forget"]()
    return report


@pytest.fixture
def leeds_app(tmp_path, leeds_sender):
    """leeds_bins on SQLite with the bundled sample projected to LEEDS_TODAY."""
    app = make_leeds_app(f"sqlite:///{tmp_path / 'leeds_bins.sqlite3'}", tmp_path, leeds_sender)
    load_leeds_sample(app)
    yield app
    app.extensions["leeds_bins.engine"].dispose()


@pytest.fixture
def leeds_any_app(database_url, tmp_path, leeds_sender):
    """leeds_bins with the sample loaded, on SQLite and (when reachable) PostgreSQL."""
    app = make_leeds_app(database_url, tmp_path, leeds_sender)
    load_leeds_sample(app)
    yield app
    app.extensions["leeds_bins.engine"].dispose()


@pytest.fixture
def leeds_client(leeds_app):
    return leeds_app.test_client()


@pytest.fixture
def leeds_runner(leeds_app):
    return leeds_app.test_cli_runner()
