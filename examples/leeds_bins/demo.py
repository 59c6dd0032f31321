"""``make demo`` hooks: load the bundled sample, and run the scheduler beside the app."""

from __future__ import annotations

import sys
from pathlib import Path

from flask import Flask

from examples.common.db import stale_tables

from . import models, sample_projection, state
from .words import today


def prepare(app: Flask) -> None:
    """Load the projected sample when there is no data or its dates are running out."""
    engine = state.get_engine(app)
    stale = stale_tables(engine, models.metadata)
    if stale:
        # made by an older leeds_bins (say, an import log of another layout): the demo's
        # tables hold only the sample and what was typed into the demo, so start them afresh
        print(
            f"leeds_bins: the demo database predates this version ({', '.join(stale)}); rebuilding"
        )
        models.metadata.drop_all(engine)
        models.create_all(engine)
    day = today()
    if sample_projection.needs_refresh(engine, day):
        report = sample_projection.load(engine, Path(app.config["SAMPLE_DIR"]), day)
        print(f"leeds_bins: {report.message} (sample data)", flush=True)
        state.get_import_log(app).forget()


def background_commands() -> list[list[str]]:
    """The reminder scheduler, printing texts to this console (no Twilio keys in a demo)."""
    return [[sys.executable, "-m", "flask", "--app", "examples.leeds_bins", "bins", "scheduler"]]
