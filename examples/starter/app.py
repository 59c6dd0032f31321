"""A small civickit app: a dataset's rows near a postcode, as a page with a map and as JSON.

Run it with ``flask --app app run`` (``make demo``). What it shows is in
``settings.py``: the bundled sample of NHS hospitals, or any portal's dataset.
"""

from __future__ import annotations

import os
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import settings
from flask import Flask, jsonify, render_template, request
from jinja2 import ChoiceLoader, PackageLoader, PrefixLoader

import civickit
from civickit.datasets.hospitals import read_nhs

HERE = Path(__file__).parent
SAMPLE = HERE / "data" / "hospitals.csv"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_object(settings)
    app.config.update(config or {})
    # the app's templates, then GOV.UK Frontend's macros and page template
    app.jinja_loader = ChoiceLoader(
        [
            PackageLoader("app", "templates") if app.jinja_loader is None else app.jinja_loader,
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    )
    sample = app.config["PORTAL"] is None
    # the bundled sample's postcodes are in civickit's sample postcode directory
    local = os.environ.get("CIVICKIT_POSTCODES") or (
        str(files("civickit") / "data" / "postcodes_sample.db") if sample else None
    )
    postcodes = civickit.Postcodes(local=local, offline=app.config.get("OFFLINE", False))
    rows = cache(lambda: load_rows(app.config))

    def near(text: str) -> dict[str, Any]:
        """The rows near the postcode ``text``; raises CivicKitError for bad input."""
        place = postcodes.lookup(text)
        if place.latitude is None or place.longitude is None:
            raise civickit.PostcodeNotFound(place.postcode)
        index = civickit.PointIndex(rows(), lat="latitude", lon="longitude")
        found = index.within(place.latitude, place.longitude, radius_m=app.config["RADIUS_M"])
        return {
            "postcode": place.postcode,
            "latitude": place.latitude,
            "longitude": place.longitude,
            "radius_m": app.config["RADIUS_M"],
            "rows": [
                {"name": name_of(row, app.config["NAME_FIELD"]), "distance_m": round(metres)}
                | {k: v for k, v in row.items() if isinstance(v, str | int | float | None)}
                for row, metres in found[: app.config["MAX_ROWS"]]
            ],
        }

    @app.get("/")
    def index() -> str | tuple[str, int]:
        text = request.args.get("postcode", "").strip()
        if not text:
            return render_template("index.html", sample=sample)
        try:
            answer = near(text)
        except civickit.CivicKitError as exc:
            return render_template("index.html", sample=sample, postcode=text, error=exc), 400
        return render_template("index.html", sample=sample, postcode=text, answer=answer)

    @app.get("/api/near")
    def api_near() -> Any:
        try:
            return jsonify(near(request.args.get("postcode", "")))
        except civickit.CivicKitError as exc:
            return jsonify({"error": str(exc)}), 400

    return app


def load_rows(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows with a location: the bundled sample, or the portal's (read once)."""
    if config["PORTAL"] is None:
        return [hospital.to_dict() for hospital in read_nhs(SAMPLE)]
    portal = civickit.portal(config["PORTAL"])
    dataset = portal.dataset(config["DATASET"])
    table = dataset.table()  # the resource readable row by row, as `civickit load` picks it
    if table is None:
        raise civickit.CivicKitError(f"{dataset.name} has no table that civickit can read.")
    rows = portal.records(table, limit=config["ROW_LIMIT"])
    return [row for row in rows if row.get("latitude") is not None]


def name_of(row: dict[str, Any], field: str | None) -> str:
    if field and row.get(field):
        return str(row[field])
    text = [v for k, v in row.items() if isinstance(v, str) and v and k not in ("geometry",)]
    return text[0] if text else "(no name)"
