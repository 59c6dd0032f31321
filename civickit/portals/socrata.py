"""Socrata portals: SODA 2.1 for rows, the Discovery API for the catalogue.

Camden and West Sussex publish on Socrata. Rows come from
``/resource/<4x4>.json`` with ``$limit``/``$offset``; the platform promises no
order unless asked, so :meth:`Socrata.records` always sends ``$order=:id``
(after the caller's own order, as a tie-break), which is what stops the
duplicate and missing rows sodapy's ``get_all`` users meet (afeld/sodapy#79,
#85). The catalogue is Socrata's Discovery API, on ``api.eu.socrata.com`` for
domains hosted in Europe and ``api.us.socrata.com`` for North America.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from .._convert import int_if_valid
from ..errors import (
    APIError,
    InvalidArgument,
    NotAPortalResponse,
    NotAuthorized,
    NotFound,
    RateLimited,
    ValidationError,
)
from ..http import HttpClient, error_for_status
from ._common import PortalClient, download_path, geo_keys, locate, safe_filename, site_url
from ._paging import DEFAULT_CONCURRENCY, check_concurrency, offset_pages
from .models import Dataset, FieldType, Resource, Row, mapping, timestamp

__all__ = ["Socrata"]

DEFAULT_PAGE = 5_000  # SODA 2.1 has no cap; 2.0 endpoints cap $limit at 50,000
DISCOVERY_PAGE = 100
DISCOVERY_HOSTS = {"eu": "https://api.eu.socrata.com", "us": "https://api.us.socrata.com"}
_FOUR_BY_FOUR = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}$")
_FIELD_TYPES: dict[str, FieldType] = {
    "number": "float",
    "money": "float",
    "double": "float",
    "percent": "float",
    "checkbox": "boolean",
    "calendar_date": "datetime",
    "floating_timestamp": "datetime",
    "fixed_timestamp": "datetime",
    "date": "datetime",
    "point": "json",
    "location": "json",
    "multipoint": "json",
    "line": "json",
    "multiline": "json",
    "polygon": "json",
    "multipolygon": "json",
    "url": "json",
}
_GEOMETRIES = ("MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
_POINT_TYPES = ("point", "location")


def _socrata_error(response: requests.Response) -> APIError:
    """The civickit error for a SODA or Discovery error answer (one place)."""
    status = response.status_code
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, Mapping):
        return error_for_status(response)
    code = str(body.get("errorCode") or body.get("code") or "")
    message = str(body.get("message") or body.get("error") or "").strip()
    text = f"Socrata {code}: {message}" if code else f"Socrata: {message}"
    if status == 400 or code.startswith("query."):
        data = mapping(body.get("data"))
        return ValidationError(
            status, text, response.url, errors={code or "error": message, **data}
        )
    if status in (401, 403):
        return NotAuthorized(status, text, response.url)
    if status == 404:
        return NotFound(status, text, response.url)
    if status == 429:
        return RateLimited(status, text, response.url)
    return error_for_status(response, text)


def _shape(row: Row, keys: list[str]) -> Row:
    """Points become ``latitude``/``longitude``; other shapes a GeoJSON ``geometry``."""
    for key in keys:
        value: Any = row.get(key)  # JSON as sent: its members are checked before use
        if not isinstance(value, dict):
            continue
        kind = value.get("type")
        if kind == "Point" and "latitude" not in row:
            locate(row, value)
        elif kind in _GEOMETRIES:
            del row[key]
            locate(row, value)
        elif "latitude" in value and "longitude" in value and "latitude" not in row:
            try:  # the legacy location type: strings, with a human_address beside them
                row["latitude"] = float(value["latitude"])
                row["longitude"] = float(value["longitude"])
            except (TypeError, ValueError):
                pass
    return row


class Socrata(PortalClient):
    """One Socrata portal, e.g. ``Socrata("https://opendata.camden.gov.uk")``.

    ``app_token`` (or the ``SOCRATA_APP_TOKEN`` environment variable) goes in
    the ``X-App-Token`` header; without one Socrata pools requests by IP and may
    throttle them. ``region`` (``"eu"`` or ``"us"``) picks the Discovery API host;
    by default a ``.uk`` or ``.eu`` domain tries Europe first, others North
    America first, and the other is tried when the first says it does not
    know the domain.
    """

    kind = "socrata"

    def __init__(
        self,
        base_url: str,
        *,
        app_token: str | None = None,
        http: HttpClient | None = None,
        region: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        parts = site_url(base_url, "give one like https://opendata.camden.gov.uk")
        if region is not None and region not in DISCOVERY_HOSTS:
            raise InvalidArgument(f"region must be 'eu' or 'us', not {region!r}")
        self.base_url = f"{parts.scheme}://{parts.netloc}"
        self.domain = parts.hostname or parts.netloc
        self.region = region
        self.concurrency = check_concurrency(concurrency)
        self._use_http(http)
        token = app_token or os.environ.get("SOCRATA_APP_TOKEN")
        self._headers = {"X-App-Token": token} if token else {}

    # -- the escape hatch ------------------------------------------------------------

    def get(self, path: str, **params: object) -> Any:
        """GET any path on the portal (``api/views/64uk-42ks.json``) and return its JSON.

        The escape hatch: the JSON is as the server sent it (typed ``Any``).
        """
        return self._json(f"{self.base_url}/{path.lstrip('/')}", params)

    def _json(
        self, url: str, params: Mapping[str, Any] | None = None, *, token: bool = True
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = self.http.request(
            "GET", url, params=query, headers=self._headers if token else None
        )
        if response.status_code >= 400:
            raise _socrata_error(response)
        return HttpClient.decode_json(response)

    @staticmethod
    def _view_id(resource: Resource | str) -> str:
        text = (resource.package_id or resource.id) if isinstance(resource, Resource) else resource
        text = str(text).strip().lower()
        base = text.split(".", 1)[0]
        if not _FOUR_BY_FOUR.match(base):
            raise InvalidArgument(
                f"{text!r} is not a Socrata dataset id (four-by-four, like 64uk-42ks)"
            )
        return base

    # -- catalogue -------------------------------------------------------------------

    def _regions(self) -> list[str]:
        if self.region:
            return [self.region]
        european = self.domain.endswith((".uk", ".eu"))
        return ["eu", "us"] if european else ["us", "eu"]

    def search(
        self, q: str = "", *, limit: int | None = None, **filters: object
    ) -> Iterator[Dataset]:
        """The domain's datasets matching ``q``, through the Discovery API, each once.

        ``filters`` go to the Discovery API as they are (``categories="Environment"``,
        ``tags="bins"``, ``only="dataset"``).
        """
        regions = self._regions()
        for n, region in enumerate(regions):
            try:
                yield from self._discover(region, q, limit, filters)
                self.region = region
                return
            except (NotFound, ValidationError) as err:
                if n + 1 == len(regions) or "domain not found" not in str(err).lower():
                    raise

    def _discover(
        self, region: str, q: str, limit: int | None, filters: Mapping[str, object]
    ) -> Iterator[Dataset]:
        url = f"{DISCOVERY_HOSTS[region]}/api/catalog/v1"
        offset, seen = 0, set[str]()
        while limit is None or len(seen) < limit:
            page = DISCOVERY_PAGE if limit is None else min(DISCOVERY_PAGE, limit - len(seen))
            params = {
                "domains": self.domain,
                "search_context": self.domain,
                "q": q.strip() or None,
                "limit": page,
                "offset": offset,
                **filters,
            }
            body = self._json(url, params, token=False)
            if isinstance(body, dict) and body.get("error"):
                raise NotFound(404, f"Socrata Discovery: {body['error']}", url)
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise NotAPortalResponse(None, "the Discovery API did not answer with results", url)
            for raw in results:
                ds = self._dataset_from_discovery(raw)
                if ds.id not in seen:
                    seen.add(ds.id)
                    yield ds
                    if limit is not None and len(seen) >= limit:
                        return
            offset += len(results)
            total = int_if_valid(body.get("resultSetSize"))
            if len(results) < page or (total is not None and offset >= total):
                return

    def _resources(
        self, view_id: str, title: str, tabular: bool, modified: datetime | None
    ) -> tuple[Resource, ...]:
        out = []
        if tabular:
            out.append(
                Resource(
                    id=view_id,
                    name=title,
                    format="SODA",
                    url=f"{self.base_url}/resource/{view_id}.json",
                    size=None,
                    last_modified=modified,
                    datastore_active=True,
                    package_id=view_id,
                )
            )
        for fmt in ("csv", "json"):
            out.append(
                Resource(
                    id=f"{view_id}.{fmt}",
                    name=f"{title} ({fmt})",
                    format=fmt.upper(),
                    url=f"{self.base_url}/api/views/{view_id}/rows.{fmt}?accessType=DOWNLOAD",
                    size=None,
                    last_modified=modified,
                    datastore_active=False,
                    package_id=view_id,
                )
            )
        return tuple(out)

    def _dataset_from_discovery(self, raw: Mapping[str, Any]) -> Dataset:
        res = mapping(raw.get("resource"))
        view_id = str(res.get("id") or "")
        meta = mapping(raw.get("metadata"))
        cls = mapping(raw.get("classification"))
        modified = timestamp(res.get("updatedAt") or res.get("data_updated_at"))
        title = str(res.get("name") or view_id)
        return Dataset(
            id=view_id,
            name=view_id,
            title=title,
            notes=str(res.get("description") or "") or None,
            organization=str(res.get("attribution") or "") or None,
            license_id=str(meta.get("license") or "") or None,
            tags=tuple(str(t) for t in [*(cls.get("tags") or ()), *(cls.get("domain_tags") or ())]),
            metadata_modified=modified,
            resources=self._resources(view_id, title, res.get("type") == "dataset", modified),
            url=str(raw.get("permalink") or f"{self.base_url}/d/{view_id}"),
        )

    def dataset(self, id: str) -> Dataset:
        """One dataset (``/api/views/<4x4>.json``): its table and its CSV and JSON exports."""
        view_id = self._view_id(id)
        raw = self._json(f"{self.base_url}/api/views/{view_id}.json")
        if not isinstance(raw, Mapping) or "id" not in raw:
            raise NotAPortalResponse(None, "not a Socrata view", self.base_url)
        licence = mapping(raw.get("license"))
        modified = timestamp(raw.get("rowsUpdatedAt") or raw.get("viewLastModified"))
        title = str(raw.get("name") or view_id)
        tabular = raw.get("viewType", "tabular") == "tabular" and raw.get(
            "assetType", "dataset"
        ) in (
            "dataset",
            "filter",
        )
        return Dataset(
            id=view_id,
            name=view_id,
            title=title,
            notes=str(raw.get("description") or "") or None,
            organization=str(raw.get("attribution") or "") or None,
            license_id=str(licence.get("name") or raw.get("licenseId") or "") or None,
            tags=tuple(str(t) for t in raw.get("tags") or ()),
            metadata_modified=modified,
            resources=self._resources(view_id, title, tabular, modified),
            url=f"{self.base_url}/d/{view_id}",
        )

    def fields(self, resource: Resource | str) -> dict[str, FieldType]:
        """The table's columns and types (every value arrives as text; these say what it is)."""
        raw = self._json(f"{self.base_url}/api/views/{self._view_id(resource)}.json")
        out: dict[str, FieldType] = {}
        point = False
        for column in raw.get("columns") or ():
            name = str(column.get("fieldName") or "")
            if not name or name.startswith(":"):
                continue
            kind = str(column.get("dataTypeName") or "text").lower()
            if kind in ("line", "multiline", "polygon", "multipolygon", "multipoint"):
                out["geometry"] = "json"
                continue
            out[name] = _FIELD_TYPES.get(kind, "text")
            point = point or kind in _POINT_TYPES
        if point:
            out.setdefault("latitude", "float")
            out.setdefault("longitude", "float")
        return out

    # -- records ---------------------------------------------------------------------

    def records(
        self,
        resource: Resource | str,
        *,
        where: str | None = None,
        fields: list[str] | tuple[str, ...] | None = None,
        limit: int | None = None,
        page_size: int | None = None,
        order: str | None = None,
        concurrency: int | None = None,
    ) -> Iterator[Row]:
        """Yield a dataset's rows, each once, in ``$order`` (``:id`` by default, always as tie-break).

        ``where`` is a SoQL ``$where``; ``fields`` the ``$select`` list. Values
        are the strings SODA sends; a point also gives ``latitude``/``longitude``.
        Nothing is requested until the first row is asked for.
        """
        if limit is not None and limit < 0:
            raise InvalidArgument("limit must be 0 or more")
        size = page_size or DEFAULT_PAGE
        workers = check_concurrency(concurrency or self.concurrency)
        view_id = self._view_id(resource)
        url = f"{self.base_url}/resource/{view_id}.json"
        base = {
            "$where": where,
            "$select": ",".join(fields) if fields else None,
            "$order": f"{order}, :id" if order and order.strip() != ":id" else ":id",
        }

        def fetch(offset: int, count: int) -> tuple[list[Row], bool]:
            rows = self._json(url, {**base, "$limit": count, "$offset": offset})
            if not isinstance(rows, list):
                raise NotAPortalResponse(None, "SODA did not answer with a list of rows", url)
            return rows, len(rows) >= count

        def rows() -> Iterator[Row]:
            keys: list[str] | None = None
            for page in offset_pages(
                fetch, page_size=size, limit=limit, concurrency=workers, url=url
            ):
                if keys is None:
                    keys = geo_keys(page)  # the location fields, found on the first page
                if keys:
                    for row in page:
                        _shape(row, keys)
                yield from page

        return rows()

    # -- files -----------------------------------------------------------------------

    def download(
        self,
        resource: Resource | str,
        dest: str | os.PathLike[str],
        *,
        format: str | None = None,
        progress: bool = False,
    ) -> Path:
        """Save a dataset's full export (``csv`` by default, or ``json``) to ``dest``.

        A folder ``dest`` gets ``<4x4>.<format>``.
        """
        view_id = self._view_id(resource)
        text = resource.id if isinstance(resource, Resource) else str(resource)
        own = text.rsplit(".", 1)[1].lower() if "." in text else None
        fmt = (format or own or "csv").lower()
        if fmt not in ("csv", "json", "xml", "rdf", "rss", "tsv"):
            raise InvalidArgument(
                f"{fmt!r} is not a Socrata export format (csv, json, xml, tsv...)"
            )
        url = f"{self.base_url}/api/views/{view_id}/rows.{fmt}?accessType=DOWNLOAD"
        target = download_path(dest, f"{safe_filename(view_id)}.{fmt}")
        return self.http.stream(url, target, progress=progress, headers=self._headers or None)
