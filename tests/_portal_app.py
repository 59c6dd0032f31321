"""One small WSGI app that speaks CKAN, ArcGIS REST, OpenDataSoft and Socrata over a generated table.

Served on loopback by the ``serve`` fixture, it lets tests switch on the
behaviours real portals show (an ArcGIS server sending fewer rows than its
``maxRecordCount``, an old server without pagination, Socrata rows in no
particular order without ``$order``, a page held back so later pages finish
first, a failure part-way) and counts the page requests it receives.
The rows are generated, not real data.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

ARCGIS_LAYER = "/arcgis/rest/services/Bins/FeatureServer/0"
SOCRATA_VIEW = "abcd-1234"
ODS_DATASET = "bins"
CKAN_RESOURCE = "res-1"
WHEN = datetime(2025, 1, 2, tzinfo=UTC)


def point(i: int) -> tuple[float, float]:
    return 53.8 + (i % 1000) / 1e5, -1.55 - (i % 700) / 1e5


class PortalApp:
    """The WSGI app; flip its attributes to change how it behaves."""

    def __init__(self, total: int = 1000) -> None:
        self.total = total
        self.arcgis_max_record_count: int | None = 1000
        self.arcgis_serves_at_most: int | None = None  # fewer rows than asked, with the flag set
        self.arcgis_paging = True
        self.socrata_shuffles_without_order = True
        self.ckan_dump = True
        self.hold_one_page = False  # the first later page waits until another page is asked for
        self.hold_seconds = 5.0  # how long it waits at most
        self.fail_from: int | None = None  # pages from this row offset on fail with a 500
        self.html_everywhere = False
        self.lock = threading.Lock()
        self.data_requests = 0
        self.requests = 0
        self.overlapped: bool | None = None
        self._held = False
        self._another = threading.Event()

    # -- plumbing ---------------------------------------------------------------------------

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        with self.lock:
            self.requests += 1
        if self.html_everywhere:
            return self._send(
                start_response, 200, b"<html><body>council</body></html>", "text/html"
            )
        try:
            status, body, kind = self.route(path, query)
        except LookupError:
            status, body, kind = 404, b'{"error": "not found"}', "application/json"
        return self._send(start_response, status, body, kind)

    @staticmethod
    def _send(
        start_response: Callable[..., Any], status: int, body: bytes, kind: str
    ) -> list[bytes]:
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(status, "Error")
        start_response(
            f"{status} {reason}", [("Content-Type", kind), ("Content-Length", str(len(body)))]
        )
        return [body]

    def _data_page(self, offset: int) -> bool:
        """Count a page request; False when it must fail. May hold it (see ``hold_one_page``)."""
        with self.lock:
            self.data_requests += 1
            hold = self.hold_one_page and not self._held and offset > 0
            if hold:
                self._held = True
            elif self._held:
                self._another.set()
        if hold:
            self.overlapped = self._another.wait(self.hold_seconds)
        return self.fail_from is None or offset < self.fail_from

    @staticmethod
    def _json(value: Any) -> tuple[int, bytes, str]:
        return 200, json.dumps(value).encode(), "application/json"

    def route(self, path: str, q: dict[str, str]) -> tuple[int, bytes, str]:
        if path.startswith("/arcgis/"):
            return self.arcgis(path, q)
        if path.startswith(("/resource/", "/api/views")):
            return self.socrata(path, q)
        if path.startswith("/api/explore/"):
            return self.ods(path, q)
        if path.startswith(("/api/3/action/", "/datastore/dump/")):
            return self.ckan(path, q)
        raise LookupError(path)

    # -- ArcGIS -----------------------------------------------------------------------------

    def arcgis(self, path: str, q: dict[str, str]) -> tuple[int, bytes, str]:
        if path == ARCGIS_LAYER:
            meta: dict[str, Any] = {
                "name": "Bins",
                "type": "Feature Layer",
                "geometryType": "esriGeometryPoint",
                "objectIdField": "OBJECTID",
                "fields": [
                    {"name": "OBJECTID", "type": "esriFieldTypeOID"},
                    {"name": "name", "type": "esriFieldTypeString"},
                    {"name": "score", "type": "esriFieldTypeDouble"},
                    {"name": "collected", "type": "esriFieldTypeDate"},
                ],
            }
            if self.arcgis_paging:
                meta["currentVersion"] = 11.1
                meta["advancedQueryCapabilities"] = {"supportsPagination": True}
            if self.arcgis_max_record_count:
                meta["maxRecordCount"] = self.arcgis_max_record_count
            return self._json(meta)
        if path != ARCGIS_LAYER + "/query":
            raise LookupError(path)
        if q.get("returnCountOnly") == "true":
            return self._json({"count": self.total})
        if q.get("returnIdsOnly") == "true":
            return self._json(
                {"objectIdFieldName": "OBJECTID", "objectIds": list(range(self.total, 0, -1))}
            )
        if "objectIds" in q:
            ids = [int(i) for i in q["objectIds"].split(",")]
            if not self._data_page(ids[0] - 1):
                return 500, b"<html>busy</html>", "text/html"
            cap = self.arcgis_max_record_count or 1000
            return self._json(
                {"features": [self._feature(i) for i in ids[:cap] if 1 <= i <= self.total]}
            )
        offset, count = int(q.get("resultOffset", 0)), int(q.get("resultRecordCount", 1000))
        if not self._data_page(offset):
            return 500, b"<html>busy</html>", "text/html"
        cap = min(count, self.arcgis_max_record_count or count, self.arcgis_serves_at_most or count)
        end = min(offset + cap, self.total)
        body: dict[str, Any] = {"features": [self._feature(i) for i in range(offset + 1, end + 1)]}
        if end < self.total:
            body["exceededTransferLimit"] = True
        return self._json(body)

    @staticmethod
    def _feature(i: int) -> dict[str, Any]:
        lat, lon = point(i)
        millis = int(WHEN.timestamp() * 1000) + i
        return {
            "attributes": {"OBJECTID": i, "name": f"Bin {i}", "score": i / 2, "collected": millis},
            "geometry": {"x": lon, "y": lat},
        }

    # -- Socrata ----------------------------------------------------------------------------

    def socrata(self, path: str, q: dict[str, str]) -> tuple[int, bytes, str]:
        if path == "/api/views.json":
            return self._json([{"id": SOCRATA_VIEW, "name": "Bins", "viewType": "tabular"}])
        if path == f"/api/views/{SOCRATA_VIEW}.json":
            columns = [
                ("id", "number"),
                ("name", "text"),
                ("score", "number"),
                ("collected", "calendar_date"),
                ("emptied", "checkbox"),
                ("location", "point"),
            ]
            return self._json(
                {
                    "id": SOCRATA_VIEW,
                    "name": "Bins",
                    "viewType": "tabular",
                    "columns": [{"fieldName": f, "dataTypeName": t} for f, t in columns],
                }
            )
        if path != f"/resource/{SOCRATA_VIEW}.json":
            raise LookupError(path)
        limit, offset = int(q.get("$limit", 1000)), int(q.get("$offset", 0))
        if not self._data_page(offset):
            return 500, b"<html>busy</html>", "text/html"
        ids = list(range(1, self.total + 1))
        if "$order" not in q and self.socrata_shuffles_without_order:
            random.Random(offset).shuffle(ids)  # no implicit order: each page sees another one
        rows = []
        for i in ids[offset : offset + limit]:
            lat, lon = point(i)
            rows.append(
                {
                    "id": str(i),
                    "name": f"Bin {i}",
                    "score": f"{i / 2:.1f}",
                    "collected": "2025-01-02T00:00:00.000",
                    "emptied": "true" if i % 2 else "false",
                    "location": {"type": "Point", "coordinates": [lon, lat]},
                }
            )
        return self._json(rows)

    # -- OpenDataSoft -----------------------------------------------------------------------

    def ods(self, path: str, q: dict[str, str]) -> tuple[int, bytes, str]:
        base = f"/api/explore/v2.1/catalog/datasets/{ODS_DATASET}"
        if path == "/api/explore/v2.1/catalog/datasets":
            return self._json({"total_count": 1, "results": [{"dataset_id": ODS_DATASET}]})
        if path == base:
            fields = [("id", "int"), ("name", "text"), ("score", "double"), ("geo", "geo_point_2d")]
            return self._json(
                {
                    "dataset_id": ODS_DATASET,
                    "fields": [{"name": n, "type": t} for n, t in fields],
                    "metas": {"default": {"title": "Bins"}},
                }
            )
        if path == f"{base}/records":
            limit, offset = int(q.get("limit", 10)), int(q.get("offset", 0))
            if limit > 100 or offset + limit >= 10_000:
                return (
                    400,
                    b'{"error_code": "InvalidRESTParameterError", "message": "offset + limit"}',
                    "application/json",
                )
            if not self._data_page(offset):
                return 500, b"<html>busy</html>", "text/html"
            rows = [
                self._ods_row(i) for i in range(offset + 1, min(offset + limit, self.total) + 1)
            ]
            return self._json({"total_count": self.total, "results": rows})
        if path == f"{base}/exports/jsonl":
            self._data_page(0)
            body = "".join(json.dumps(self._ods_row(i)) + "\n" for i in range(1, self.total + 1))
            return 200, body.encode(), "application/jsonl"
        raise LookupError(path)

    @staticmethod
    def _ods_row(i: int) -> dict[str, Any]:
        lat, lon = point(i)
        return {"id": i, "name": f"Bin {i}", "score": i / 2, "geo": {"lon": lon, "lat": lat}}

    # -- CKAN -------------------------------------------------------------------------------

    def ckan(self, path: str, q: dict[str, str]) -> tuple[int, bytes, str]:
        if path == "/api/3/action/status_show":
            return self._json(
                {"success": True, "result": {"ckan_version": "2.10.4", "site_url": ""}}
            )
        fields = [
            {"id": "_id", "type": "int"},
            {"id": "name", "type": "text"},
            {"id": "score", "type": "numeric"},
        ]
        if path == "/api/3/action/datastore_search":
            limit, offset = int(q.get("limit", 100)), int(q.get("offset", 0))
            if limit and not self._data_page(offset):
                return 500, b"<html>busy</html>", "text/html"
            records = [
                {"_id": i, "name": f"Bin {i}", "score": i / 2}
                for i in range(offset + 1, min(offset + limit, self.total) + 1)
            ]
            result = {"fields": fields, "records": records, "limit": limit, "total": self.total}
            return self._json({"success": True, "result": result})
        if path == f"/datastore/dump/{CKAN_RESOURCE}":
            if not self.ckan_dump:
                raise LookupError(path)
            self._data_page(0)
            lines = ["_id,name,score"] + [f"{i},Bin {i},{i / 2}" for i in range(1, self.total + 1)]
            return 200, ("\n".join(lines) + "\n").encode(), "text/csv"
        raise LookupError(path)
