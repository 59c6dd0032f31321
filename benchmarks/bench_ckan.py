"""Paging a CKAN datastore table: civickit ``CKAN.records`` against ckanapi's offset loop.

A local CKAN-compatible ``datastore_search`` (objects format, ``offset`` +
``limit``, ``include_total``, ``include_next_page``) serves a generated table
from its own process; rows are rendered per page, so the server holds no table.
Each contender iterates every record in a fresh child process, which gives it
its own peak-RSS figure: that figure must stay flat from 50k to 200k rows,
because ``CKAN.records`` is a generator holding one page at a time. Both
libraries are imported before the children fork, so the timings are of
paging alone and both RSS figures include both libraries.
"""

from __future__ import annotations

import json
import multiprocessing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from benchmarks._common import in_child, ratio, table

SIZES = (50_000, 200_000)
PAGE_SIZES = (1000, 32000)
RUNS = 3  # best of, per contender: the machine is shared and noisy
ROWS_MAX = 32000  # CKAN's default ckan.datastore.search.rows_max

FIELDS = [
    {"id": "_id", "type": "int"},
    {"id": "premises_id", "type": "int"},
    {"id": "street", "type": "text"},
    {"id": "postcode", "type": "text"},
    {"id": "bin", "type": "text"},
    {"id": "date", "type": "date"},
    {"id": "weight_kg", "type": "numeric"},
]
STREETS = ["Abbey Avenue", "Kirkstall Road", "Otley Road", "Chapeltown Road", "Beeston Hill"]
BINS = ["black", "green", "brown", "food"]


def render_row(i: int) -> str:
    """Row ``_id`` = i as JSON, the same for every request (deterministic, no state)."""
    return (
        f'{{"_id":{i},"premises_id":{600000 + i},"street":"{i % 97} {STREETS[i % 5]}",'
        f'"postcode":"LS{i % 29 + 1} {i % 9 + 1}{chr(65 + i % 26)}{chr(65 + i // 26 % 26)}",'
        f'"bin":"{BINS[i % 4]}","date":"2025-{i % 12 + 1:02d}-{i % 28 + 1:02d}",'
        f'"weight_kg":{(i % 1000) * 0.37:.2f}}}'
    )


class DatastoreHandler(BaseHTTPRequestHandler):
    """``/api/3/action/datastore_search`` (and ckanapi's ``/api/action/...``), GET or POST."""

    protocol_version = "HTTP/1.1"  # keep-alive, as a real portal behind nginx
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    total = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        self.answer({k: v[0] for k, v in query.items()})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.answer(json.loads(self.rfile.read(length) or b"{}"))

    def answer(self, params: dict[str, Any]) -> None:
        if not urlsplit(self.path).path.endswith("/datastore_search"):
            self.send_error(404)
            return
        total = int(str(params["resource_id"]).rsplit("-", 1)[1])
        limit = min(int(params.get("limit", 100)), ROWS_MAX)
        filters = params.get("filters") or {}
        if isinstance(filters, str):
            filters = json.loads(filters)
        after = filters.get("_id", {}).get("gt") if isinstance(filters.get("_id"), dict) else None
        start = int(after) if after is not None else int(params.get("offset", 0))
        end = min(start + limit, total)
        records = ",".join(render_row(i) for i in range(start + 1, end + 1))
        result = {
            "include_total": True,
            "limit": limit,
            "records_format": "objects",
            "resource_id": params["resource_id"],
            "fields": FIELDS,
            "_links": {"next": f"/api/action/datastore_search?offset={start + limit}"},
            "total": total,
            "total_was_estimated": False,
        }
        if str(params.get("include_next_page")).lower() == "true" and end > start:
            result["next_page"] = {"_id": {"gt": end}}
        head = json.dumps({"help": "", "success": True, "result": result})[:-2]
        body = f'{head},"records":[{records}]}}}}'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve(queue: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), DatastoreHandler)
    queue.put(server.server_port)
    server.serve_forever()


def civickit_records(url: str, resource_id: str, page_size: int) -> int:
    from civickit.portals.ckan import CKAN

    count = 0
    for _ in CKAN(url).records(resource_id, page_size=page_size):
        count += 1
    return count


def ckanapi_records(url: str, resource_id: str, page_size: int) -> int:
    import ckanapi

    ckan = ckanapi.RemoteCKAN(url)
    count = offset = 0
    while True:
        result = ckan.action.datastore_search(
            resource_id=resource_id, limit=page_size, offset=offset
        )
        for _ in result["records"]:
            count += 1
        offset += len(result["records"])
        if len(result["records"]) < page_size or offset >= result["total"]:
            return count


CONTENDERS = {"civickit": civickit_records, "ckanapi": ckanapi_records}


def measure(url: str, rows: int, page_size: int) -> dict[str, tuple[float, float]]:
    """Each contender's best rate (records/s) and largest peak RSS (MB) over ``RUNS`` runs.

    Runs alternate between contenders, so a burst of load from elsewhere on
    the machine hits both rather than one.
    """
    best = dict.fromkeys(CONTENDERS, (0.0, 0.0))
    for _ in range(RUNS):
        for name, fn in CONTENDERS.items():
            seconds, count, rss = in_child(lambda fn=fn: fn(url, f"bench-{rows}", page_size))
            if count != rows:
                raise RuntimeError(f"{name} read {count} of {rows} rows")
            rate, peak = best[name]
            best[name] = (max(rate, rows / seconds), max(peak, rss))
    return best


def main() -> None:
    # import both clients before forking: the children time paging, not imports
    import ckanapi  # noqa: F401

    import civickit.portals.ckan  # noqa: F401

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    server = ctx.Process(target=_serve, args=(queue,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{queue.get(timeout=10)}"
    try:
        rows_out, figures = [], {}
        for page_size in PAGE_SIZES:
            for rows in SIZES:
                for name, (rate, rss) in measure(url, rows, page_size).items():
                    figures[name, page_size, rows] = (rate, rss)
                    rows_out.append((name, page_size, rows, rate, rss))
    finally:
        server.terminate()
        server.join()

    print(f"datastore_search paging from a local server; best of {RUNS} runs per line")
    table(
        ["contender", "page size", "rows", "records/s", "peak RSS MB"],
        [(n, p, r, f"{rate:,.0f}", rss) for n, p, r, rate, rss in rows_out],
    )
    print()
    table(
        ["page size", "rows", "civickit/ckanapi", "civickit RSS 50k -> 200k", "ckanapi RSS"],
        [
            (
                p,
                r,
                ratio(figures["civickit", p, r][0], figures["ckanapi", p, r][0]),
                f"{figures['civickit', p, SIZES[0]][1]:.1f} -> {figures['civickit', p, SIZES[-1]][1]:.1f}",
                f"{figures['ckanapi', p, SIZES[0]][1]:.1f} -> {figures['ckanapi', p, SIZES[-1]][1]:.1f}",
            )
            for p in PAGE_SIZES
            for r in SIZES
        ],
    )


if __name__ == "__main__":
    main()
