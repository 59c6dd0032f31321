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

The district-wide figures for the comparison come from ``sw_crime_baseline``
(filled by ``flask sw crime-baseline --district CODE`` or ``--all``: police.uk
street crimes inside the district's ONS boundary) when live, or from the
snapshot's baselines when the snapshot is used.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import Flask

from civickit.errors import APIError
from civickit.police import Crime, PoliceUK
from examples.common import MemoryCache
from examples.common.cache import settled

from . import region, state
from .districts import District, get_districts
from .models import crime_baseline, crime_baseline_months
from .spatial import nearest_first
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
    """Crimes within the radius, with the district-wide counts for the same months."""

    source: str  # "live" or "snapshot"
    months: list[str]  # newest first
    crimes: list[tuple[Crime, float]]
    baseline: dict[str, dict[str, int]] = field(default_factory=dict)  # month -> category -> n
    baseline_area_km2: float | None = None
    note: str | None = None
    baseline_source: str | None = None
    #: (per category, per month) of ``crimes``, where the source counted them already
    tallies: tuple[dict[str, int], dict[str, int]] | None = None

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """How many of ``crimes`` fall in each category and each month."""
        if self.tallies is not None:
            return self.tallies
        per_category: dict[str, int] = {}
        per_month: dict[str, int] = {}
        for crime, _ in self.crimes:
            per_category[crime.category] = per_category.get(crime.category, 0) + 1
            per_month[crime.month] = per_month.get(crime.month, 0) + 1
        return per_category, per_month


# -- the snapshot ----------------------------------------------------------------------


@dataclass
class Snapshot:
    """The recording, with its newest twelve months' located crimes as arrays: a radius
    query measures them all at once (numpy), instead of one crime at a time."""

    months: list[str]  # newest first
    baselines: dict[str, dict[str, dict[str, int]]]  # district -> month -> category -> n
    crimes: list[Crime]  # located, in the newest twelve months
    lats: np.ndarray
    lons: np.ndarray
    categories: list[str]
    category: np.ndarray  # each crime's index in ``categories``
    month: np.ndarray  # each crime's index in ``months``


LEEDS = "E08000035"
BASELINE_SOURCE = (
    "police.uk street-level crimes inside the district's ONS boundary, counted by "
    "`sw crime-baseline`"
)
SNAPSHOT_BASELINE_SOURCE = "the bundled snapshot's generated district counts (sample data)"


def load_snapshot(path: Path) -> Snapshot:
    """Parse a recording in the police.uk format through the library's ``Crime``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    months = sorted({d["date"][:7] for d in data["crimes-street-dates"]}, reverse=True)
    crimes = [
        Crime.from_api(item)
        for month_items in data["crimes-street"].values()
        for item in month_items
    ]
    baselines = {
        code: {m: dict(c) for m, c in (months_.get("months") or {}).items()}
        for code, months_ in (data.get("district_baselines") or {}).items()
    }
    if "leeds_baseline" in data:  # the older recording: Leeds only
        leeds = data["leeds_baseline"].get("months") or {}
        baselines.setdefault(LEEDS, {m: dict(c) for m, c in leeds.items()})
    shown = {m: i for i, m in enumerate(months[:MONTHS_SHOWN])}
    kept = [
        c for c in crimes if c.month in shown and c.latitude is not None and c.longitude is not None
    ]
    categories = sorted({c.category for c in kept})
    code = {name: i for i, name in enumerate(categories)}
    return Snapshot(
        months=months,
        baselines=baselines,
        crimes=kept,
        lats=np.array([c.latitude for c in kept], dtype=np.float64),
        lons=np.array([c.longitude for c in kept], dtype=np.float64),
        categories=categories,
        category=np.array([code[c.category] for c in kept], dtype=np.int64),
        month=np.array([shown[c.month] for c in kept], dtype=np.int64),
    )


def get_snapshot(app: Flask | None = None) -> Snapshot:
    """The app's crime snapshot (``CRIME_SNAPSHOT``), parsed once, on first use (not every
    app needs it)."""
    return state.kept(_snapshot, app)


def _snapshot(app: Flask) -> Snapshot:
    return settled(load_snapshot(Path(app.config["CRIME_SNAPSHOT"])))


def from_snapshot(
    app: Flask, lat: float, lon: float, radius_m: float, district: District | None = None
) -> CrimeFigures:
    """Crime within ``radius_m`` of a point in the bundled snapshot's newest twelve months."""
    snap = get_snapshot(app)
    months = snap.months[:MONTHS_SHOWN]
    inside, distance = nearest_first(lat, lon, radius_m, snap.lats, snap.lons)
    crimes = [(snap.crimes[i], d) for i, d in zip(inside.tolist(), distance.tolist(), strict=True)]
    per_category = np.bincount(snap.category[inside], minlength=len(snap.categories))
    per_month = np.bincount(snap.month[inside], minlength=len(months))
    tallies = (
        {snap.categories[i]: int(n) for i, n in enumerate(per_category.tolist()) if n},
        {months[i]: int(n) for i, n in enumerate(per_month.tolist()) if n},
    )
    baseline = snap.baselines.get(district.code, {}) if district else {}
    note = None
    if district is not None and district.code not in snap.baselines:
        districts = get_districts(app)
        covered = [d.name for code in snap.baselines if (d := districts.get(code))]
        note = (
            f"The crime snapshot bundled with the app (generated sample data) covers only "
            f"{' and '.join(covered) or 'other places'}, so it has no crimes for "
            f"{district.name}: the zeros below say nothing about {district.name}. With "
            "police.uk reachable the app shows real figures for any postcode in England, "
            "Wales and Northern Ireland."
        )
    return CrimeFigures(
        source="snapshot",
        months=months,
        crimes=crimes,
        baseline={m: baseline[m] for m in months if m in baseline},
        baseline_area_km2=district.land_km2 if district else None,
        note=note,
        baseline_source=SNAPSHOT_BASELINE_SOURCE if baseline else None,
        tallies=tallies,
    )


# -- live ---------------------------------------------------------------------------


def live(
    app: Flask, lat: float, lon: float, radius_m: float, district: District | None = None
) -> CrimeFigures:
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
    located = [
        c
        for month_crimes in per_month.values()
        for c in month_crimes
        if c.latitude is not None and c.longitude is not None
    ]
    inside, distance = nearest_first(
        lat,
        lon,
        radius_m,
        np.array([c.latitude for c in located], dtype=np.float64),
        np.array([c.longitude for c in located], dtype=np.float64),
    )
    crimes = [(located[i], d) for i, d in zip(inside.tolist(), distance.tolist(), strict=True)]
    baseline = stored_baseline(state.get_engine(app), district.code, months) if district else {}
    return CrimeFigures(
        "live",
        months,
        crimes,
        baseline,
        district.land_km2 if district else None,
        baseline_source=BASELINE_SOURCE if baseline else None,
    )


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
    engine: sa.Engine, district: str, months: list[str]
) -> dict[str, dict[str, int]]:
    """The stored district-wide counts for these months (month -> category -> n)."""
    cb, cbm = crime_baseline.c, crime_baseline_months.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(cb.month, cb.category, cb.count).where(
                cb.district == district, cb.month.in_(months)
            )
        ).all()
        counted = conn.execute(
            sa.select(cbm.month).where(cbm.district == district, cbm.month.in_(months))
        ).scalars()
        baseline: dict[str, dict[str, int]] = {m: {} for m in counted}
    for month, category, count in rows:
        baseline.setdefault(month, {})[category] = count
    return baseline


def crime_near(
    app: Flask, lat: float, lon: float, radius_m: float, district: District | None = None
) -> CrimeFigures:
    """Crime within ``radius_m`` of a point, from the configured source."""
    mode = app.config["CRIME_SOURCE"]
    if mode == "snapshot":
        return from_snapshot(app, lat, lon, radius_m, district)
    try:
        return live(app, lat, lon, radius_m, district)
    except UpstreamFailed as failure:
        if mode != "auto":
            raise
        figures = from_snapshot(app, lat, lon, radius_m, district)
        figures.note = (
            f"{failure.message} These figures come from the recorded snapshot bundled "
            "with the app instead (generated sample data, not today's figures)."
            + (f" {figures.note}" if figures.note else "")
        )
        return figures


def district_polygons(district: District) -> list[list[tuple[float, float]]]:
    """The district's outer rings as police.uk polygons, (lat, lon), rounded to 5 places."""
    return [
        [(round(float(p[0]), 5), round(float(p[1]), 5)) for p in polygon[0][:-1]]
        for polygon in district.polygons
    ]


def fetch_baseline(
    client: PoliceUK,
    district: District,
    months: list[str],
    *,
    check_stop: Callable[[], None] | None = None,
) -> dict[str, dict[str, int]]:
    """Count police.uk street crimes per month and category inside a district's boundary.

    Each part of the boundary is asked for (the library splits an area that
    police.uk says holds over 10,000 crimes), then only crimes inside the
    boundary are kept, each once. ``check_stop`` is called before each month
    and may raise to stop (the CLI's SIGTERM).
    """
    result: dict[str, dict[str, int]] = {}
    for month in months:
        if check_stop is not None:
            check_stop()
        seen: dict[int, Crime] = {}
        for polygon in district_polygons(district):
            for c in client.street_crimes_in(polygon, month=month):
                seen.setdefault(c.id, c)
        located = [c for c in seen.values() if c.latitude is not None and c.longitude is not None]
        mask: list[bool] = (
            district.contains(
                [c.latitude for c in located], [c.longitude for c in located]
            ).tolist()
            if located
            else []
        )
        result[month] = dict(
            Counter(c.category for c, keep in zip(located, mask, strict=True) if keep)
        )
    return result


def stored_months(engine: sa.Engine, district: str) -> set[str]:
    """The months already counted for a district (a resumed run skips them)."""
    cbm = crime_baseline_months.c
    with engine.connect() as conn:
        return set(conn.execute(sa.select(cbm.month).where(cbm.district == district)).scalars())


def store_month(engine: sa.Engine, district: str, month: str, counts: dict[str, int]) -> int:
    """Replace one district's counts for one month, in one transaction (so a stop keeps it)."""
    from datetime import UTC, datetime

    cb, cbm = crime_baseline.c, crime_baseline_months.c
    with engine.begin() as conn:
        conn.execute(sa.delete(crime_baseline).where(cb.district == district, cb.month == month))
        rows = [
            {"district": district, "month": month, "category": c, "count": n}
            for c, n in counts.items()
        ]
        if rows:
            conn.execute(sa.insert(crime_baseline), rows)
        conn.execute(
            sa.delete(crime_baseline_months).where(cbm.district == district, cbm.month == month)
        )
        conn.execute(
            sa.insert(crime_baseline_months).values(
                district=district,
                month=month,
                crimes=sum(counts.values()),
                fetched_at=datetime.now(UTC),
            )
        )
    return len(rows)


def places(crimes: list[tuple[Crime, float]], limit: int) -> list[dict[str, Any]]:
    """The crimes grouped by the police.uk map point they were moved to, nearest first.

    police.uk puts every crime near a street at one anonymous point, so one
    marker per crime would stack dozens on the same spot: the map and its list
    show each place once, with how many crimes of each type it holds. At most
    ``limit`` places (the nearest); ``crimes`` come nearest first.
    """
    found: dict[tuple[Any, ...], tuple[float, dict[str, int]]] = {}
    for crime, distance in crimes:
        key = (crime.latitude, crime.longitude, crime.street)
        entry = found.get(key)
        if entry is None:
            if len(found) >= limit:
                continue
            entry = found[key] = (distance, {})
        kinds = entry[1]
        kinds[crime.category] = kinds.get(crime.category, 0) + 1
    return [
        {
            "latitude": lat,
            "longitude": lon,
            "street": street or "Place not named",
            "distance_m": round(distance),
            "count": sum(kinds.values()),
            "types": ", ".join(
                f"{category_name(c)} ({n})"
                for c, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
            ),
        }
        for (lat, lon, street), (distance, kinds) in found.items()
    ]
