"""streetwise: type a postcode, see the hospitals, road collisions and recorded crime around it.

``create_app()`` is the factory (``flask --app examples.streetwise run``);
``flask --app examples.streetwise sw import ...`` loads the data. Settings
come from the environment (see ``docs/streetwise.md``), then from ``config``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from examples.common import configure, init_app, new_app

SERVICE_NAME = "Streetwise"
DATA_DIR = Path(__file__).parent / "data"
CRIME_SOURCES = ("live", "snapshot", "auto")


def _timeout(text: str) -> tuple[float, float]:
    parts = [float(p) for p in text.split(",")]
    return (parts[0], parts[-1])


def _env_config(instance: Path) -> dict[str, Any]:
    env = os.environ
    cache = (
        env.get("STREETWISE_HTTP_CACHE")
        or env.get("REDIS_URL")
        or str(instance / "streetwise_http_cache.sqlite")
    )
    return {
        # live | snapshot | auto (live, falling back to the bundled snapshot with a note)
        "CRIME_SOURCE": env.get("STREETWISE_CRIME_SOURCE", "auto"),
        "CRIME_SNAPSHOT": env.get(
            "STREETWISE_CRIME_SNAPSHOT", str(DATA_DIR / "crime_snapshot.json")
        ),
        # Ask postcodes.io about postcodes missing from the local directory.
        "POSTCODES_ONLINE": env.get("STREETWISE_POSTCODES_ONLINE", "1") not in ("0", "false", "no"),
        # The local postcode directory (civickit.PostcodeDirectory): `sw import --postcodes`
        # builds it here; if there is none, civickit's own default (CIVICKIT_POSTCODES or
        # the user's data folder) is used. "none": postcodes.io only.
        "POSTCODES_DIRECTORY": env.get(
            "STREETWISE_POSTCODES", str(instance / "streetwise_postcodes.db")
        ),
        # District boundaries (ONS GeoJSON, EPSG:4326): `sw import --boundaries` writes a
        # finer set here; if there is none, the bundled 500 m set is used.
        "BOUNDARIES_FILE": env.get(
            "STREETWISE_BOUNDARIES",
            str(instance / "streetwise_boundaries_LAD_DEC_2024_BGC.geojson"),
        ),
        "POLICE_BASE_URL": env.get("STREETWISE_POLICE_URL", "https://data.police.uk/api"),
        "POSTCODES_BASE_URL": env.get("STREETWISE_POSTCODES_URL", "https://api.postcodes.io"),
        "DOWNLOAD_DIR": env.get("STREETWISE_DOWNLOAD_DIR", str(instance / "streetwise_downloads")),
        "HTTP_CACHE": "" if cache.lower() == "none" else cache,
        "HTTP_CACHE_TTL": int(env.get("STREETWISE_HTTP_CACHE_TTL", str(12 * 3600))),
        # connect, read (seconds): a page waits this long for police.uk or postcodes.io
        "UPSTREAM_TIMEOUT": _timeout(env.get("STREETWISE_UPSTREAM_TIMEOUT", "3.05,8")),
        # seconds parsed police.uk answers are kept in memory (0: always ask the HTTP cache)
        "CRIME_MEMO_TTL": int(env.get("STREETWISE_CRIME_MEMO_TTL", "600")),
        "UPSTREAM_RETRIES": int(env.get("STREETWISE_UPSTREAM_RETRIES", "1")),
        # seconds a rendered area page or answer is reused (0: render every request)
        "PAGE_CACHE_TTL": int(env.get("STREETWISE_PAGE_CACHE_TTL", "60")),
        # auto: radius queries go to the database's spatial index (SQLite grid cells, PostGIS)
        # where it has one; memory: every worker keeps all collisions in a PointIndex
        "COLLISION_INDEX": env.get("STREETWISE_COLLISION_INDEX", "auto"),
        # per client address: area pages and answers (each new place may ask police.uk
        # 13 times), and postcodes.io lookups for postcodes missing from the local table
        "AREA_LIMIT_IP": env.get("STREETWISE_AREA_LIMIT_IP", "30/minute;300/hour"),
        "LOOKUP_LIMIT_IP": env.get("STREETWISE_LOOKUP_LIMIT_IP", "10/minute;60/hour"),
    }


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create and configure the streetwise app (``config`` overrides the environment)."""
    app = new_app(__name__)
    configure(app, "streetwise", {**_env_config(Path(app.instance_path)), **(config or {})})
    if app.config["CRIME_SOURCE"] not in CRIME_SOURCES:
        raise ValueError(
            f"STREETWISE_CRIME_SOURCE must be one of {', '.join(CRIME_SOURCES)}, "
            f"not {app.config['CRIME_SOURCE']!r}"
        )
    init_app(app, service_name=SERVICE_NAME)

    from . import cli, filters, state
    from .views import api, health, pages

    state.init_app(app)
    filters.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    cli.init_app(app)
    return app
