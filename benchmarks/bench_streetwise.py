"""streetwise at national scale: 5,000,000 generated collisions in the real 2023 STATS19 layout.

    make bench BENCH=streetwise                      # 5,000,000 rows
    STREETWISE_BENCH_ROWS=1000000 make bench BENCH=streetwise

* Data: generated collisions in the 44-column 2023 ``collision_*`` layout (the
  header of the real 2023 file bundled with streetwise), spread over Great
  Britain: each row takes a random district of the bundled ONS boundaries and a
  random point in that district's box, with the district's code in
  ``local_authority_ons_district``. Generated once under ``benchmarks/.data``.
* Import: ``sw import``'s importer (read, stage, index, grid-cell or PostGIS
  index, swap), each in a fresh process: time and peak RSS, into SQLite and
  into PostgreSQL (PostGIS where installed), against reading the same file
  with ``csv.reader`` and keeping nothing.
* Worker start: a fresh process makes the app and answers its first area
  request (what each gunicorn worker pays), with the modules' bytecode
  written first as an installed app has it: time and peak RSS, with the
  radius query in the database (``auto``) against loading every collision
  into a ``PointIndex`` (``memory``, the old way).
* In-process: p50 and p99 of the area API and page through Flask's test
  client, uncached (``STREETWISE_PAGE_CACHE_TTL=0``), crime from the bundled
  snapshot (no network), over the real postcodes of the bundled directory.
* Under gunicorn (2 sync workers, wrk -t2 -c32 on loopback), uncached: the
  area API and page against a hello-world route of the same app.
* SQLite's spatial index: the grid index the import builds against the
  R*Tree it replaced, built on the same imported table, and 1,000 1 km
  queries through each.
* The radius query alone: ``PointIndex.within`` against SQLite's grid index and
  PostGIS ``ST_DWithin`` on the geography column (through ``spatial.within``,
  which also applies the exact haversine filter); the answers must match.
"""

from __future__ import annotations

import contextlib
import csv
import os
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._common import data_dir, in_child, percentiles, ratio, table

ROWS = int(os.environ.get("STREETWISE_BENCH_ROWS", "5000000"))
ROOT = Path(__file__).resolve().parent.parent
HEADER_FILE = ROOT / "examples" / "streetwise" / "data" / "stats19_collision_2023_head_real.csv"
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MEMORY_WORKER_MAX = int(os.environ.get("STREETWISE_BENCH_MEMORY_WORKER_MAX", "2000000"))
POSTCODES = ["LS1 3EX", "NW1 2BU", "CF24 4NP", "NP20 6ZE", "LS9 7TF", "WC1N 3JH", "LS2 9LN"]


def generate(path: Path, rows: int = ROWS) -> Path:
    """``rows`` collisions in the 2023 layout, spread over Great Britain's districts."""
    from examples.streetwise.districts import Districts

    with HEADER_FILE.open(encoding="utf-8-sig") as f:
        header = next(csv.reader(f))
    at = {name: i for i, name in enumerate(header)}
    districts = [d for d in (Districts().get(c) for c in Districts().codes()) if d is not None]
    districts = [d for d in districts if not d.code.startswith("N") and d.polygons]
    rng = random.Random(20231)
    tmp = path.with_suffix(".part")
    with tmp.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        template = ["-1"] * len(header)
        for i in range(rows):
            d = districts[i % len(districts)] if i < len(districts) else rng.choice(districts)
            south, west, north, east = d.bbox
            row = list(template)
            year = 2015 + i % 9
            row[at["collision_index"]] = f"{year}{i:09d}"
            row[at["collision_year"]] = str(year)
            row[at["collision_ref_no"]] = f"{i:09d}"
            row[at["latitude"]] = f"{rng.uniform(south, north):.6f}"
            row[at["longitude"]] = f"{rng.uniform(west, east):.6f}"
            row[at["collision_severity"]] = str(rng.choice((1, 2, 2, 3, 3, 3, 3, 3, 3, 3)))
            row[at["number_of_vehicles"]] = str(rng.randint(1, 3))
            row[at["number_of_casualties"]] = str(rng.randint(1, 2))
            row[at["date"]] = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{year}"
            row[at["time"]] = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
            row[at["local_authority_ons_district"]] = d.code
            row[at["local_authority_highway"]] = d.code
            row[at["first_road_class"]] = str(rng.randint(1, 6))
            writer.writerow(row)
    tmp.replace(path)
    return path


def input_file() -> Path:
    path = data_dir() / f"stats19_2023_layout_{ROWS}.csv"
    if not path.exists():
        print(f"  generating {path.name} ...", flush=True)
        generate(path)
    return path


def _sqlite_url() -> str:
    return f"sqlite:///{data_dir() / f'streetwise_{ROWS}.sqlite3'}"


def _pg_url() -> str | None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS bench_streetwise"))
            with contextlib.suppress(sa.exc.DBAPIError):
                conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except Exception as exc:  # no server: that column is skipped
        print(f"  PostgreSQL not reachable at {PG_URL} ({exc.__class__.__name__}): skipped")
        return None
    finally:
        engine.dispose()
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3Dbench_streetwise"


def _import(url: str, path: Path) -> int:
    from examples.common import make_engine
    from examples.streetwise import importer

    engine = make_engine(url)
    report = importer.import_collisions(engine, stats19=[path], max_skipped=ROWS)
    importer.import_hospitals(
        engine, importer.sample_files()["hospitals"][0], as_of=importer.SAMPLE_HOSPITALS_AS_OF
    )
    engine.dispose()
    return report.rows


def _read_only(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def imports(path: Path, urls: dict[str, str]) -> list[list]:
    rows = []
    # a fresh SQLite file each run: an import into an old one reuses the pages the old
    # table left free, and its time and size depend on the runs before
    sqlite_file = Path(urls["SQLite"].removeprefix("sqlite:///"))
    for leftover in (sqlite_file, *(Path(f"{sqlite_file}{x}") for x in ("-wal", "-shm"))):
        leftover.unlink(missing_ok=True)
    base_s, n, base_rss = in_child(lambda: _read_only(path))
    rows.append(["csv.reader over the file, keeping nothing", f"{base_s:.1f}", f"{base_rss:.0f}",
                 "1.00x"])  # fmt: skip
    for name, url in urls.items():
        seconds, loaded, rss = in_child(lambda url=url: _import(url, path))
        assert loaded == n, (name, loaded, n)
        rows.append([f"sw import into {name}", f"{seconds:.1f}", f"{rss:.0f}",
                     ratio(seconds, base_s)])  # fmt: skip
    return rows


def _app(url: str, index: str = "auto"):
    from examples.streetwise import create_app
    from examples.streetwise.demo import SAMPLE_POSTCODES

    return create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "CRIME_SOURCE": "snapshot",
            "HTTP_CACHE": "",
            "PAGE_CACHE_TTL": 0,
            "POSTCODES_DIRECTORY": str(SAMPLE_POSTCODES),
            "POSTCODES_ONLINE": False,
            "COLLISION_INDEX": index,
            "RATELIMIT_ENABLED": False,
            # production refuses to start without it (links never follow the Host header)
            "PUBLIC_BASE_URL": os.environ.get("BENCH_PUBLIC_BASE_URL", "http://localhost"),
        }
    )


def _first_request(url: str, index: str) -> int:
    app = _app(url, index)
    response = app.test_client().get("/api/area/LS1%203EX?radius_m=1000")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return int(response.get_json()["collisions"]["total"]["count"])


def _write_bytecode(url: str) -> int:
    """One untimed start that writes the bytecode of every module a worker imports.

    An installed app has it (pip compiles at install time; Python writes it at
    first import), but this machine sets PYTHONDONTWRITEBYTECODE, and without it
    each fresh process spends about a second compiling sources.
    """
    sys.dont_write_bytecode = False
    return _first_request(url, "auto")


def worker_start(urls: dict[str, str]) -> list[list]:
    rows = []
    for url in urls.values():
        in_child(lambda url=url: _write_bytecode(url))
    ways = [("auto", "radius query in the database")]
    if ROWS <= MEMORY_WORKER_MAX:
        ways.append(("memory", "every collision in a PointIndex"))
    else:
        print(f"  (the PointIndex worker is not started over {MEMORY_WORKER_MAX:,} rows: on this "
              "shared machine its memory grows with every row; a 1,000,000-row run measures it)")  # fmt: skip
    for name, url in urls.items():
        for index, how in ways:
            seconds, count, rss = in_child(lambda url=url, index=index: _first_request(url, index))
            rows.append([f"{name}: {how}", f"{seconds:.2f}", f"{rss:.0f}", count])
    return rows


def in_process(url: str) -> list[list]:
    app = _app(url)
    client = app.test_client()
    targets = [(pc, r) for pc in POSTCODES for r in (500, 1000, 2000)]
    for pc, radius in targets:
        assert client.get(f"/api/area/{pc}?radius_m={radius}").status_code == 200
    rng = random.Random(7)
    rows = []
    for label, prefix in (("area API (JSON)", "/api/area"), ("area page (HTML)", "/area")):
        samples = []
        for _ in range(300):
            pc, radius = rng.choice(targets)
            t0 = time.perf_counter()
            response = client.get(f"{prefix}/{pc}?radius_m={radius}")
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 200
        cut = percentiles(samples)
        rows.append([f"{label}, uncached", f"{cut[50] * 1000:.1f}", f"{cut[99] * 1000:.1f}"])
    return rows


def profile(url: str) -> None:
    """Where an uncached area API request spends its time (cProfile, top 12 by own time)."""
    import cProfile
    import pstats

    app = _app(url)
    client = app.test_client()
    client.get("/api/area/LS1%203EX?radius_m=1000")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(30):
        client.get("/api/area/LS1%203EX?radius_m=1000")
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(12)


def gunicorn_app():
    """The app gunicorn serves here, plus a hello-world route to compare with."""
    app = _app(os.environ["BENCH_DATABASE_URL"])

    @app.get("/bench/hello")
    def hello():
        return "Hello, World!"

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wrk(url: str, seconds: int = 8) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        print(f"  warning: {non2xx.group(1)} error responses from {url}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(found.group(1)) if found else 0.0


def under_gunicorn(url: str) -> list[list]:
    if not shutil.which("wrk"):
        return [["(wrk not installed: apt-get install -y wrk)", "-", "-"]]
    import requests

    port = _free_port()
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": url,
        "BENCH_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level",
         "warning", "benchmarks.bench_streetwise:gunicorn_app()"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        warmed = 0
        while warmed < 10 and time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/api/area/LS1%203EX", timeout=60).ok:
                    warmed += 1
            except requests.ConnectionError:
                time.sleep(0.5)
        hello = _wrk(f"{base}/bench/hello")
        api = _wrk(f"{base}/api/area/LS1%203EX?radius_m=1000")
        page = _wrk(f"{base}/area/LS1%203EX?radius_m=1000")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return [
        ["hello-world route", f"{hello:,.0f}", "1.00x"],
        ["area API, LS1 3EX, 1 km, uncached", f"{api:,.0f}", ratio(api, hello)],
        ["area page, LS1 3EX, 1 km, uncached", f"{page:,.0f}", ratio(page, hello)],
    ]


def radius_queries(urls: dict[str, str]) -> list[list]:
    import numpy as np
    import sqlalchemy as sa

    from civickit.geo import PointIndex
    from examples.common import make_engine
    from examples.streetwise import spatial

    engine = make_engine(urls["SQLite"])
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT latitude, longitude FROM sw_collisions")).all()
    lats = np.fromiter((r[0] for r in rows), dtype=float, count=len(rows))
    lons = np.fromiter((r[1] for r in rows), dtype=float, count=len(rows))
    del rows
    t0 = time.perf_counter()
    index = PointIndex.from_arrays(lats, lons)
    build_s = time.perf_counter() - t0
    del lats, lons
    rng = random.Random(11)
    points = [(rng.uniform(50.5, 55.8), rng.uniform(-4.5, 1.5)) for _ in range(1000)]
    radius = 1000.0
    t0 = time.perf_counter()
    ours = [len(index.within(lat, lon, radius)) for lat, lon in points]
    ours_s = time.perf_counter() - t0
    print(f"  PointIndex built over {len(index):,} points in {build_s:.1f} s; "
          f"{sum(ours):,} hits in {len(points):,} queries")  # fmt: skip
    rows = [["civickit PointIndex.within (in memory)", f"{len(points) / ours_s:,.0f}", "1.00x",
             "-"]]  # fmt: skip
    for name, url in urls.items():
        db = engine if name == "SQLite" else make_engine(url)
        t0 = time.perf_counter()
        theirs = [len(spatial.within(db, lat, lon, radius)) for lat, lon in points]
        s = time.perf_counter() - t0
        same = sum(a == b for a, b in zip(ours, theirs, strict=True))
        label = "SQLite grid index" if name == "SQLite" else "PostGIS ST_DWithin (geography)"
        rows.append([f"{label} + haversine", f"{len(points) / s:,.0f}",
                     ratio(len(points) / ours_s, len(points) / s),
                     f"{same}/{len(points)}"])  # fmt: skip
        if db is not engine:
            db.dispose()
    engine.dispose()
    return rows


def sqlite_indexes(url: str) -> list[list]:
    """The grid index the import builds against the R*Tree it replaced, on the same table:
    build time, and 1 km queries (box from the index, then the exact haversine filter)."""
    from examples.streetwise import spatial

    path = url.removeprefix("sqlite:///")
    rng = random.Random(11)
    points = [(rng.uniform(50.5, 55.8), rng.uniform(-4.5, 1.5)) for _ in range(1000)]
    radius = 1000.0
    columns = "latitude, longitude, severity, year, casualties"
    rows = []
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA cache_size=-65536")  # as the import's staging connection
        builds = {
            "grid index (the import's)": (
                f"CREATE INDEX bench_grid ON sw_collisions ({spatial.CELL}, {columns})",
                "DROP INDEX bench_grid",
            ),
            "R*Tree (before)": (
                "CREATE VIRTUAL TABLE bench_rtree USING rtree(id, s, n, w, e); "
                "INSERT INTO bench_rtree SELECT id, latitude, latitude, longitude, longitude "
                "FROM sw_collisions",
                "DROP TABLE bench_rtree",
            ),
        }
        counts: dict[str, list[int]] = {}
        for name, (build, drop) in builds.items():
            t0 = time.perf_counter()
            db.executescript(build)
            db.commit()
            build_s = time.perf_counter() - t0
            found = []
            t0 = time.perf_counter()
            for lat, lon in points:
                south, north, west, east = spatial.box(lat, lon, radius)
                if name.startswith("grid"):
                    ranges = spatial.cell_ranges(south, north, west, east)
                    sql = f"SELECT {columns} FROM sw_collisions INDEXED BY bench_grid WHERE " + (
                        " OR ".join([f"{spatial.CELL} BETWEEN ? AND ?"] * len(ranges))
                    )
                    got = db.execute(sql, [x for r in ranges for x in r]).fetchall()
                else:
                    got = db.execute(
                        f"SELECT {', '.join('c.' + c for c in columns.split(', '))} "
                        "FROM bench_rtree r JOIN sw_collisions c ON c.id = r.id "
                        "WHERE r.s >= ? AND r.n <= ? AND r.w >= ? AND r.e <= ?",
                        (south, north, west, east),
                    ).fetchall()
                found.append(len(spatial._nearest(lat, lon, radius, got)))
            query_s = time.perf_counter() - t0
            counts[name] = found
            db.executescript(drop)
            db.commit()
            rows.append([name, f"{build_s:.1f}", f"{len(points) / query_s:,.0f}"])
        same = sum(a == b for a, b in zip(*counts.values(), strict=True))
        print(f"  the same count in {same}/{len(points)} queries")
    return rows


def table_sizes(urls: dict[str, str]) -> None:
    import sqlalchemy as sa

    path = Path(urls["SQLite"].removeprefix("sqlite:///"))
    with sqlite3.connect(path) as db:
        pages, free, size = (
            db.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("page_count", "freelist_count", "page_size")
        )
    used = (pages - free) * size
    print(f"  SQLite file: {path.stat().st_size / 1e6:,.0f} MB, of which in use "
          f"{used / 1e6:,.0f} MB ({used / ROWS:,.0f} B per collision, with its indexes)")  # fmt: skip
    if "PostgreSQL" in urls:
        engine = sa.create_engine(urls["PostgreSQL"])
        with engine.connect() as conn:
            size = conn.execute(sa.text("SELECT pg_total_relation_size('sw_collisions')")).scalar()
        engine.dispose()
        print(f"  PostgreSQL sw_collisions with its indexes: {size / 1e6:,.0f} MB "
              f"({size / ROWS:,.0f} B per collision)")  # fmt: skip


def main() -> None:
    print(f"streetwise: {ROWS:,} generated collisions, 2023 STATS19 layout, across Great Britain")
    path = input_file()
    print(f"  input: {path.name}, {path.stat().st_size / 1e6:,.0f} MB", flush=True)
    urls = {"SQLite": _sqlite_url()}
    pg = _pg_url()
    if pg:
        urls["PostgreSQL"] = pg
    print("\nImport (fresh process each; peak RSS of that process):")
    table(["import", "seconds", "peak RSS MB", "time vs bare read"], imports(path, urls))
    table_sizes(urls)
    print("\nWorker start: a fresh process, create_app() and its first area request:")
    table(["worker", "seconds", "peak RSS MB", "collisions in 1 km"], worker_start(urls))
    for name, url in urls.items():
        print(f"\nIn-process, {name} (Flask test client, 300 requests each):")
        table(["request", "p50 ms", "p99 ms"], in_process(url))
    print("\nProfile of the uncached area API on SQLite (30 requests):")
    profile(urls["SQLite"])
    for name, url in urls.items():
        print(f"\nUnder gunicorn, {name}, 2 sync workers, wrk -t2 -c32, uncached:")
        table(["route", "requests/s", "vs hello-world"], under_gunicorn(url))
    print("\nSQLite spatial index, built on the imported table, 1 km queries from 1,000 points:")
    table(["index", "build s", "queries/s"], sqlite_indexes(urls["SQLite"]))
    print("\n1 km radius queries, 1,000 random points in Great Britain, one thread:")
    table(["query", "queries/s", "PointIndex is", "same counts"], radius_queries(urls))
    print(f"\n  this process's peak RSS: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
