"""``make demo`` hooks: load the bundled sample once, and never hang when offline."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

import civickit
from examples.common.db import stale_tables

from . import importer, spatial, state
from .models import create_all, metadata

SAMPLE_POSTCODES = Path(civickit.__file__).parent / "data" / "postcodes_sample.db"


def prepare(app: Flask) -> None:
    """Load the bundled sample if the database holds no data yet (idempotent)."""
    if "STREETWISE_CRIME_SOURCE" not in os.environ:
        # The recorded snapshot: the demo must work, and work at once, offline.
        app.config["CRIME_SOURCE"] = "snapshot"
    if (
        "STREETWISE_POSTCODES" not in os.environ
        and not Path(app.config["POSTCODES_DIRECTORY"]).is_file()
    ):
        # civickit's bundled directory: real published rows for every postcode the demo
        # links to (civickit/data/postcodes_sample.csv says where each comes from)
        app.config["POSTCODES_DIRECTORY"] = str(SAMPLE_POSTCODES)
    if "STREETWISE_UPSTREAM_TIMEOUT" not in os.environ:
        app.config["UPSTREAM_TIMEOUT"] = (2, 4)
    if "STREETWISE_UPSTREAM_RETRIES" not in os.environ:
        app.config["UPSTREAM_RETRIES"] = 0
    engine = state.get_engine(app)
    stale = stale_tables(engine, metadata)
    if stale:
        # made by an older streetwise: the demo's tables hold only the bundled
        # sample, so build them afresh and load it again
        print(
            f"streetwise: the demo database predates this version ({', '.join(stale)}); rebuilding"
        )
        metadata.drop_all(engine)
    create_all(engine)
    loaded = bool(state.get_import_log(app).serving().imports)
    if loaded and spatial.backend(engine) != "memory" and not spatial.has_index(engine):
        # loaded by a version with another spatial index: load the sample again to build it
        print("streetwise: the demo database has no spatial index of this version; reloading")
        loaded = False
    if not loaded:
        for report in importer.import_sample(engine):
            print(f"streetwise: loaded {report.rows:,} {report.source} (bundled sample)")


def background_commands() -> list[list[str]]:
    """streetwise needs no extra processes."""
    return []
