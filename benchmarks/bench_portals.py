"""Reading whole tables from each kind of portal: civickit against each platform's usual Python client.

Local servers (one process each, threads inside, HTTP/1.1 keep-alive) serve a
generated table per platform, rendering each page as it is asked for, so a
server holds no table. One server adds a fixed 50 ms to every response, as a
real portal across the internet does; the other adds nothing. Each contender
reads every row in a fresh child process, which gives it its own peak RSS.

- ArcGIS: ``ArcGIS.records()`` (pages of maxRecordCount = 2000, 4 at once)
  against pyesridump's ``EsriDumper`` (``esridump`` on PyPI; its own page size,
  and its 10 s pause every 5 requests turned off so the comparison is of paging).
- Socrata: ``Socrata.records()`` (pages of 5,000, 4 at once) against sodapy's
  ``get_all`` (pages of 1,000, its default).
- CKAN: ``CKAN.records()`` on a whole table (one streamed ``/datastore/dump``)
  against ckanapi ``datastore_search`` paging with limit 32,000 (the server's
  cap: ckanapi's best case) and with limit 1,000.
- OpenDataSoft: ``OpenDataSoft.records()`` against the plain loop over
  ``/records`` (limit 100, offset += 100), which stops at the 10,000-row window;
  so the two are timed on the 9,900 rows the loop can reach, and civickit is
  also timed on the whole table (through ``/exports/jsonl``).

Then the rows each peer misses or duplicates where a real server makes paging
hard: an ArcGIS layer that sends 500 rows a page while its maxRecordCount says
2,000 (setting ``exceededTransferLimit``), and Socrata rows requested without
``$order`` from a server that, as SODA documents, promises no order then (this
one shuffles each page's order differently: a simulation, labelled as such).
"""

from __future__ import annotations

import json
import multiprocessing
import random
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from benchmarks._common import in_child, ratio, table

SIZES = (50_000, 200_000)
LATENCIES = (0.05, 0.0)
ODS_WINDOW_ROWS = 9_900  # what the plain loop reaches: its next page would touch 10,000
CHECK_ROWS = 20_000  # the correctness checks
WARDS = ["Headingley", "Hyde Park", "Armley", "Beeston", "Chapel Allerton", "Roundhay"]


def lat_lon(i: int) -> tuple[float, float]:
    return 53.7 + (i % 5000) / 2.5e4, -1.7 + (i % 7000) / 2e4


def arcgis_feature(i: int) -> str:
    lat, lon = lat_lon(i)
    return (
        f'{{"attributes":{{"OBJECTID":{i},"name":"Bin {i}","ward":"{WARDS[i % 6]}",'
        f'"score":{i % 1000 * 0.37:.2f},"collected":{1735776000000 + i * 60000}}},'
        f'"geometry":{{"x":{lon:.6f},"y":{lat:.6f}}}}}'
    )


def socrata_row(i: int) -> str:
    lat, lon = lat_lon(i)
    return (
        f'{{"id":"{i}","name":"Bin {i}","ward":"{WARDS[i % 6]}","score":"{i % 1000 * 0.37:.2f}",'
        f'"collected":"2025-01-02T00:00:00.000",'
        f'"location":{{"type":"Point","coordinates":[{lon:.6f},{lat:.6f}]}}}}'
    )


def ods_row(i: int) -> str:
    lat, lon = lat_lon(i)
    return (
        f'{{"id":{i},"name":"Bin {i}","ward":"{WARDS[i % 6]}","score":{i % 1000 * 0.37:.2f},'
        f'"geo":{{"lon":{lon:.6f},"lat":{lat:.6f}}}}}'
    )


def ckan_record(i: int) -> str:
    return f'{{"_id":{i},"name":"Bin {i}","ward":"{WARDS[i % 6]}","score":{i % 1000 * 0.37:.2f}}}'


CKAN_FIELDS = [
    {"id": "_id", "type": "int"},
    {"id": "name", "type": "text"},
    {"id": "ward", "type": "text"},
    {"id": "score", "type": "numeric"},
]


class Handler(BaseHTTPRequestHandler):
    """ArcGIS REST, SODA, the Explore API and CKAN over generated tables named by their size."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    latency = 0.0

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.answer({k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()})

    def do_POST(self) -> None:  # pyesridump POSTs its pages as a form
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):  # ckanapi
            params = {k: str(v) for k, v in json.loads(body or "{}").items()}
        else:
            params = {k: v[0] for k, v in parse_qs(body).items()}
        params.update({k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()})
        self.answer(params)

    def send(self, body: bytes, kind: str = "application/json", status: int = 200) -> None:
        if self.latency:
            time.sleep(self.latency)
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def answer(self, q: dict[str, str]) -> None:
        path = urlsplit(self.path).path
        if m := re.fullmatch(
            r"/arcgis/rest/services/(Bins|Short)(\d+)/FeatureServer/0(/query)?", path
        ):
            return self.arcgis(m.group(1) == "Short", int(m.group(2)), bool(m.group(3)), q)
        if m := re.fullmatch(r"/resource/(bins|shuf)-(\d{4})\.json", path):
            return self.socrata(m.group(1) == "shuf", int(m.group(2)) * 1000, q)
        if m := re.fullmatch(
            r"/api/explore/v2\.1/catalog/datasets/bins-(\d+)/(records|exports/jsonl)", path
        ):
            return self.ods(int(m.group(1)), m.group(2), q)
        if m := re.fullmatch(r"/api/3/action/datastore_search|/api/action/datastore_search", path):
            return self.ckan_search(q)
        if m := re.fullmatch(r"/datastore/dump/bench-(\d+)", path):
            return self.ckan_dump(int(m.group(1)))
        self.send(b'{"error":"not found"}', status=404)

    def arcgis(self, short: bool, total: int, query: bool, q: dict[str, str]) -> None:
        if not query:
            meta = {
                "currentVersion": 11.1,
                "name": "Bins",
                "type": "Feature Layer",
                "geometryType": "esriGeometryPoint",
                "objectIdField": "OBJECTID",
                "maxRecordCount": 2000,
                "advancedQueryCapabilities": {"supportsPagination": True},
                "supportsStatistics": True,
                "fields": [
                    {"name": "OBJECTID", "type": "esriFieldTypeOID"},
                    {"name": "name", "type": "esriFieldTypeString"},
                    {"name": "ward", "type": "esriFieldTypeString"},
                    {"name": "score", "type": "esriFieldTypeDouble"},
                    {"name": "collected", "type": "esriFieldTypeDate"},
                ],
            }
            return self.send(json.dumps(meta).encode())
        if q.get("returnCountOnly") == "true":
            return self.send(json.dumps({"count": total}).encode())
        offset = int(q.get("resultOffset", 0))
        count = min(int(q.get("resultRecordCount", 2000)), 500 if short else 2000)
        end = min(offset + count, total)
        feats = ",".join(arcgis_feature(i) for i in range(offset + 1, end + 1))
        more = ',"exceededTransferLimit":true' if end < total else ""
        self.send(f'{{"objectIdFieldName":"OBJECTID","features":[{feats}]{more}}}'.encode())

    def socrata(self, shuffle: bool, total: int, q: dict[str, str]) -> None:
        limit, offset = int(q.get("$limit", 1000)), int(q.get("$offset", 0))
        if shuffle and "$order" not in q:
            ids = list(range(1, total + 1))
            random.Random(offset).shuffle(ids)  # no order promised: each request its own
            chosen = ids[offset : offset + limit]
        else:
            chosen = range(offset + 1, min(offset + limit, total) + 1)
        self.send(("[" + ",".join(socrata_row(i) for i in chosen) + "]").encode())

    def ods(self, total: int, endpoint: str, q: dict[str, str]) -> None:
        if endpoint == "records":
            limit, offset = int(q.get("limit", 10)), int(q.get("offset", 0))
            if limit > 100 or offset + limit >= 10_000:
                body = b'{"error_code":"InvalidRESTParameterError","message":"Invalid value for sum of offset + limit API parameter"}'
                return self.send(body, status=400)
            rows = ",".join(ods_row(i) for i in range(offset + 1, min(offset + limit, total) + 1))
            return self.send(f'{{"total_count":{total},"results":[{rows}]}}'.encode())
        limit = int(q.get("limit", -1))
        last = total if limit < 0 else min(limit, total)
        self.send(
            "".join(ods_row(i) + "\n" for i in range(1, last + 1)).encode(), "application/jsonl"
        )

    def ckan_search(self, q: dict[str, str]) -> None:
        total = int(q["resource_id"].rsplit("-", 1)[1])
        limit, offset = min(int(q.get("limit", 100)), 32000), int(q.get("offset", 0))
        records = ",".join(
            ckan_record(i) for i in range(offset + 1, min(offset + limit, total) + 1)
        )
        head = json.dumps({"fields": CKAN_FIELDS, "limit": limit, "total": total})[:-1]
        self.send(f'{{"success":true,"result":{head},"records":[{records}]}}}}'.encode())

    def ckan_dump(self, total: int) -> None:
        rows = "".join(
            f"{i},Bin {i},{WARDS[i % 6]},{i % 1000 * 0.37:.2f}\n" for i in range(1, total + 1)
        )
        self.send(("_id,name,ward,score\n" + rows).encode(), "text/csv")


def _serve(latency: float, queue: Any) -> None:
    Handler.latency = latency
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    queue.put(server.server_port)
    server.serve_forever()


# -- contenders: each returns (rows read, distinct ids) --------------------------------------


def _count(rows: Any, key: str, check: bool) -> tuple[int, int]:
    if not check:
        n = 0
        for _ in rows:
            n += 1
        return n, n
    seen = set()
    n = 0
    for row in rows:
        n += 1
        seen.add(int(row[key]))
    return n, len(seen)


def civickit_arcgis(
    url: str, total: int, short: bool = False, check: bool = False
) -> tuple[int, int]:
    from civickit.portals import ArcGIS

    layer = f"{url}/arcgis/rest/services/{'Short' if short else 'Bins'}{total}/FeatureServer/0"
    return _count(ArcGIS(layer).records(), "OBJECTID", check)


def esridump_arcgis(
    url: str, total: int, short: bool = False, check: bool = False
) -> tuple[int, int]:
    from esridump.dumper import EsriDumper

    layer = f"{url}/arcgis/rest/services/{'Short' if short else 'Bins'}{total}/FeatureServer/0"
    features = EsriDumper(layer, pause_seconds=0)
    return _count((f["properties"] for f in features), "OBJECTID", check)


def civickit_socrata(
    url: str, total: int, shuffle: bool = False, check: bool = False
) -> tuple[int, int]:
    from civickit.portals import Socrata

    view = f"{'shuf' if shuffle else 'bins'}-{total // 1000:04d}"
    return _count(Socrata(url, app_token="bench").records(view), "id", check)


def sodapy_socrata(
    url: str, total: int, shuffle: bool = False, check: bool = False
) -> tuple[int, int]:
    import requests
    from sodapy import Socrata as SodaClient

    view = f"{'shuf' if shuffle else 'bins'}-{total // 1000:04d}"
    host = urlsplit(url).netloc
    client = SodaClient(
        host,
        "bench",
        session_adapter={"prefix": "http://", "adapter": requests.adapters.HTTPAdapter()},
    )
    return _count(client.get_all(view), "id", check)


def civickit_ckan(url: str, total: int, page: int = 0, check: bool = False) -> tuple[int, int]:
    from civickit.portals import CKAN

    return _count(CKAN(url).records(f"bench-{total}"), "_id", check)


def ckanapi_ckan(url: str, total: int, page: int = 32000, check: bool = False) -> tuple[int, int]:
    import ckanapi

    ckan = ckanapi.RemoteCKAN(url)
    n = offset = 0
    while True:
        result = ckan.action.datastore_search(
            resource_id=f"bench-{total}", limit=page, offset=offset
        )
        rows = result["records"]
        n += len(rows)
        offset += len(rows)
        if len(rows) < page or offset >= result["total"]:
            return n, n


def civickit_ods(
    url: str, total: int, limit: int | None = None, check: bool = False
) -> tuple[int, int]:
    from civickit.portals import OpenDataSoft

    return _count(OpenDataSoft(url).records(f"bins-{total}", limit=limit), "id", check)


def loop_ods(
    url: str, total: int, limit: int | None = None, check: bool = False
) -> tuple[int, int]:
    """The obvious loop: limit=100, offset += 100, until a short page (or the server refuses)."""
    import requests

    session = requests.Session()
    n = offset = 0
    endpoint = f"{url}/api/explore/v2.1/catalog/datasets/bins-{total}/records"
    while True:
        response = session.get(endpoint, params={"limit": 100, "offset": offset}, timeout=30)
        if response.status_code != 200:
            return n, n  # the 10,000-row window: offset + limit reached 10,000
        rows = response.json()["results"]
        n += len(rows)
        offset += len(rows)
        if len(rows) < 100 or (limit is not None and n >= limit):
            return n, n


def measure(fn: Any, *args: Any) -> tuple[float, int, int, float]:
    seconds, (count, distinct), rss = in_child(lambda: fn(*args))
    return seconds, count, distinct, rss


def main() -> None:
    # import every client before forking: the children time reading, not imports
    import ckanapi  # noqa: F401
    import esridump.dumper  # noqa: F401
    import sodapy  # noqa: F401

    import civickit.portals  # noqa: F401

    ctx = multiprocessing.get_context("fork")
    servers, urls = [], {}
    for latency in LATENCIES:
        queue = ctx.Queue()
        proc = ctx.Process(target=_serve, args=(latency, queue), daemon=True)
        proc.start()
        servers.append(proc)
        urls[latency] = f"http://127.0.0.1:{queue.get(timeout=10)}"

    pairs = [
        ("ArcGIS", civickit_arcgis, "pyesridump", esridump_arcgis, ()),
        ("Socrata", civickit_socrata, "sodapy get_all", sodapy_socrata, ()),
        ("CKAN", civickit_ckan, "ckanapi, limit 32000", ckanapi_ckan, (32000,)),
        ("CKAN", civickit_ckan, "ckanapi, limit 1000", ckanapi_ckan, (1000,)),
    ]
    lines, summary = [], []
    try:
        for latency in LATENCIES:
            url = urls[latency]
            sizes = SIZES if latency == 0 else SIZES[-1:]
            for platform, ours, peer_name, peer, extra in pairs:
                rss_by_size = {}
                for rows in sizes:
                    ours_s, ours_n, _, ours_rss = measure(ours, url, rows, *extra)
                    peer_s, peer_n, _, peer_rss = measure(peer, url, rows, *extra)
                    rss_by_size[rows] = (ours_rss, peer_rss)
                    for name, s, n, rss in (
                        ("civickit", ours_s, ours_n, ours_rss),
                        (peer_name, peer_s, peer_n, peer_rss),
                    ):
                        lines.append(
                            (platform, f"{latency * 1000:.0f}", name, rows, n, f"{n / s:,.0f}", rss)
                        )
                    summary.append(
                        (
                            f"{platform} vs {peer_name}",
                            f"{latency * 1000:.0f} ms",
                            rows,
                            ratio(ours_n / ours_s, peer_n / peer_s),
                        )
                    )
                if len(sizes) > 1:
                    a, b = rss_by_size[SIZES[0]], rss_by_size[SIZES[-1]]
                    summary.append(
                        (
                            f"{platform} vs {peer_name}",
                            "RSS 50k -> 200k",
                            "",
                            f"civickit {a[0]:.1f} -> {b[0]:.1f} MB; peer {a[1]:.1f} -> {b[1]:.1f} MB",
                        )
                    )
            # OpenDataSoft: the loop can only reach the 10,000-row window
            ours_s, ours_n, _, ours_rss = measure(civickit_ods, url, SIZES[-1], ODS_WINDOW_ROWS)
            peer_s, peer_n, _, peer_rss = measure(loop_ods, url, SIZES[-1], ODS_WINDOW_ROWS)
            lines.append(
                (
                    "OpenDataSoft",
                    f"{latency * 1000:.0f}",
                    "civickit",
                    ODS_WINDOW_ROWS,
                    ours_n,
                    f"{ours_n / ours_s:,.0f}",
                    ours_rss,
                )
            )
            lines.append(
                (
                    "OpenDataSoft",
                    f"{latency * 1000:.0f}",
                    "/records loop",
                    ODS_WINDOW_ROWS,
                    peer_n,
                    f"{peer_n / peer_s:,.0f}",
                    peer_rss,
                )
            )
            summary.append(
                (
                    "OpenDataSoft vs /records loop",
                    f"{latency * 1000:.0f} ms",
                    ODS_WINDOW_ROWS,
                    ratio(ours_n / ours_s, peer_n / peer_s),
                )
            )
            for rows in sizes:
                s, n, _, rss = measure(civickit_ods, url, rows)
                lines.append(
                    (
                        "OpenDataSoft",
                        f"{latency * 1000:.0f}",
                        "civickit (export)",
                        rows,
                        n,
                        f"{n / s:,.0f}",
                        rss,
                    )
                )
            s, n, _, rss = measure(loop_ods, url, SIZES[-1])
            lines.append(
                (
                    "OpenDataSoft",
                    f"{latency * 1000:.0f}",
                    "/records loop (whole table)",
                    SIZES[-1],
                    n,
                    f"{n / s:,.0f}",
                    rss,
                )
            )

        # correctness where the server makes paging hard (no added latency)
        url = urls[0.0]
        checks = [
            (
                "ArcGIS, server sends 500 of maxRecordCount 2000",
                civickit_arcgis,
                esridump_arcgis,
                "pyesridump",
                (CHECK_ROWS, True, True),
            ),
            (
                "Socrata, no order without $order (simulated)",
                civickit_socrata,
                sodapy_socrata,
                "sodapy get_all",
                (CHECK_ROWS, True, True),
            ),
        ]
        found = []
        for label, ours, peer, peer_name, args in checks:
            for name, fn in (("civickit", ours), (peer_name, peer)):
                _, n, distinct, _ = measure(fn, url, *args)
                found.append((label, name, CHECK_ROWS, n, CHECK_ROWS - distinct, n - distinct))
    finally:
        for proc in servers:
            proc.terminate()
            proc.join()

    print("whole-table reads from local servers; one run per line; latency is added per response")
    table(
        [
            "platform",
            "latency ms",
            "contender",
            "table rows",
            "rows read",
            "records/s",
            "peak RSS MB",
        ],
        lines,
    )
    print()
    table(["platform and peer", "latency", "rows", "civickit / peer (records/s)"], summary)
    print()
    table(["case", "contender", "table rows", "rows read", "missed", "duplicated"], found)


if __name__ == "__main__":
    main()
