"""The figures for one area: hospitals, collisions and crime, each beside its district's rate.

One function, :func:`report`, builds a JSON-ready dict used by both the page
and ``/api/area/<postcode>``. Sections fail independently: a section whose
upstream failed carries ``{"error": {"code", "message"}}`` instead of figures.

The comparison: for every count, ``rate = count / area`` in km² (per year for
collisions, per month for crime), inside the circle (``π r²``) and across the
postcode's own local authority district (its ONS land area; the same years or
months), and ``ratio = circle rate / district rate``.
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
from .districts import District, Districts, get_districts
from .upstream import Location, UpstreamFailed

RADII = (500, 1000, 2000)
HOSPITALS_SHOWN = 5
MAP_POINTS = 400  # nearest collisions / crimes drawn on the map (and listed under it)
METRES_PER_MILE = 1609.344
FEW = 10  # below this many events a ratio is mostly chance: say so


def compare(
    count: int,
    circle_km2: float,
    area_count: int | None,
    area_km2: float | None,
    periods: int = 1,
    area_name: str = "the district",
) -> dict[str, Any]:
    """``count`` in the circle against ``area_count`` across the district, per km² per period."""
    periods = max(periods, 1)
    rate = count / circle_km2 / periods
    out: dict[str, Any] = {"count": int(count), "per_km2": round(rate, 3)}
    if area_count is None or not area_km2:
        out.update(
            district_per_km2=None, ratio=None, words=f"No figure for {area_name} to compare with."
        )
        return out
    area_rate = area_count / area_km2 / periods
    out["district_per_km2"] = round(area_rate, 3)
    if area_rate == 0:
        out.update(ratio=None, words=f"None recorded across {area_name}, so no comparison.")
        return out
    ratio = rate / area_rate
    out["ratio"] = round(ratio, 2)
    out["words"] = ratio_words(ratio, area_name)
    if count < FEW:
        out["words"] += " (few events, so this may be chance)"
    return out


def ratio_words(ratio: float, area_name: str = "the district") -> str:
    """Words for a ratio; the first letter is upper case (pages lower it with ``lowerfirst``)."""
    if ratio == 0:
        return f"None here, against some across {area_name}"
    if 0.8 <= ratio <= 1.25:
        return f"About the {area_name} rate"
    if ratio > 1:
        return f"{ratio:.1f} times the {area_name} rate"
    return f"{ratio * 100:.0f}% of the {area_name} rate"


def years_text(years: list[int]) -> str:
    """'2020 to 2024', or '2015 and 2020 to 2024' when years are missing between."""
    if not years:
        return ""
    runs: list[list[int]] = []
    for y in sorted(years):
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    parts = [str(r[0]) if len(r) == 1 else f"{r[0]} to {r[-1]}" for r in runs]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


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
        place = store.site(h)
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


def collisions(
    app: Flask,
    data: store.Loaded,
    lat: float,
    lon: float,
    radius_m: float,
    district: District | None,
    with_map: bool = True,
) -> dict[str, Any]:
    found = store.collisions_within(state.get_engine(app), data, lat, lon, radius_m)
    loaded = data.serving.get("collisions")
    circle = region.circle_area_km2(radius_m)
    name = district.name if district else "the district"
    km2 = district.land_km2 if district else None
    whole = (
        store.district_collisions(state.get_engine(app), data, district.code) if district else None
    )
    # no row at all for the district means the loaded files do not cover it (one city's
    # files, or the demo's sample), not that police recorded none: compare with nothing
    covered = None if whole is None else whole["count"] > 0
    if not covered:
        whole = None
    # the years the district has data for (all loaded years without a district), so that
    # the circle and the district are counted over the same years
    years = sorted(whole["by_year"]) if whole and whole["by_year"] else data.years
    found = found.take(np.isin(found.year, years))
    yr, sev, cas = found.year, found.severity, found.casualties
    by_severity = []
    for code, sev_name in enumerate(store.SEVERITIES):
        mask = sev == code
        by_severity.append(
            {
                "severity": sev_name,
                "casualties": int(cas[mask].sum()),
                **compare(
                    int(mask.sum()),
                    circle,
                    whole["by_severity"][code] if whole else None,
                    km2,
                    len(years),
                    name,
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
                **compare(
                    int(mask.sum()),
                    circle,
                    whole["by_year"].get(year, 0) if whole else None,
                    km2,
                    1,
                    name,
                ),
            }
        )
    return {
        "years": years,
        "years_loaded": len(years),
        "years_text": years_text(years),
        "total": compare(
            len(found), circle, whole["count"] if whole else None, km2, len(years), name
        ),
        "casualties": int(cas.sum()),
        "district_count": whole["count"] if whole else None,
        "district_covered": covered,
        # the kinds of file loaded: stats19, leeds_rtc (the page credits each publisher)
        "sources": list((loaded.figures.get("sources") or []) if loaded else []),
        "by_severity": by_severity,
        "by_year": by_year,
        "_points": []
        if not with_map
        else [
            (float(la), float(lo), store.SEVERITIES[s], round(float(d)))
            for la, lo, s, d in zip(
                found.lats[:MAP_POINTS],
                found.lons[:MAP_POINTS],
                found.severity[:MAP_POINTS],
                found.distance[:MAP_POINTS],
                strict=True,
            )
        ],
    }


def crime(
    app: Flask,
    lat: float,
    lon: float,
    radius_m: float,
    district: District | None,
    with_map: bool = True,
) -> dict[str, Any]:
    if district is not None and not district.police_uk_covers:
        return {
            "not_covered": {
                "code": "police_uk_not_in_scotland",
                "message": (
                    f"police.uk publishes crime for England, Wales and Northern Ireland, not "
                    f"Scotland, so there are no street-level crime figures for {district.name}. "
                    "Police Scotland publishes its own recorded crime statistics."
                ),
            }
        }
    try:
        figures = crime_mod.crime_near(app, lat, lon, radius_m, district)
    except UpstreamFailed as failure:
        return {"error": failure.to_dict()}
    circle = region.circle_area_km2(radius_m)
    name = district.name if district else "the district"
    months = figures.months
    counted = [m for m in months if m in figures.baseline]
    complete = bool(months) and len(counted) == len(months)
    base_km2 = figures.baseline_area_km2 if complete else None
    per_category, counted_months = figures.counts()
    per_month = {m: counted_months.get(m, 0) for m in months}
    area_category: dict[str, int] = {}
    for m in counted:
        for cat, n in figures.baseline[m].items():
            area_category[cat] = area_category.get(cat, 0) + n
    n_months = len(months)
    by_category = [
        {
            "category": cat,
            "name": crime_mod.category_name(cat),
            **compare(
                n,
                circle,
                area_category.get(cat, 0) if complete else None,
                base_km2,
                n_months,
                name,
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
                1,
                name,
            ),
        }
        for m in sorted(months)
    ]
    total = compare(
        len(figures.crimes),
        circle,
        sum(area_category.values()) if complete else None,
        base_km2,
        n_months,
        name,
    )
    return {
        "source": figures.source,
        "note": figures.note,
        "baseline_source": figures.baseline_source,
        "months": sorted(months),
        "total": total,
        "by_category": by_category,
        "by_month": by_month,
        "baseline_complete": complete,
        "approximate": True,
        "_points": crime_mod.places(figures.crimes, MAP_POINTS) if with_map else [],
    }


def find_district(app: Flask, where: Location) -> tuple[District | None, str]:
    """The postcode's district, and how it was found."""
    districts = get_districts(app)
    if where.district:
        found = districts.get(where.district)
        if found is not None:
            return found, f"the postcode's district code ({where.source})"
    found = districts.locate(where.latitude, where.longitude)
    if found is not None:
        return found, "the district boundary holding the postcode's centre"
    return None, "not found"


def report(app: Flask, where: Location, radius_m: int, with_map: bool = True) -> dict[str, Any]:
    """Every section for one postcode and radius (private ``_`` keys feed the map, and
    are left empty without ``with_map``: the JSON API never shows them)."""
    data = store.get_data(app)
    districts = get_districts(app)
    lat, lon = where.latitude, where.longitude
    circle = region.circle_area_km2(radius_m)
    district, how = find_district(app, where)
    name = district.name if district else "the district"
    km2 = district.land_km2 if district else None
    nearby = store.distinct_places(h for h, _ in data.hospitals.within(lat, lon, radius_m))
    return {
        "postcode": where.postcode,
        "latitude": lat,
        "longitude": lon,
        "radius_m": radius_m,
        "location_source": where.source,
        "sample_data": data.serving.is_sample or app.config["CRIME_SOURCE"] == "snapshot",
        "district": None
        if district is None
        else {
            "code": district.code,
            "name": district.name,
            "country": district.country,
            "land_km2": None if km2 is None else round(km2, 2),
            "found_by": how,
            "area_source": districts.area_source,
            "boundary_source": districts.boundary_source,
            "boundary_vintage": districts.vintage,
        },
        "comparison": {
            "area": name,
            "area_km2": None if km2 is None else round(km2, 1),
            "circle_km2": round(circle, 3),
            "method": (
                "Each count is divided by the area of the circle (π × radius²) and compared "
                f"with the same count across {name} divided by its land area"
                + (f" ({km2:,.0f} km²)" if km2 else "")
                + ", over the same years or months."
            ),
        },
        "hospitals": hospitals(data, lat, lon),
        "hospitals_within": compare(
            len(nearby),
            circle,
            store.district_hospitals(data, district) if district else None,
            km2,
            1,
            name,
        ),
        "hospitals_list": hospital_list_info(data, districts, district),
        "collisions": collisions(app, data, lat, lon, radius_m, district, with_map),
        "crime": crime(app, lat, lon, radius_m, district, with_map),
        "_outline": district.outline() if district and with_map else None,
    }


def hospital_list_info(
    data: store.Loaded, districts: Districts, district: District | None
) -> dict[str, Any]:
    """Which hospital list is loaded (the bundled one is NHS Choices' January 2018 list),
    and, in Wales or Scotland, how many of its sites are in that country: the NHS
    website's list holds few there, so the nearest hospital may be missing from it."""
    loaded = data.serving.get("hospitals")
    figures = loaded.figures if loaded else {}
    out: dict[str, Any] = {"rows": figures.get("rows"), "as_of": figures.get("as_of")}
    if district is not None and district.code[:1] in ("W", "S") and data.hospital_rows:
        sites, nhs = store.country_hospitals(data, districts, district.code[:1])
        out["in_country"] = {"country": district.country, "sites": sites, "nhs_sites": nhs}
    return out


def public(report_: dict[str, Any]) -> dict[str, Any]:
    """The report without private keys (for the JSON API).

    Private keys sit in the report's dicts of dicts, never inside its lists (the
    rows of the tables), so only those dicts are copied.
    """
    return {
        k: public(v) if isinstance(v, dict) else v
        for k, v in report_.items()
        if not k.startswith("_")
    }


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None (JSON has neither)."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
