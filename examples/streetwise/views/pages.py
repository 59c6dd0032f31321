"""The pages residents use: the postcode form and the area page (hospitals, collisions, crime)."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from civickit.errors import InvalidPostcode, PostcodeNotFound
from civickit.postcodes import normalise

from .. import area
from ..upstream import UpstreamFailed, terminated_words
from .shared import RADIUS_LABELS, cached, count_area_request, locate, radius_arg

bp = Blueprint("main", __name__)


def _index(
    error: str | None = None, value: str = "", status: int = 200, radius: int = 1000
) -> tuple[str, int]:
    return (
        render_template(
            "streetwise/index.html",
            error=error,
            value=value,
            radius=radius,
            radius_labels=RADIUS_LABELS,
        ),
        status,
    )


@bp.get("/")
def index() -> ResponseReturnValue:
    text = request.args.get("postcode")
    if text is None:
        return _index()
    radius = radius_arg()
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
def area_page(postcode: str) -> ResponseReturnValue:
    count_area_request()
    radius = radius_arg()
    try:
        canonical = normalise(postcode)
    except InvalidPostcode:
        return _index("Enter a postcode in England, Scotland or Wales, like LS1 1UR", postcode, 400)
    if canonical != postcode:
        return redirect(url_for("main.area_page", postcode=canonical, radius_m=radius), 301)
    try:
        where = locate(canonical)
    except PostcodeNotFound as exc:
        return _index(terminated_words(exc), canonical, 404, radius)
    except UpstreamFailed as failure:
        return render_template(
            "streetwise/unavailable.html",
            postcode=canonical,
            failure=failure,
            title=f"{canonical}: lookup not available",
        )

    def render() -> str:
        report = area.report(current_app, where, radius)
        return render_template(
            "streetwise/area.html",
            r=report,
            radius_labels=RADIUS_LABELS,
            map_data=_map_data(report),
            chart=_charts(report),
            title=f"{canonical}: hospitals, road collisions and crime",
        )

    return cached("page", where, radius, render)


def _chart_rows(
    items: list[dict[str, Any]],
    label: Callable[[dict[str, Any]], str],
    district_factor: float,
    sublabel: Callable[[dict[str, Any]], str] | None = None,
) -> list[dict[str, Any]]:
    """Rows for the SVG charts: the count, and the count expected at the district's rate
    (``district_per_km2`` times ``district_factor``: the circle's km², times the periods)."""
    return [
        {
            "label": label(item),
            "sublabel": sublabel(item) if sublabel else None,
            "value": item["count"],
            "district": None
            if item["district_per_km2"] is None
            else item["district_per_km2"] * district_factor,
        }
        for item in items
    ]


def _charts(report: dict[str, Any]) -> dict[str, Any]:
    circle = report["comparison"]["circle_km2"]
    col, cr = report["collisions"], report["crime"]
    out: dict[str, Any] = {
        "severity": _chart_rows(
            col["by_severity"],
            lambda s: s["severity"].capitalize(),
            circle * max(len(col["years"]), 1),
        ),
        "year": _chart_rows(col["by_year"], lambda y: str(y["year"]), circle),
    }
    if "error" not in cr and "not_covered" not in cr:
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
            [max(row["value"], row["district"] or 0) for row in out[key]], default=1
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
        "crimes": [
            [p["latitude"], p["longitude"], f"{p['street']}: {p['types']}", p["count"]]
            for p in crime.get("_points", [])
        ],
        "outline": report.get("_outline"),
        "district": (report.get("district") or {}).get("name"),
    }
