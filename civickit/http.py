"""The one way civickit talks to the network.

Every client (CKAN, postcodes.io, police.uk) goes through an :class:`HttpClient`
so that timeouts, retries, caching, rate limits and error mapping are decided
once: timeouts are on by default, GETs are retried with backoff that honours
``Retry-After``, POSTs are never retried once they may have reached the server,
and a body that is not JSON becomes :class:`~civickit.errors.NotAPortalResponse`
instead of a confusing decode error.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import os
import re
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeAlias, TypedDict, Unpack, cast
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.util.retry import Retry

from . import __version__
from ._convert import int_if_valid
from .errors import (
    APIError,
    CacheUnavailable,
    InvalidArgument,
    NotAPortalResponse,
    NotAuthorized,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    ValidationError,
)

__all__ = ["Download", "HttpClient", "Params", "RequestOptions", "TokenBucket", "error_for_status"]

log = logging.getLogger(__name__)

# civickit and its version only: an app that talks to a service a lot should
# add its own contact (``HttpClient(user_agent="my-app/1.0 (+https://...)")``).
DEFAULT_USER_AGENT = f"civickit/{__version__} python-requests/{requests.__version__}"
RETRY_STATUSES = (429, 500, 502, 503, 504)
# Cap on one Retry-After wait, so a caller is never blocked for an hour by one header.
MAX_RETRY_AFTER_S = 30.0
CHUNK_SIZE = 256 * 1024

#: Query parameters (or form fields): each value goes as its text, a list or tuple as
#: the name repeated, and ``None`` not at all, as ``requests`` encodes them.
Params: TypeAlias = Mapping[str, object]
_FileContent: TypeAlias = IO[bytes] | IO[str] | bytes | str


class RequestOptions(TypedDict, total=False):
    """The ``requests.Session.request`` keywords that :meth:`HttpClient.request` passes on.

    ``timeout`` defaults to the client's own.
    """

    data: (
        Mapping[str, object]
        | list[tuple[str, object]]
        | tuple[tuple[str, object], ...]
        | str
        | bytes
        | IO[bytes]
        | None
    )
    json: object
    headers: Mapping[str, str | bytes | None] | None
    cookies: MutableMapping[str, str] | None
    files: (
        Mapping[
            str,
            _FileContent
            | tuple[str | None, _FileContent]
            | tuple[str | None, _FileContent, str]
            | tuple[str | None, _FileContent, str, Mapping[str, str]],
        ]
        | None
    )
    auth: (
        tuple[str, str]
        | AuthBase
        | Callable[[requests.PreparedRequest], requests.PreparedRequest]
        | None
    )
    timeout: float | tuple[float | None, float | None] | None
    allow_redirects: bool
    proxies: MutableMapping[str, str] | None
    hooks: (
        Mapping[
            str,
            Callable[[requests.Response], object] | Iterable[Callable[[requests.Response], object]],
        ]
        | None
    )
    stream: bool | None
    verify: bool | str | None
    cert: str | tuple[str, str] | None


class TokenBucket:
    """Allow ``rate`` requests per second on average, with bursts of up to ``burst``.

    ``clock`` and ``sleep`` are injectable so tests can measure spacing with a
    fake clock instead of waiting.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise InvalidArgument("rate must be a positive number of requests per second")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._stamp = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; return the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


class _Retry(Retry):
    """urllib3 ``Retry`` that waits at most ``MAX_RETRY_AFTER_S`` whatever ``Retry-After`` asks."""

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), MAX_RETRY_AFTER_S)


class _RateLimitedAdapter(HTTPAdapter):
    """Takes a host's rate-limit token only for requests that really go out.

    Mounted beneath requests-cache, so an answer served from the cache costs
    no token: a page of cached police.uk answers is not held to 15 a second.
    """

    def __init__(self, buckets: Mapping[str, TokenBucket], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._buckets = buckets

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        bucket = self._buckets.get((urlsplit(request.url or "").hostname or "").lower())
        if bucket is not None:
            bucket.acquire()
        return super().send(
            request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
        )


@dataclass(frozen=True)
class Download:
    """The outcome of :meth:`HttpClient.download`."""

    path: Path
    changed: bool
    bytes: int
    etag: str | None = None
    last_modified: str | None = None


def error_for_status(response: requests.Response, message: str | None = None) -> APIError:
    """Map an HTTP error status to the matching :class:`APIError` subclass."""
    status = response.status_code
    url = response.url
    text = message or _reason(response)
    if status == 404:
        return NotFound(status, text, url)
    if status in (401, 403):
        return NotAuthorized(status, text, url)
    if status == 429:
        return RateLimited(status, text, url, retry_after=_retry_after(response))
    if status in (400, 409, 422):
        return ValidationError(status, text, url)
    if status >= 500:
        return ServiceUnavailable(status, text, url)
    return APIError(status, text, url)


def _reason(response: requests.Response) -> str:
    return f"{response.reason or 'error'} from {urlsplit(response.url).netloc or 'the server'}"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    return None


class HttpClient:
    """A configured ``requests`` session shared by every civickit client.

    ``cache`` is ``None`` (no cache), a filesystem path (an SQLite cache via
    requests-cache) or a ``redis://`` URL; cached responses are served stale
    when the service is down. ``rate_limits`` maps a host name to requests per
    second, or to ``(rate, burst)``.
    """

    def __init__(
        self,
        *,
        timeout: float | tuple[float, float] = (5, 30),
        retries: int = 3,
        backoff: float = 0.5,
        cache: str | os.PathLike[str] | None = None,
        cache_ttl: int = 3600,
        rate_limits: Mapping[str, float | tuple[float, float]] | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.cache = cache
        self.cache_ttl = cache_ttl
        self.user_agent = user_agent or DEFAULT_USER_AGENT
        self._buckets: dict[str, TokenBucket] = {}
        for host, spec in (rate_limits or {}).items():
            rate, burst = spec if isinstance(spec, tuple) else (spec, None)
            self.set_rate_limit(host, rate, burst=burst)
        self.session = self._build_session()
        self._no_status_retry_session: requests.Session | None = None

    # -- construction -------------------------------------------------------

    def _build_session(self, *, status_retries: bool = True) -> requests.Session:
        session: requests.Session
        if self.cache is None:
            session = requests.Session()
        elif hasattr(self, "session"):
            # a second session shares the first one's cache
            session = _cached_session_on(self.session.cache, self.cache_ttl)  # type: ignore[attr-defined]
        else:
            session = _cached_session(self.cache, self.cache_ttl)
        retry = _Retry(
            total=self.retries,
            connect=self.retries,
            read=self.retries,
            status=self.retries if status_retries else 0,
            backoff_factor=self.backoff,
            status_forcelist=RETRY_STATUSES if status_retries else (),
            allowed_methods=frozenset({"GET", "HEAD", "OPTIONS"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = _RateLimitedAdapter(self._buckets, max_retries=retry)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers["User-Agent"] = self.user_agent
        _read_environment_once(session)
        return session

    def _session_for(self, retry_statuses: bool) -> requests.Session:
        if retry_statuses:
            return self.session
        if self._no_status_retry_session is None:
            self._no_status_retry_session = self._build_session(status_retries=False)
        return self._no_status_retry_session

    def set_rate_limit(self, host: str, rate: float, *, burst: float | None = None) -> None:
        """Limit requests to ``host`` to ``rate`` per second (bursts of ``burst``)."""
        self._buckets[host.lower()] = TokenBucket(rate, burst)

    def has_rate_limit(self, host: str) -> bool:
        return host.lower() in self._buckets

    def close(self) -> None:
        self.session.close()
        if self._no_status_retry_session is not None:
            self._no_status_retry_session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests -------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        retry_statuses: bool = True,
        params: Params | None = None,
        **kwargs: Unpack[RequestOptions],
    ) -> requests.Response:
        """Send one request; transport failures become :class:`ServiceUnavailable`.

        HTTP error statuses are returned, not raised, so callers that parse an
        error envelope (CKAN) can read the body first. ``retry_statuses=False``
        answers a 429/5xx at once instead of retrying it, for an API whose 503
        means "ask for less" (police.uk) rather than "try again". ``params``
        and ``kwargs`` go to ``requests`` (:class:`RequestOptions`).
        """
        kwargs.setdefault("timeout", self.timeout)
        # requests sends any value as its text; its stubs name only the usual types
        query = cast("Mapping[str, str | None] | None", params)
        try:
            return self._session_for(retry_statuses).request(method, url, params=query, **kwargs)
        except requests.exceptions.RetryError as exc:
            raise ServiceUnavailable(None, f"gave up after {self.retries} retries", url) from exc
        except requests.exceptions.Timeout:
            log.debug("%s %s timed out", method, url, exc_info=True)
            raise ServiceUnavailable(None, "the request timed out", url) from None
        except requests.exceptions.ConnectionError as exc:
            # the cause (urllib3's chain of retries) is logged, not chained: a user reads
            # one error that says what to check, not 80 lines of urllib3
            log.debug("%s %s failed", method, url, exc_info=True)
            # requests reports read timeouts that used up the retries as ConnectionError
            if _timed_out(exc):
                raise ServiceUnavailable(None, "the request timed out", url) from None
            raise ServiceUnavailable(None, "could not connect", url, unreachable=True) from None
        except requests.exceptions.RequestException as exc:
            raise APIError(None, f"the request failed: {exc.__class__.__name__}", url) from exc

    def get(
        self, url: str, params: Params | None = None, **kwargs: Unpack[RequestOptions]
    ) -> requests.Response:
        """GET ``url`` (see :meth:`request`)."""
        return self.request("GET", url, params=params, **kwargs)

    def get_json(self, url: str, params: Params | None = None) -> Any:
        """GET ``url`` and return its decoded JSON, raising a typed error otherwise.

        The JSON is as the server sent it (any shape, so typed ``Any``): check it
        before use.
        """
        return self.json_of(self.get(url, params=params))

    def post_json(self, url: str, json: object) -> Any:
        """POST a JSON body and return the decoded JSON reply. Never retried once sent.

        ``json`` is anything :func:`json.dumps` takes; the reply is JSON as the
        server sent it (typed ``Any``).
        """
        return self.json_of(self.request("POST", url, json=json))

    def post_form(self, url: str, data: Params) -> Any:
        """POST form fields and return the decoded JSON reply. Never retried once sent.

        The reply is JSON as the server sent it (typed ``Any``).
        """
        return self.json_of(self.request("POST", url, data=data))

    @staticmethod
    def decode_json(response: requests.Response) -> Any:
        """Decode a JSON body whatever the status; HTML or empty bodies are errors.

        Returns the JSON as the server sent it (any shape, so typed ``Any``).
        """
        body = response.content
        if not body or not body.strip():
            raise NotAPortalResponse(
                response.status_code, "the response body was empty", response.url
            )
        if body.lstrip()[:1] == b"<":
            raise NotAPortalResponse(
                response.status_code, "got an HTML page instead of JSON", response.url
            )
        try:
            return json.loads(body)
        except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError for bytes not UTF
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8, -16 or -32 text"
            raise NotAPortalResponse(
                response.status_code, f"the response is not valid JSON ({why})", response.url
            ) from exc

    @classmethod
    def json_of(cls, response: requests.Response) -> Any:
        """Raise the typed error for an error status, else decode the JSON body.

        Returns the JSON as the server sent it (any shape, so typed ``Any``).
        """
        if response.status_code >= 400:
            raise error_for_status(response)
        return cls.decode_json(response)

    # -- downloads ------------------------------------------------------------

    def stream(
        self,
        url: str,
        dest: str | os.PathLike[str],
        *,
        progress: bool = False,
        if_modified: bool = True,
        headers: Mapping[str, str] | None = None,
        resume: bool = False,
    ) -> Path:
        """Download ``url`` to ``dest`` atomically and return the path (see :meth:`download`)."""
        return self.download(
            url, dest, progress=progress, if_modified=if_modified, headers=headers, resume=resume
        ).path

    def download(
        self,
        url: str,
        dest: str | os.PathLike[str],
        *,
        progress: bool = False,
        if_modified: bool = True,
        headers: Mapping[str, str] | None = None,
        resume: bool = False,
    ) -> Download:
        """Download ``url`` to ``dest``, saying whether anything changed.

        The body goes to a temporary file beside ``dest`` and is renamed into
        place only when complete, so ``dest`` is never half-written. With
        ``if_modified`` the previous ETag / Last-Modified (kept in a small
        sidecar file) are sent, and a 304 leaves ``dest`` untouched.
        ``headers`` are sent as well (e.g. a portal's API token).

        With ``resume``, a download that is cut off keeps what arrived (in
        ``.<name>.partial`` beside ``dest``) and the next call asks only for
        the rest, with ``Range`` and ``If-Range``: if the file changed on the
        server meanwhile, the server sends it whole and the download starts
        over. Only answers with an ETag or Last-Modified can be resumed.
        """
        dest = Path(dest)
        if dest.is_dir():
            dest = dest / (Path(urlsplit(url).path).name or "download")
        dest.parent.mkdir(parents=True, exist_ok=True)
        meta_path = dest.with_name(f".{dest.name}.civickit-meta.json")
        headers = dict(headers or {})
        meta: dict[str, str] = {}
        if if_modified and dest.exists() and meta_path.exists():
            with contextlib.suppress(ValueError, OSError):
                meta = json.loads(meta_path.read_text())
            if meta.get("url") == url:
                if meta.get("etag"):
                    headers["If-None-Match"] = meta["etag"]
                if meta.get("last_modified"):
                    headers["If-Modified-Since"] = meta["last_modified"]
        if resume:
            return self._download_resuming(url, dest, meta_path, headers, meta, progress)

        with self._uncached():
            response = self.request("GET", url, headers=headers, stream=True)
        with contextlib.closing(response):
            if response.status_code == 304:
                return Download(dest, False, 0, meta.get("etag"), meta.get("last_modified"))
            if response.status_code >= 400:
                raise error_for_status(response)
            expected = int_if_valid(response.headers.get("Content-Length"))
            if response.headers.get("Content-Encoding"):
                expected = None  # Content-Length counts compressed bytes
            written = self._write_atomically(response, dest, expected, progress)
        etag = response.headers.get("ETag")
        last_modified = response.headers.get("Last-Modified")
        _remember_validators(meta_path, url, etag, last_modified)
        return Download(dest, True, written, etag, last_modified)

    def _download_resuming(
        self,
        url: str,
        dest: Path,
        meta_path: Path,
        headers: dict[str, str],
        meta: dict[str, str],
        progress: bool,
    ) -> Download:
        partial = dest.with_name(f".{dest.name}.partial")
        partial_meta = dest.with_name(f".{dest.name}.partial.json")
        have = partial.stat().st_size if partial.exists() else 0
        kept: dict[str, str] = {}
        if have:
            with contextlib.suppress(ValueError, OSError):
                kept = json.loads(partial_meta.read_text())
            validator = kept.get("etag") or kept.get("last_modified")
            if kept.get("url") == url and validator:
                headers.pop("If-None-Match", None)
                headers.pop("If-Modified-Since", None)
                headers["Range"] = f"bytes={have}-"
                headers["If-Range"] = validator
            else:
                have = 0
        with self._uncached():
            response = self.request("GET", url, headers=headers, stream=True)
        with contextlib.closing(response):
            status = response.status_code
            if status == 304:
                return Download(dest, False, 0, meta.get("etag"), meta.get("last_modified"))
            if status == 416 and have:  # what we kept is no prefix of the file: start over
                partial.unlink(missing_ok=True)
                partial_meta.unlink(missing_ok=True)
                headers = {k: v for k, v in headers.items() if k not in ("Range", "If-Range")}
                return self._download_resuming(url, dest, meta_path, headers, meta, progress)
            if status >= 400:
                raise error_for_status(response)
            etag = response.headers.get("ETag")
            last_modified = response.headers.get("Last-Modified")
            total = int_if_valid(response.headers.get("Content-Length"))
            if status == 206 and have:
                start, total = _content_range(response.headers.get("Content-Range"))
                if start != have:
                    raise ServiceUnavailable(
                        None, f"the server resumed at byte {start}, not {have}", url
                    )
                etag = etag or kept.get("etag")
                last_modified = last_modified or kept.get("last_modified")
            else:
                have = 0  # a whole file: the server ignored the range, or the file changed
            if response.headers.get("Content-Encoding"):
                total = None  # Content-Length counts compressed bytes
            elif total is not None and status != 206:
                total += have
            resumable = bool(etag or last_modified)
            if resumable:
                partial_meta.write_text(
                    json.dumps({"url": url, "etag": etag, "last_modified": last_modified})
                )
            try:
                with partial.open("ab" if have else "wb") as out:
                    written = _copy_body(
                        response, out, dest.name, have, total, progress, resumable=resumable
                    )
            except BaseException:
                if not resumable:
                    partial.unlink(missing_ok=True)
                raise
        os.replace(partial, dest)
        partial_meta.unlink(missing_ok=True)
        _remember_validators(meta_path, url, etag, last_modified)
        return Download(dest, True, written, etag, last_modified)

    @contextlib.contextmanager
    def _uncached(self) -> Iterator[None]:
        disabled = getattr(self.session, "cache_disabled", None)
        if disabled is None:
            yield
        else:
            with disabled():
                yield

    def _write_atomically(
        self,
        response: requests.Response,
        dest: Path,
        expected: int | None,
        progress: bool,
    ) -> int:
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                written = _copy_body(response, out, dest.name, 0, expected, progress)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return written


def _read_environment_once(session: requests.Session) -> None:
    """Take proxy and CA-bundle settings from the environment now, not on every request.

    With ``trust_env`` on, requests rescans every environment variable twice
    and looks for ``~/.netrc`` on each request: about a fifth of a request's
    CPU. When no proxy is configured, turn that off and keep the CA bundle
    variables it would have honoured. (``~/.netrc`` is then not read; civickit
    clients take tokens explicitly.)
    """
    if urllib.request.getproxies():
        return  # proxies may depend on NO_PROXY per host: leave requests in charge
    session.trust_env = False
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle


def _timed_out(exc: requests.exceptions.ConnectionError) -> bool:
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    # NewConnectionError (refused) subclasses ConnectTimeoutError in urllib3
    return isinstance(reason, urllib3.exceptions.TimeoutError) and not isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


def _content_range(value: str | None) -> tuple[int, int | None]:
    """``bytes 100-199/1000`` -> (100, 1000); the total is None when given as ``*``."""
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", (value or "").strip())
    if not match:
        raise ServiceUnavailable(None, f"a partial answer with a bad Content-Range {value!r}")
    total = match.group(2)
    return int(match.group(1)), None if total == "*" else int(total)


def _copy_body(
    response: requests.Response,
    out: IO[bytes],
    label: str,
    have: int,
    total: int | None,
    progress: bool,
    *,
    resumable: bool = False,
) -> int:
    """Copy the body into ``out`` (after ``have`` bytes already there), flushed to disk;
    return the bytes now in the file. A body cut short raises :class:`ServiceUnavailable`."""
    written = have
    with _progress(progress, total, label) as advance:
        advance(have)
        try:
            for chunk in response.iter_content(CHUNK_SIZE):
                out.write(chunk)
                written += len(chunk)
                advance(len(chunk))
        except requests.exceptions.RequestException as exc:
            raise ServiceUnavailable(
                None, _cut_off(written, total, resumable), response.url
            ) from exc
        if total is not None and written != total:
            raise ServiceUnavailable(None, _cut_off(written, total, resumable), response.url)
        out.flush()
        os.fsync(out.fileno())
    return written


def _remember_validators(
    meta_path: Path, url: str, etag: str | None, last_modified: str | None
) -> None:
    """Keep what a later conditional download sends (or forget it: the server gave none)."""
    if etag or last_modified:
        meta_path.write_text(json.dumps({"url": url, "etag": etag, "last_modified": last_modified}))
    else:
        meta_path.unlink(missing_ok=True)


def _cut_off(written: int, total: int | None, resumable: bool) -> str:
    got = f"{written:,} of {total:,} bytes" if total is not None else f"{written:,} bytes"
    again = "; run it again to resume" if resumable else ""
    return f"the download was cut off after {got}{again}"


@contextlib.contextmanager
def _progress(enabled: bool, total: int | None, label: str) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _cached_session(cache: str | os.PathLike[str], ttl: int) -> requests.Session:
    target = os.fspath(cache)
    backend: Any
    if target.startswith(("redis://", "rediss://", "unix://")):
        from requests_cache.backends.redis import RedisCache

        backend = RedisCache(connection=_redis_connection(target))
    else:
        from requests_cache.backends.sqlite import SQLiteCache

        path = sqlite_cache_path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = SQLiteCache(path)
    return _cached_session_on(backend, ttl)


_SQLITE_HEADER = b"SQLite format 3\x00"


def sqlite_cache_path(target: str | os.PathLike[str]) -> Path:
    """The SQLite file a cache path names: ``~`` expanded (once, here), ``.sqlite`` added
    to a name without a suffix (as requests-cache does).

    Raises :class:`CacheUnavailable` for a folder or an existing file that is not
    SQLite, so a cache never writes beside or over a file it does not own.
    """
    given = Path(target).expanduser()
    path = given if given.suffix else given.with_name(given.name + ".sqlite")
    for candidate in dict.fromkeys((given, path)):
        if candidate.is_dir():
            raise CacheUnavailable(
                f"the cache {candidate} is a folder; give a file for the HTTP cache, "
                f"for example {candidate / 'http-cache.sqlite'}."
            )
        if candidate.is_file() and candidate.stat().st_size:
            try:
                with candidate.open("rb") as f:
                    header = f.read(len(_SQLITE_HEADER))
            except OSError as exc:
                raise CacheUnavailable(
                    f"cannot read the cache {candidate} ({exc.strerror}); give another file."
                ) from None
            if header != _SQLITE_HEADER:
                raise CacheUnavailable(
                    f"{candidate} exists and is not an SQLite cache; give a new file name "
                    "for the HTTP cache (it is never written over)."
                )
    return path


def _redis_connection(url: str) -> Any:
    """A Redis client for the cache, checked now: an unreachable server is one clear error."""
    from redis import Redis
    from redis.exceptions import RedisError

    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is not a number: Redis.from_url says so below
        port = ""
    where = parts._replace(netloc=f"{parts.hostname or ''}{port}").geturl()  # no password
    try:
        connection = Redis.from_url(url, socket_connect_timeout=5)
        connection.ping()
    except (RedisError, ValueError) as exc:
        raise CacheUnavailable(
            f"could not reach the Redis cache at {where} ({exc}); start Redis, "
            "or give another cache (a file path), or none."
        ) from None
    return connection


def _cached_session_on(backend: Any, ttl: int) -> requests.Session:
    import requests_cache

    return requests_cache.CachedSession(
        backend=backend,
        expire_after=ttl,
        stale_if_error=True,
        allowable_methods=("GET", "HEAD"),
    )
