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

import itertools
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from ..errors import (
    APIError,
    NotAPortalResponse,
    NotAuthorized,
    NotFound,
    ServiceUnavailable,
    ValidationError,
)
from ..http import HttpClient, error_for_status

__all__ = ["CKAN", "Dataset", "Resource"]

log = logging.getLogger(__name__)

# package_search caps ``rows`` at 1000 unless the site raised ckan.search.rows_max.
SEARCH_ROWS_MAX = 1000
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


# -- models ----------------------------------------------------------------------------


def _timestamp(value: Any) -> datetime | None:
    """CKAN timestamps are naive UTC ISO strings; make them timezone-aware."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _to_dict(obj: Any) -> dict[str, Any]:
    return _plain(asdict(obj))


def _plain(value: Any) -> Any:
    """Make ``asdict`` output JSON-ready: ISO timestamps, lists for tuples."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


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


@dataclass(frozen=True)
class Resource:
    """One file or API behind a dataset. ``url`` is always absolute."""

    id: str
    name: str
    format: str
    url: str
    size: int | None
    last_modified: datetime | None
    datastore_active: bool
    package_id: str | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any], site: str) -> Resource:
        """Build from a ``resource_show`` result (or a dataset's resource) on portal ``site``."""
        return cls(
            id=str(data.get("id") or ""),
            name=data.get("name") or "",
            format=(data.get("format") or "").strip(),
            url=absolute_url(data.get("url"), site),
            size=_int_or_none(data.get("size")),
            last_modified=_timestamp(data.get("last_modified") or data.get("metadata_modified")),
            datastore_active=bool(data.get("datastore_active")),
            package_id=data.get("package_id"),
        )

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True)
class Dataset:
    """A CKAN package: its metadata and resources. ``url`` is its page on the portal."""

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
    def from_api(cls, data: Mapping[str, Any], site: str) -> Dataset:
        """Build from a ``package_show`` / ``package_search`` result on portal ``site``."""
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
            metadata_modified=_timestamp(data.get("metadata_modified")),
            resources=tuple(Resource.from_api(r, site) for r in data.get("resources") or ()),
            url=f"{site.rstrip('/')}/dataset/{name or data.get('id')}",
        )

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


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

    error = body.get("error") if isinstance(body.get("error"), dict) else {}
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


def _encode_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Encode action parameters for a query string the way CKAN parses them."""
    out: dict[str, Any] = {}
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


class CKAN:
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
        if not urlsplit(base_url).scheme or not urlsplit(base_url).netloc:
            raise ValueError(f"{base_url!r} is not a URL; give one like https://datamillnorth.org")
        self.base_url = base_url.rstrip("/")
        self.api_url = f"{self.base_url}/api/3/action"
        self.api_token = api_token
        self._owns_http = http is None
        self.http = http or HttpClient()
        self._headers = {"Authorization": api_token} if api_token else {}
        self._keyset: bool | None = None  # does the server offer next_page? learnt once

    def __repr__(self) -> str:
        return f"CKAN({self.base_url!r})"

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> CKAN:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the escape hatch ------------------------------------------------------------

    def action(self, name: str, **params: Any) -> Any:
        """Call any CKAN action and return its ``result``.

        Reads (``*_show``, ``*_list``, ``*_search``...) go as GET, so they are
        cached and retried; anything else is POSTed as JSON and never retried.
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
        resource_id: str,
        *,
        filters: Mapping[str, Any] | None = None,
        q: str | Mapping[str, Any] | None = None,
        fields: list[str] | tuple[str, ...] | str | None = None,
        sort: str = "_id",
        page_size: int = 1000,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield the rows of a datastore table, one page in memory at a time.

        Uses CKAN's ``next_page`` keyset paging when the server offers it,
        otherwise offsets we compute ourselves; stops on a short page.
        Nothing is requested until the first row is asked for.
        """
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        # chain the pages in C: no Python frame resumes per row, only per page
        return itertools.chain.from_iterable(
            self._record_pages(resource_id, filters, q, fields, sort, page_size, limit)
        )

    def _record_pages(
        self,
        resource_id: str,
        filters: Mapping[str, Any] | None,
        q: str | Mapping[str, Any] | None,
        fields: list[str] | tuple[str, ...] | str | None,
        sort: str,
        page_size: int,
        limit: int | None,
    ) -> Iterator[list[dict[str, Any]]]:
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
            served = min(want, _int_or_none(result.get("limit")) or want)
            if count < served or not count:
                return
            next_page = result.get("next_page") if keyset else None
            if isinstance(next_page, dict) and next_page:
                self._keyset = True
                next_filters = next_page
                continue
            if next_filters is not None:
                return  # keyset paging said there is nothing after this page
            total = _int_or_none(result.get("total"))
            if total is not None and not result.get("total_was_estimated") and offset >= total:
                return

    def sql(self, query: str) -> list[dict[str, Any]]:
        """Run a read-only SQL query (``datastore_search_sql``; off on many portals)."""
        result = self.action("datastore_search_sql", sql=query)
        if result.get("records_truncated"):
            log.warning("datastore_search_sql stopped early: the portal caps results (%s)", query)
        return list(result.get("records") or [])

    # -- files -----------------------------------------------------------------------

    def download(
        self,
        resource_or_url: Resource | str,
        dest: str | os.PathLike[str],
        *,
        progress: bool = False,
    ) -> Path:
        """Download a resource (a :class:`Resource`, a resource id or a URL) to ``dest``.

        The file is written atomically and skipped when unchanged (ETag). The
        API token is sent only when the file is on the portal's own host.
        """
        if isinstance(resource_or_url, Resource):
            url = resource_or_url.url
        elif urlsplit(resource_or_url).scheme or resource_or_url.startswith("/"):
            url = absolute_url(resource_or_url, self.base_url)
        else:
            url = self.resource(resource_or_url).url
        if not url:
            raise NotFound(None, "this resource has no URL to download", self.base_url)
        # the token opens private resources on this portal; never hand it to another host
        same_host = urlsplit(url).netloc == urlsplit(self.base_url).netloc
        headers = self._headers if same_host else None
        return self.http.stream(url, dest, progress=progress, headers=headers)
