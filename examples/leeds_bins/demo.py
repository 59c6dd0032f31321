"""``make demo`` hooks: load the bundled sample, and run the scheduler beside the app."""

from __future__ import annotations

import sys
from pathlib import Path

from flask import Flask

from . import sample_projection, state
from .words import today


def prepare(app: Flask) -> None:
    """Load the projected sample when there is no data or its dates are running out."""
    engine = state.get_engine(app)
    day = today()
    if sample_projection.needs_refresh(engine, day):
        report = sample_projection.load(engine, Path(app.config["SAMPLE_DIR"]), day)
        print(f"leeds_bins: {report.message} (sample data)", flush=True)
        state.forget_data_meta(app)


def background_commands() -> list[list[str]]:
    """The reminder scheduler, printing texts to this console (no Twilio keys in a demo)."""
    return [[sys.executable, "-m", "flask", "--app", "examples.leeds_bins", "bins", "scheduler"]]
