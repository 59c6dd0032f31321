"""The local postcode directory over 2,700,000 generated rows in the ONSPD layout.

* **build**: ``PostcodeDirectory.build`` on the CSV (parse, insert, R*Tree,
  atomic swap) in a fresh child: seconds, peak RSS and file size. Peer: the
  csv module reading the same file and keeping nothing, the floor of any
  builder written in Python.
* **lookups**: ``lookup_many`` of 200,000 postcodes drawn at random from the
  file (a third of them retired, as in the real directory) against
  ``Postcodes.lookup_many`` on postcodes.io's bulk endpoint served by a local
  stand-in on loopback, in another process. The stand-in does no lookup work
  (it answers every postcode with postcodes.io's documented record, renamed),
  so the peer's rate is the best postcodes.io could ever do over HTTP.
  One-at-a-time ``lookup`` is measured against the stand-in's ``GET`` too.
* **nearest**: postcodes in use within 100 m (at most 10) of 20,000 points
  near random postcodes, from the file's R*Tree, against
  ``civickit.geo.PointIndex`` holding the same 1.7 million points in memory
  (its build time and memory are shown); both answers must agree.

Rates alternate between contenders in rounds, as the machine is shared. The
input is generated once into benchmarks/.data/ (about 1.5 GB).
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from benchmarks._common import data_dir, in_child, ratio, table
from benchmarks._onspd import generate

ROWS = 2_700_000
LOOKUPS = 200_000
PEER_LOOKUPS = 20_000
SINGLE = 20_000
PEER_SINGLE = 2_000
NEAREST = 20_000
ROUNDS = 4
RADIUS_M = 100
LIMIT = 10
EXAMPLE = Path(__file__).parent.parent / "tests" / "fixtures" / "postcodes_io"


def source() -> Path:
    path = data_dir() / f"onspd_generated_{ROWS}.csv"
    if not path.exists():
        print(f"generating {ROWS:,} rows in the ONSPD layout into {path} (once)", flush=True)
        generate(path, ROWS)
    return path


def build(src: Path, dest: Path) -> int:
    from civickit.postcodes import PostcodeDirectory

    return len(PostcodeDirectory.build(src, dest))


def csv_floor(src: Path) -> int:
    with src.open(encoding="utf-8", newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


# -- the postcodes.io stand-in ---------------------------------------------------------


def _stand_in(port_out: Any) -> None:
    """postcodes.io's lookup and bulk lookup routes, over HTTP/1.1 with keep-alive."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import unquote

    record = json.loads((EXAMPLE / "lookup_BR87RE_200.json").read_text())["result"]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # no 40 ms wait between headers and body
        wbufsize = 1 << 16  # headers and body leave in one write

        def _send(self, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            postcode = unquote(self.path.rsplit("/", 1)[-1])
            self._send({"status": 200, "result": {**record, "postcode": postcode}})

        def do_POST(self) -> None:
            asked = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["postcodes"]
            results = [{"query": q, "result": {**record, "postcode": q}} for q in asked]
            self._send({"status": 200, "result": results})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.put(server.server_port)
    server.serve_forever()


def _sample(db_path: Path, n: int, seed: int) -> tuple[list[str], list[tuple[float, float]]]:
    """Random postcodes from the directory, and points near random postcodes in use."""
    from civickit.postcodes import _postcode

    db = sqlite3.connect(db_path)
    keys = [k for (k,) in db.execute("SELECT key FROM postcodes")]
    rng = random.Random(seed)
    pcs = [_postcode(k) for k in rng.sample(keys, n)]
    del keys
    live = db.execute(
        "SELECT latitude, longitude FROM postcodes "
        "WHERE terminated IS NULL AND latitude IS NOT NULL AND key % 41 = 0"
    ).fetchall()
    db.close()
    points = []
    for lat, lon in rng.sample(live, NEAREST):
        points.append(
            (lat / 1e6 + rng.uniform(-0.001, 0.001), lon / 1e6 + rng.uniform(-0.0015, 0.0015))
        )
    return pcs, points


def _rounds(contenders: dict[str, Any], work: dict[str, list[Any]]) -> dict[str, float]:
    """Items per second for each contender, alternating in ROUNDS rounds."""
    spent = dict.fromkeys(contenders, 0.0)
    done = dict.fromkeys(contenders, 0)
    for r in range(ROUNDS):
        for name, fn in contenders.items():
            items = work[name]
            part = items[r * len(items) // ROUNDS : (r + 1) * len(items) // ROUNDS]
            start = time.perf_counter()
            fn(part)
            spent[name] += time.perf_counter() - start
            done[name] += len(part)
    return {name: done[name] / spent[name] for name in contenders}


def queries(db_path: Path) -> dict[str, Any]:
    """Every query contender in one process (the stand-in runs in another)."""
    from civickit.errors import PostcodeNotFound
    from civickit.http import HttpClient
    from civickit.postcodes import PostcodeDirectory, Postcodes, _postcode

    ctx = multiprocessing.get_context("fork")
    port_q = ctx.Queue()
    server = ctx.Process(target=_stand_in, args=(port_q,), daemon=True)
    server.start()
    try:
        base = f"http://127.0.0.1:{port_q.get(timeout=30)}"
        pcs, points = _sample(db_path, LOOKUPS, seed=16)
        directory = PostcodeDirectory(db_path)
        peer = Postcodes(base_url=base, local=False, http=HttpClient(retries=0))
        directory.lookup_many(pcs[:1000])  # warm: tables loaded, pages mapped
        in_use = sum(1 for p in directory.lookup_many(pcs).values() if p is not None)

        def one_by_one(client: Any) -> Any:
            def run(batch: list[str]) -> None:
                for pc in batch:
                    try:
                        client.lookup(pc)
                    except PostcodeNotFound:  # retired: an answer too
                        continue

            return run

        many = _rounds(
            {"directory": directory.lookup_many, "stand-in": peer.lookup_many},
            {"directory": pcs, "stand-in": pcs[:PEER_LOOKUPS]},
        )
        single = _rounds(
            {"directory": one_by_one(directory), "stand-in": one_by_one(peer)},
            {"directory": pcs[:SINGLE], "stand-in": pcs[:PEER_SINGLE]},
        )
        start = time.perf_counter()
        keys, index = _live_points(db_path)
        index_build = time.perf_counter() - start
        ours: list[list[str]] = []
        theirs: list[list[int]] = []

        def by_directory(batch: list[tuple[float, float]]) -> None:
            for lat, lon in batch:
                ours.append(
                    [
                        p.postcode
                        for p in directory.nearest(lat, lon, limit=LIMIT, radius_m=RADIUS_M)
                    ]
                )

        def by_index(batch: list[tuple[float, float]]) -> None:
            for lat, lon in batch:
                theirs.append([r for r, _ in index.nearest(lat, lon, LIMIT, max_m=RADIUS_M)])

        nearest = _rounds(
            {"directory": by_directory, "PointIndex": by_index},
            {"directory": points, "PointIndex": points},
        )
        same = sum(
            1 for a, b in zip(ours, theirs, strict=True) if a == [_postcode(keys[i]) for i in b]
        )
        return {
            "many": many,
            "single": single,
            "nearest": nearest,
            "index_build": index_build,
            "agree": same / len(ours),
            "in_use": in_use,
            "per_query": sum(len(a) for a in ours) / len(ours),
        }
    finally:
        server.terminate()
        server.join()


def _live_points(db_path: Path) -> tuple[list[int], Any]:
    """Keys and a PointIndex of the postcodes in use, in key order (so ties break alike)."""
    import numpy as np

    from civickit.geo import PointIndex

    db = sqlite3.connect(db_path)
    rows = db.execute(
        "SELECT key, latitude, longitude FROM postcodes "
        "WHERE terminated IS NULL AND latitude IS NOT NULL ORDER BY key"
    ).fetchall()
    db.close()
    keys = [r[0] for r in rows]
    lats = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows)) / 1e6
    lons = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows)) / 1e6
    del rows
    return keys, PointIndex.from_arrays(lats, lons)


def pointindex_alone(db_path: Path) -> int:
    """The PointIndex peer built alone, for its peak RSS (in_child measures it)."""
    return len(_live_points(db_path)[1])


def main() -> None:
    src = source()
    dest = data_dir() / "postcodes_bench.db"
    print(f"{ROWS:,} generated rows in the ONSPD layout ({src.stat().st_size / 1e6:,.0f} MB CSV)")
    seconds, rows, peak = in_child(lambda: build(src, dest))
    floor, _, floor_peak = in_child(lambda: csv_floor(src))
    size = dest.stat().st_size / 1e6
    table(
        ["build", "seconds", "peak RSS MB", "file MB", "rows"],
        [
            ["civickit PostcodeDirectory.build", seconds, peak, size, rows],
            ["csv.reader over the file (keeps nothing)", floor, floor_peak, "-", rows],
        ],
    )
    print(
        f"build: {seconds:.1f} s (goal < 60 s; {ratio(seconds, floor)} the bare csv read), "
        f"peak RSS {peak:.0f} MB (goal < 300 MB), file {size:.0f} MB (goal < 150 MB)\n"
    )
    _, q, _ = in_child(lambda: queries(dest))
    _, _, index_peak = in_child(lambda: pointindex_alone(dest))
    many, single, nearest = q["many"], q["single"], q["nearest"]
    print(
        f"{LOOKUPS:,} random postcodes from the file ({q['in_use']:,} in use); "
        f"stand-in on {PEER_LOOKUPS:,} (bulk) and {PEER_SINGLE:,} (one by one)"
    )
    table(
        ["lookups", "civickit directory /s", "postcodes.io stand-in /s", "ratio", "goal"],
        [
            ["lookup_many", many["directory"], many["stand-in"],
             ratio(many["directory"], many["stand-in"]), ">= 200,000/s"],
            ["lookup, one at a time", single["directory"], single["stand-in"],
             ratio(single["directory"], single["stand-in"]), "-"],
        ],
    )  # fmt: skip
    print()
    table(
        ["nearest (100 m, 10)", "queries/s", "vs directory", "same answers", "build s", "peak RSS MB"],
        [
            ["civickit directory (R*Tree in the file)", nearest["directory"], "1.00x", "-", "-", "-"],
            ["PointIndex over the same points (memory)", nearest["PointIndex"],
             ratio(nearest["PointIndex"], nearest["directory"]), f"{q['agree']:.1%}",
             f"{q['index_build']:.1f}", index_peak],
        ],
    )  # fmt: skip
    print(f"({q['per_query']:.1f} postcodes per nearest answer on average)")
