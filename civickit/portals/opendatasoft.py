"""OpenDataSoft (Huwise) portals through the Explore API v2.1.

Leicester, the West of England Combined Authority and the energy networks
publish on OpenDataSoft. Its ``/records`` endpoint returns at most 100 rows a
call and only inside a window of 10,000 (``offset + limit`` must stay below
10,000); beyond that the platform points to ``/exports``, which has no limit.
:meth:`OpenDataSoft.records` therefore pages ``/records`` when the rows wanted
fit in the window (several pages at once) and streams ``/exports/jsonl`` when
they do not. ODSQL ``where``, ``select`` and ``order_by`` pass straight through.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import urllib3.exceptions

from .._convert import int_if_valid
from ..errors import (
    APIError,
    InvalidArgument,
    NotAPortalResponse,
    NotAuthorized,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    ValidationError,
)
from ..http import HttpClient, error_for_status
from ._common import PortalClient, download_path, geo_keys, locate, safe_filename, site_url
from ._paging import DEFAULT_CONCURRENCY, check_concurrency, offset_pages
from .models import Dataset, FieldType, Resource, Row, mapping, timestamp

__all__ = ["OpenDataSoft"]

API_PATH = "/api/explore/v2.1"
PAGE_MAX = 100  # the records endpoint's largest limit without group_by
WINDOW = 10_000  # offset + limit must stay below this on /records
EXPORT_FORMATS = ("csv", "json", "jsonl", "geojson", "parquet", "xlsx", "shp", "kml")
_FIELD_TYPES: dict[str, FieldType] = {
    "int": "integer",
    "double": "float",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "geo_point_2d": "json",
    "geo_shape": "json",
}


def _ods_error(response: requests.Response) -> APIError:
    """The civickit error for an Explore API error answer (one place)."""
    status = response.status_code
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, Mapping):
        return error_for_status(response)
    message = str(body.get("message") or body.get("error") or "").strip()
    code = str(body.get("error_code") or body.get("errorcode") or "")
    text = f"OpenDataSoft {code}: {message}" if code else f"OpenDataSoft: {message}"
    if status == 429:
        reset = body.get("reset_time")
        wait = _seconds_until(reset)
        limit = body.get("call_limit")
        unit = body.get("limit_time_unit")
        quota = f" (quota {limit} calls a {unit})" if limit and unit else ""
        return RateLimited(
            status,
            f"{text}{quota}; it resets at {reset}" if reset else f"{text}{quota}",
            response.url,
            retry_after=wait,
        )
    if status in (400, 422):
        return ValidationError(status, text, response.url, errors={code or "error": message})
    if status in (401, 403):
        return NotAuthorized(status, text, response.url)
    if status == 404:
        return NotFound(status, text, response.url)
    return error_for_status(response, text)


def _seconds_until(value: object) -> float | None:
    when = timestamp(value) if isinstance(value, str) else None
    if when is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _shape(row: Row, keys: list[str]) -> Row:
    """Give a row ``latitude``/``longitude`` (from a geo_point_2d) or a GeoJSON ``geometry``."""
    for key in keys:
        value: Any = row.get(key)  # JSON as sent: its members are checked before use
        if not isinstance(value, dict):
            continue
        if "lat" in value and "lon" in value and len(value) == 2:
            if "latitude" not in row and value["lat"] is not None and value["lon"] is not None:
                row["latitude"] = float(value["lat"])
                row["longitude"] = float(value["lon"])
        elif value.get("type") == "Feature" and isinstance(value.get("geometry"), dict):
            del row[key]  # a geo_shape: the shape moves to ``geometry``, not kept twice
            locate(row, value["geometry"])
    return row


class OpenDataSoft(PortalClient):
    """One OpenDataSoft portal, e.g. ``OpenDataSoft("https://data.leicester.gov.uk")``.

    ``api_key`` is sent as ``Authorization: Apikey <key>`` (for private data
    and a larger quota) to this portal only.
    """

    kind = "opendatasoft"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        http: HttpClient | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        parts = site_url(base_url, "give one like https://data.leicester.gov.uk")
        path = parts.path.rstrip("/")
        if API_PATH in path:  # given the API's own URL: keep the site
            path = path.split(API_PATH, 1)[0]
        self.base_url = f"{parts.scheme}://{parts.netloc}{path}"
        self.api_url = f"{self.base_url}{API_PATH}"
        self.concurrency = check_concurrency(concurrency)
        self._use_http(http)
        self._headers = {"Authorization": f"Apikey {api_key}"} if api_key else {}

    # -- the escape hatch ------------------------------------------------------------

    def get(self, path: str, **params: object) -> Any:
        """GET ``{base_url}/api/explore/v2.1/{path}`` and return its JSON.

        The escape hatch: the JSON is as the server sent it (typed ``Any``).
        """
        return self._json(f"{self.api_url}/{path.lstrip('/')}", params)

    def _json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = self.http.request("GET", url, params=query, headers=self._headers)
        if response.status_code >= 400:
            raise _ods_error(response)
        return HttpClient.decode_json(response)

    @staticmethod
    def _dataset_id(resource: Resource | str) -> str:
        text = resource.package_id or resource.id if isinstance(resource, Resource) else resource
        text = str(text).strip()
        if not text:
            raise InvalidArgument("name an OpenDataSoft dataset by its id")
        for fmt in EXPORT_FORMATS:  # an export resource's id is "<dataset>.<format>"
            if text.endswith(f".{fmt}"):
                return text[: -len(fmt) - 1]
        return text

    def _dataset_url(self, dataset_id: str) -> str:
        return f"{self.api_url}/catalog/datasets/{quote(dataset_id, safe='')}"

    # -- catalogue -------------------------------------------------------------------

    def search(
        self,
        q: str = "",
        *,
        limit: int | None = None,
        where: str | None = None,
        **filters: object,
    ) -> Iterator[Dataset]:
        """Datasets whose text matches ``q`` (and the ODSQL ``where``), each once.

        ``filters`` go to ``/catalog/datasets`` as they are (``refine="theme:Transport"``).
        """
        clauses = [f"({where})"] if where else []
        if q.strip():
            clauses.append('"' + q.strip().replace("\\", "\\\\").replace('"', '\\"') + '"')
        offset, seen = 0, set[str]()
        while limit is None or len(seen) < limit:
            page = PAGE_MAX if limit is None else min(PAGE_MAX, limit - len(seen))
            if offset + page >= WINDOW:
                return  # the catalogue has the same window; nobody publishes 10,000 datasets
            body = self._json(
                f"{self.api_url}/catalog/datasets",
                {
                    "where": " and ".join(clauses) or None,
                    "limit": page,
                    "offset": offset,
                    **filters,
                },
            )
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise NotAPortalResponse(
                    None, "the catalogue did not answer with results", self.api_url
                )
            for raw in results:
                ds = self._dataset_from_api(raw)
                if ds.id not in seen:
                    seen.add(ds.id)
                    yield ds
            offset += len(results)
            if len(results) < page or offset >= (int_if_valid(body.get("total_count")) or 0):
                return

    def dataset(self, id: str) -> Dataset:
        """One dataset: its table and its exports as resources."""
        return self._dataset_from_api(self._json(self._dataset_url(self._dataset_id(id))))

    def _dataset_from_api(self, raw: Mapping[str, Any]) -> Dataset:
        if not isinstance(raw, Mapping) or "dataset_id" not in raw:
            raise NotAPortalResponse(None, "not an OpenDataSoft dataset", self.api_url)
        dataset_id = str(raw["dataset_id"])
        metas = mapping(raw.get("metas"))
        default = mapping(metas.get("default"))
        modified = timestamp(default.get("modified") or default.get("data_processed"))
        table_url = f"{self._dataset_url(dataset_id)}/records"
        resources = [
            Resource(
                id=dataset_id,
                name=str(default.get("title") or dataset_id),
                format="OpenDataSoft records",
                url=table_url,
                size=int_if_valid(default.get("records_count")),
                last_modified=modified,
                datastore_active=bool(raw.get("has_records", True)),
                package_id=dataset_id,
            )
        ]
        for fmt in ("csv", "json", "geojson"):
            if fmt == "geojson" and "geo" not in (raw.get("features") or ()):
                continue
            resources.append(
                Resource(
                    id=f"{dataset_id}.{fmt}",
                    name=f"{default.get('title') or dataset_id} ({fmt})",
                    format=fmt.upper(),
                    url=f"{self._dataset_url(dataset_id)}/exports/{fmt}",
                    size=None,
                    last_modified=modified,
                    datastore_active=False,
                    package_id=dataset_id,
                )
            )
        keywords = default.get("keyword") or ()
        return Dataset(
            id=dataset_id,
            name=dataset_id,
            title=str(default.get("title") or dataset_id),
            notes=str(default.get("description") or "") or None,
            organization=str(default.get("publisher") or "") or None,
            license_id=str(default.get("license") or "") or None,
            tags=tuple(str(k) for k in (keywords if isinstance(keywords, list) else [keywords])),
            metadata_modified=modified,
            resources=tuple(resources),
            url=f"{self.base_url}/explore/dataset/{dataset_id}/",
        )

    def fields(self, resource: Resource | str) -> dict[str, FieldType]:
        """The dataset's columns and types; a geo_point_2d adds ``latitude``/``longitude``."""
        raw = self._json(self._dataset_url(self._dataset_id(resource)))
        out: dict[str, FieldType] = {}
        point = False
        for field in raw.get("fields") or ():
            kind = str(field.get("type") or "text")
            if kind == "geo_shape":
                out["geometry"] = "json"
                continue
            out[str(field["name"])] = _FIELD_TYPES.get(kind, "text")
            point = point or kind == "geo_point_2d"
        if point:
            out.update(latitude="float", longitude="float")
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
        order_by: str | None = None,
        concurrency: int | None = None,
    ) -> Iterator[Row]:
        """Yield a dataset's rows, each once, whatever their number, values as the server sent them.

        ``where``, ``fields`` (ODSQL ``select``) and ``order_by`` go to the
        server as they are. Up to 10,000 rows come from ``/records`` in pages
        of ``page_size`` (at most 100), several at once; more come from one
        streamed ``/exports/jsonl``. Nothing is requested until the first row
        is asked for.
        """
        if limit is not None and limit < 0:
            raise InvalidArgument("limit must be 0 or more")
        size = min(page_size or PAGE_MAX, PAGE_MAX)
        if size < 1:
            raise InvalidArgument("page_size must be at least 1")
        workers = check_concurrency(concurrency or self.concurrency)
        params = {
            "where": where,
            "select": ",".join(fields) if fields else None,
            "order_by": order_by,
        }
        return self._records(self._dataset_id(resource), params, limit, size, workers)

    def _records(
        self,
        dataset_id: str,
        params: Mapping[str, Any],
        limit: int | None,
        size: int,
        workers: int,
    ) -> Iterator[Row]:
        if limit == 0:
            return
        url = f"{self._dataset_url(dataset_id)}/records"
        first_size = size if limit is None else min(size, limit)
        body = self._json(url, {**params, "limit": first_size, "offset": 0})
        first = body.get("results") if isinstance(body, dict) else None
        total = int_if_valid(body.get("total_count")) if isinstance(body, dict) else None
        if not isinstance(first, list) or total is None:
            raise NotAPortalResponse(None, "the records endpoint did not answer with results", url)
        wanted = total if limit is None else min(limit, total)
        if wanted >= WINDOW:
            del first
            yield from self._export(dataset_id, params, limit)
            return
        held: list[list[Row]] = [first]

        def fetch(offset: int, count: int) -> tuple[list[Row], bool]:
            if offset == 0 and held:
                rows = held.pop()
            else:
                page = self._json(url, {**params, "limit": count, "offset": offset})
                rows = page.get("results") or []
            return rows, offset + len(rows) < wanted

        keys: list[str] | None = None
        for page in offset_pages(fetch, page_size=size, limit=wanted, concurrency=workers, url=url):
            if keys is None:
                keys = geo_keys(page)
            if keys:
                for row in page:
                    _shape(row, keys)
            yield from page

    def _export(
        self, dataset_id: str, params: Mapping[str, Any], limit: int | None
    ) -> Iterator[Row]:
        """Stream ``/exports/jsonl``: one JSON object a line, any number of rows."""
        url = f"{self._dataset_url(dataset_id)}/exports/jsonl"
        query = {
            k: v
            for k, v in {**params, "limit": limit if limit is not None else -1}.items()
            if v is not None
        }
        response = self.http.request("GET", url, params=query, headers=self._headers, stream=True)
        if response.status_code >= 400:
            error = _ods_error(response)
            response.close()
            raise error
        count = 0
        keys: list[str] | None = None
        first: list[Row] = []
        with response:
            try:
                for line in response.iter_lines(chunk_size=256 * 1024):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except ValueError as exc:
                        raise NotAPortalResponse(
                            response.status_code, f"line {count + 1} of the export is not JSON", url
                        ) from exc
                    count += 1
                    if keys is None:  # learn the geo fields from the first rows
                        first.append(row)
                        if len(first) < PAGE_MAX:
                            continue
                        keys = geo_keys(first)
                        yield from (_shape(r, keys) for r in first)
                        first = []
                        continue
                    yield _shape(row, keys) if keys else row
                if keys is None:
                    keys = geo_keys(first)
                    yield from (_shape(r, keys) for r in first)
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
                raise ServiceUnavailable(
                    None, f"the export was cut off after {count:,} rows", url
                ) from exc

    # -- files -----------------------------------------------------------------------

    def download(
        self,
        resource: Resource | str,
        dest: str | os.PathLike[str],
        *,
        format: str | None = None,
        progress: bool = False,
        where: str | None = None,
    ) -> Path:
        """Save a dataset's export (``csv`` by default, comma-separated, no BOM) to ``dest``.

        ``format`` is any export format (csv, json, jsonl, geojson, parquet,
        xlsx...); an export resource (``"<dataset>.geojson"``) names its own.
        A folder ``dest`` gets ``<dataset>.<format>``.
        """
        dataset_id = self._dataset_id(resource)
        text = resource.id if isinstance(resource, Resource) else str(resource)
        own = next((f for f in EXPORT_FORMATS if text.endswith(f".{f}")), None)
        fmt = (format or own or "csv").lower()
        if not re.fullmatch(r"[a-z0-9]+", fmt):
            raise InvalidArgument(f"{format!r} is not an export format")
        params: dict[str, str] = {}
        if where:
            params["where"] = where
        if fmt == "csv":  # the platform defaults to ";" and a BOM
            params.update(delimiter=",", with_bom="false")
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        url = f"{self._dataset_url(dataset_id)}/exports/{fmt}" + (f"?{query}" if query else "")
        target = download_path(dest, f"{safe_filename(dataset_id)}.{fmt}")
        same_host = urlsplit(url).netloc == urlsplit(self.base_url).netloc
        return self.http.stream(
            url, target, progress=progress, headers=self._headers if same_host else None
        )
