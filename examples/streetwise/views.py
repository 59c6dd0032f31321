"""Pages (``main``) and the JSON API (``api``)."""

from __future__ import annotations

import calendar
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for

from civickit.errors import InvalidPostcode, PostcodeNotFound
from civickit.postcodes import normalise
from examples.common import ApiError

from . import area, store
from .upstream import UpstreamFailed, resolve, terminated_words

bp = Blueprint("main", __name__)
api = Blueprint("api", __name__, url_prefix="/api")

RADIUS_LABELS = {500: "500 metres", 1000: "1 kilometre", 2000: "2 kilometres"}


@bp.app_template_filter("month_name")
def month_name(month: str) -> str:
    """'2025-03' -> 'March 2025'."""
    year, m = month.split("-")
    return f"{calendar.month_name[int(m)]} {year}"


@bp.app_template_filter("thousands")
def thousands(value: Any, places: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{places}f}"


def _radius() -> int:
    text = request.args.get("radius_m", "1000").strip()
    try:
        radius = int(text)
    except ValueError:
        radius = -1
    if radius not in area.RADII:
        raise ApiError(
            400,
            "invalid_radius",
            "Choose a distance of 500 metres, 1 kilometre or 2 kilometres "
            "(radius_m=500, 1000 or 2000).",
        )
    return radius


def _sample_flag() -> bool:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        data = store.loaded(app)
    except sa.exc.SQLAlchemyError:
        return False
    return data.is_sample or app.config["CRIME_SOURCE"] == "snapshot"


def _index(error: str | None = None, value: str = "", status: int = 200, radius: int = 1000):
    return (
        render_template(
            "streetwise/index.html",
            error=error,
            value=value,
            radius=radius,
            radius_labels=RADIUS_LABELS,
            sample_data=_sample_flag(),
        ),
        status,
    )


@bp.get("/")
def index():
    text = request.args.get("postcode")
    if text is None:
        return _index()
    radius = _radius()
    try:
        postcode = normalise(text)
    except InvalidPostcode:
        message = (
            "Enter a postcode in England, Scotland or Wales, like LS1 1UR"
            if text.strip()
            else "Enter a postcode"
        )
        return _index(message, text, 400, radius)
    return redirect(url_for("main.area_page", postcode=postcode, radius_m=radius))


@bp.get("/area/<postcode>")
def area_page(postcode: str):
    radius = _radius()
    try:
        canonical = normalise(postcode)
    except InvalidPostcode:
        return _index("Enter a postcode in England, Scotland or Wales, like LS1 1UR", postcode, 400)
    if canonical != postcode:
        return redirect(url_for("main.area_page", postcode=canonical, radius_m=radius), 301)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        where = resolve(app, canonical)
    except PostcodeNotFound as exc:
        return _index(terminated_words(exc), canonical, 404, radius)
    except UpstreamFailed as failure:
        return render_template(
            "streetwise/unavailable.html",
            postcode=canonical,
            failure=failure,
            title=f"{canonical}: lookup not available",
            sample_data=_sample_flag(),
        )

    def render() -> str:
        report = area.report(app, where, radius)
        return render_template(
            "streetwise/area.html",
            r=report,
            radius_labels=RADIUS_LABELS,
            map_data=_map_data(report),
            chart=_charts(report),
            title=f"{canonical}: hospitals, road collisions and crime",
            sample_data=report["sample_data"],
            meta=store.loaded(app).meta,
        )

    return _cached("page", where, radius, render)


def _cached(kind: str, where: Any, radius: int, render: Any) -> Any:
    """Pages and answers are a function of the place, the radius and the loaded data.

    Crime can come live from police.uk, so entries also expire after
    ``PAGE_CACHE_TTL`` seconds (0 turns the cache off).
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    version = store.loaded(app).version
    key = (kind, where.postcode, where.latitude, where.longitude, radius, version)
    return app.extensions["streetwise.page_cache"].get_or_render(key, render)


def _chart_rows(items, label, leeds_factor: float, sublabel=None) -> list[dict[str, Any]]:
    """Rows for the SVG charts: the count, and the count expected at the Leeds rate."""
    return [
        {
            "label": label(item),
            "sublabel": sublabel(item) if sublabel else None,
            "value": item["count"],
            "leeds": None
            if item["leeds_per_km2"] is None
            else item["leeds_per_km2"] * leeds_factor,
        }
        for item in items
    ]


def _charts(report: dict[str, Any]) -> dict[str, Any]:
    circle = report["comparison"]["circle_km2"]
    col, cr = report["collisions"], report["crime"]
    out: dict[str, Any] = {
        "severity": _chart_rows(
            col["by_severity"], lambda s: s["severity"].capitalize(), circle * len(col["years"])
        ),
        "year": _chart_rows(col["by_year"], lambda y: str(y["year"]), circle),
    }
    if "error" not in cr:
        out["category"] = _chart_rows(
            cr["by_category"], lambda c: c["name"], circle * len(cr["months"])
        )
        out["month"] = _chart_rows(
            cr["by_month"],
            lambda m: calendar.month_abbr[int(m["month"][5:])],
            circle,
            sublabel=lambda m: m["month"][:4],
        )
    for key in list(out):
        out[f"{key}_max"] = max(
            [max(row["value"], row["leeds"] or 0) for row in out[key]], default=1
        )
    return out


def _map_data(report: dict[str, Any]) -> dict[str, Any]:
    crime = report["crime"]
    return {
        "centre": [report["latitude"], report["longitude"]],
        "radius_m": report["radius_m"],
        "postcode": report["postcode"],
        "hospitals": [[h["latitude"], h["longitude"], h["name"]] for h in report["hospitals"]],
        "collisions": [list(p) for p in report["collisions"]["_points"]],
        "crimes": [[p["latitude"], p["longitude"], p["name"]] for p in crime.get("_points", [])],
    }


@bp.get("/healthz")
def healthz():
    engine = current_app.extensions["streetwise.engine"]
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    return jsonify({"status": "ok"})


@api.get("/area/<postcode>")
def area_json(postcode: str):
    radius = _radius()
    try:
        canonical = normalise(postcode)
    except InvalidPostcode as exc:
        raise ApiError(400, "invalid_postcode", str(exc)) from exc
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        where = resolve(app, canonical)
    except PostcodeNotFound as exc:
        code = "postcode_terminated" if exc.terminated else "postcode_not_found"
        raise ApiError(404, code, terminated_words(exc)) from exc
    except UpstreamFailed as failure:
        raise ApiError(503, failure.code, failure.message) from failure
    body = _cached(
        "api",
        where,
        radius,
        lambda: jsonify(area.public(area.report(app, where, radius))).get_data(),
    )
    return current_app.response_class(body, mimetype="application/json")
