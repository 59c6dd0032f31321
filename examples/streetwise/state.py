"""The app's long-lived objects, each made once per app on first use (flaskr's ``get_db()``).

Views, commands and the area figures ask for them through the accessors
below, which take the app explicitly or use the current one. Only this module
knows where they are kept, and it imports nothing of the app but its tables:
the modules that use these objects import this one, never the reverse. What
the app's own modules load once (the districts, the crime snapshot, the loaded
collisions) they keep here too, through :func:`kept`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, current_app

from civickit.http import HttpClient
from civickit.police import PoliceUK
from civickit.postcodes import PostcodeDirectory, Postcodes
from examples.common import ImportLog, MemoryCache, made_once, make_engine, show_sample_notice

from . import models

T = TypeVar("T")
#: police.uk's published limit (requests a second, burst), applied to cache misses only
POLICE_RATE = (15.0, 30.0)


def init_app(app: Flask) -> None:
    """Show the "Sample data" notice while a sample is loaded or crime comes from the snapshot."""
    show_sample_notice(
        app,
        lambda: app.config["CRIME_SOURCE"] == "snapshot" or get_import_log(app).serving().is_sample,
    )


def get_engine(app: Flask | None = None) -> sa.Engine:
    """The app's database engine (its tables are created on first use)."""
    return made_once(app or current_app, _engine)


def get_http(app: Flask | None = None) -> HttpClient:
    """The app's one HTTP client (police.uk and postcodes.io share its session and cache)."""
    return made_once(app or current_app, _http)


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
    return made_once(app or current_app, _postcodes)


def get_cache(app: Flask | None = None) -> MemoryCache:
    """Rendered area pages and API answers (``PAGE_CACHE_TTL`` seconds; 0: off)."""
    return made_once(app or current_app, _pages)


def get_answers(app: Flask | None = None) -> MemoryCache:
    """Parsed police.uk answers (``CRIME_MEMO_TTL`` seconds; 0: off).

    The HTTP cache saves the network; this saves re-reading, decoding and
    parsing thirteen cached answers on every page.
    """
    return made_once(app or current_app, _answers)


def get_import_log(app: Flask | None = None) -> ImportLog:
    """The record of imports, and of the data serving now (``.serving()``).

    Asked afresh each time: an import in another process (``flask sw import``)
    is seen by the next request.
    """
    return made_once(app or current_app, _import_log)


def kept(make: Callable[[Flask], T], app: Flask | None = None) -> T:
    """``make(app)``, made on first use and kept for the app's life.

    How the app's own modules keep what they load once (``districts``,
    ``crime``'s snapshot, ``store``'s loaded data) without this module
    importing them.
    """
    return made_once(app or current_app, make)


# Made on first use, so that settings changed after create_app() (the demo's
# offline timeouts) still apply.


def _engine(app: Flask) -> sa.Engine:
    engine = make_engine(app.config["DATABASE_URL"])
    models.create_all(engine)
    return engine


def _http(app: Flask) -> HttpClient:
    return make_http(app.config)


def _postcodes(app: Flask) -> Postcodes:
    # POSTCODES_DIRECTORY: a directory file; "none" for postcodes.io alone; a missing
    # file lets civickit try its default (CIVICKIT_POSTCODES, the user's data folder)
    setting = app.config.get("POSTCODES_DIRECTORY") or ""
    local: PostcodeDirectory | Literal[False] | None = None
    if setting.lower() == "none":
        local = False
    elif setting and Path(setting).is_file():
        local = PostcodeDirectory(setting)
    return Postcodes(base_url=app.config["POSTCODES_BASE_URL"], http=get_http(app), local=local)


def _pages(app: Flask) -> MemoryCache:
    # keyed on the place, the radius and the data version
    return MemoryCache(ttl=app.config["PAGE_CACHE_TTL"])


def _answers(app: Flask) -> MemoryCache:
    return MemoryCache(4096, ttl=app.config.get("CRIME_MEMO_TTL", 600))


def _import_log(app: Flask) -> ImportLog:
    return ImportLog(get_engine(app), models.imports)


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
