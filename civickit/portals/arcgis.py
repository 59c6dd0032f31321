"""ArcGIS REST services and layers, and ArcGIS Hub open-data sites.

Most UK councils publish on ArcGIS: layers behind ``…/FeatureServer/0`` or
``…/MapServer/3`` URLs, often listed on an ArcGIS Hub site. :class:`ArcGIS`
reads a service or layer; :class:`ArcGISHub` searches a Hub site and hands
each dataset's layers to :class:`ArcGIS`.

Paging follows Esri's rules, which most clients get wrong somewhere:

- the layer's metadata is read first; a page is ``min(asked, maxRecordCount)``
  rows, since the server caps every answer at ``maxRecordCount`` anyway;
- pages are ordered by the object id (``orderByFields=<oid> ASC``), so they
  neither overlap nor skip;
- the next offset is where the rows actually received end, and paging goes
  on while ``exceededTransferLimit`` is true, even after a short page;
- a server without pagination (before 10.3, no ``supportsPagination``) is read
  by object id: ``returnIdsOnly``, then the features in chunks of ids;
- ``outSR=4326``: a point becomes ``latitude``/``longitude``, any other shape
  a GeoJSON ``geometry``.

ArcGIS reports errors inside HTTP 200 bodies (``{"error": {"code": 400, ...}}``);
:func:`_esri_error` maps them to civickit errors in one place, and "Unable to
complete operation" (a busy server) is retried with backoff.
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

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
from ._common import (
    PortalClient,
    download_path,
    esri_geometry_to_geojson,
    locate,
    safe_filename,
    site_url,
    write_rows,
)
from ._paging import DEFAULT_CONCURRENCY, check_concurrency, offset_pages
from .models import Dataset, FieldType, Resource, Row, mapping, timestamp

__all__ = ["ArcGIS", "ArcGISHub"]

# A layer that states no maxRecordCount (servers before 10.1) answered 1000 at most.
OLD_SERVER_PAGE = 1000
# Object ids sent per request in the returnIdsOnly fallback (they go in the URL).
ID_CHUNK = 500
HUB_PAGE = 100
_SERVICE = re.compile(r"^(?P<service>.+?/(?:FeatureServer|MapServer))(?:/(?P<layer>\d+))?/?$", re.I)
_FIELD_TYPES: dict[str, FieldType] = {
    "esriFieldTypeOID": "integer",
    "esriFieldTypeInteger": "integer",
    "esriFieldTypeSmallInteger": "integer",
    "esriFieldTypeBigInteger": "integer",
    "esriFieldTypeDouble": "float",
    "esriFieldTypeSingle": "float",
    "esriFieldTypeDate": "datetime",
    "esriFieldTypeDateOnly": "date",
    "esriFieldTypeTimestampOffset": "datetime",
}


class _Busy(ServiceUnavailable):
    """ArcGIS's "Unable to complete operation" and other 5xx inside a 200: worth another try."""


def _esri_error(error: Mapping[str, Any], url: str) -> APIError:
    """The civickit error for an ArcGIS ``{"error": {...}}`` body."""
    code = int_if_valid(error.get("code"))
    message = str(error.get("message") or "the server reported an error").rstrip(".")
    details = [str(d) for d in error.get("details") or () if d]
    text = f"ArcGIS: {message}" + (f" ({'; '.join(details)})" if details else "")
    if "unable to complete operation" in message.lower():
        return _Busy(code, text, url)
    if code in (401, 403, 498, 499):  # 498 invalid token, 499 token required
        return NotAuthorized(code, text, url)
    if code == 404:
        return NotFound(code, text, url)
    if code == 429:
        return RateLimited(code, text, url)
    if code in (400, 409, 422):
        return ValidationError(code, text, url, errors={"details": details} if details else None)
    if code is None or code >= 500:
        return _Busy(code, text, url)
    return APIError(code, text, url)


def split_url(url: str) -> tuple[str | None, int | None, str]:
    """``(service_url, layer_id, cleaned_url)`` of an ArcGIS REST URL (service None for a folder)."""
    cleaned = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    match = _SERVICE.match(cleaned)
    if not match:
        return None, None, cleaned
    layer = match.group("layer")
    return match.group("service"), int(layer) if layer is not None else None, cleaned


class ArcGIS(PortalClient):
    """An ArcGIS REST service, layer or services directory.

    ``ArcGIS("https://services1.arcgis.com/…/FeatureServer")`` (its layers are
    resources ``0``, ``1``…), ``ArcGIS("…/FeatureServer/0")`` (one layer) or
    ``ArcGIS("https://maps.example.gov.uk/arcgis/rest/services")`` (a directory
    to search). ``token`` is sent as the ``token`` parameter to this host only.
    ``concurrency`` is how many pages :meth:`records` may fetch at once.
    """

    kind = "arcgis"

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        http: HttpClient | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        site_url(url, "give a …/FeatureServer or …/MapServer URL")
        self.service_url, self.layer_id, self.base_url = split_url(url)
        self.token = token
        self.concurrency = check_concurrency(concurrency)
        self._use_http(http)
        self._meta: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._retrying = Retrying(
            stop=stop_after_attempt(max(1, self.http.retries) + 1),
            wait=wait_exponential(multiplier=self.http.backoff, max=10),
            retry=retry_if_exception_type(_Busy),
            reraise=True,
        )

    # -- the escape hatch ------------------------------------------------------------

    def get(self, path: str = "", **params: object) -> Any:
        """GET ``{base_url}/{path}?f=json&…`` and return its JSON, errors mapped and busy retried.

        The escape hatch: the JSON is as the server sent it (typed ``Any``).
        """
        url = f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url
        return self._json(url, params)

    def _json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        query = {"f": "json", **(params or {})}
        if self.token and urlsplit(url).netloc == urlsplit(self.base_url).netloc:
            query["token"] = self.token
        return self._retrying(self._json_once, url, query)

    def _json_once(self, url: str, query: Mapping[str, Any]) -> Any:
        response = self.http.request("GET", url, params=query)
        try:
            body = HttpClient.decode_json(response)
        except NotAPortalResponse:
            if response.status_code >= 400:
                raise error_for_status(response) from None
            raise
        if isinstance(body, dict) and isinstance(body.get("error"), Mapping):
            raise _esri_error(body["error"], response.url)
        if response.status_code >= 400:
            raise error_for_status(response)
        return body

    # -- layers ----------------------------------------------------------------------

    def _layer_url(self, resource: Resource | str | int | None) -> str:
        if isinstance(resource, Resource):
            resource = resource.url or resource.id
        if resource is None or resource == "":
            if self.layer_id is not None:
                return self.base_url
            raise InvalidArgument(
                f"{self.base_url} is a service: name a layer (its number, e.g. 0, or its URL)"
            )
        if isinstance(resource, int) or str(resource).strip().isdigit():
            if self.service_url is None:
                raise InvalidArgument(f"{self.base_url} is not a service; give the layer's URL")
            return f"{self.service_url}/{int(resource)}"
        text = str(resource).strip()
        if not urlsplit(text).scheme:
            raise InvalidArgument(f"{text!r} is not a layer: give its number or its URL")
        service, layer, cleaned = split_url(text)
        if service is None or layer is None:
            raise InvalidArgument(f"{text!r} is not a layer URL (…/FeatureServer/0)")
        return cleaned

    def metadata(self, resource: Resource | str | int | None = None) -> dict[str, Any]:
        """A layer's ``?f=json`` description (fields, maxRecordCount...), read once.

        The description is JSON as the server sent it, so its values are typed ``Any``.
        """
        url = self._layer_url(resource)
        with self._lock:
            cached = self._meta.get(url)
        if cached is None:
            cached = self._json(url)
            if not isinstance(cached, dict) or not ("fields" in cached or "type" in cached):
                raise NotAPortalResponse(None, "this is not an ArcGIS layer description", url)
            with self._lock:
                self._meta[url] = cached
        return cached

    def layers(self) -> list[Resource]:
        """The layers and tables of the service (or the one layer) this portal was opened on."""
        return list(self.dataset("").resources)

    def count(
        self, where: str | None = None, *, resource: Resource | str | int | None = None
    ) -> int:
        """How many features match ``where`` (all of them by default)."""
        body = self._json(
            f"{self._layer_url(resource)}/query",
            {"where": where or "1=1", "returnCountOnly": "true"},
        )
        count = int_if_valid(body.get("count")) if isinstance(body, dict) else None
        if count is None:
            raise NotAPortalResponse(None, "the layer did not answer with a count", self.base_url)
        return count

    def fields(self, resource: Resource | str | int | None = None) -> dict[str, FieldType]:
        """The layer's columns and types; a point layer adds ``latitude``/``longitude``."""
        meta = self.metadata(resource)
        out: dict[str, FieldType] = {}
        for field in meta.get("fields") or ():
            if field.get("type") == "esriFieldTypeGeometry":
                continue
            out[str(field["name"])] = _FIELD_TYPES.get(str(field.get("type")), "text")
        geometry = str(meta.get("geometryType") or "")
        if geometry == "esriGeometryPoint":
            out.update(latitude="float", longitude="float")
        elif geometry:
            out["geometry"] = "json"
        return out

    # -- records ---------------------------------------------------------------------

    def records(
        self,
        resource: Resource | str | int | None = None,
        *,
        where: str | None = None,
        fields: list[str] | tuple[str, ...] | None = None,
        limit: int | None = None,
        page_size: int | None = None,
        geometry: bool = True,
        concurrency: int | None = None,
    ) -> Iterator[Row]:
        """Yield every feature of a layer once, in object-id order, as a flat dict.

        Attribute values are as the server sent them (parsed JSON); a point is
        ``latitude``/``longitude``, any other shape a GeoJSON ``geometry``.

        ``where`` is the layer's SQL filter (``"WARD = 'Headingley'"``),
        ``fields`` the attributes to return (default all). ``page_size``
        defaults to the layer's ``maxRecordCount`` and never exceeds it.
        Nothing is requested until the first row is asked for.
        """
        if limit is not None and limit < 0:
            raise InvalidArgument("limit must be 0 or more")
        if page_size is not None and page_size < 1:
            raise InvalidArgument("page_size must be at least 1")
        workers = check_concurrency(concurrency or self.concurrency)
        url = self._layer_url(resource)
        return self._records(url, where, fields, limit, page_size, geometry, workers)

    def _records(
        self,
        url: str,
        where: str | None,
        fields: list[str] | tuple[str, ...] | None,
        limit: int | None,
        page_size: int | None,
        geometry: bool,
        workers: int,
    ) -> Iterator[Row]:
        meta = self.metadata(url)
        oid = _oid_field(meta)
        cap = int_if_valid(meta.get("maxRecordCount"))
        paging = bool(
            (meta.get("advancedQueryCapabilities") or {}).get("supportsPagination")
            or meta.get("supportsPagination")
        )
        out_fields = ",".join(fields) if fields else "*"
        if fields and oid and oid not in fields:
            out_fields += f",{oid}"  # the fallback sorts by it; dropped again below
        base = {
            "where": where or "1=1",
            "outFields": out_fields,
            "returnGeometry": "true" if geometry else "false",
            "outSR": "4326",
        }
        keep = set(fields) if fields else None
        if paging and oid:
            size = min(page_size or cap or OLD_SERVER_PAGE, cap or page_size or OLD_SERVER_PAGE)
            pages = offset_pages(
                self._page_fetcher(url, {**base, "orderByFields": f"{oid} ASC"}, keep),
                page_size=size,
                limit=limit,
                concurrency=workers,
                url=url,
            )
        else:
            if not oid:
                raise NotAPortalResponse(None, "the layer has no object id field to page by", url)
            chunk = min(page_size or ID_CHUNK, cap or ID_CHUNK, ID_CHUNK)
            ids = self._object_ids(url, where)
            pages = offset_pages(
                self._id_fetcher(url, base, oid, ids, keep),
                page_size=chunk,
                limit=limit if limit is None else min(limit, len(ids)),
                concurrency=workers,
                url=url,
            )
        for page in pages:
            yield from page

    def _query(self, url: str, params: Mapping[str, Any]) -> dict[str, Any]:
        body = self._json(f"{url}/query", params)
        if not isinstance(body, dict) or not isinstance(body.get("features", []), list):
            raise NotAPortalResponse(None, "the query did not answer with features", url)
        return body

    def _page_fetcher(self, url: str, base: Mapping[str, Any], keep: set[str] | None) -> Any:
        def fetch(offset: int, count: int) -> tuple[list[Row], bool]:
            body = self._query(url, {**base, "resultOffset": offset, "resultRecordCount": count})
            rows = [_row(f, keep) for f in body.get("features") or ()]
            flag = body.get("exceededTransferLimit")
            if flag is None and isinstance(body.get("properties"), Mapping):
                flag = body["properties"].get("exceededTransferLimit")
            # before 10.3.1 pages carry no flag: a full page may have more behind it
            more = bool(flag) if flag is not None else len(rows) >= count > 0
            return rows, more

        return fetch

    def _object_ids(self, url: str, where: str | None) -> list[int]:
        body = self._json(f"{url}/query", {"where": where or "1=1", "returnIdsOnly": "true"})
        ids = body.get("objectIds") if isinstance(body, dict) else None
        if ids is None and isinstance(body, dict) and "objectIdFieldName" in body:
            return []  # no feature matches: ArcGIS sends "objectIds": null
        if not isinstance(ids, list):
            raise NotAPortalResponse(None, "the layer did not answer with object ids", url)
        return sorted(int(i) for i in ids)

    def _id_fetcher(
        self,
        url: str,
        base: Mapping[str, Any],
        oid: str,
        ids: list[int],
        keep: set[str] | None,
    ) -> Any:
        def fetch(offset: int, count: int) -> tuple[list[Row], bool]:
            wanted = ids[offset : offset + count]
            found: dict[int, Row] = {}
            missing = wanted
            while missing:
                body = self._query(url, {**base, "objectIds": ",".join(map(str, missing))})
                got = {
                    int(f["attributes"][oid]): f
                    for f in body.get("features") or ()
                    if isinstance(f.get("attributes"), Mapping) and oid in f["attributes"]
                }
                if not got:
                    break  # deleted since we listed them: nothing more to ask for
                for key, feature in got.items():
                    found[key] = _row(feature, None)
                missing = [i for i in missing if i not in found]
            rows = [found[i] for i in wanted if i in found]
            if keep is not None:
                rows = [_only(row, keep) for row in rows]
            return rows, offset + count < len(ids)

        return fetch

    # -- catalogue -------------------------------------------------------------------

    def search(self, q: str = "", *, limit: int | None = None) -> Iterator[Dataset]:
        """Services whose name or layers mention ``q``: one dataset per service.

        Opened on a directory (``…/rest/services``), the folders are walked;
        opened on a service or layer, that one is matched.
        """
        needle = q.strip().lower()
        found = 0
        for url in self._service_urls():
            if limit is not None and found >= limit:
                return
            ds = self.dataset(url)
            text = " ".join([ds.name, ds.title, ds.notes or "", *(r.name for r in ds.resources)])
            if needle and needle not in text.lower():
                continue
            found += 1
            yield ds

    def _service_urls(self) -> Iterator[str]:
        if self.service_url is not None:
            yield self.base_url
            return
        root = self.base_url
        marker = root.lower().find("/rest/services")
        services_root = root[: marker + len("/rest/services")] if marker >= 0 else root
        folders = [root]
        while folders:
            body = self._json(folders.pop(0))
            for service in body.get("services") or ():
                if str(service.get("type")) in ("FeatureServer", "MapServer"):
                    yield f"{services_root}/{service['name']}/{service['type']}"
            for folder in body.get("folders") or ():
                folders.append(f"{services_root}/{folder}")

    def dataset(self, id: str = "") -> Dataset:
        """A service (its layers as resources) or one layer.

        ``id`` is ``""`` for what the portal was opened on, a layer number in
        that service, a service or layer URL, or a service name under the
        directory (``"Environment/Bins/FeatureServer"``).
        """
        text = str(id).strip()
        if text.isdigit():
            return self._layer_dataset(self._layer_url(text))
        if not text:
            url = self.base_url
        elif urlsplit(text).scheme:
            url = text
        else:
            url = f"{self.base_url}/{text.strip('/')}"
            if not _SERVICE.match(url):
                url += "/FeatureServer"
        service, layer, cleaned = split_url(url)
        if service is None:
            raise InvalidArgument(f"{url} is not an ArcGIS service or layer URL")
        if layer is not None:
            return self._layer_dataset(cleaned)
        body = self._json(service)
        if not isinstance(body, dict) or not ("layers" in body or "tables" in body):
            raise NotAPortalResponse(None, "this is not an ArcGIS service description", service)
        name = service.split("/rest/services/", 1)[-1] if "/rest/services/" in service else service
        info = mapping(body.get("documentInfo"))
        resources = tuple(
            Resource(
                id=f"{service}/{item['id']}",
                name=str(item.get("name") or item["id"]),
                format="ArcGIS table" if kind == "tables" else "ArcGIS layer",
                url=f"{service}/{item['id']}",
                size=None,
                last_modified=None,
                datastore_active=True,
                package_id=service,
            )
            for kind in ("layers", "tables")
            for item in body.get(kind) or ()
            if isinstance(item, Mapping) and "id" in item
        )
        return Dataset(
            id=service,
            name=name,
            title=str(info.get("Title") or name),
            notes=str(body.get("serviceDescription") or body.get("description") or "") or None,
            organization=str(info.get("Author") or "") or None,
            license_id=None,
            tags=tuple(t.strip() for t in str(info.get("Keywords") or "").split(",") if t.strip()),
            metadata_modified=None,
            resources=resources,
            url=service,
        )

    def _layer_dataset(self, url: str) -> Dataset:
        meta = self.metadata(url)
        edited = (meta.get("editingInfo") or {}).get("lastEditDate")
        name = str(meta.get("name") or url.rsplit("/", 1)[-1])
        resource = Resource(
            id=url,
            name=name,
            format="ArcGIS table" if meta.get("type") == "Table" else "ArcGIS layer",
            url=url,
            size=None,
            last_modified=timestamp(edited),
            datastore_active=True,
            package_id=split_url(url)[0],
        )
        return Dataset(
            id=url,
            name=name,
            title=name,
            notes=str(meta.get("description") or "") or None,
            organization=str(meta.get("copyrightText") or "") or None,
            license_id=None,
            tags=(),
            metadata_modified=timestamp(edited),
            resources=(resource,),
            url=url,
        )

    # -- files -----------------------------------------------------------------------

    def download(
        self,
        resource: Resource | str | int | None,
        dest: str | os.PathLike[str],
        *,
        format: str | None = None,
        progress: bool = False,
        where: str | None = None,
    ) -> Path:
        """Write a whole layer to ``dest`` as GeoJSON (default), CSV, JSON lines or JSON.

        Read through :meth:`records`, so nothing is cut at ``maxRecordCount``.
        A folder ``dest`` (existing, or ending in ``/``) gets ``<layer name>.<format>``.
        """
        url = self._layer_url(resource)
        meta = self.metadata(url)
        fmt = (format or ("geojson" if meta.get("geometryType") else "csv")).lower()
        name = f"{safe_filename(str(meta.get('name') or 'layer'))}.{fmt}"
        target = download_path(dest, name)
        rows = self.records(url, where=where)
        if progress:
            rows = _counted(rows, target.name, self.count(where, resource=url))
        write_rows(rows, target, fmt)
        return target


def _oid_field(meta: Mapping[str, Any]) -> str | None:
    name = meta.get("objectIdField") or meta.get("objectIdFieldName")
    if name:
        return str(name)
    for field in meta.get("fields") or ():
        if field.get("type") == "esriFieldTypeOID":
            return str(field["name"])
    return None


def _row(feature: Mapping[str, Any], keep: set[str] | None) -> Row:
    row = dict(feature.get("attributes") or {})
    if keep is not None:
        row = _only(row, keep)
    return locate(row, esri_geometry_to_geojson(feature.get("geometry")))


def _only(row: Row, keep: set[str]) -> Row:
    return {k: v for k, v in row.items() if k in keep or k in ("latitude", "longitude", "geometry")}


def _counted(rows: Iterator[Row], label: str, total: int | None) -> Iterator[Row]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), transient=True
    ) as bar:
        task = bar.add_task(label, total=total)
        for row in rows:
            bar.advance(task)
            yield row


# -- Hub sites ---------------------------------------------------------------------------


class ArcGISHub(PortalClient):
    """An ArcGIS Hub open-data site, e.g. ``ArcGISHub("https://opendata.bristol.gov.uk")``.

    Search goes through the Hub's OGC search API (``/api/search/v1``), falling
    back to its DCAT-US feed; a dataset's layers are its resources, read and
    downloaded by :class:`ArcGIS`.
    """

    kind = "arcgis-hub"

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        http: HttpClient | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        parts = site_url(base_url, "give one like https://opendata.bristol.gov.uk")
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
        self.token = token
        self.concurrency = check_concurrency(concurrency)
        self._use_http(http)
        self._layers: dict[str, ArcGIS] = {}
        self._ogc: bool | None = None  # does the site answer the OGC search API? learnt once

    def get(self, path: str, **params: object) -> Any:
        """GET any path of the site's API (``api/search/v1/collections``) as JSON.

        The escape hatch: the JSON is as the server sent it (typed ``Any``).
        """
        return self.http.get_json(f"{self.base_url}/{path.lstrip('/')}", params=params or None)

    def _service(self, url: str) -> ArcGIS:
        service = split_url(url)[0] or url
        client = self._layers.get(service)
        if client is None:
            client = ArcGIS(service, token=self.token, http=self.http, concurrency=self.concurrency)
            self._layers[service] = client
        return client

    def _layer(self, resource: Resource | str) -> tuple[ArcGIS, str]:
        url = resource.url if isinstance(resource, Resource) else str(resource)
        if not urlsplit(url).scheme:
            raise InvalidArgument(
                f"{url!r} is not a layer URL: on a Hub site, give the layer's URL "
                "(a resource of the dataset)"
            )
        return self._service(url), url

    # -- catalogue -------------------------------------------------------------------

    def search(
        self, q: str = "", *, limit: int | None = None, **filters: object
    ) -> Iterator[Dataset]:
        """Datasets matching ``q``, each once (OGC search API, else the DCAT feed).

        ``filters`` go to the OGC API as they are (``type="Feature Service"``).
        Resources come from the search answer without asking each service.
        """
        if self._ogc is not False:
            try:
                yield from self._search_ogc(q, limit, filters)
                self._ogc = True
                return
            except (NotFound, NotAPortalResponse):
                if self._ogc:
                    raise
                self._ogc = False
        yield from self._search_dcat(q, limit)

    def _search_ogc(
        self, q: str, limit: int | None, filters: Mapping[str, object]
    ) -> Iterator[Dataset]:
        url = f"{self.base_url}/api/search/v1/collections/dataset/items"
        start, seen = 1, set[str]()
        while limit is None or len(seen) < limit:
            params: dict[str, Any] = {"limit": HUB_PAGE, "startindex": start, **filters}
            if q.strip():
                params["q"] = q.strip()
            body = self.http.get_json(url, params)
            if not isinstance(body, dict) or not isinstance(body.get("features"), list):
                raise NotAPortalResponse(None, "the Hub search did not answer with features", url)
            features = body["features"]
            for feature in features:
                ds = self._dataset_from_item(feature)
                if ds.id in seen:
                    continue
                seen.add(ds.id)
                yield ds
                if limit is not None and len(seen) >= limit:
                    return
            self._ogc = True
            start += len(features)
            matched = int_if_valid(body.get("numberMatched"))
            if not features or (matched is not None and start > matched):
                return

    def _dataset_from_item(self, feature: Mapping[str, Any]) -> Dataset:
        props = mapping(feature.get("properties"))
        item_id = str(props.get("id") or feature.get("id") or "")
        service_url = str(props.get("url") or "")
        resources: tuple[Resource, ...] = ()
        if service_url and _SERVICE.match(service_url.rstrip("/")):
            resources = (_service_resource(service_url, str(props.get("title") or item_id)),)
        title = str(props.get("title") or props.get("name") or item_id)
        return Dataset(
            id=item_id,
            name=str(props.get("name") or item_id),
            title=title,
            notes=str(props.get("description") or props.get("snippet") or "") or None,
            organization=str(props.get("source") or props.get("owner") or "") or None,
            license_id=_plain_licence(props.get("licenseInfo")),
            tags=tuple(str(t) for t in props.get("tags") or ()),
            metadata_modified=timestamp(props.get("modified")),
            resources=resources,
            url=f"{self.base_url}/datasets/{item_id}",
        )

    def _dcat(self) -> list[Mapping[str, Any]]:
        url = f"{self.base_url}/api/feed/dcat-us/1.1.json"
        body = self.http.get_json(url)
        if not isinstance(body, dict) or not isinstance(body.get("dataset"), list):
            raise NotAPortalResponse(None, "the DCAT feed has no dataset list", url)
        return [d for d in body["dataset"] if isinstance(d, Mapping)]

    def _search_dcat(self, q: str, limit: int | None) -> Iterator[Dataset]:
        needle = q.strip().lower()
        found = 0
        for entry in self._dcat():
            text = " ".join(
                [str(entry.get("title") or ""), str(entry.get("description") or "")]
                + [str(k) for k in entry.get("keyword") or ()]
            )
            if needle and needle not in text.lower():
                continue
            yield self._dataset_from_dcat(entry)
            found += 1
            if limit is not None and found >= limit:
                return

    def _dataset_from_dcat(self, entry: Mapping[str, Any]) -> Dataset:
        identifier = str(entry.get("identifier") or entry.get("landingPage") or "")
        item_id = identifier.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        resources = []
        for dist in entry.get("distribution") or ():
            access = str(dist.get("accessURL") or dist.get("downloadURL") or "")
            if not access:
                continue
            if _is_arcgis(access):
                resources.append(_service_resource(access, str(dist.get("title") or item_id)))
            else:
                resources.append(
                    Resource(
                        id=access,
                        name=str(dist.get("title") or dist.get("format") or access),
                        format=str(dist.get("format") or dist.get("mediaType") or ""),
                        url=access,
                        size=None,
                        last_modified=None,
                        datastore_active=False,
                        package_id=item_id,
                    )
                )
        publisher = entry.get("publisher")
        return Dataset(
            id=item_id,
            name=item_id,
            title=str(entry.get("title") or item_id),
            notes=str(entry.get("description") or "") or None,
            organization=str(publisher.get("name") or "") or None
            if isinstance(publisher, Mapping)
            else None,
            license_id=str(entry.get("license") or "") or None,
            tags=tuple(str(k) for k in entry.get("keyword") or ()),
            metadata_modified=timestamp(entry.get("modified")),
            resources=tuple(resources),
            url=str(entry.get("landingPage") or identifier),
        )

    def dataset(self, id: str) -> Dataset:
        """A Hub dataset by item id, with every layer of its service as a resource."""
        item_id = id.strip().rsplit("/", 1)[-1]
        layer = None
        match = re.fullmatch(r"([0-9a-f]{32})_(\d+)", item_id)
        if match:  # Hub v3 ids name one layer: <item id>_<layer number>
            item_id, layer = match.group(1), int(match.group(2))
        ds: Dataset | None = None
        if self._ogc is not False:
            url = f"{self.base_url}/api/search/v1/collections/dataset/items/{item_id}"
            try:
                ds = self._dataset_from_item(self.http.get_json(url))
                self._ogc = True
            except (NotFound, NotAPortalResponse):
                if self._ogc:
                    raise
                self._ogc = False
        if ds is None:
            ds = next(
                (d for d in map(self._dataset_from_dcat, self._dcat()) if d.id == item_id), None
            )
            if ds is None:
                raise NotFound(None, f"no dataset {id!r} on this Hub site", self.base_url)
        service = next((r.url for r in ds.resources if _is_arcgis(r.url)), None)
        if service is None:
            return ds
        client = self._service(service)
        layers = [r for r in client.dataset(split_url(service)[0] or service).resources]
        if layer is not None:
            layers = [r for r in layers if r.url.endswith(f"/{layer}")] or layers
        elif split_url(service)[1] is not None:
            layers = [r for r in layers if r.url == split_url(service)[2]] or layers
        others = tuple(r for r in ds.resources if not _is_arcgis(r.url))
        return dataclasses.replace(ds, resources=(*layers, *others))

    # -- tables ----------------------------------------------------------------------

    def records(
        self,
        resource: Resource | str,
        *,
        where: str | None = None,
        fields: list[str] | tuple[str, ...] | None = None,
        limit: int | None = None,
        page_size: int | None = None,
        concurrency: int | None = None,
    ) -> Iterator[Row]:
        """Every feature of a dataset's layer (a resource of :meth:`dataset`): see :meth:`ArcGIS.records`."""
        client, url = self._layer(resource)
        return client.records(
            url,
            where=where,
            fields=fields,
            limit=limit,
            page_size=page_size,
            concurrency=concurrency,
        )

    def fields(self, resource: Resource | str) -> dict[str, FieldType]:
        client, url = self._layer(resource)
        return client.fields(url)

    def count(self, resource: Resource | str, where: str | None = None) -> int:
        client, url = self._layer(resource)
        return client.count(where, resource=url)

    def download(
        self,
        resource: Resource | str,
        dest: str | os.PathLike[str],
        *,
        format: str | None = None,
        progress: bool = False,
    ) -> Path:
        """Write a layer to ``dest`` (see :meth:`ArcGIS.download`), or fetch a file resource."""
        url = resource.url if isinstance(resource, Resource) else str(resource)
        if _is_arcgis(url):
            client, url = self._layer(url)
            return client.download(url, dest, format=format, progress=progress)
        name = safe_filename(Path(urlsplit(url).path).name or "download")
        return self.http.stream(url, download_path(dest, name), progress=progress)


def _service_resource(url: str, name: str) -> Resource:
    service, layer, cleaned = split_url(url)
    return Resource(
        id=cleaned,
        name=name,
        format="ArcGIS layer" if layer is not None else "ArcGIS service",
        url=cleaned,
        size=None,
        last_modified=None,
        datastore_active=layer is not None,
        package_id=service,
    )


def _is_arcgis(url: str) -> bool:
    return bool(_SERVICE.match(url.split("?", 1)[0].rstrip("/")))


def _plain_licence(value: object) -> str | None:
    text = re.sub(r"<[^>]+>", " ", str(value or "")).strip()
    text = re.sub(r"\s+", " ", text)
    return text[:200] or None
