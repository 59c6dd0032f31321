"""Talking to postcodes.io and police.uk: plain-words failures, and where a postcode is.

Both services are reached through the app's one :class:`civickit.http.HttpClient`
(:func:`.state.get_http`) with a cache (``REDIS_URL`` when set, else an SQLite
file under ``instance/``), so a repeated lookup costs nothing and a cached
answer is served stale when the service is down. Timeouts are short and
retries few: a page waits seconds, not minutes, and then says which service
let it down.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask

from civickit.errors import (
    APIError,
    NotAPortalResponse,
    PostcodeNotFound,
    RateLimited,
    ServiceUnavailable,
)
from civickit.postcodes import normalise

from . import state
from .models import Postcode


class UpstreamFailed(Exception):
    """A remote service failed; ``code`` and ``message`` are ready for a page or the API."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def explain(service: str, exc: BaseException) -> UpstreamFailed:
    """Turn a failure talking to ``service`` into words a resident can act on."""
    if isinstance(exc, RateLimited):
        return UpstreamFailed(
            "upstream_rate_limited",
            f"{service} is turning away requests because it is busy. Try again in a few minutes.",
        )
    if isinstance(exc, (NotAPortalResponse, KeyError, TypeError, ValueError)):
        return UpstreamFailed(
            "upstream_bad_response",
            f"{service} sent back an answer we could not read. Try again later.",
        )
    if isinstance(exc, ServiceUnavailable):
        why = "did not answer in time" if "timed out" in exc.message else "is not available"
        return UpstreamFailed(
            "upstream_unavailable", f"{service} {why} just now. Try again in a few minutes."
        )
    if isinstance(exc, APIError):
        return UpstreamFailed(
            "upstream_error", f"{service} could not answer this request. Try again later."
        )
    return UpstreamFailed("upstream_error", f"Something went wrong asking {service}.")


@dataclass(frozen=True)
class Location:
    postcode: str
    latitude: float
    longitude: float
    source: str  # "local" or "postcodes.io"


def resolve(app: Flask, text: str, *, before_lookup: Callable[[], None] | None = None) -> Location:
    """Find a postcode's centre: the local table first, then postcodes.io.

    Raises ``InvalidPostcode`` (never sent anywhere), ``PostcodeNotFound``
    (``.terminated`` when retired) or :class:`UpstreamFailed`.
    ``before_lookup`` runs just before postcodes.io is asked (and may raise:
    the views count lookups against a per-address limit there).
    """
    postcode = normalise(text)
    with state.get_engine(app).connect() as conn:
        row = conn.execute(
            sa.select(Postcode.latitude, Postcode.longitude).where(Postcode.postcode == postcode)
        ).first()
    if row is not None:
        return Location(postcode, row.latitude, row.longitude, "local")
    if not app.config["POSTCODES_ONLINE"]:
        raise PostcodeNotFound(postcode)
    if before_lookup is not None:
        before_lookup()
    try:
        place = state.get_postcodes(app).lookup(postcode)
    except PostcodeNotFound:
        raise
    except (APIError, KeyError, TypeError, ValueError) as exc:
        raise explain("The postcode lookup service (postcodes.io)", exc) from exc
    if place.latitude is None or place.longitude is None:
        raise UpstreamFailed(
            "postcode_without_location",
            f"{postcode} exists but has no map location (some PO box postcodes have none).",
        )
    return Location(place.postcode, place.latitude, place.longitude, "postcodes.io")


def terminated_words(exc: PostcodeNotFound) -> str:
    """'LS1 1AA was retired in March 2005 ...' from a PostcodeNotFound."""
    info: dict[str, Any] = exc.terminated or {}
    if not info:
        return (
            f"We could not find {exc.postcode}. Check it is right; "
            "it may be new, or it may not exist."
        )
    year, month = info.get("year"), info.get("month")
    when = (
        f"{calendar.month_name[int(month)]} {year}" if year and month else f"{year or 'the past'}"
    )
    return (
        f"{exc.postcode} was retired in {when}, so it no longer points at a place. "
        "Use the postcode the address has now."
    )
