"""Fixtures for the example apps' tests (each app's fixtures are prefixed with its name).

The factories behind them are in ``helpers.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.examples.helpers import (
    LEEDS_NOW,
    leeds_engine,
    load_leeds_sample,
    load_streetwise_sample,
    make_leeds_app,
    make_streetwise_app,
    streetwise_engine,
    throwaway_schema,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> Iterator[str]:
    """A fresh app database: SQLite in tmp_path, or a throwaway PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.sqlite3'}"
        return
    with throwaway_schema(request.getfixturevalue("postgres_url"), "ex_") as url:
        yield url


# -- leeds_bins ------------------------------------------------------------------------


@pytest.fixture
def leeds_clock(time_machine):
    """The one clock, set to noon on Thursday 3 December 2026 in Leeds and ticking.

    The app, its jobs and the scheduler's triggers all read it; a test moves it with
    ``leeds_clock.move_to(when, tick=False)``.
    """
    time_machine.move_to(LEEDS_NOW, tick=True)
    return time_machine


@pytest.fixture
def leeds_sender():
    """Texts kept in memory: ``leeds_sender.last_code_for(number)`` reads a code."""
    from civickit.sms import MemorySender

    return MemorySender()


@pytest.fixture
def leeds_app(leeds_clock, tmp_path, leeds_sender):
    """leeds_bins on SQLite with the bundled sample projected to the clock's today."""
    app = make_leeds_app(f"sqlite:///{tmp_path / 'leeds_bins.sqlite3'}", tmp_path, leeds_sender)
    load_leeds_sample(app)
    yield app
    leeds_engine(app).dispose()


@pytest.fixture
def leeds_any_app(leeds_clock, database_url, tmp_path, leeds_sender):
    """leeds_bins with the sample loaded, on SQLite and (when reachable) PostgreSQL."""
    app = make_leeds_app(database_url, tmp_path, leeds_sender)
    load_leeds_sample(app)
    yield app
    leeds_engine(app).dispose()


@pytest.fixture
def leeds_client(leeds_app):
    return leeds_app.test_client()


@pytest.fixture
def leeds_runner(leeds_app):
    return leeds_app.test_cli_runner()


# -- streetwise ------------------------------------------------------------------------


@pytest.fixture
def streetwise_config() -> dict[str, Any]:
    """Settings the streetwise apps below get on top of the tests' defaults.

    A test module that needs others (crime from police.uk, no postcode directory)
    overrides this fixture.
    """
    return {}


@pytest.fixture
def streetwise_app(tmp_path, streetwise_config):
    """streetwise on SQLite with the bundled sample loaded; crime from the snapshot."""
    app = make_streetwise_app(
        f"sqlite:///{tmp_path / 'streetwise.sqlite3'}",
        DOWNLOAD_DIR=str(tmp_path / "downloads"),
        **streetwise_config,
    )
    load_streetwise_sample(app)
    yield app
    streetwise_engine(app).dispose()


@pytest.fixture
def streetwise_any_app(database_url, tmp_path, streetwise_config):
    """streetwise with the sample loaded, on SQLite and (when reachable) PostgreSQL."""
    app = make_streetwise_app(
        database_url, DOWNLOAD_DIR=str(tmp_path / "downloads"), **streetwise_config
    )
    load_streetwise_sample(app)
    yield app
    streetwise_engine(app).dispose()
