"""A client for the CKAN Action API (Data Mill North, data.gov.uk and most open-data portals).

Reads are GETs through the shared :class:`~civickit.http.HttpClient`, so they
are cached, retried and rate limited like everything else. Paging is done
here, never by following the server's ``_links.next`` (which can drop the
site's path prefix): datasets page with a stable ``id asc`` sort, datastore
records with ``next_page`` keyset paging where the server offers it and
offsets computed by us where it does not. Every CKAN error envelope is
mapped to a typed :mod:`civickit.errors` exception in :func:`_raise_envelope`.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from .._convert import int_if_valid
from ..errors import (
    APIError,
    InvalidArgument,
    NotAPortalResponse,
    NotAuthorized,
    NotFound,
    ServiceUnavailable,
    ValidationError,
)
from ..http import HttpClient, error_for_status
from ._common import PortalClient, download_path, safe_filename, site_url
from .models import Dataset, FieldType, Resource, Row, absolute_url

__all__ = ["CKAN", "Dataset", "Resource", "absolute_url"]

log = logging.getLogger(__name__)

# package_search caps ``rows`` at 1000 unless the site raised ckan.search.rows_max.
SEARCH_ROWS_MAX = 1000
DATASTORE_PAGE = 1000
ORGANIZATION_PAGE = 1000
# Actions safe to send as GET (side_effect_free in CKAN), so caching and retries apply.
_READ_SUFFIXES = ("_show", "_list", "_search", "_search_sql", "_autocomplete", "_info")

# CKAN ``error.__type`` -> the civickit error it means.
_ERROR_TYPES: dict[str, type[APIError]] = {
    "Authorization Error": NotAuthorized,
    "Not Found Error": NotFound,
    "Validation Error": ValidationError,
    "Search Query Error": ValidationError,
    "Search Error": ValidationError,
    "Integrity Error": ValidationError,
    "Bad request": ValidationError,
    "Search Index Error": ServiceUnavailable,
    "Search Connection Error": ServiceUnavailable,
    "Internal Server Error": ServiceUnavailable,
}


# -- errors ----------------------------------------------------------------------------


def _raise_envelope(response: requests.Response, action: str) -> Any:
    """Return ``result`` from a CKAN reply, or raise the typed error it stands for.

    The one place CKAN errors are mapped. CKAN sends its envelope with 200,
    403, 404, 409 or 500 alike, so the body is read whatever the status.
    """
    status = response.status_code
    try:
        body = HttpClient.decode_json(response)
    except NotAPortalResponse:
        if status == 429 or status >= 500:
            raise error_for_status(response) from None  # a proxy's error page: the service
        raise
    if not isinstance(body, dict) or "success" not in body:
        if status >= 400:
            raise error_for_status(response)
        raise NotAPortalResponse(
            status, f"{action} did not answer with a CKAN API envelope", response.url
        )
    if body["success"] is True and status < 400:
        return body.get("result")

    error: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
    kind = str(error.get("__type") or "")
    fields = {k: v for k, v in error.items() if k not in ("__type", "message")}
    message = error.get("message") or _describe_fields(fields) or kind or "request failed"
    message = f"{action}: {kind + ': ' if kind and kind not in message else ''}{message}"
    cls = _ERROR_TYPES.get(kind)
    if cls is ValidationError:
        raise ValidationError(status, message, response.url, errors=fields)
    if cls is not None:
        raise cls(status, message, response.url)
    if status >= 400:
        err = error_for_status(response, message)
        if isinstance(err, ValidationError):
            err.errors = fields
        raise err
    raise APIError(status, message, response.url)


def _describe_fields(fields: Mapping[str, Any]) -> str:
    parts = []
    for key, value in fields.items():
        text = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key}: {text}")
    return ", ".join(parts)


def _unexpected_field(err: ValidationError, name: str) -> bool:
    """Whether a Validation Error only complains that ``name`` is not a known parameter.

    CKAN 2.9-2.11 reject unknown parameters as ``__junk``; keyset paging
    (``include_next_page``) only exists on newer CKAN.
    """
    junk = err.errors.get("__junk")
    return bool(junk) and name in str(junk) and set(err.errors) == {"__junk"}


# -- the client ------------------------------------------------------------------------


def _encode_params(params: Mapping[str, object]) -> dict[str, object]:
    """Encode action parameters for a query string the way CKAN parses them."""
    out: dict[str, object] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, dict):
            # filters, q as a dict: CKAN runs these through json_validator
            out[key] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        elif isinstance(value, (list, tuple)):
            out[key] = [
                json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v for v in value
            ]
        else:
            out[key] = value
    return out


# -- the datastore dump, typed as datastore_search would type it ----------------------------


def _text(value: str) -> Any:
    return value


def _integer(value: str) -> Any:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def _numeric(value: str) -> Any:
    if not value:
        return None
    try:
        return int(value) if value.lstrip("-").isdigit() else float(value)
    except ValueError:
        return value


def _boolean(value: str) -> Any:
    if not value:
        return None
    low = value.lower()
    return True if low in ("true", "t", "1") else False if low in ("false", "f", "0") else value


def _json(value: str) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def _nullable(value: str) -> Any:
    return value or None


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    **dict.fromkeys(("int", "int2", "int4", "int8", "integer", "smallint", "bigint"), _integer),
    **dict.fromkeys(
        ("numeric", "float", "float4", "float8", "real", "double precision", "number"), _numeric
    ),
    **dict.fromkeys(("bool", "boolean"), _boolean),
    **dict.fromkeys(("json", "jsonb"), _json),
    **dict.fromkeys(("date", "timestamp", "time", "timestamptz"), _nullable),
}
_FIELD_TYPES: dict[str, FieldType] = {
    **dict.fromkeys(("int", "int2", "int4", "int8", "integer", "smallint", "bigint"), "integer"),
    **dict.fromkeys(
        ("numeric", "float", "float4", "float8", "real", "double precision", "number"), "float"
    ),
    **dict.fromkeys(("bool", "boolean"), "boolean"),
    **dict.fromkeys(("json", "jsonb"), "json"),
    "date": "date",
    **dict.fromkeys(("timestamp", "timestamptz"), "datetime"),
}


class CKAN(PortalClient):
    """One CKAN portal, e.g. ``CKAN("https://datamillnorth.org")``.

    ``base_url`` is the site root, with its path prefix if it has one
    (``https://data.gov.au/data``); the API lives at ``{base_url}/api/3/action``.
    ``api_token`` is sent as ``Authorization: <token>`` to this portal only.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_token: str | None = None,
        http: HttpClient | None = None,
    ) -> None:
        site_url(base_url, "give one like https://datamillnorth.org")
        self.kind = "ckan"
        self.base_url = base_url.rstrip("/")
        self.api_url = f"{self.base_url}/api/3/action"
        self.api_token = api_token
        self._use_http(http)
        self._headers = {"Authorization": api_token} if api_token else {}
        self._keyset: bool | None = None  # does the server offer next_page? learnt once

    # -- the escape hatch ------------------------------------------------------------

    def action(self, name: str, **params: object) -> Any:
        """Call any CKAN action and return its ``result``.

        Reads (``*_show``, ``*_list``, ``*_search``...) go as GET, so they are
        cached and retried; anything else is POSTed as JSON and never retried.
        ``params`` are the action's, any value JSON can hold. The escape hatch:
        the ``result`` is JSON as the server sent it (typed ``Any``).
        """
        url = f"{self.api_url}/{name}"
        if name.endswith(_READ_SUFFIXES):
            response = self.http.request(
                "GET", url, params=_encode_params(params), headers=self._headers
            )
        else:
            response = self.http.request("POST", url, json=params, headers=self._headers)
        return _raise_envelope(response, name)

    # -- catalogue -------------------------------------------------------------------

    def search(
        self,
        q: str = "*:*",
        *,
        fq: str | None = None,
        organization: str | None = None,
        tags: list[str] | tuple[str, ...] | str | None = None,
        sort: str = "id asc",
        limit: int | None = None,
    ) -> Iterator[Dataset]:
        """Yield datasets matching ``q`` (Solr syntax), every one exactly once.

        Pages of up to 1000 with a stable sort, so datasets edited while we
        page neither vanish nor repeat.
        """
        clauses = [f"+({fq})" if organization or tags else fq] if fq else []
        if organization:
            clauses.append(f'+organization:"{organization}"')
        for tag in [tags] if isinstance(tags, str) else tags or ():
            clauses.append(f'+tags:"{tag}"')
        seen: set[str] = set()
        start = 0
        while limit is None or len(seen) < limit:
            rows = SEARCH_ROWS_MAX if limit is None else min(SEARCH_ROWS_MAX, limit - len(seen))
            result = self.action(
                "package_search",
                q=q,
                fq=" ".join(clauses) or None,
                sort=sort,
                rows=rows,
                start=start,
            )
            page = result.get("results") or []
            for raw in page:
                if raw.get("id") in seen:
                    continue
                seen.add(raw.get("id"))
                yield Dataset.from_api(raw, self.base_url)
                if limit is not None and len(seen) >= limit:
                    return
            start += len(page)
            if len(page) < rows or start >= int(result.get("count") or 0):
                return

    def dataset(self, name_or_id: str) -> Dataset:
        """The dataset with this name (slug) or id."""
        return Dataset.from_api(self.action("package_show", id=name_or_id), self.base_url)

    def resource(self, id: str) -> Resource:
        """The resource with this id."""
        return Resource.from_api(self.action("resource_show", id=id), self.base_url)

    def organizations(self) -> list[str]:
        """The names of every organisation on the portal."""
        names: list[str] = []
        while True:
            page = self.action("organization_list", limit=ORGANIZATION_PAGE, offset=len(names))
            names.extend(page)
            # an old CKAN ignores limit and sends everything at once
            if len(page) < ORGANIZATION_PAGE or len(page) > ORGANIZATION_PAGE:
                return names

    # -- datastore -------------------------------------------------------------------

    def records(
        self,
        resource: Resource | str,
        *,
        where: Mapping[str, object] | None = None,
        filters: Mapping[str, object] | None = None,
        q: str | Mapping[str, object] | None = None,
        fields: list[str] | tuple[str, ...] | str | None = None,
        sort: str = "_id",
        page_size: int | None = None,
        limit: int | None = None,
        dump: bool = True,
    ) -> Iterator[Row]:
        """Yield the rows of a datastore table, one page in memory at a time.

        Each row maps a field to its value as the datastore sent it (parsed JSON).
        ``where`` (or its CKAN name ``filters``) is a dict of datastore filters,
        ``{"ward": "Headingley"}``. A whole table (no filter, query, field list
        or limit, in ``_id`` order) is streamed from ``/datastore/dump/<id>`` in
        one request, values typed as ``datastore_search`` would type them.
        Otherwise pages come from ``datastore_search``: ``next_page`` keyset
        paging where the server offers it, offsets we compute where it does
        not; stops on a short page. ``dump=False`` always pages. Nothing is
        requested until the first row is asked for.
        """
        if page_size is None:
            page_size = DATASTORE_PAGE
        if page_size < 1:
            raise InvalidArgument("page_size must be at least 1")
        resource_id = resource.id if isinstance(resource, Resource) else resource
        if where is not None:
            if not isinstance(where, Mapping):
                raise InvalidArgument(
                    "CKAN's where is a dict of datastore filters, e.g. {'ward': 'Headingley'}"
                )
            filters = {**(filters or {}), **where}
        whole = not filters and q is None and not fields and limit is None
        if dump and whole and sort.strip() in ("_id", "_id asc"):
            return self._dump_records(resource_id, page_size)
        # chain the pages in C: no Python frame resumes per row, only per page
        return itertools.chain.from_iterable(
            self._record_pages(resource_id, filters, q, fields, sort, page_size, limit)
        )

    def fields(self, resource: Resource | str) -> dict[str, FieldType]:
        """The table's columns and their types (``integer``, ``float``, ``text``...)."""
        resource_id = resource.id if isinstance(resource, Resource) else resource
        info = self.action("datastore_search", resource_id=resource_id, limit=0)
        return {
            str(f["id"]): _FIELD_TYPES.get(str(f.get("type", "")).lower(), "text")
            for f in info.get("fields") or ()
            if isinstance(f, Mapping) and f.get("id")
        }

    def _dump_records(self, resource_id: str, page_size: int) -> Iterator[Row]:
        """Stream ``/datastore/dump/<id>`` as CSV, typed by the table's fields.

        A portal without the dump (404, or an HTML page) is paged instead.
        """
        info = self.action("datastore_search", resource_id=resource_id, limit=0)
        kinds = {
            str(f["id"]): str(f.get("type", "")).lower()
            for f in info.get("fields") or ()
            if isinstance(f, Mapping) and f.get("id")
        }
        total = None if info.get("total_was_estimated") else int_if_valid(info.get("total"))
        url = f"{self.base_url}/datastore/dump/{resource_id}"
        response = self.http.request(
            "GET", url, params={"bom": "false"}, headers=self._headers, stream=True
        )
        content_type = response.headers.get("Content-Type", "")
        if response.status_code in (404, 405) or "html" in content_type:
            response.close()
            log.info("no datastore dump at %s; paging datastore_search instead", url)
            yield from itertools.chain.from_iterable(
                self._record_pages(resource_id, None, None, None, "_id", page_size, None)
            )
            return
        if response.status_code >= 400:
            response.close()
            raise error_for_status(response)
        count = 0
        with response:
            try:
                response.raw.decode_content = True  # gzip is undone before the text layer
                response.raw.auto_close = False  # let the text layer see the end, not a closed file
                raw = cast("IO[bytes]", response.raw)  # urllib3's HTTPResponse: a binary file
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                reader = csv.reader(text)
                header = next(reader, None)
                if header is None:
                    return
                # only the typed columns are converted, in place: text stays as csv made it
                typed = [
                    (name, _CONVERTERS[kinds[name]])
                    for name in header
                    if kinds.get(name) in _CONVERTERS and _CONVERTERS[kinds[name]] is not _text
                ]
                for record in reader:
                    # the CSV's text, whose typed columns are converted in place
                    row: dict[str, Any] = dict(zip(header, record, strict=False))
                    for name, conv in typed:
                        row[name] = conv(row[name])
                    yield row
                    count += 1
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
                raise ServiceUnavailable(
                    None, f"the datastore dump was cut off after {count:,} rows", url
                ) from exc
        if total is not None and count < total:
            raise ServiceUnavailable(
                None, f"the datastore dump ended after {count:,} of {total:,} rows", url
            )

    def _record_pages(
        self,
        resource_id: str,
        filters: Mapping[str, object] | None,
        q: str | Mapping[str, object] | None,
        fields: list[str] | tuple[str, ...] | str | None,
        sort: str,
        page_size: int,
        limit: int | None,
    ) -> Iterator[list[Row]]:
        base: dict[str, Any] = {"resource_id": resource_id, "sort": sort}
        if q is not None:
            base["q"] = dict(q) if isinstance(q, Mapping) else q
        if fields:
            base["fields"] = fields if isinstance(fields, str) else ",".join(fields)
        filters = dict(filters or {})
        keyset = self._keyset is not False and sort.strip() in ("_id", "_id asc")
        next_filters: dict[str, Any] | None = None
        offset = yielded = 0
        while limit is None or yielded < limit:
            want = page_size if limit is None else min(page_size, limit - yielded)
            params = {**base, "limit": want}
            page_filters = {**filters, **next_filters} if next_filters else filters
            if page_filters:
                params["filters"] = page_filters
            if next_filters is None and offset:
                params["offset"] = offset
            if keyset:
                params["include_next_page"] = True
            try:
                result = self.action("datastore_search", **params)
            except ValidationError as err:
                if not (keyset and _unexpected_field(err, "include_next_page")):
                    raise
                self._keyset = keyset = False  # an older CKAN: page by offset from here on
                continue
            page = result.pop("records", None) or []
            count = len(page)
            yield page if limit is None or count <= limit - yielded else page[: limit - yielded]
            del page  # let the rows go before the next page arrives: one page in memory
            yielded += count
            offset += count
            # the server clamps limit to its rows_max; a page that full is not short
            served = min(want, int_if_valid(result.get("limit")) or want)
            if count < served or not count:
                return
            next_page = result.get("next_page") if keyset else None
            if isinstance(next_page, dict) and next_page:
                self._keyset = True
                next_filters = next_page
                continue
            if next_filters is not None:
                return  # keyset paging said there is nothing after this page
            total = int_if_valid(result.get("total"))
            if total is not None and not result.get("total_was_estimated") and offset >= total:
                return

    def sql(self, query: str) -> list[Row]:
        """Run a read-only SQL query (``datastore_search_sql``; off on many portals).

        The rows are as the datastore sent them (parsed JSON).
        """
        result = self.action("datastore_search_sql", sql=query)
        if result.get("records_truncated"):
            log.warning("datastore_search_sql stopped early: the portal caps results (%s)", query)
        return list(result.get("records") or [])

    # -- files -----------------------------------------------------------------------

    def download(
        self,
        resource: Resource | str,
        dest: str | os.PathLike[str],
        *,
        format: str | None = None,
        progress: bool = False,
    ) -> Path:
        """Download a resource (a :class:`Resource`, a resource id or a URL) to ``dest``; return the path.

        ``dest`` may be a folder (existing, or written with a trailing ``/``):
        the file then takes the resource's own name (``<id>.csv`` for a
        datastore dump). ``format`` picks a datastore dump's format (``csv``,
        ``tsv``, ``json``, ``xml``). The file is written atomically and skipped
        when unchanged (ETag). The API token is sent only to the portal's own host.
        """
        res: Resource | None
        if isinstance(resource, Resource):
            res, url = resource, resource.url
        elif urlsplit(resource).scheme or resource.startswith("/"):
            res, url = None, absolute_url(resource, self.base_url)
        else:
            res = self.resource(resource)
            url = res.url
        if not url:
            raise NotFound(None, "this resource has no URL to download", self.base_url)
        name = Path(urlsplit(url).path).name
        is_dump = "/datastore/dump/" in urlsplit(url).path
        if is_dump:
            fmt = (format or "csv").lower()
            if fmt != "csv":
                url = f"{url}{'&' if '?' in url else '?'}format={fmt}"
            name = f"{safe_filename(name)}.{fmt}"
        elif not Path(name).suffix and res is not None:
            name = f"{safe_filename(name or res.id)}.{(res.format or 'bin').lower()}"
        target = download_path(dest, safe_filename(name, res.id if res else "download"))
        # the token opens private resources on this portal; never hand it to another host
        same_host = urlsplit(url).netloc == urlsplit(self.base_url).netloc
        headers = self._headers if same_host else None
        return self.http.stream(url, target, progress=progress, headers=headers)
