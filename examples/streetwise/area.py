"""The figures for one area: hospitals, collisions and crime, each beside the Leeds-wide rate.

One function, :func:`report`, builds a JSON-ready dict used by both the page
and ``/api/area/<postcode>``. Sections fail independently: a section whose
upstream failed carries ``{"error": {"code", "message"}}`` instead of figures.

The comparison: for every count, ``rate = count / area`` in km² (per year for
collisions, per month for crime), inside the circle (``π r²``) and across
Leeds (the outline in :mod:`.region`, the same years or months), and
``ratio = circle rate / Leeds rate``.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from flask import Flask

from . import crime as crime_mod
from . import region, state, store
from .upstream import Location, UpstreamFailed

RADII = (500, 1000, 2000)
HOSPITALS_SHOWN = 5
MAP_POINTS = 400  # nearest collisions / crimes drawn on the map
METRES_PER_MILE = 1609.344
FEW = 10  # below this many events a ratio is mostly chance: say so


def compare(
    count: int,
    circle_km2: float,
    leeds_count: int | None,
    leeds_km2: float | None,
    periods: int = 1,
) -> dict[str, Any]:
    """``count`` in the circle against ``leeds_count`` across Leeds, both per km² per period."""
    periods = max(periods, 1)
    rate = count / circle_km2 / periods
    out: dict[str, Any] = {"count": int(count), "per_km2": round(rate, 3)}
    if leeds_count is None or not leeds_km2:
        out.update(leeds_per_km2=None, ratio=None, words="No Leeds-wide figure to compare with.")
        return out
    leeds_rate = leeds_count / leeds_km2 / periods
    out["leeds_per_km2"] = round(leeds_rate, 3)
    if leeds_rate == 0:
        out.update(ratio=None, words="None recorded across Leeds, so no comparison.")
        return out
    ratio = rate / leeds_rate
    out["ratio"] = round(ratio, 2)
    out["words"] = ratio_words(ratio)
    if count < FEW:
        out["words"] += " (few events, so this may be chance)"
    return out


def ratio_words(ratio: float) -> str:
    if ratio == 0:
        return "None here, against some across Leeds"
    if 0.8 <= ratio <= 1.25:
        return "About the Leeds rate"
    if ratio > 1:
        return f"{ratio:.1f} times the Leeds rate"
    return f"{ratio * 100:.0f}% of the Leeds rate"


def _distance(d: float) -> dict[str, Any]:
    return {
        "distance_m": round(d),
        "distance_km": round(d / 1000, 3),
        "distance_miles": round(d / METRES_PER_MILE, 3),
    }


_HOSTNAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+", re.IGNORECASE)


def website(text: str | None) -> str | None:
    """A hospital's website from the data as an http(s) URL, or None.

    ``Hospital.csv`` mostly says ``www.leedsth.nhs.uk`` (https is assumed). Any
    other scheme (``javascript:``, ``data:``...) or a missing or malformed
    host is refused: the link goes on the page as it is.
    """
    site = (text or "").strip()
    if not site:
        return None
    if site.startswith("//"):
        site = "https:" + site
    elif "://" not in site:
        site = "https://" + site
    parts = urlsplit(site)
    try:
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not _HOSTNAME.fullmatch(
        parts.hostname or ""
    ):
        return None
    return site


def _link(h: dict[str, Any]) -> str:
    site = website(h.get("website"))
    if site:
        return site
    return (
        f"https://www.openstreetmap.org/?mlat={h['latitude']:.5f}&mlon={h['longitude']:.5f}"
        f"#map=17/{h['latitude']:.5f}/{h['longitude']:.5f}"
    )


def hospitals(data: store.Loaded, lat: float, lon: float) -> list[dict[str, Any]]:
    """The nearest sites, one entry per place (Hospital.csv lists some sites twice)."""
    shown: list[dict[str, Any]] = []
    by_place: dict[tuple[float, float], dict[str, Any]] = {}
    for h, d in data.hospitals.nearest(lat, lon, k=HOSPITALS_SHOWN * 3):
        place = (round(h["latitude"], 5), round(h["longitude"], 5))
        if place in by_place:
            by_place[place]["also_listed_as"].append(h["code"])
            continue
        if len(shown) == HOSPITALS_SHOWN:
            continue
        entry = {
            "code": h["code"],
            "name": h["name"],
            "address": h["address"],
            "postcode": h["postcode"],
            "sector": h["sector"],
            "phone": h["phone"],
            "latitude": h["latitude"],
            "longitude": h["longitude"],
            "link": _link(h),
            "also_listed_as": [],
            **_distance(d),
        }
        by_place[place] = entry
        shown.append(entry)
    return shown


def collisions(data: store.Loaded, lat: float, lon: float, radius_m: float) -> dict[str, Any]:
    found = data.collisions.within(lat, lon, radius_m)
    rows = np.fromiter((r for r, _ in found), dtype=np.int64, count=len(found))
    circle = region.circle_area_km2(radius_m)
    leeds_km2 = region.outline_area_km2()
    leeds = data.leeds_collisions
    years = data.years
    sev = data.severity[rows]
    cas = data.casualties[rows]
    yr = data.year[rows]
    by_severity = []
    for code, name in enumerate(store.SEVERITIES):
        mask = sev == code
        by_severity.append(
            {
                "severity": name,
                "casualties": int(cas[mask].sum()),
                **compare(
                    int(mask.sum()), circle, leeds["by_severity"][code], leeds_km2, len(years)
                ),
            }
        )
    by_year = []
    for year in years:
        mask = yr == year
        counts = np.bincount(sev[mask], minlength=3)
        by_year.append(
            {
                "year": year,
                "fatal": int(counts[0]),
                "serious": int(counts[1]),
                "slight": int(counts[2]),
                "casualties": int(cas[mask].sum()),
                **compare(int(mask.sum()), circle, leeds["by_year"].get(year, 0), leeds_km2),
            }
        )
    return {
        "years": years,
        "total": compare(len(rows), circle, leeds["count"], leeds_km2, len(years)),
        "casualties": int(cas.sum()),
        "by_severity": by_severity,
        "by_year": by_year,
        "_points": [
            (float(data.lats[r]), float(data.lons[r]), store.SEVERITIES[data.severity[r]])
            for r, _ in found[:MAP_POINTS]
        ],
    }


def crime(app: Flask, lat: float, lon: float, radius_m: float) -> dict[str, Any]:
    try:
        figures = crime_mod.crime_near(app, lat, lon, radius_m)
    except UpstreamFailed as failure:
        return {"error": failure.to_dict()}
    circle = region.circle_area_km2(radius_m)
    months = figures.months
    counted = [m for m in months if m in figures.baseline]
    complete = bool(months) and len(counted) == len(months)
    base_km2 = figures.baseline_area_km2 if complete else None
    per_category: dict[str, int] = {}
    per_month = dict.fromkeys(months, 0)
    for c, _ in figures.crimes:
        per_category[c.category] = per_category.get(c.category, 0) + 1
        if c.month in per_month:
            per_month[c.month] += 1
    leeds_category: dict[str, int] = {}
    for m in counted:
        for cat, n in figures.baseline[m].items():
            leeds_category[cat] = leeds_category.get(cat, 0) + n
    n_months = len(months)
    by_category = [
        {
            "category": cat,
            "name": crime_mod.category_name(cat),
            **compare(
                n, circle, leeds_category.get(cat, 0) if complete else None, base_km2, n_months
            ),
        }
        for cat, n in sorted(per_category.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    by_month = [
        {
            "month": m,
            **compare(
                per_month[m],
                circle,
                sum(figures.baseline[m].values()) if m in figures.baseline else None,
                figures.baseline_area_km2,
            ),
        }
        for m in sorted(months)
    ]
    total = compare(
        len(figures.crimes),
        circle,
        sum(leeds_category.values()) if complete else None,
        base_km2,
        n_months,
    )
    return {
        "source": figures.source,
        "note": figures.note,
        "months": sorted(months),
        "total": total,
        "by_category": by_category,
        "by_month": by_month,
        "baseline_complete": complete,
        "approximate": True,
        "_points": [
            crime_mod.describe(c) | {"distance_m": round(d)} for c, d in figures.crimes[:MAP_POINTS]
        ],
    }


def report(app: Flask, where: Location, radius_m: int) -> dict[str, Any]:
    """Every section for one postcode and radius (private ``_`` keys feed the map)."""
    data = state.get_data(app)
    lat, lon = where.latitude, where.longitude
    circle = region.circle_area_km2(radius_m)
    leeds_km2 = region.outline_area_km2()
    nearby = store.distinct_places(h for h, _ in data.hospitals.within(lat, lon, radius_m))
    return {
        "postcode": where.postcode,
        "latitude": lat,
        "longitude": lon,
        "radius_m": radius_m,
        "location_source": where.source,
        "in_leeds": region.point_inside(lat, lon),
        "sample_data": data.is_sample or app.config["CRIME_SOURCE"] == "snapshot",
        "comparison": {
            "area": region.LEEDS_NAME,
            "area_km2": round(leeds_km2, 1),
            "circle_km2": round(circle, 3),
            "method": (
                "Each count is divided by the area of the circle (π × radius²) and compared "
                f"with the same count across {region.LEEDS_NAME} divided by its area "
                f"({leeds_km2:.0f} km²), over the same years or months."
            ),
        },
        "hospitals": hospitals(data, lat, lon),
        "hospitals_within": compare(len(nearby), circle, data.leeds_hospitals, leeds_km2),
        "collisions": collisions(data, lat, lon, radius_m),
        "crime": crime(app, lat, lon, radius_m),
    }


def public(report_: dict[str, Any]) -> dict[str, Any]:
    """The report without private keys (for the JSON API)."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if not k.startswith("_")}
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    return clean(report_)
