"""streetwise: area lookups over 1,000,000 collisions, and the radius query against SQLite R*Tree.

* Data: a generated 1,000,000-row STATS19 file (the 2024 layout, points spread
  across Great Britain; shared with ``bench_stats19``) imported through
  ``sw import``'s importer, plus the bundled hospitals and postcodes, into an
  SQLite database under ``benchmarks/.data`` (built once, then reused).
* Crime is "live" from a local stand-in for data.police.uk that answers from
  the bundled snapshot, through the app's SQLite HTTP cache (and the app's
  in-memory memo of parsed answers, ``STREETWISE_CRIME_MEMO_TTL``). Every
  lookup is requested once to fill the caches; the measured lookups must then
  cause zero requests to the stand-in (printed), i.e. crime is served from
  the cache.
* In-process: p50 and p99 of ``GET /api/area/<postcode>`` and the HTML page
  through Flask's test client, over 38 central Leeds postcodes x 3 radii,
  rendered every time (``STREETWISE_PAGE_CACHE_TTL=0``) and with the page
  cache on (the default, 60 s).
* Under gunicorn (2 sync workers) on loopback, wrk with 32 connections: the
  area API and page against a hello-world route of the same app, same run.
* The radius query alone: ``PointIndex.within`` (exact, haversine) against
  the same question asked of the database alone: an SQLite R*Tree box query
  with the haversine filter in SQL. Both must return the same rows.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np

from benchmarks._common import data_dir, percentiles, ratio, table

ROWS = 1_000_000
R = 6_371_008.8
ROOT = Path(__file__).resolve().parent.parent


def _db() -> Path:
    return data_dir() / f"streetwise_{ROWS}.sqlite3"


def build_database() -> Path:
    """Import the generated STATS19 file and the bundled hospitals/postcodes (once)."""
    from benchmarks import bench_stats19
    from examples.common import make_engine
    from examples.streetwise import importer

    path = _db()
    marker = path.with_suffix(".ok")
    if path.exists() and marker.exists():
        return path
    path.unlink(missing_ok=True)
    csv_path = data_dir() / f"stats19_2024_{bench_stats19.ROWS}.csv"
    if not csv_path.exists():
        print(f"  generating {csv_path.name} ...", flush=True)
        bench_stats19.generate(csv_path)
    engine = make_engine(f"sqlite:///{path}")
    start = time.perf_counter()
    report = importer.import_collisions(engine, stats19=[csv_path], max_skipped=ROWS)
    print(
        f"  imported {report.rows:,} collisions ({report.skipped_count:,} skipped) "
        f"in {time.perf_counter() - start:.1f} s",
        flush=True,
    )
    files = importer.sample_files()
    importer.import_hospitals(engine, files["hospitals"][0])
    importer.import_postcodes(engine, files["postcodes"][0])
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE VIRTUAL TABLE sw_rtree USING rtree(id, min_lat, max_lat, min_lon, max_lon, +lat, +lon)"
        )
        conn.execute(
            "INSERT INTO sw_rtree SELECT id, latitude, latitude, longitude, longitude, "
            "latitude, longitude FROM sw_collisions"
        )
    engine.dispose()
    marker.write_text("ok")
    return path


# -- a stand-in for data.police.uk, answering from the bundled snapshot ----------------


class FakePolice:
    def __init__(self) -> None:
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

        from examples.streetwise import DATA_DIR, region

        snap = json.loads((DATA_DIR / "crime_snapshot.json").read_text())
        self.dates = snap["crimes-street-dates"]
        self.months = snap["crimes-street"]
        self.inside = region.inside
        self.hits = 0
        self._server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/api"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def __call__(self, environ, start_response):
        self.hits += 1
        path = environ["PATH_INFO"]
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if path.endswith("/crimes-street-dates"):
            body = self.dates
        else:
            poly = [tuple(map(float, p.split(","))) for p in query["poly"][0].split(":")]
            items = self.months.get(query["date"][0], [])
            lats = np.array([float(c["location"]["latitude"]) for c in items])
            lons = np.array([float(c["location"]["longitude"]) for c in items])
            mask = self.inside(lats, lons, poly) if items else []
            body = [c for c, keep in zip(items, mask, strict=True) if keep]
        data = json.dumps(body).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [data]

    def close(self) -> None:
        self._server.shutdown()


def _env(police_url: str, cache: Path, base: str = "http://localhost") -> dict[str, str]:
    """Production settings (``base``: the address the app is reached at) on the bench data."""
    return {
        "DATABASE_URL": f"sqlite:///{_db()}",
        "PUBLIC_BASE_URL": base,
        "STREETWISE_CRIME_SOURCE": "live",
        "STREETWISE_POLICE_URL": police_url,
        "STREETWISE_HTTP_CACHE": str(cache),
        "STREETWISE_POSTCODES_ONLINE": "0",
        "RATELIMIT_ENABLED": "0",
    }


def gunicorn_app():
    """The app gunicorn serves here, plus a hello-world route to compare with."""
    from examples.streetwise import create_app

    app = create_app()

    @app.get("/bench/hello")
    def hello():
        return "Hello, World!"

    return app


def _targets() -> list[tuple[str, int]]:
    from scripts.generate_streetwise_sample import CENTRAL_POSTCODES

    return [(pc, r) for pc, _, _ in CENTRAL_POSTCODES for r in (500, 1000, 2000)]


def in_process(police: FakePolice, cache: Path) -> list[list]:
    rows = []
    for ttl, how in (("0", "rendered each time"), ("60", "page cache, 60 s")):
        rows += _in_process(police, cache, ttl, how)
    return rows


def _in_process(police: FakePolice, cache: Path, ttl: str, how: str) -> list[list]:
    from examples.streetwise import create_app

    os.environ.update(_env(police.url, cache), STREETWISE_PAGE_CACHE_TTL=ttl)
    app = create_app()
    client = app.test_client()
    start = time.perf_counter()
    client.get("/api/area/LS1%201UR")
    print(f"  first request, {how} (loads and indexes 1,000,000 collisions): "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    targets = _targets()
    for pc, radius in targets:  # fill the HTTP cache
        assert client.get(f"/api/area/{pc}?radius_m={radius}").status_code == 200
    rows = []
    rng = random.Random(7)
    for label, prefix in (("area API (JSON)", "/api/area"), ("area page (HTML)", "/area")):
        hits_before = police.hits
        samples = []
        for _ in range(600):
            pc, radius = rng.choice(targets)
            t0 = time.perf_counter()
            response = client.get(f"{prefix}/{pc}?radius_m={radius}")
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 200
        cut = percentiles(samples)
        rows.append(
            [f"{label}, {how}", f"{cut[50] * 1000:.1f}", f"{cut[99] * 1000:.1f}",
             police.hits - hits_before]
        )  # fmt: skip
    for key in (*_env(police.url, cache), "STREETWISE_PAGE_CACHE_TTL"):
        os.environ.pop(key, None)
    from examples.streetwise import state

    state.get_engine(app).dispose()
    return rows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wrk(url: str, seconds: int = 8) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        print(f"  warning: {non2xx.group(1)} error responses from {url}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def under_gunicorn(police: FakePolice, cache: Path) -> list[list]:
    if not shutil.which("wrk"):
        return [["(wrk not installed: apt-get install -y wrk)", "-", "-"]]
    rows = []
    for ttl, how in (("0", "rendered each time"), ("60", "page cache, 60 s")):
        hello, api, page = _under_gunicorn(police, cache, ttl)
        if not rows:
            rows.append(["hello-world route", f"{hello:,.0f}", "1.00x"])
        rows += [
            [f"area API, LS1 1UR, 1 km, {how}", f"{api:,.0f}", ratio(api, hello)],
            [f"area page, LS1 1UR, 1 km, {how}", f"{page:,.0f}", ratio(page, hello)],
        ]
    return rows


def _under_gunicorn(police: FakePolice, cache: Path, ttl: str) -> tuple[float, float, float]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, **_env(police.url, cache, base), "STREETWISE_PAGE_CACHE_TTL": ttl}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level",
         "warning", "benchmarks.bench_streetwise:gunicorn_app()"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        import requests

        deadline = time.monotonic() + 120
        warmed = 0
        while warmed < 20 and time.monotonic() < deadline:  # both workers load the index
            try:
                if requests.get(f"{base}/api/area/LS1%201UR", timeout=60).ok:
                    warmed += 1
            except requests.ConnectionError:
                time.sleep(0.5)
        hits_before = police.hits
        hello = _wrk(f"{base}/bench/hello")
        api = _wrk(f"{base}/api/area/LS1%201UR?radius_m=1000")
        page = _wrk(f"{base}/area/LS1%201UR?radius_m=1000")
        print(f"  requests to the police.uk stand-in while measuring: {police.hits - hits_before}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return hello, api, page


def radius_query() -> list[list]:
    from civickit.geo import PointIndex

    path = _db()
    conn = sqlite3.connect(path)
    ids, lats, lons = (
        np.array(col)
        for col in zip(
            *conn.execute("SELECT id, latitude, longitude FROM sw_collisions"), strict=True
        )
    )
    t0 = time.perf_counter()
    index = PointIndex.from_arrays(lats, lons, ids.tolist())
    build_s = time.perf_counter() - t0
    rng = random.Random(11)
    points = [(rng.uniform(50.0, 58.6), rng.uniform(-6.0, 1.8)) for _ in range(3000)]
    radius = 1000.0

    t0 = time.perf_counter()
    ours = [index.within(lat, lon, radius) for lat, lon in points]
    ours_s = time.perf_counter() - t0

    sql = (
        "SELECT id FROM sw_rtree WHERE min_lat <= :lat_hi AND max_lat >= :lat_lo "
        "AND min_lon <= :lon_hi AND max_lon >= :lon_lo AND "
        "2 * :r * asin(sqrt(power(sin(radians(lat - :lat) / 2), 2) + cos(radians(:lat)) * "
        "cos(radians(lat)) * power(sin(radians(lon - :lon) / 2), 2))) <= :radius"
    )
    params = []
    for lat, lon in points:
        dlat = math.degrees(radius / R) * 1.001
        dlon = dlat / math.cos(math.radians(lat))
        params.append(
            {"lat": lat, "lon": lon, "lat_lo": lat - dlat, "lat_hi": lat + dlat,
             "lon_lo": lon - dlon, "lon_hi": lon + dlon, "r": R, "radius": radius}
        )  # fmt: skip
    t0 = time.perf_counter()
    theirs = [[row[0] for row in conn.execute(sql, p)] for p in params]
    theirs_s = time.perf_counter() - t0
    conn.close()
    same = sum(sorted(i for i, _ in a) == sorted(b) for a, b in zip(ours, theirs, strict=True))
    hits = sum(len(a) for a in ours)
    n = len(points)
    print(f"  PointIndex built over {len(index):,} points in {build_s:.1f} s; "
          f"{hits:,} hits in {n:,} queries; identical answers: {same:,}/{n:,}")  # fmt: skip
    return [
        ["civickit PointIndex.within (exact)", f"{n / ours_s:,.0f}", "1.00x"],
        [
            "SQLite R*Tree + haversine in SQL",
            f"{n / theirs_s:,.0f}",
            ratio(n / ours_s, n / theirs_s),
        ],
    ]


def main() -> None:
    print("streetwise: 1,000,000 generated STATS19 collisions across Great Britain", flush=True)
    build_database()
    cache = data_dir() / "streetwise_http_cache.sqlite"
    cache.unlink(missing_ok=True)
    police = FakePolice()
    try:
        print("\nIn-process area lookups (Flask test client, crime from the HTTP cache):")
        table(["request", "p50 ms", "p99 ms", "police.uk requests"], in_process(police, cache))
        print("\nUnder gunicorn, 2 sync workers, wrk -t2 -c32 on loopback:")
        table(["route", "requests/s", "vs hello-world"], under_gunicorn(police, cache))
    finally:
        police.close()
    print("\n1 km radius queries, 3,000 random points in Great Britain, one thread:")
    table(["query", "queries/s", "PointIndex is"], radius_query())


if __name__ == "__main__":
    main()
