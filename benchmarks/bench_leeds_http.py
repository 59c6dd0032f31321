"""leeds_bins under gunicorn (2 sync workers) on loopback, measured with wrk.

One run, one server, the full-scale generated Leeds data (340,000 premises):
the app's own hello-world route (``/bench/hello``, on with LEEDS_BINS_BENCH=1) is
the ceiling; the address API, the address page and the calendar feed (200, and
304 with If-None-Match) are measured beside it. Needs ``wrk`` (Debian: apt-get
install wrk); without it a small Python load generator stands in.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ._common import data_dir, ratio, table

DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = 32
PREMISES_ID = 600_000
POSTCODE = "LS1 1AA"


def _database(folder: Path) -> Path:
    """The full-scale database built by bench_leeds_import, or build it now."""
    db = folder / "http.sqlite3"
    if db.exists():
        return db
    from . import bench_leeds_import as imp

    premises, jobs = imp.generate(folder)
    imp.ours(f"sqlite:///{db}", premises, jobs)
    return db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer at {url}")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * _UNITS[unit]


def wrk(url: str, headers: dict[str, str] | None = None) -> tuple[float, float, float]:
    """requests/s, p50 ms, p99 ms."""
    args = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency", url]
    for k, v in (headers or {}).items():
        args[1:1] = ["-H", f"{k}: {v}"]
    subprocess.run([*args[:-2], "-d2s", url], capture_output=True, check=True)  # warm up
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        print(f"  warning: {non2xx.group(1)} error responses from {url}")
    return rps, p50, p99


def pyload(url: str, headers: dict[str, str] | None = None) -> tuple[float, float, float]:
    """A stand-in for wrk: threads with keep-alive connections."""
    import http.client
    import statistics
    import threading
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    samples: list[float] = []
    stop = time.monotonic() + DURATION

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port)
        while time.monotonic() < stop:
            t = time.perf_counter()
            conn.request("GET", path, headers=headers or {})
            conn.getresponse().read()
            samples.append((time.perf_counter() - t) * 1000)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cuts = statistics.quantiles(samples, n=100)
    return len(samples) / DURATION, cuts[49], cuts[98]


def main() -> None:
    folder = data_dir() / "leeds"
    db = _database(folder)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "LEEDS_BINS_BENCH": "1",
        "SECRET_KEY": "bench",
        "PUBLIC_BASE_URL": base,  # production settings: links are built on it, Host checked
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "examples.leeds_bins:create_app()",
        ],
        env=env,
    )
    try:
        _wait(base + "/healthz")
        load = wrk if shutil.which("wrk") else pyload
        if load is pyload:
            print("wrk not found (apt-get install wrk): using the Python load generator")
        feed = base + f"/premises/{PREMISES_ID}/calendar.ics"
        etag = urllib.request.urlopen(feed).headers["ETag"]
        cases = [
            ("hello-world (/bench/hello)", base + "/bench/hello", None),
            (
                "address API (/api/addresses)",
                base + "/api/addresses?postcode=" + POSTCODE.replace(" ", "%20"),
                None,
            ),
            ("address page (/premises/<id>)", base + f"/premises/{PREMISES_ID}", None),
            ("calendar feed 200", feed, None),
            ("calendar feed 304", feed, {"If-None-Match": etag}),
        ]
        results = []
        for name, url, headers in cases:
            rps, p50, p99 = load(url, headers)
            results.append((name, rps, p50, p99))
        hello = results[0][1]
        print(
            f"gunicorn, 2 sync workers, {CONNECTIONS} connections, {DURATION} s each, "
            f"340,000 premises on SQLite"
        )
        table(
            ["route", "req/s", "p50 ms", "p99 ms", "vs hello"],
            [[n, r, p50, p99, ratio(r, hello)] for n, r, p50, p99 in results],
        )
        print("goals: address API 0.8x, address page 0.5x, calendar 304 0.8x of hello-world")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
