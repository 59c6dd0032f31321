"""Helpers for tests and benchmarks: an app that never touches the real network by accident."""

from __future__ import annotations

from typing import Any

from flask import Flask

TEST_HOSTS = ("data.police.uk", "api.postcodes.io")


def make_test_app(database_url: str, **config: Any) -> Flask:
    """streetwise with no HTTP cache, no retries, short timeouts and no client rate limits.

    Crime comes from the snapshot unless ``CRIME_SOURCE`` says otherwise;
    tests that want police.uk mock it (``responses``) and pass ``"live"``.
    """
    from . import create_app
    from .upstream import http_client

    settings = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "REDIS_URL": None,
        "RATELIMIT_ENABLED": False,
        "CRIME_SOURCE": "snapshot",
        "HTTP_CACHE": "",
        "UPSTREAM_RETRIES": 0,
        "UPSTREAM_TIMEOUT": (1, 2),
        "CRIME_MEMO_TTL": 0,  # every request reaches the (mocked) network or HTTP cache
        "PAGE_CACHE_TTL": 0,  # ... and is rendered afresh
        # police.uk's own 15/s limit would only slow the mocked tests down
        "POLICE_RATE": (10_000.0, 10_000.0),
        **config,
    }
    app = create_app(settings)
    http = http_client(app)
    for host in TEST_HOSTS:
        http.set_rate_limit(host, 10_000, burst=10_000)
    return app
