"""Fixtures shared across the suite: real servers, databases and a real browser."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
STREETWISE_DATA = Path(__file__).parent.parent / "examples" / "streetwise" / "data"
DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]


@pytest.fixture(autouse=True)
def _no_postcode_directory_of_the_developer(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Postcodes()`` here never finds a directory on this machine (empty means "none")."""
    monkeypatch.setenv("CIVICKIT_POSTCODES", "")


@pytest.fixture(autouse=True)
def _apps_keep_their_files_in_a_temporary_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The apps' instance folder (SQLite files, secret key, the projected sample) is a
    temporary one, for apps made here and for every process a test starts: no test
    writes into the repository, nor reads a demo database a developer left there."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))


@pytest.fixture
def run() -> Callable[..., object]:
    """``run("postcode", "LS1 3EX")``: the ``civickit`` command, in process."""
    from click.testing import CliRunner

    from civickit.cli import cli

    return lambda *args, **kw: CliRunner().invoke(cli, list(args), **kw)


@pytest.fixture
def fixtures() -> Path:
    """The folder of real, trimmed published files (each with a SOURCE.txt)."""
    return FIXTURES


@pytest.fixture
def streetwise_data() -> Path:
    """streetwise's bundled data: its real excerpts (Leeds RTC 2015, NHS Hospital.csv) are
    kept once, there, with their sources in its SOURCE.txt."""
    return STREETWISE_DATA


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where tests save screenshots and reports for humans to look at.

    A temporary folder (the suite writes nothing into the tree), or the folder
    named by ``CIVICKIT_TEST_ARTIFACTS``.
    """
    chosen = os.environ.get("CIVICKIT_TEST_ARTIFACTS")
    if not chosen:
        return tmp_path_factory.mktemp("artifacts")
    folder = Path(chosen)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def docs_img() -> Path | None:
    """The docs' screenshot folder when ``make screenshots`` asks for it, else None.

    Only that target sets ``CIVICKIT_DOCS_IMG``; a plain test run leaves the
    tracked pictures in docs/img alone.
    """
    chosen = os.environ.get("CIVICKIT_DOCS_IMG")
    return Path(chosen) if chosen else None


@pytest.fixture
def rsps() -> Iterator[object]:
    """HTTP answered by ``responses``; a request no test registered fails loudly.

    Unused registrations are allowed (a test may register a fallback); tests
    that want every registration used take ``rsps_all_used`` instead.
    """
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def rsps_all_used() -> Iterator[object]:
    """As ``rsps``, and the test fails if a registered answer was never asked for
    (so a test of retries or paging knows every answer it set up was reached)."""
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


# -- a real HTTP server on loopback ------------------------------------------------


class LocalServer:
    """A WSGI app served on 127.0.0.1 from a background thread."""

    def __init__(self, app: Callable) -> None:
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture
def serve() -> Iterator[Callable[[Callable], LocalServer]]:
    """Start WSGI apps on loopback for the test: ``server = serve(app); server.url``."""
    servers: list[LocalServer] = []

    def start(app: Callable) -> LocalServer:
        server = LocalServer(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


# -- PostgreSQL and Redis (the scale path) -------------------------------------------


def _postgres_url_or_skip() -> str:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure means: no server we can use here
        pytest.skip(
            f"PostgreSQL not reachable at {url} ({exc.__class__.__name__}); "
            "set TEST_DATABASE_URL to run the scale-path tests"
        )
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A reachable PostgreSQL URL (TEST_DATABASE_URL), or the test is skipped, saying why."""
    return _postgres_url_or_skip()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis URL (TEST_REDIS_URL), or the test is skipped, saying why."""
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        pytest.skip(
            f"Redis not reachable at {url} ({exc.__class__.__name__}); "
            "set TEST_REDIS_URL to run the Redis tests"
        )
    return url


# -- a real browser --------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (``apt-get install chromium``; .ci/run does it)."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(
            f"Chromium not found at {CHROMIUM}: run `apt-get install -y chromium` "
            "(.ci/run does) or set CHROMIUM=/path/to/chromium"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def serious_axe_violations(page: object) -> list[dict]:
    """Run axe-core in the page; return its serious and critical violations (empty is good)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


@pytest.fixture
def axe() -> Callable[[object], list[dict]]:
    """``assert axe(page) == []``: no serious or critical accessibility violations."""
    return serious_axe_violations


@pytest.fixture
def fixture_json(request: pytest.FixtureRequest) -> Callable[[str], object]:
    """``fixture_json("name.json")``: a recorded answer, parsed, from ``tests/fixtures/<source>/``,
    the source the test module names (``FIXTURE_SOURCE = "police_uk"``)."""
    from functools import partial

    from tests.helpers import load_json

    source = getattr(request.module, "FIXTURE_SOURCE", None)
    if source is None:
        pytest.fail(f"{request.module.__name__} takes fixture_json but names no FIXTURE_SOURCE")
    return partial(load_json, source)
