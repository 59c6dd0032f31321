"""Open-data portals of every kind UK public bodies run, behind one protocol.

``civickit.portal("camden")`` opens a registered portal by name;
``civickit.portal("https://opendata.bristol.gov.uk")`` opens any portal by
URL, asking the site which platform it runs (:func:`detect_portal`). Every
client (:class:`CKAN`, :class:`ArcGIS`, :class:`ArcGISHub`,
:class:`OpenDataSoft`, :class:`Socrata`) implements :class:`Portal`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict, Unpack

from ..errors import (
    InvalidArgument,
    UnknownPortal,
)
from ..http import HttpClient
from .arcgis import ArcGIS, ArcGISHub
from .ckan import CKAN
from .detect import KINDS, clear_cache, detect_portal, normalise_url
from .detect import detect as _detect
from .models import Dataset, JSONValue, Portal, Resource, Row
from .opendatasoft import OpenDataSoft
from .registry import PortalInfo, known_portals, register
from .socrata import Socrata

__all__ = [
    "CKAN",
    "KINDS",
    "ArcGIS",
    "ArcGISHub",
    "Dataset",
    "JSONValue",
    "OpenDataSoft",
    "Portal",
    "PortalInfo",
    "PortalOptions",
    "Resource",
    "Row",
    "Socrata",
    "UnknownPortal",
    "clear_cache",
    "detect_portal",
    "known_portals",
    "portal",
    "register",
]

# each client is checked against the Portal protocol here
_CLIENTS: dict[str, Callable[..., Portal]] = {
    "ckan": CKAN,
    "arcgis": ArcGIS,
    "arcgis-hub": ArcGISHub,
    "opendatasoft": OpenDataSoft,
    "socrata": Socrata,
}
# the keyword each kind takes for its credentials
_OPTIONS = {
    "ckan": ("api_token",),
    "arcgis": ("token", "concurrency"),
    "arcgis-hub": ("token", "concurrency"),
    "opendatasoft": ("api_key", "concurrency"),
    "socrata": ("app_token", "region", "concurrency"),
}


class PortalOptions(TypedDict, total=False):
    """The options :func:`portal` passes to the client; each kind takes only its own."""

    api_token: str | None  # CKAN
    token: str | None  # ArcGIS, ArcGIS Hub
    api_key: str | None  # OpenDataSoft
    app_token: str | None  # Socrata
    region: str | None  # Socrata: "eu" or "us"
    concurrency: int  # all but CKAN


def _looks_like_url(text: str) -> bool:
    if text.startswith(("http://", "https://")):
        return True
    host = text.split("/", 1)[0]
    return "." in host and " " not in text and all(part for part in host.split("."))


def portal(
    name_or_url: str,
    *,
    kind: str | None = None,
    http: HttpClient | None = None,
    **options: Unpack[PortalOptions],
) -> Portal:
    """The client for a registered portal name or any portal URL.

    ``kind`` skips detection (``"ckan"``, ``"arcgis"``, ``"arcgis-hub"``,
    ``"opendatasoft"``, ``"socrata"``). ``options`` go to the client:
    ``api_token`` (CKAN), ``token`` (ArcGIS), ``api_key`` (OpenDataSoft),
    ``app_token`` and ``region`` (Socrata), ``concurrency`` (all but CKAN).
    """
    text = name_or_url.strip()
    info = known_portals().get(text.lower())
    if info is not None:
        url = info.url
        kind = kind or info.kind
    elif _looks_like_url(text):
        url = normalise_url(text)
    else:
        raise UnknownPortal(text, known=list(known_portals()))
    if kind is None:
        kind, url = _detect(url, http=http)
    if kind not in _CLIENTS:
        raise InvalidArgument(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    unknown = sorted(set(options) - set(_OPTIONS[kind]))
    if unknown:
        allowed = ", ".join(_OPTIONS[kind]) or "none"
        raise InvalidArgument(
            f"a {kind} portal does not take {', '.join(unknown)} (it takes: {allowed})"
        )
    client: Portal = _CLIENTS[kind](url, http=http, **options)
    return client
