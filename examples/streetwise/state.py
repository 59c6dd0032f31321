"""The app's long-lived objects, made once per app by :func:`init_app` (flaskr's ``get_db()``).

Views, commands and the area figures ask for them through the accessors
below, which take the app explicitly or use the current one. Only this
module knows where they are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context

from civickit.http import HttpClient
from civickit.police import PoliceUK
from civickit.postcodes import PostcodeDirectory, Postcodes
from examples.common import MemoryCache, make_engine

from . import models
from .districts import BOUNDARIES_FILE, Districts
from .store import Loaded, LoadedData, settled

if TYPE_CHECKING:
    from .crime import Snapshot

_KEY = "streetwise"
#: police.uk's published limit (requests a second, burst), applied to cache misses only
POLICE_RATE = (15.0, 30.0)


class State:
    """Everything one streetwise app keeps between requests."""

    def __init__(self, app: Flask) -> None:
        config = app.config
        self.config = config
        self.engine = make_engine(config["DATABASE_URL"])
        models.create_all(self.engine)
        # rendered area pages and API answers, keyed on the place, radius and data version
        self.pages = MemoryCache(ttl=config["PAGE_CACHE_TTL"])
        self.data = LoadedData(self.engine, config.get("COLLISION_INDEX", "auto"))

    # Made on first use, so that settings changed after create_app() (the demo's
    # offline timeouts) still apply; cached_property keeps the first one made.

    @cached_property
    def http(self) -> HttpClient:
        return make_http(self.config)

    @cached_property
    def answers(self) -> MemoryCache:
        """Parsed police.uk answers: the HTTP cache saves the network; this saves
        re-reading, decoding and parsing thirteen cached answers on every page."""
        return MemoryCache(4096, ttl=self.config.get("CRIME_MEMO_TTL", 600))

    @cached_property
    def districts(self) -> Districts:
        """Every district's name, land area and boundary (a finer imported set if any)."""
        chosen = Path(self.config.get("BOUNDARIES_FILE") or BOUNDARIES_FILE)
        return settled(Districts(chosen if chosen.is_file() else BOUNDARIES_FILE))

    @cached_property
    def directory(self) -> PostcodeDirectory | None:
        """The local postcode directory, or ``None`` (then civickit's default is tried)."""
        path = self.config.get("POSTCODES_DIRECTORY") or ""
        if path.lower() == "none" or not path or not Path(path).is_file():
            return None
        return PostcodeDirectory(path)

    @cached_property
    def postcodes(self) -> Postcodes:
        """The directory first, postcodes.io for the rest (``resolve`` honours
        ``POSTCODES_ONLINE`` by asking the directory alone)."""
        directory = self.directory
        setting = (self.config.get("POSTCODES_DIRECTORY") or "").lower()
        return Postcodes(
            base_url=self.config["POSTCODES_BASE_URL"],
            http=self.http,
            local=directory if directory is not None else (False if setting == "none" else None),
        )

    @cached_property
    def snapshot(self) -> Snapshot:
        """The bundled police.uk recording, parsed on first use (not every app needs it)."""
        from .crime import load_snapshot

        return settled(load_snapshot(Path(self.config["CRIME_SNAPSHOT"])))


def init_app(app: Flask) -> None:
    """Connect to the database (creating missing tables) and make the HTTP client and caches."""
    app.extensions[_KEY] = State(app)


def make_http(config: Mapping[str, Any]) -> HttpClient:
    """The one HttpClient for police.uk and postcodes.io: cached, short timeouts, few retries."""
    cache: str = config["HTTP_CACHE"]
    if cache and not cache.startswith(("redis://", "rediss://", "unix://")):
        Path(cache).expanduser().parent.mkdir(parents=True, exist_ok=True)
    client = HttpClient(
        timeout=tuple(config["UPSTREAM_TIMEOUT"]),
        retries=config["UPSTREAM_RETRIES"],
        backoff=0.3,
        cache=cache or None,
        cache_ttl=config["HTTP_CACHE_TTL"],
    )
    # police.uk's limit; HttpClient takes tokens beneath its cache, so hits are free
    rate = config.get("POLICE_RATE", POLICE_RATE)
    host = urlsplit(config["POLICE_BASE_URL"]).hostname or ""
    if host and not client.has_rate_limit(host):
        client.set_rate_limit(host, rate[0], burst=rate[1])
    return client


def _state(app: Flask | None) -> State:
    state: State = (app or current_app).extensions[_KEY]
    return state


def get_engine(app: Flask | None = None) -> sa.Engine:
    """The app's database engine."""
    return _state(app).engine


def get_http(app: Flask | None = None) -> HttpClient:
    """The app's one HTTP client (police.uk and postcodes.io share its session and cache)."""
    return _state(app).http


def get_police(app: Flask | None = None) -> PoliceUK:
    """A police.uk client on the app's HTTP client.

    A new (cheap) client each time: a client keeps its month list for an
    hour, and the month list must come, as in every worker, from the shared
    HTTP cache and :func:`get_answers`, which expire together.
    """
    app = app or current_app
    return PoliceUK(base_url=app.config["POLICE_BASE_URL"], http=get_http(app))


def get_postcodes(app: Flask | None = None) -> Postcodes:
    """Postcode lookups: the local directory first, postcodes.io (on the app's HTTP
    client) for what it lacks, unless ``POSTCODES_ONLINE`` is off."""
    return _state(app).postcodes


def get_districts(app: Flask | None = None) -> Districts:
    """The local authority districts: names, land areas, boundaries."""
    return _state(app).districts


def get_cache(app: Flask | None = None) -> MemoryCache:
    """Rendered area pages and API answers (``PAGE_CACHE_TTL`` seconds; 0: off)."""
    return _state(app).pages


def get_answers(app: Flask | None = None) -> MemoryCache:
    """Parsed police.uk answers (``CRIME_MEMO_TTL`` seconds; 0: off)."""
    return _state(app).answers


def get_data(app: Flask | None = None) -> Loaded:
    """The loaded collisions and hospitals, rebuilt first if an import has changed them.

    Asked once per request (the answer is kept on ``flask.g``): one request sees one
    version of the data, and asks the database about it once.
    """
    if not has_request_context():
        return _state(app).data.get()
    found: Loaded | None = g.get("_streetwise_data")
    if found is None:
        found = g._streetwise_data = _state(app).data.get()
    return found


def get_snapshot(app: Flask | None = None) -> Snapshot:
    """The bundled crime snapshot (``CRIME_SNAPSHOT``), parsed once."""
    return _state(app).snapshot
