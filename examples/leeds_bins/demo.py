"""``make demo`` hooks: load the bundled sample, and run the scheduler beside the app."""

from __future__ import annotations

import sys
from pathlib import Path

from flask import Flask

from . import sample
from .words import today


def prepare(app: Flask) -> None:
    """Load the projected sample when there is no data or its dates are running out."""
    engine = app.extensions["leeds_bins.engine"]
    day = today()
    if sample.needs_refresh(engine, day):
        report = sample.load(engine, Path(app.config["SAMPLE_DIR"]), day)
        print(f"leeds_bins: {report.message} (sample data)", flush=True)
        app.extensions["leeds_bins.meta_forget"]()


def background_commands() -> list[list[str]]:
    """The reminder scheduler, printing texts to this console (no Twilio keys in a demo)."""
    return [[sys.executable, "-m", "flask", "--app", "examples.leeds_bins", "bins", "scheduler"]]
