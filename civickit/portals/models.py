"""What every kind of portal returns: :class:`Dataset`, :class:`Resource`, the :class:`Portal` protocol.

A CKAN package, an ArcGIS service, a Socrata view and an OpenDataSoft dataset
all become the same frozen :class:`Dataset`; a CKAN resource, an ArcGIS layer
and a Socrata or OpenDataSoft table or export all become a :class:`Resource`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeAlias, TypedDict, runtime_checkable
from urllib.parse import urljoin, urlsplit

from .._convert import int_if_valid
from .._records import JSONValue, Record

__all__ = [
    "CKANOrganizationJSON",
    "CKANPackageJSON",
    "CKANResourceJSON",
    "CKANTagJSON",
    "Dataset",
    "FieldType",
    "JSONValue",
    "Portal",
    "Resource",
    "Row",
    "absolute_url",
]

#: A row of a table as :meth:`Portal.records` yields it: the platform's fields with
#: their values as the platform sent them (parsed JSON), plus ``latitude`` and
#: ``longitude`` (floats) for a point, or ``geometry`` (a GeoJSON dict) for any other shape.
Row: TypeAlias = dict[str, JSONValue]

#: The column types :meth:`Portal.fields` reports, whatever the platform calls them.
FieldType = str  # "integer" | "float" | "boolean" | "text" | "date" | "datetime" | "json"
FIELD_TYPES = ("integer", "float", "boolean", "text", "date", "datetime", "json")


def timestamp(value: object) -> datetime | None:
    """A timezone-aware datetime from an ISO string (naive means UTC) or epoch seconds/ms."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) > 1e11 else value  # ArcGIS counts milliseconds
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one (for nested fields that may be absent).

    For reading parsed JSON: the members are as the server sent them (typed ``Any``).
    """
    return value if isinstance(value, Mapping) else {}


def absolute_url(url: str | None, site: str) -> str:
    """Resolve a resource URL against the portal ``site`` (which may carry a path prefix).

    CKAN stores datastore resources as ``/datastore/dump/<id>``: a path on the
    CKAN site, which sits under the prefix when the site has one
    (``https://data.gov.au/data`` -> ``https://data.gov.au/data/datastore/dump/<id>``).
    """
    if not url:
        return ""
    url = url.strip()
    if urlsplit(url).scheme:
        return url
    if url.startswith("//"):
        return f"{urlsplit(site).scheme or 'https'}:{url}"
    site = site.rstrip("/")
    prefix = urlsplit(site).path
    if url.startswith("/"):
        if prefix and (url == prefix or url.startswith(prefix + "/")):
            return urljoin(site + "/", url)
        return site + url
    return f"{site}/{url}"


class CKANResourceJSON(TypedDict, total=False):
    """A resource as CKAN's API sends it (the keys :meth:`Resource.from_api` reads)."""

    id: str
    name: str | None
    format: str | None
    url: str | None
    size: int | str | None
    last_modified: str | None
    metadata_modified: str | None
    datastore_active: bool
    package_id: str | None


class CKANOrganizationJSON(TypedDict, total=False):
    """A dataset's organisation as CKAN's API sends it."""

    name: str
    title: str


class CKANTagJSON(TypedDict, total=False):
    """A tag as CKAN's API sends it."""

    name: str


class CKANPackageJSON(TypedDict, total=False):
    """A dataset (package) as CKAN's API sends it (the keys :meth:`Dataset.from_api` reads)."""

    id: str
    name: str
    title: str | None
    notes: str | None
    organization: CKANOrganizationJSON | None
    license_id: str | None
    tags: list[CKANTagJSON | str]
    metadata_modified: str | None
    resources: list[CKANResourceJSON]


@dataclass(frozen=True)
class Resource(Record):
    """One table, layer, file or export behind a dataset. ``url`` is always absolute.

    ``datastore_active`` says whether :meth:`Portal.records` can read it row
    by row (a CKAN datastore table, an ArcGIS layer, a Socrata or
    OpenDataSoft dataset's table); otherwise it is a file to download.
    """

    id: str
    name: str
    format: str
    url: str
    size: int | None
    last_modified: datetime | None
    datastore_active: bool
    package_id: str | None

    @classmethod
    def from_api(cls, data: CKANResourceJSON, site: str) -> Resource:
        """Build from a CKAN ``resource_show`` result (or a dataset's resource) on ``site``."""
        return cls(
            id=str(data.get("id") or ""),
            name=data.get("name") or "",
            format=(data.get("format") or "").strip(),
            url=absolute_url(data.get("url"), site),
            size=int_if_valid(data.get("size")),
            last_modified=timestamp(data.get("last_modified") or data.get("metadata_modified")),
            datastore_active=bool(data.get("datastore_active")),
            package_id=data.get("package_id"),
        )


@dataclass(frozen=True)
class Dataset(Record):
    """A dataset and its resources, the same shape for every kind of portal.

    ``url`` is its page on the portal, for people.
    """

    id: str
    name: str
    title: str
    notes: str | None
    organization: str | None
    license_id: str | None
    tags: tuple[str, ...]
    metadata_modified: datetime | None
    resources: tuple[Resource, ...]
    url: str

    @classmethod
    def from_api(cls, data: CKANPackageJSON, site: str) -> Dataset:
        """Build from a CKAN ``package_show`` / ``package_search`` result on ``site``."""
        org = data.get("organization")
        name = data.get("name") or ""
        return cls(
            id=str(data.get("id") or ""),
            name=name,
            title=data.get("title") or name,
            notes=data.get("notes") or None,
            organization=org.get("name") if isinstance(org, Mapping) else None,
            license_id=data.get("license_id") or None,
            tags=tuple(
                t.get("name", "") if isinstance(t, Mapping) else str(t)
                for t in data.get("tags") or ()
            ),
            metadata_modified=timestamp(data.get("metadata_modified")),
            resources=tuple(Resource.from_api(r, site) for r in data.get("resources") or ()),
            url=f"{site.rstrip('/')}/dataset/{name or data.get('id')}",
        )

    def table(self) -> Resource | None:
        """The first resource that :meth:`Portal.records` can read, if any."""
        return next((r for r in self.resources if r.datastore_active), None)


@runtime_checkable
class Portal(Protocol):
    """What every kind of portal client offers (CKAN, ArcGIS, ArcGIS Hub, OpenDataSoft, Socrata).

    ``resource`` is a :class:`Resource` or its id: a CKAN resource id, an
    ArcGIS layer URL (or a layer's number in the service opened), a Socrata
    four-by-four, an OpenDataSoft dataset id.
    """

    kind: str
    base_url: str

    def search(self, q: str = ..., *, limit: int | None = None) -> Iterator[Dataset]:
        """Yield the catalogue's datasets matching ``q``, each once."""
        ...

    def dataset(self, id: str) -> Dataset:
        """One dataset with its resources."""
        ...

    def records(
        self,
        resource: Resource | str,
        *,
        where: Any = None,
        fields: list[str] | tuple[str, ...] | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[Row]:
        """Yield every row of a table exactly once, in a stable order.

        ``where`` is each kind's own filter: a query string (ArcGIS, OpenDataSoft,
        Socrata) or a dict of filters (CKAN). It is typed ``Any`` because no one
        type is accepted by every kind, which a protocol's parameter would need.
        """
        ...

    def fields(self, resource: Resource | str) -> dict[str, FieldType]:
        """The table's columns and their types (one of :data:`FIELD_TYPES`)."""
        ...

    def download(
        self,
        resource: Resource | str,
        dest: str | os.PathLike[str],
        *,
        format: str | None = None,
        progress: bool = False,
    ) -> Path:
        """Write a resource to ``dest`` (a file, or a folder for its own name) atomically."""
        ...

    def close(self) -> None:
        """Close the HTTP session if the portal made its own."""
        ...
