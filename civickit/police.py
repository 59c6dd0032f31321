"""A data.police.uk client: street-level crime, months, categories, neighbourhoods.

police.uk allows 15 requests a second with bursts of 30, so :class:`PoliceUK`
installs that limit on its :class:`~civickit.http.HttpClient` (unless one is
already set); a 429 is retried with backoff (point queries by the client,
area queries here, since their 503 must not be retried) and, if it persists,
ends in :class:`~civickit.errors.RateLimited`. Only the last 36 or so months
exist, so months are checked against ``crimes-street-dates`` before any crime
request, and a missing month means the newest one listed. An area holding more
than 10,000 crimes gets a 503 from the API: :meth:`PoliceUK.street_crimes_in`
then splits it into quadrants and merges the parts without duplicates.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypedDict
from urllib.parse import quote, urlsplit

import requests

from ._convert import float_if_present
from ._records import Record
from .errors import (
    NotAPortalResponse,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    ValidationError,
)
from .http import MAX_RETRY_AFTER_S, HttpClient

__all__ = [
    "MAX_GET_URL",
    "MIN_SPLIT_DEG",
    "Crime",
    "CrimeJSON",
    "Outcome",
    "OutcomeJSON",
    "PoliceUK",
    "check_category",
    "normalise_month",
]

#: police.uk's published limit: 15 requests a second, bursts of 30.
RATE_PER_S = 15
BURST = 30
#: GET URLs longer than this go by POST (police.uk answers 400 above 4094 characters).
MAX_GET_URL = 4000
#: How long the list of available months is trusted, in seconds (police.uk adds one a month).
MONTHS_TTL_S = 3600.0
#: Areas smaller than this (degrees, either side) are never split further: a
#: 503 for so small an area means the service is down, not over 10,000 crimes.
MIN_SPLIT_DEG = 0.005

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_CATEGORY = re.compile(r"[a-z0-9-]+")

Point = tuple[float, float]


class StreetJSON(TypedDict, total=False):
    """A crime's anonymous map point as police.uk sends it."""

    id: int
    name: str


class LocationJSON(TypedDict, total=False):
    """Where police.uk puts a crime: its coordinates come as text."""

    latitude: str
    longitude: str
    street: StreetJSON | None


class OutcomeStatusJSON(TypedDict, total=False):
    """A crime's latest outcome as police.uk sends it."""

    category: str
    date: str


class CrimeJSON(TypedDict, total=False):
    """One crime as police.uk's crime endpoints send it (what :meth:`Crime.from_api` reads)."""

    id: int
    persistent_id: str | None
    category: str
    month: str
    location: LocationJSON | None
    location_type: str | None
    location_subtype: str | None
    context: str | None
    outcome_status: OutcomeStatusJSON | None


class OutcomeCategoryJSON(TypedDict, total=False):
    """An outcome's category as police.uk sends it."""

    code: str
    name: str


class OutcomeJSON(TypedDict, total=False):
    """One step of a crime's ``outcomes-for-crime`` history as police.uk sends it."""

    category: OutcomeCategoryJSON | None
    date: str | None
    person_id: int | None


@dataclass(frozen=True)
class Crime(Record):
    """One street-level crime.

    The location is approximate: police.uk moves each crime to the nearest of
    its anonymous map points, named "On or near ...". ``persistent_id`` is
    ``None`` when police.uk gives none (anti-social behaviour, some BTP
    records); ``outcome`` and ``outcome_month`` are ``None`` when there is no
    outcome status. ``location_id`` is the street id that
    :meth:`PoliceUK.crimes_at_location` takes.
    """

    id: int
    persistent_id: str | None
    category: str
    month: str
    latitude: float | None
    longitude: float | None
    street: str | None
    location_id: int | None
    location_type: str | None
    outcome: str | None
    outcome_month: str | None

    @classmethod
    def from_api(cls, item: CrimeJSON) -> Crime:
        """Build a Crime from one element of a police.uk crimes response."""
        location = item.get("location") or {}
        street = location.get("street") or {}
        status = item.get("outcome_status") or {}
        return cls(
            id=int(item["id"]),
            persistent_id=item.get("persistent_id") or None,
            category=item["category"],
            month=item["month"],
            latitude=float_if_present(location.get("latitude")),
            longitude=float_if_present(location.get("longitude")),
            street=street.get("name"),
            location_id=street.get("id"),
            location_type=item.get("location_type") or None,
            outcome=status.get("category"),
            outcome_month=status.get("date"),
        )


@dataclass(frozen=True)
class Outcome(Record):
    """One step in a crime's case history (``outcomes-for-crime``)."""

    category: str
    name: str
    month: str | None
    person_id: int | None

    @classmethod
    def from_api(cls, item: OutcomeJSON) -> Outcome:
        """Build an Outcome from one element of an ``outcomes-for-crime`` response."""
        category = item.get("category") or {}
        return cls(
            category=category.get("code", ""),
            name=category.get("name", ""),
            month=item.get("date"),
            person_id=item.get("person_id"),
        )


class PoliceUK:
    """A data.police.uk client sharing an :class:`HttpClient`."""

    def __init__(
        self, *, base_url: str = "https://data.police.uk/api", http: HttpClient | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or HttpClient()
        host = urlsplit(self.base_url).hostname
        if host and not self.http.has_rate_limit(host):
            self.http.set_rate_limit(host, RATE_PER_S, burst=BURST)
        self._months: list[str] | None = None
        self._months_at = 0.0
        self._sleep = time.sleep  # tests replace it

    # -- months and reference data -------------------------------------------------

    def available_months(self) -> list[str]:
        """Months with street-level crime (``"YYYY-MM"``), newest first.

        Kept for ``MONTHS_TTL_S``, so a long-lived client sees a new month
        the day police.uk publishes it.
        """
        if self._months is None or time.monotonic() - self._months_at > MONTHS_TTL_S:
            reply = self._get("crimes-street-dates")
            try:
                months = sorted({entry["date"][:7] for entry in reply}, reverse=True)
            except (KeyError, TypeError) as exc:
                raise NotAPortalResponse(
                    200,
                    "crimes-street-dates is not a list of months",
                    self._url("crimes-street-dates"),
                ) from exc
            self._months, self._months_at = months, time.monotonic()
        return list(self._months)

    def resolve_month(self, month: str | date | None = None) -> str:
        """Return ``month`` as ``"YYYY-MM"``, or the newest available month when ``None``.

        Raises :class:`ValidationError`, listing the available range, for a
        month police.uk does not have.
        """
        wanted = normalise_month(month) if month is not None else None
        months = self.available_months()
        if not months:
            raise ServiceUnavailable(
                None,
                "police.uk lists no months of street-level crime",
                self._url("crimes-street-dates"),
            )
        if wanted is None:
            return months[0]
        if wanted not in months:
            span = f"{months[-1]} to {months[0]}"
            raise ValidationError(
                None,
                f"police.uk has no street-level crime for {wanted}; "
                f"available months run from {span} (it keeps about 36 months)",
                errors={"month": [f"choose a month from {span}"]},
            )
        return wanted

    def categories(self, month: str | date | None = None) -> dict[str, str]:
        """Crime categories, ``{"anti-social-behaviour": "Anti-social behaviour", ...}``."""
        params = {"date": self.resolve_month(month)} if month is not None else None
        return {c["url"]: c["name"] for c in self._get("crime-categories", params)}

    def last_updated(self) -> date:
        """The date police.uk last updated its crime data."""
        return date.fromisoformat(self._get("crime-last-updated")["date"][:10])

    def locate_neighbourhood(self, lat: float, lon: float) -> tuple[str, str] | None:
        """Return ``(force, neighbourhood)`` ids for a point, or ``None`` if none covers it."""
        try:
            reply = self._get("locate-neighbourhood", {"q": f"{lat},{lon}"})
        except NotFound:
            return None
        return reply["force"], reply["neighbourhood"]

    # -- crimes --------------------------------------------------------------------

    def street_crimes(
        self,
        lat: float,
        lon: float,
        *,
        month: str | date | None = None,
        category: str = "all-crime",
    ) -> list[Crime]:
        """Street-level crimes within a mile of a point in one month (default: the newest)."""
        category = check_category(category)
        params = {"lat": lat, "lng": lon, "date": self.resolve_month(month)}
        return self._crimes(self._get(f"crimes-street/{category}", params))

    def street_crimes_in(
        self,
        polygon: Sequence[Point],
        *,
        month: str | date | None = None,
        category: str = "all-crime",
    ) -> list[Crime]:
        """Street-level crimes inside ``polygon``, a list of ``(lat, lon)``, in one month.

        Long polygons are sent by POST. When police.uk answers 503 because the
        area holds more than 10,000 crimes, the area is split into quadrants
        (each clipped to the polygon), fetched part by part and merged, each
        crime once. A 503 for an area under ``MIN_SPLIT_DEG`` raises
        :class:`ServiceUnavailable`.
        """
        points = _polygon(polygon)
        category = check_category(category)
        merged: dict[int, Crime] = {}
        self._crimes_in(points, self.resolve_month(month), category, merged)
        return list(merged.values())

    def crimes_at_location(self, location_id: int, month: str | date | None = None) -> list[Crime]:
        """Crimes snapped to one location (a :attr:`Crime.location_id`) in one month."""
        params = {"location_id": location_id, "date": self.resolve_month(month)}
        return self._crimes(self._get("crimes-at-location", params))

    def outcomes(self, persistent_id: str) -> list[Outcome]:
        """The case history of one crime, oldest first."""
        if not persistent_id:
            raise ValidationError(
                None, "this crime has no persistent_id, so police.uk keeps no outcomes for it"
            )
        reply = self._get(f"outcomes-for-crime/{quote(persistent_id, safe='')}")
        return [Outcome.from_api(item) for item in reply.get("outcomes") or []]

    # -- plumbing ------------------------------------------------------------------

    def _crimes_in(
        self, points: list[Point], month: str, category: str, merged: dict[int, Crime]
    ) -> None:
        url = self._url(f"crimes-street/{category}")
        params = {"poly": _poly_param(points), "date": month}
        try:
            reply = self._area_reply(url, params)
        except ServiceUnavailable as exc:
            if exc.status != 503:
                raise
            if _span(points) < MIN_SPLIT_DEG:
                raise ServiceUnavailable(
                    503,
                    f"police.uk still answered 503 for an area under {MIN_SPLIT_DEG} degrees "
                    "across; that many crimes there is implausible, so the service is "
                    "probably down",
                    exc.url,
                ) from exc
            for part in _quadrants(points):
                self._crimes_in(part, month, category, merged)
            return
        for crime in self._crimes(reply, url):
            merged.setdefault(crime.id, crime)

    def _area_reply(self, url: str, params: dict[str, Any]) -> Any:
        """One area request. Status retries are off, because police.uk's 503 here
        means "more than 10,000 crimes" (split, don't retry); so a 429 is retried
        here instead, after its Retry-After or an exponential backoff."""
        for attempt in range(self.http.retries + 1):
            try:
                if _get_url_length(url, params) > MAX_GET_URL:
                    return self.http.post_form(url, params)
                return self.http.json_of(
                    self.http.request("GET", url, params=params, retry_statuses=False)
                )
            except RateLimited as exc:
                if attempt == self.http.retries:
                    raise
                backoff = self.http.backoff * 2**attempt
                self._sleep(min(MAX_RETRY_AFTER_S, exc.retry_after or backoff))
        raise AssertionError("unreachable")  # the loop returns or raises

    def _crimes(self, reply: Any, url: str | None = None) -> list[Crime]:
        if not isinstance(reply, list):
            raise NotAPortalResponse(200, "expected a list of crimes", url)
        try:
            return [Crime.from_api(item) for item in reply]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise NotAPortalResponse(
                200, f"a crime in the reply is malformed ({exc.__class__.__name__}: {exc})", url
            ) from exc

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.http.get_json(self._url(path), params=params)

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path}"


def normalise_month(month: str | date) -> str:
    """``"2024-05"`` or a date -> ``"YYYY-MM"``; :class:`ValidationError` otherwise, with no request."""
    if isinstance(month, date):
        return f"{month.year:04d}-{month.month:02d}"
    text = str(month).strip()
    if not _MONTH.fullmatch(text):
        raise ValidationError(
            None,
            f"month must look like YYYY-MM (e.g. 2024-05), not {month!r}",
            errors={"month": []},
        )
    return text


def check_category(category: str) -> str:
    """``category`` if it is shaped like a police.uk category id; :class:`ValidationError` otherwise."""
    if not _CATEGORY.fullmatch(category or ""):
        raise ValidationError(
            None,
            f"category must be a police.uk category id such as 'all-crime' or 'burglary', "
            f"not {category!r}",
        )
    return category


def _polygon(polygon: Iterable[Point]) -> list[Point]:
    points: list[Point] = []
    for point in polygon:
        try:
            lat, lon = (float(v) for v in point)
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                None, f"polygon points must be (lat, lon) pairs, not {point!r}"
            ) from exc
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValidationError(None, f"({lat}, {lon}) is not a latitude/longitude")
        points.append((lat, lon))
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()  # police.uk closes the polygon itself
    if len(points) < 3:
        raise ValidationError(None, "a polygon needs at least 3 (lat, lon) points")
    return points


def _fmt(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _poly_param(points: Sequence[Point]) -> str:
    return ":".join(f"{_fmt(lat)},{_fmt(lon)}" for lat, lon in points)


def _get_url_length(url: str, params: dict[str, Any]) -> int:
    return len(requests.Request("GET", url, params=params).prepare().url or "")


def _span(points: Sequence[Point]) -> float:
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    return max(max(lats) - min(lats), max(lons) - min(lons))


def _quadrants(points: list[Point]) -> list[list[Point]]:
    """Split a polygon into the parts of it inside each quarter of its bounding box."""
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    lat_lo, lat_hi, lon_lo, lon_hi = min(lats), max(lats), min(lons), max(lons)
    lat_mid, lon_mid = (lat_lo + lat_hi) / 2, (lon_lo + lon_hi) / 2
    boxes = [
        (lat_lo, lat_mid, lon_lo, lon_mid),
        (lat_lo, lat_mid, lon_mid, lon_hi),
        (lat_mid, lat_hi, lon_lo, lon_mid),
        (lat_mid, lat_hi, lon_mid, lon_hi),
    ]
    parts = []
    for box in boxes:
        part = _clip(points, *box)
        if len(part) >= 3 and _area(part) > 0:
            parts.append(part)
    return parts


def _clip(
    points: list[Point], lat_lo: float, lat_hi: float, lon_lo: float, lon_hi: float
) -> list[Point]:
    """Sutherland-Hodgman: the part of ``points`` inside an axis-aligned box."""

    def cut(pts: list[Point], axis: int, bound: float, keep_above: bool) -> list[Point]:
        def inside(p: Point) -> bool:
            return p[axis] >= bound if keep_above else p[axis] <= bound

        def cross(p: Point, q: Point) -> Point:
            t = (bound - p[axis]) / (q[axis] - p[axis])
            other = 1 - axis
            point = [0.0, 0.0]
            point[axis] = bound
            point[other] = p[other] + t * (q[other] - p[other])
            return point[0], point[1]

        out: list[Point] = []
        for i, current in enumerate(pts):
            previous = pts[i - 1]
            if inside(current):
                if not inside(previous):
                    out.append(cross(previous, current))
                out.append(current)
            elif inside(previous):
                out.append(cross(previous, current))
        return out

    result = points
    for axis, bound, keep_above in (
        (0, lat_lo, True),
        (0, lat_hi, False),
        (1, lon_lo, True),
        (1, lon_hi, False),
    ):
        if not result:
            break
        result = cut(result, axis, bound, keep_above)
    deduped: list[Point] = []
    for point in result:
        if not deduped or deduped[-1] != point:
            deduped.append(point)
    if len(deduped) > 1 and deduped[0] == deduped[-1]:
        deduped.pop()
    return deduped


def _area(points: Sequence[Point]) -> float:
    return (
        abs(
            sum(
                a[0] * b[1] - b[0] * a[1]
                for a, b in zip(points, [*points[1:], points[0]], strict=True)
            )
        )
        / 2
    )
