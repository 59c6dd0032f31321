"""HttpClient: retries, error mapping, rate limits, the cache and atomic downloads."""

from __future__ import annotations

import socket
import types
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import responses
import urllib3.util.retry

import civickit
from civickit.errors import (
    APIError,
    NotAPortalResponse,
    RateLimited,
    ServiceUnavailable,
)
from civickit.http import MAX_RETRY_AFTER_S, HttpClient, TokenBucket

URL = "https://api.example.org/thing"


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Record urllib3's retry waits instead of sleeping through them."""
    waited: list[float] = []
    fake_time = types.SimpleNamespace(sleep=waited.append, time=__import__("time").time)
    monkeypatch.setattr(urllib3.util.retry, "time", fake_time)
    return waited


class Counter:
    """A tiny WSGI app that answers from a script of (status, headers, body) per call."""

    def __init__(self, *replies: tuple[str, list[tuple[str, str]], bytes]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, str]] = []

    def __call__(self, environ, start_response):
        self.requests.append({k: v for k, v in environ.items() if k.startswith("HTTP_")})
        status, headers, body = self.replies[min(len(self.requests), len(self.replies)) - 1]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]


JSON_OK = ("200 OK", [("Content-Type", "application/json")], b'{"ok": true}')


# -- retries --------------------------------------------------------------------------


def test_a_get_is_retried_on_503_until_it_succeeds(rsps_all_used):
    rsps_all_used.get(URL, status=503)
    rsps_all_used.get(URL, status=503)
    rsps_all_used.get(URL, json={"ok": True})

    assert HttpClient(backoff=0).get_json(URL) == {"ok": True}
    assert len(rsps_all_used.calls) == 3


def test_a_get_gives_up_after_the_retries_with_service_unavailable(rsps_all_used):
    rsps_all_used.get(URL, status=503)

    with pytest.raises(ServiceUnavailable) as info:
        HttpClient(retries=2, backoff=0).get_json(URL)

    assert info.value.status == 503
    assert len(rsps_all_used.calls) == 3


@pytest.mark.parametrize(("header", "waited"), [("7", 7.0), ("3600", MAX_RETRY_AFTER_S)])
def test_retry_after_is_honoured_and_capped(serve, sleeps, header, waited):
    app = Counter(("503 Service Unavailable", [("Retry-After", header)], b"busy"), JSON_OK)
    server = serve(app)

    assert HttpClient(backoff=0.5).get_json(server.url + "/x") == {"ok": True}

    assert sleeps == [waited]  # the server's wait (capped), not our backoff
    assert len(app.requests) == 2


def test_a_post_is_never_retried(rsps_all_used):
    rsps_all_used.post(URL, status=503)

    with pytest.raises(ServiceUnavailable):
        HttpClient(backoff=0).post_json(URL, {"to": "+447700900123"})

    assert len(rsps_all_used.calls) == 1


def test_429_becomes_rate_limited_with_the_wait(rsps_all_used):
    rsps_all_used.get(URL, status=429, headers={"Retry-After": "12"})

    with pytest.raises(RateLimited) as info:
        HttpClient(retries=0).get_json(URL)

    assert info.value.retry_after == 12.0


# -- bodies that are not JSON ---------------------------------------------------------


def test_html_with_status_200_is_not_a_portal_response_naming_the_url(rsps_all_used):
    rsps_all_used.get(URL, body="<!doctype html><html><body>Sign in</body></html>", status=200)

    with pytest.raises(NotAPortalResponse) as info:
        HttpClient().get_json(URL)

    assert URL in str(info.value) and "HTML" in str(info.value)


@pytest.mark.parametrize("body", ["", "  \n"])
def test_an_empty_body_is_not_a_portal_response(rsps_all_used, body):
    rsps_all_used.get(URL, body=body)

    with pytest.raises(NotAPortalResponse, match="empty"):
        HttpClient().get_json(URL)


def test_broken_json_is_not_a_portal_response(rsps_all_used):
    rsps_all_used.get(URL, body='{"result": [1, 2')

    with pytest.raises(NotAPortalResponse, match="not valid JSON"):
        HttpClient().get_json(URL)


def test_bytes_that_are_not_text_are_not_a_portal_response(rsps_all_used):
    # json.loads raises UnicodeDecodeError here, which has no .msg (this used to crash)
    rsps_all_used.get(URL, body=b'{"name": "Le\xe9ds"}', content_type="application/json")

    with pytest.raises(NotAPortalResponse, match=r"not valid JSON \(not UTF-8"):
        HttpClient().get_json(URL)


# -- transport failures ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (requests.exceptions.ReadTimeout("slow"), "timed out"),
        (requests.exceptions.ConnectTimeout("slow"), "timed out"),
        (requests.exceptions.ConnectionError("reset"), "could not reach host api.example.org"),
    ],
)
def test_timeouts_and_connection_errors_are_service_unavailable(rsps_all_used, exc, words):
    rsps_all_used.get(URL, body=exc)

    with pytest.raises(ServiceUnavailable, match=words) as info:
        HttpClient().get_json(URL)

    assert info.value.status is None and info.value.url == URL


def test_a_refused_connection_is_service_unavailable():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(ServiceUnavailable) as info:
        HttpClient(retries=1, backoff=0).get_json(f"http://127.0.0.1:{port}/")

    # one sentence that names the host and the user's own connection, and no chained
    # urllib3 traceback behind it (the cause goes to the debug log)
    assert str(info.value) == (
        f"could not reach host 127.0.0.1:{port} "
        "(check your connection; the service may also be down)."
    )
    assert info.value.unreachable and info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_a_read_timeout_after_retries_says_it_timed_out(serve):
    import threading

    release = threading.Event()

    def stalls(environ, start_response):
        release.wait(5)  # longer than the client's read timeout
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    server = serve(stalls)
    try:
        with pytest.raises(ServiceUnavailable, match="timed out"):
            HttpClient(timeout=(2, 0.2), retries=1, backoff=0).get_json(server.url)
    finally:
        release.set()


def test_the_default_timeout_is_sent(rsps_all_used):
    seen = {}

    def callback(request):
        seen["timeout"] = request.req_kwargs.get("timeout")
        return 200, {}, "{}"

    rsps_all_used.add_callback(responses.GET, URL, callback)
    HttpClient().get_json(URL)

    assert seen["timeout"] == (5, 30)


# -- identity -------------------------------------------------------------------------


def test_the_user_agent_names_civickit_and_its_version(rsps_all_used):
    rsps_all_used.get(URL, json={})

    HttpClient().get_json(URL)

    agent = rsps_all_used.calls[0].request.headers["User-Agent"]
    assert agent == f"civickit/{civickit.__version__} python-requests/{requests.__version__}"


def test_an_app_can_name_itself_and_a_contact_in_the_user_agent(rsps_all_used):
    rsps_all_used.get(URL, json={})

    HttpClient(user_agent="bin-days/1.0 (+mailto:team@example.org)").get_json(URL)

    assert (
        rsps_all_used.calls[0].request.headers["User-Agent"]
        == "bin-days/1.0 (+mailto:team@example.org)"
    )


# -- rate limits ----------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_spaces_requests_after_the_burst():
    clock = FakeClock()
    bucket = TokenBucket(2, burst=3, clock=clock, sleep=clock.sleep)

    waits = [bucket.acquire() for _ in range(6)]

    assert waits == [0, 0, 0, 0.5, 0.5, 0.5]
    assert clock.now == pytest.approx(1.5)


def test_token_bucket_refills_while_idle_but_never_beyond_the_burst():
    clock = FakeClock()
    bucket = TokenBucket(1, burst=2, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    bucket.acquire()

    clock.now += 60  # a long pause earns at most `burst` tokens
    waits = [bucket.acquire() for _ in range(3)]

    assert waits == [0, 0, 1.0]


def test_token_bucket_rejects_a_rate_of_zero():
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0)


def test_the_client_applies_the_limit_of_the_host_it_calls(rsps_all_used):
    rsps_all_used.get(URL, json={})
    rsps_all_used.get("https://other.example.org/", json={})
    clock = FakeClock()
    client = HttpClient(rate_limits={"api.example.org": 1})
    assert client.has_rate_limit("API.example.org")
    client._buckets["api.example.org"] = TokenBucket(4, burst=1, clock=clock, sleep=clock.sleep)

    for _ in range(3):
        client.get_json(URL)
        client.get_json("https://other.example.org/")

    assert clock.slept == [0.25, 0.25]  # only api.example.org is limited


# -- the cache ------------------------------------------------------------------------


def test_the_cache_is_an_sqlite_file_and_serves_repeats(serve, tmp_path):
    app = Counter(JSON_OK)
    server = serve(app)
    client = HttpClient(cache=tmp_path / "http-cache.sqlite")
    try:
        assert client.get_json(server.url + "/a") == {"ok": True}
        assert client.get_json(server.url + "/a") == {"ok": True}
    finally:
        client.close()

    assert len(app.requests) == 1
    assert (tmp_path / "http-cache.sqlite").stat().st_size > 0


def test_answers_from_the_cache_cost_no_rate_limit_token(serve, tmp_path):
    server = serve(Counter(JSON_OK))
    client = HttpClient(cache=tmp_path / "http-cache.sqlite")
    taken = []
    client.set_rate_limit("127.0.0.1", 1)
    client._buckets["127.0.0.1"].acquire = lambda: taken.append(1) or 0.0
    try:
        for _ in range(5):
            assert client.get_json(server.url + "/a") == {"ok": True}
        client.get_json(server.url + "/b")
    finally:
        client.close()

    assert len(taken) == 2  # one per request that reached the server


@pytest.mark.parametrize("failure", ["500", "down"])
def test_stale_if_error_serves_the_cached_response_when_the_server_then_fails(
    serve, tmp_path, failure
):
    app = Counter(JSON_OK, ("500 Internal Server Error", [], b"oops"))
    server = serve(app)
    client = HttpClient(cache=tmp_path / "cache.sqlite", retries=0)
    try:
        assert client.get_json(server.url + "/a") == {"ok": True}
        # make the cached copy stale, so the next call must go to the server
        client.session.cache.reset_expiration(datetime(2000, 1, 1, tzinfo=UTC))
        if failure == "down":
            server.close()

        assert client.get_json(server.url + "/a") == {"ok": True}
    finally:
        client.close()

    assert len(app.requests) == (2 if failure == "500" else 1)


# -- downloads (a real server on loopback) --------------------------------------------


class FileServer:
    """Serves ``body`` with an ETag, answers If-None-Match with 304, or cuts off halfway."""

    def __init__(self, body: bytes, etag: str = '"v1"', cut_off: bool = False) -> None:
        self.body, self.etag, self.cut_off = body, etag, cut_off
        self.statuses: list[int] = []
        self.conditional: list[str | None] = []

    def __call__(self, environ, start_response):
        sent_etag = environ.get("HTTP_IF_NONE_MATCH")
        self.conditional.append(sent_etag)
        if sent_etag == self.etag:
            self.statuses.append(304)
            start_response("304 Not Modified", [("ETag", self.etag)])
            return [b""]
        self.statuses.append(200)
        headers = [("Content-Length", str(len(self.body))), ("ETag", self.etag)]
        if self.cut_off:
            # promise the whole body, send half, then close the connection
            start_response("200 OK", [*headers, ("Connection", "close")])
            return [self.body[: len(self.body) // 2]]
        start_response("200 OK", headers)
        return [self.body]


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_an_interrupted_download_leaves_no_partial_file(serve, tmp_path):
    files = FileServer(b"x" * 100_000, cut_off=True)
    server = serve(files)
    dest = tmp_path / "premises.csv"

    with pytest.raises(ServiceUnavailable, match="cut off"):
        HttpClient().download(server.url + "/premises.csv", dest)

    assert list(tmp_path.iterdir()) == []  # neither dest nor a temp file


def test_an_interrupted_download_keeps_the_previous_good_file(serve, tmp_path):
    good = FileServer(b"old,good\n" * 1000, etag='"v1"')
    server = serve(good)
    dest = tmp_path / "premises.csv"
    client = HttpClient()
    client.download(server.url + "/premises.csv", dest)
    before = set(p.name for p in tmp_path.iterdir())

    good.body, good.etag, good.cut_off = b"new" * 50_000, '"v2"', True
    with pytest.raises(ServiceUnavailable):
        client.download(server.url + "/premises.csv", dest)

    assert dest.read_bytes() == b"old,good\n" * 1000
    assert leftovers(tmp_path, before) == []  # no temp file left behind


def test_an_unchanged_etag_transfers_nothing(serve, tmp_path):
    files = FileServer(b"id,bin,date\n1,black,2025-07-04\n")
    server = serve(files)
    dest = tmp_path / "jobs.csv"
    client = HttpClient()

    first = client.download(server.url + "/jobs.csv", dest)
    second = client.download(server.url + "/jobs.csv", dest)

    assert first.changed is True and first.bytes == len(files.body) and first.etag == '"v1"'
    assert second.changed is False and second.bytes == 0
    assert files.statuses == [200, 304] and files.conditional == [None, '"v1"']
    assert dest.read_bytes() == files.body


def test_a_changed_etag_downloads_again(serve, tmp_path):
    files = FileServer(b"v1 body")
    server = serve(files)
    dest = tmp_path / "f.csv"
    client = HttpClient()
    client.download(server.url + "/f.csv", dest)

    files.body, files.etag = b"v2 body, longer", '"v2"'
    again = client.download(server.url + "/f.csv", dest)

    assert again.changed is True and dest.read_bytes() == b"v2 body, longer"
    assert files.statuses == [200, 200]


def test_stream_into_a_folder_uses_the_urls_file_name(serve, tmp_path):
    server = serve(FileServer(b"a,b\n"))

    path = HttpClient().stream(server.url + "/data/dm_jobs.csv", tmp_path, progress=True)

    assert path == tmp_path / "dm_jobs.csv" and path.read_bytes() == b"a,b\n"


def test_a_download_error_status_is_typed(rsps_all_used, tmp_path):
    rsps_all_used.get(URL, status=404)

    with pytest.raises(APIError) as info:
        HttpClient().download(URL, tmp_path / "x")

    assert info.value.status == 404
    assert list(tmp_path.iterdir()) == []


def test_json_reply_helpers_post_form(rsps_all_used):
    rsps_all_used.post(URL, json={"sid": "SM1"})

    assert HttpClient().post_form(URL, {"To": "+447700900123"}) == {"sid": "SM1"}
    assert rsps_all_used.calls[0].request.body == "To=%2B447700900123"


# -- environment ----------------------------------------------------------------------

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def test_without_a_proxy_the_environment_is_read_once_and_the_ca_bundle_kept(monkeypatch):
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/council-proxy.pem")

    session = HttpClient().session

    assert session.trust_env is False
    assert session.verify == "/etc/ssl/certs/council-proxy.pem"


def test_a_configured_proxy_is_still_used(monkeypatch, rsps_all_used):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.council.example:3128")
    rsps_all_used.get(URL, json={})

    client = HttpClient()
    client.get_json(URL)

    assert client.session.trust_env is True
    assert rsps_all_used.calls[0].request.req_kwargs["proxies"]["https"] == (
        "http://proxy.council.example:3128"
    )


def test_status_retries_can_be_turned_off_per_request(rsps_all_used):
    rsps_all_used.get(URL, status=503)
    client = HttpClient(backoff=0)

    response = client.request("GET", URL, retry_statuses=False)

    assert response.status_code == 503
    assert len(rsps_all_used.calls) == 1
    client.get(URL)  # the default still retries
    assert len(rsps_all_used.calls) == 1 + 1 + client.retries


def test_the_cache_can_live_in_redis(serve, redis_url):
    import requests_cache
    from redis import Redis

    requests_cache.RedisCache(connection=Redis.from_url(redis_url)).clear()
    app = Counter(JSON_OK)
    server = serve(app)
    first, second = HttpClient(cache=redis_url), HttpClient(cache=redis_url)
    try:
        assert first.get_json(server.url + "/shared") == {"ok": True}
        # another client (another worker process, say) is answered from Redis
        assert second.get_json(server.url + "/shared") == {"ok": True}
    finally:
        first.close()
        second.close()

    assert len(app.requests) == 1
