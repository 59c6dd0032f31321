"""What the app keeps between requests, made once per app by :func:`init_app`.

Views ask for it through the accessors below (as Flask's tutorial app has
``get_db()``), which take the app or use the current one; only this module
knows where it is kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from flask import Flask, current_app

import civickit
from civickit.datasets.hospitals import read_nhs

SAMPLE = Path(__file__).parent / "data" / "hospitals.csv"
Row = dict[str, Any]


class Rows:
    """The rows the app maps and their index: read on first use (a portal's online), then kept."""

    def __init__(self, portal: str | None, dataset: str | None, limit: int) -> None:
        self.portal, self.dataset, self.limit = portal, dataset, limit
        self._lock = threading.Lock()  # one reading, however many requests wait for it
        self._index: civickit.PointIndex[Row] | None = None

    def index(self) -> civickit.PointIndex[Row]:
        with self._lock:
            if self._index is None:
                self._index = civickit.PointIndex(self.read(), lat="latitude", lon="longitude")
            return self._index

    def read(self) -> list[Row]:
        """The rows with a location: the bundled sample, or the portal's dataset's table."""
        if self.portal is None:
            return [hospital.to_dict() for hospital in read_nhs(SAMPLE)]
        if self.dataset is None:
            raise civickit.CivicKitError(f"Name a dataset on {self.portal}: set APP_DATASET.")
        portal = civickit.portal(self.portal)
        dataset = portal.dataset(self.dataset)
        table = dataset.table()  # the resource readable row by row, as `civickit load` picks it
        if table is None:
            raise civickit.CivicKitError(f"{dataset.name} has no table that civickit can read.")
        rows = portal.records(table, limit=self.limit)
        return [row for row in rows if row.get("latitude") is not None]


@dataclass(frozen=True)
class State:
    postcodes: civickit.Postcodes
    rows: Rows


def init_app(app: Flask) -> None:
    """Make the postcode lookup and the (not yet read) rows for ``app``."""
    config = app.config
    local = config["POSTCODES"]
    if local is None and config["PORTAL"] is None:
        # the bundled sample's postcodes are in civickit's sample postcode directory
        local = str(files("civickit") / "data" / "postcodes_sample.db")
    app.extensions[__name__] = State(
        postcodes=civickit.Postcodes(local=local, offline=config["OFFLINE"]),
        rows=Rows(config["PORTAL"], config["DATASET"], config["ROW_LIMIT"]),
    )


def _state(app: Flask | None) -> State:
    state: State = (app or current_app).extensions[__name__]
    return state


def get_postcodes(app: Flask | None = None) -> civickit.Postcodes:
    """Postcodes to places: the local directory first, then postcodes.io (unless offline)."""
    return _state(app).postcodes


def get_index(app: Flask | None = None) -> civickit.PointIndex[Row]:
    """The rows with a location, indexed by where they are (read on the first call)."""
    return _state(app).rows.index()
