"""Recorded crime around a point for the last twelve months police.uk has.

``CRIME_SOURCE`` chooses where the figures come from:

* ``live``: data.police.uk through the app's cached HttpClient. The months are
  the newest twelve listed by ``crimes-street-dates``; each month is one
  ``crimes-street`` request for a polygon around the circle (split by the
  library when police.uk says it holds over 10,000 crimes), then crimes
  further than the radius are dropped. A failure becomes a plain-words note.
* ``snapshot``: the bundled recording in the police.uk response format
  (``data/crime_snapshot.json``, generated around central Leeds).
* ``auto``: live, falling back to the snapshot with a visible note.

The Leeds-wide figures for the comparison come from ``sw_crime_baseline``
(filled by ``flask sw crime-baseline`` from police.uk) when live, or from the
snapshot's baseline when the snapshot is used.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from civickit.errors import APIError
from civickit.geo import PointIndex, distance_m
from civickit.police import Crime, PoliceUK
from examples.common import MemoryCache

from . import region, state
from .models import CrimeBaseline, DataMeta
from .upstream import UpstreamFailed, explain

MONTHS_SHOWN = 12
POLICE = "police.uk (the police's crime data service)"

CATEGORY_NAMES = {
    "anti-social-behaviour": "Anti-social behaviour",
    "bicycle-theft": "Bicycle theft",
    "burglary": "Burglary",
    "criminal-damage-arson": "Criminal damage and arson",
    "drugs": "Drugs",
    "other-crime": "Other crime",
    "other-theft": "Other theft",
    "possession-of-weapons": "Possession of weapons",
    "public-order": "Public order",
    "robbery": "Robbery",
    "shoplifting": "Shoplifting",
    "theft-from-the-person": "Theft from the person",
    "vehicle-crime": "Vehicle crime",
    "violent-crime": "Violence and sexual offences",
}


def category_name(slug: str) -> str:
    return CATEGORY_NAMES.get(slug) or slug.replace("-", " ").capitalize()


@dataclass
class CrimeFigures:
    """Crimes within the radius, with the Leeds-wide counts for the same months."""

    source: str  # "live" or "snapshot"
    months: list[str]  # newest first
    crimes: list[tuple[Crime, float]]
    baseline: dict[str, dict[str, int]] = field(default_factory=dict)  # month -> category -> n
    baseline_area_km2: float | None = None
    note: str | None = None


# -- the snapshot ----------------------------------------------------------------------


@dataclass
class Snapshot:
    months: list[str]
    index: PointIndex[Crime]
    baseline: dict[str, dict[str, int]]
    baseline_area_km2: float


def load_snapshot(path: Path) -> Snapshot:
    """Parse a recording in the police.uk format through the library's ``Crime``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    months = sorted({d["date"][:7] for d in data["crimes-street-dates"]}, reverse=True)
    crimes = [
        Crime.from_api(item)
        for month_items in data["crimes-street"].values()
        for item in month_items
    ]
    baseline = data.get("leeds_baseline") or {}
    return Snapshot(
        months=months,
        index=PointIndex(crimes, lat="latitude", lon="longitude"),
        baseline={m: dict(c) for m, c in (baseline.get("months") or {}).items()},
        baseline_area_km2=float(baseline.get("area_km2") or region.outline_area_km2()),
    )


def from_snapshot(app: Flask, lat: float, lon: float, radius_m: float) -> CrimeFigures:
    """Crime within ``radius_m`` of a point in the bundled snapshot's newest twelve months."""
    snap = state.get_snapshot(app)
    months = snap.months[:MONTHS_SHOWN]
    wanted = set(months)
    crimes = [(c, d) for c, d in snap.index.within(lat, lon, radius_m) if c.month in wanted]
    return CrimeFigures(
        source="snapshot",
        months=months,
        crimes=crimes,
        baseline={m: snap.baseline[m] for m in months if m in snap.baseline},
        baseline_area_km2=snap.baseline_area_km2,
    )


# -- live ---------------------------------------------------------------------------


def live(app: Flask, lat: float, lon: float, radius_m: float) -> CrimeFigures:
    """Crime within ``radius_m`` of a point from police.uk, for its newest twelve months.

    Parsed answers are kept in :func:`.state.get_answers` (``CRIME_MEMO_TTL``),
    in front of the HTTP cache: a repeat lookup neither asks the network nor
    re-parses thirteen cached answers.
    """
    client = state.get_police(app)
    answers = state.get_answers(app)
    base = app.config["POLICE_BASE_URL"]
    polygon = region.circle_polygon(lat, lon, radius_m)
    try:
        months: list[str] = answers.get_or_render(
            (base, "months"), lambda: client.available_months()[:MONTHS_SHOWN]
        )
        if not months:
            raise UpstreamFailed(
                "upstream_no_months", f"{POLICE} lists no months of crime data just now."
            )
        per_month = _month_crimes(client, answers, (base, tuple(polygon)), polygon, months)
    except UpstreamFailed:
        raise
    except (APIError, KeyError, TypeError, ValueError) as exc:
        raise explain(POLICE, exc) from exc
    crimes = []
    for month_crimes in per_month.values():
        for crime in month_crimes:
            if crime.latitude is None or crime.longitude is None:
                continue
            d = distance_m(lat, lon, crime.latitude, crime.longitude)
            if d <= radius_m:
                crimes.append((crime, d))
    crimes.sort(key=lambda pair: pair[1])
    baseline, area = stored_baseline(state.get_engine(app), months)
    return CrimeFigures("live", months, crimes, baseline, area)


def _month_crimes(
    client: PoliceUK,
    answers: MemoryCache,
    key: Hashable,
    polygon: list[tuple[float, float]],
    months: list[str],
) -> dict[str, list[Crime]]:
    """Each month's crimes in ``polygon``: kept answers, the rest asked four at a time."""
    per_month: dict[str, list[Crime]] = {}
    for month in months:
        found = answers.get((key, month))
        if isinstance(found, list):
            per_month[month] = found
    missing = [m for m in months if m not in per_month]
    if missing:
        with ThreadPoolExecutor(max_workers=min(4, len(missing))) as pool:
            fetched = pool.map(lambda m: client.street_crimes_in(polygon, month=m), missing)
            for month, crimes in zip(missing, fetched, strict=True):
                per_month[month] = crimes
                answers.put((key, month), crimes)
    return {m: per_month[m] for m in months}


def stored_baseline(
    engine: sa.Engine, months: list[str]
) -> tuple[dict[str, dict[str, int]], float | None]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(CrimeBaseline.month, CrimeBaseline.category, CrimeBaseline.count).where(
                CrimeBaseline.month.in_(months)
            )
        ).all()
        meta = conn.execute(
            sa.select(DataMeta.detail).where(DataMeta.source == "crime_baseline")
        ).scalar()
    baseline: dict[str, dict[str, int]] = {}
    for month, category, count in rows:
        baseline.setdefault(month, {})[category] = count
    area = json.loads(meta).get("area_km2") if meta else None
    return baseline, area


def crime_near(app: Flask, lat: float, lon: float, radius_m: float) -> CrimeFigures:
    """Crime within ``radius_m`` of a point, from the configured source."""
    mode = app.config["CRIME_SOURCE"]
    if mode == "snapshot":
        return from_snapshot(app, lat, lon, radius_m)
    try:
        return live(app, lat, lon, radius_m)
    except UpstreamFailed as failure:
        if mode != "auto":
            raise
        figures = from_snapshot(app, lat, lon, radius_m)
        figures.note = (
            f"{failure.message} These figures come from the recorded snapshot bundled "
            "with the app instead (generated sample data, not today's figures)."
        )
        return figures


def fetch_baseline(
    client: PoliceUK,
    months: int = MONTHS_SHOWN,
    outline: Sequence[region.Point] = region.LEEDS_OUTLINE,
    *,
    check_stop: Callable[[], None] | None = None,
) -> dict[str, dict[str, int]]:
    """Count crimes per month and category across the whole outline, from police.uk.

    Leeds records about 10,000 crimes a month, so police.uk refuses the whole
    area at once; the library splits it and merges the parts. ``check_stop``
    is called before each month and may raise to stop (the CLI's SIGTERM).
    """
    result: dict[str, dict[str, int]] = {}
    for month in client.available_months()[:months]:
        if check_stop is not None:
            check_stop()
        crimes = client.street_crimes_in(list(outline), month=month)
        inside = [
            c
            for c in crimes
            if c.latitude is not None
            and c.longitude is not None
            and region.point_inside(c.latitude, c.longitude, outline)
        ]
        result[month] = dict(Counter(c.category for c in inside))
    return result


def store_baseline(engine: sa.Engine, baseline: dict[str, dict[str, int]], area_km2: float) -> int:
    """Replace the stored Leeds-wide crime counts in one transaction."""
    from datetime import UTC, datetime

    from .models import create_all

    create_all(engine)
    rows = [
        {"month": m, "category": c, "count": n}
        for m, cats in baseline.items()
        for c, n in cats.items()
    ]
    with engine.begin() as conn:
        conn.execute(sa.delete(CrimeBaseline))
        if rows:
            conn.execute(sa.insert(CrimeBaseline), rows)
        conn.execute(sa.delete(DataMeta).where(DataMeta.source == "crime_baseline"))
        conn.execute(
            sa.insert(DataMeta).values(
                source="crime_baseline",
                imported_at=datetime.now(UTC),
                is_sample=False,
                rows=len(rows),
                detail=json.dumps({"area_km2": area_km2, "months": sorted(baseline)}),
            )
        )
    return len(rows)


def describe(crime: Crime) -> dict[str, Any]:
    return {
        "category": crime.category,
        "name": category_name(crime.category),
        "month": crime.month,
        "street": crime.street,
        "latitude": crime.latitude,
        "longitude": crime.longitude,
    }
