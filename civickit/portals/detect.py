"""Which platform runs a portal: ask each platform's own API, and believe only its answer.

Hostnames prove nothing (Bristol's Hub site is ``opendata.bristol.gov.uk``;
sites move between platforms), and many sites answer 200 with an HTML page to
any path, so a probe counts only when the body is JSON of the platform's own
shape. Redirects are followed (``www.`` to the bare host, Hub aliases) and the
final address is the one the client talks to. Answers are cached per site for
:data:`DETECT_TTL` seconds, since a site that moved platform should be found
again soon.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from ..errors import (
    APIError,
    InvalidArgument,
    ServiceUnavailable,
    UnknownPortal,
)
from ..http import HttpClient

__all__ = ["DETECT_TTL", "KINDS", "clear_cache", "detect", "detect_portal", "normalise_url"]

KINDS = ("ckan", "arcgis", "arcgis-hub", "opendatasoft", "socrata")
DETECT_TTL = 300.0
PROBE_TIMEOUT = (5.0, 15.0)
_REST = re.compile(r"/rest/services(/|$)|/(FeatureServer|MapServer)(/\d+)?/?$", re.I)

_cache: dict[str, tuple[str, str, float]] = {}
_lock = threading.Lock()

Judge = Callable[[requests.Response, Any], bool]


def normalise_url(url: str) -> str:
    """``opendata.camden.gov.uk`` -> ``https://opendata.camden.gov.uk``; no query, no trailing /."""
    text = url.strip()
    if not re.match(r"^[a-z][a-z0-9+.-]*://", text, re.I):
        text = f"https://{text}"
    parts = urlsplit(text)
    if not parts.netloc:
        raise InvalidArgument(f"{url!r} is not a URL")
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def clear_cache() -> None:
    """Forget every detection answer (they also expire after :data:`DETECT_TTL` s)."""
    with _lock:
        _cache.clear()


def detect_portal(url: str, *, http: HttpClient | None = None) -> str:
    """The kind of portal at ``url``: ``ckan``, ``arcgis``, ``arcgis-hub``, ``opendatasoft`` or ``socrata``.

    Raises :class:`~civickit.errors.UnknownPortal`, naming each probe and what it
    answered, when none matches; :class:`~civickit.errors.ServiceUnavailable`
    when the site cannot be reached at all.
    """
    return detect(url, http=http)[0]


def detect(url: str, *, http: HttpClient | None = None) -> tuple[str, str]:
    """``(kind, base_url)``: the kind, and the address the site answered from after redirects."""
    base = normalise_url(url)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(base)
    if hit is not None and hit[2] > now:
        return hit[0], hit[1]
    client = http or HttpClient(retries=1, backoff=0)
    try:
        kind, final = _probe_all(base, client)
    finally:
        if http is None:
            client.close()
    with _lock:
        _cache[base] = (kind, final, now + DETECT_TTL)
    return kind, final


# -- what each platform's answer looks like -------------------------------------------------


def _is_ods(response: requests.Response, body: Any) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("total_count"), int)
        and isinstance(body.get("results"), list)
    )


def _is_ckan(response: requests.Response, body: Any) -> bool:
    if not isinstance(body, dict) or body.get("success") is not True:
        return False
    result = body.get("result")
    return isinstance(result, dict) and ("ckan_version" in result or "site_url" in result)


def _is_socrata(response: requests.Response, body: Any) -> bool:
    if any(h.lower().startswith(("x-socrata-", "x-soda2-")) for h in response.headers):
        return isinstance(body, (list, dict))
    views = body if isinstance(body, list) else [body]
    return bool(views) and all(
        isinstance(v, dict) and "id" in v and ("viewType" in v or "displayType" in v) for v in views
    )


def _is_hub_search(response: requests.Response, body: Any) -> bool:
    links = body.get("links") if isinstance(body, dict) else None
    return isinstance(links, list) and any(
        isinstance(link, dict) and "/api/search/v1" in str(link.get("href", "")) for link in links
    )


def _is_hub_dcat(response: requests.Response, body: Any) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("dataset"), list)
        and ("@context" in body or "conformsTo" in body)
    )


def _is_arcgis_rest(response: requests.Response, body: Any) -> bool:
    if not isinstance(body, dict) or "error" in body:
        return False
    return (
        "currentVersion" in body
        or any(key in body for key in ("services", "folders", "layers"))
        or ("fields" in body and ("geometryType" in body or "type" in body))
    )


PROBES: list[tuple[str, str, Judge]] = [
    ("opendatasoft", "/api/explore/v2.1/catalog/datasets?limit=1", _is_ods),
    ("ckan", "/api/3/action/status_show", _is_ckan),
    ("socrata", "/api/views.json?limit=1", _is_socrata),
    ("arcgis-hub", "/api/search/v1", _is_hub_search),
    ("arcgis-hub", "/api/feed/dcat-us/1.1.json", _is_hub_dcat),
]


def _probe_all(base: str, http: HttpClient) -> tuple[str, str]:
    if _REST.search(urlsplit(base).path):
        probes: list[tuple[str, str, Judge]] = [("arcgis", "?f=json", _is_arcgis_rest)]
    else:
        probes = PROBES
    answers: list[tuple[str, str]] = []
    reached = False
    unreachable = True
    for kind, path, judge in probes:
        url = base + path
        try:
            response = http.request("GET", url, timeout=PROBE_TIMEOUT, retry_statuses=False)
        except APIError as exc:
            answers.append((url, exc.message))
            unreachable = unreachable and getattr(exc, "unreachable", False)
            continue
        reached = True
        body, what = _read(response)
        if body is not None and judge(response, body):
            return kind, _final_base(response.url, path, base)
        answers.append((url, what))
    if not reached and unreachable:  # no connection at all: say so once
        raise ServiceUnavailable(None, "could not connect", base, unreachable=True)
    if not reached:
        raise ServiceUnavailable(
            None, "could not reach the site: " + "; ".join(w for _, w in answers), base
        )
    raise UnknownPortal(base, probes=answers)


def _read(response: requests.Response) -> tuple[Any, str]:
    """The JSON body (or None) and a few words on what came back, for the error message."""
    status = f"HTTP {response.status_code}"
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip() or "no type"
    try:
        body = HttpClient.decode_json(response)
    except APIError as exc:
        return None, f"{status} {content_type} ({exc.message})"
    if response.status_code >= 400:
        return None, f"{status} {content_type}"
    return body, f"{status} JSON that is not this platform's"


def _final_base(final_url: str, path: str, base: str) -> str:
    """The site's address after redirects: the probe's final URL less the probe's own path."""
    probe_path = path.split("?", 1)[0]
    parts = urlsplit(final_url)
    if probe_path and parts.path.endswith(probe_path):
        return f"{parts.scheme}://{parts.netloc}{parts.path[: -len(probe_path)]}".rstrip("/")
    if not probe_path:  # an ArcGIS REST URL probed with ?f=json
        return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
    return base
