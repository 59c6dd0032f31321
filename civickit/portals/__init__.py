"""Open-data portals by name: ``portal("datamillnorth")`` or any CKAN site by URL.

The registry is small on purpose: portals we know run CKAN and have checked.
Others can be added with :func:`register` or used directly by URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import CivicKitError
from .ckan import CKAN, Dataset, Resource

__all__ = [
    "CKAN",
    "Dataset",
    "PortalInfo",
    "Resource",
    "UnknownPortal",
    "known_portals",
    "portal",
    "register",
]


@dataclass(frozen=True)
class PortalInfo:
    """A named portal: where it is and what it holds."""

    name: str
    url: str
    description: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "url": self.url, "description": self.description}


class UnknownPortal(CivicKitError, ValueError):
    """A portal name that is not registered and not a URL."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)

    def __str__(self) -> str:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        return (
            f"Unknown portal {self.name!r}. Use one of: {known}; "
            "or give the portal's URL (https://...)."
        )


_REGISTRY: dict[str, PortalInfo] = {}


def register(name: str, url: str, description: str) -> PortalInfo:
    """Add (or replace) a named CKAN portal."""
    info = PortalInfo(name.lower(), url.rstrip("/"), description)
    _REGISTRY[info.name] = info
    return info


register(
    "datamillnorth",
    "https://datamillnorth.org",
    "Data Mill North: Leeds, Bradford and the North's open data (bins, roads, planning).",
)
register(
    "datagovuk",
    "https://data.gov.uk",
    "data.gov.uk: the UK government's catalogue; resources link to publishers' files.",
)


def known_portals() -> list[PortalInfo]:
    """Every registered portal, by name."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def portal(name_or_url: str, **kw: Any) -> CKAN:
    """A :class:`CKAN` client for a registered name or a portal URL.

    Keyword arguments (``api_token``, ``http``) go to :class:`CKAN`.
    """
    text = name_or_url.strip()
    info = _REGISTRY.get(text.lower())
    if info is not None:
        return CKAN(info.url, **kw)
    if text.startswith(("http://", "https://")):
        return CKAN(text, **kw)
    raise UnknownPortal(text)
