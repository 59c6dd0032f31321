"""ArcGIS REST layers and Hub sites, on the recorded shapes in tests/fixtures/portals."""

from __future__ import annotations

import copy
import json
import re
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from civickit.errors import NotAuthorized, ServiceUnavailable, ValidationError
from civickit.http import HttpClient
from civickit.portals import ArcGIS, ArcGISHub
from tests.helpers import load_json

LAYER = "https://gis.example.com/arcgis/rest/services/Zoning/FeatureServer/0"
SERVICE = "https://gis.example.com/arcgis/rest/services/Bin_Rounds/FeatureServer"


load = partial(load_json, "portals")


MODERN = load("arcgis_featureserver-layer-metadata_nyc-buildability-ZF01a.json")  # mrc 2000
MRC_1000 = load("arcgis_featureserver-layer-metadata_pyesridump-us-esri-test.json")  # points
OLD = load("arcgis_mapserver-layer-metadata-old-no-mrc_pyesridump-us-il-cook.json")
PAGE = load("arcgis_query-page1-exceededTransferLimit_nyc-buildability-ZF04a.json")


def params(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def queries(rsps: Any) -> list[dict[str, str]]:
    return [params(c) for c in rsps.calls if urlsplit(c.request.url).path.endswith("/query")]


def features(start: int, stop: int, oid: str = "OBJECTID", point: bool = False) -> list[dict]:
    """Features shaped like the recorded ZF04a page, object ids start+1..stop."""
    template = PAGE["features"][0]
    out = []
    for i in range(start + 1, stop + 1):
        feature = {"geometry": template["geometry"]}  # the recorded ring, shared
        feature["attributes"] = {oid: i, "LHNAME": f"District {i}"}
        if point:
            feature["geometry"] = {"x": -1.5 + i / 1e4, "y": 53.8}
        out.append(feature)
    return out


def query_server(
    total: int,
    *,
    cap: int,
    flag_short_pages: bool = True,
    point: bool = False,
    oid: str = "OBJECTID",
):
    """A layer's /query: at most ``cap`` rows an answer, exceededTransferLimit while more follow."""

    def callback(request):
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        if q.get("returnCountOnly") == "true":
            return 200, {}, json.dumps({"count": total})
        offset, count = int(q.get("resultOffset", 0)), int(q.get("resultRecordCount", cap))
        end = min(offset + min(count, cap), total)
        body = {k: v for k, v in PAGE.items() if k != "features"}
        body["features"] = features(offset, end, oid, point=point)
        body.pop("exceededTransferLimit", None)
        if end < total and (flag_short_pages or end - offset == count):
            body["exceededTransferLimit"] = True
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    return callback


def layer(rsps, meta: dict, total: int, **kw) -> None:
    rsps.get(LAYER, json=meta)
    kw.setdefault("oid", meta["objectIdField"])
    rsps.add_callback(
        responses.GET, re.compile(re.escape(LAYER) + r"/query\b.*"), query_server(total, **kw)
    )


@pytest.fixture
def client() -> ArcGIS:
    return ArcGIS(LAYER, http=HttpClient(retries=2, backoff=0), concurrency=1)


def test_multi_page_read_returns_every_row_once_in_object_id_order(rsps, client):
    layer(rsps, MODERN, 4500, cap=2000)

    rows = list(client.records())

    assert [r["OBJECTID"] for r in rows] == list(range(1, 4501))
    sent = queries(rsps)
    assert [q["resultOffset"] for q in sent] == ["0", "2000", "4000"]
    assert all(q["orderByFields"] == "OBJECTID ASC" and q["outSR"] == "4326" for q in sent)
    assert all(q["resultRecordCount"] == "2000" and q["f"] == "json" for q in sent)


def test_the_page_size_never_exceeds_the_layers_max_record_count(rsps, client):
    layer(rsps, MRC_1000, 2500, cap=1000, point=True)

    rows = list(client.records(page_size=5000))

    assert [r["objectid"] for r in rows] == list(range(1, 2501))
    assert {q["resultRecordCount"] for q in queries(rsps)} == {"1000"}
    assert {q["orderByFields"] for q in queries(rsps)} == {"objectid ASC"}


def test_exceeded_transfer_limit_on_a_short_page_keeps_paging_from_the_rows_received(rsps, client):
    # the layer says 2000 but the server sends 700 at most, saying more follow
    layer(rsps, MODERN, 3000, cap=700)

    rows = list(client.records())

    assert [r["OBJECTID"] for r in rows] == list(range(1, 3001))
    assert [q["resultOffset"] for q in queries(rsps)][:3] == ["0", "700", "1400"]


def test_a_page_with_no_rows_but_the_flag_set_is_asked_again(rsps, client):
    rsps.get(LAYER, json=MODERN)
    empty = {k: v for k, v in PAGE.items() if k != "features"} | {"features": []}
    rsps.get(f"{LAYER}/query", json=empty)  # exceededTransferLimit true, zero rows
    rsps.add_callback(
        responses.GET, re.compile(re.escape(LAYER) + r"/query\b.*"), query_server(5, cap=2000)
    )

    assert [r["OBJECTID"] for r in client.records()] == [1, 2, 3, 4, 5]


def test_an_old_server_is_read_by_object_id_chunks(rsps):
    url = "https://gis.example.com/arcgis/rest/services/Old/MapServer/11"
    ids = list(range(1, 1201))
    rsps.get(url, json=OLD)

    def query(request):
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        if q.get("returnIdsOnly") == "true":
            return 200, {}, json.dumps({"objectIdFieldName": "OBJECTID", "objectIds": ids[::-1]})
        wanted = [int(i) for i in q["objectIds"].split(",")]
        feats = [
            {"attributes": {"OBJECTID": i, "NAME": f"P{i}"}, "geometry": {"x": -87.6, "y": 41.9}}
            for i in wanted
        ]
        return 200, {}, json.dumps({"features": feats[::-1]})  # any order

    rsps.add_callback(responses.GET, re.compile(re.escape(url) + r"/query\b.*"), query)

    rows = list(ArcGIS(url, http=HttpClient(retries=0), concurrency=1).records())

    assert [r["OBJECTID"] for r in rows] == ids
    assert rows[0]["latitude"] == 41.9 and rows[0]["longitude"] == -87.6
    sent = queries(rsps)
    assert sent[0]["returnIdsOnly"] == "true"
    assert [len(q["objectIds"].split(",")) for q in sent[1:]] == [500, 500, 200]
    assert all("resultOffset" not in q for q in sent)


def test_an_error_inside_http_200_is_a_validation_error_with_the_servers_words(rsps, client):
    rsps.get(LAYER, json=MODERN)
    rsps.get(f"{LAYER}/query", json=load("arcgis_error-400-in-http200_nyc-buildability-ZF06.json"))

    with pytest.raises(ValidationError) as info:
        list(client.records(where="NOSUCHFIELD=1"))

    assert "Invalid field: NOSUCHFIELD" in str(info.value)
    assert info.value.status == 400


def test_unable_to_complete_operation_is_retried_as_transient(rsps, client):
    busy = {"error": {"code": 500, "message": "Unable to complete operation.", "details": []}}
    rsps.get(LAYER, json=MODERN)
    # responses answers matching registrations in order, the last one repeating
    rsps.get(re.compile(re.escape(LAYER) + r"/query\b.*"), json=busy)
    rsps.add_callback(
        responses.GET, re.compile(re.escape(LAYER) + r"/query\b.*"), query_server(3, cap=2000)
    )

    assert [r["OBJECTID"] for r in client.records()] == [1, 2, 3]
    assert len(queries(rsps)) == 2


def test_a_server_that_stays_busy_ends_as_service_unavailable(rsps, client):
    rsps.get(LAYER, json=MODERN)
    busy = {"error": {"code": 400, "message": "Unable to complete operation.", "details": []}}
    rsps.get(re.compile(re.escape(LAYER) + r"/query\b.*"), json=busy)

    with pytest.raises(ServiceUnavailable, match="Unable to complete operation"):
        list(client.records())
    assert len(queries(rsps)) == 3  # the first try and two retries


def test_a_token_error_is_not_authorized(rsps, client):
    rsps.get(
        f"{LAYER}/query", json={"error": {"code": 499, "message": "Token Required", "details": []}}
    )

    with pytest.raises(NotAuthorized, match="Token Required"):
        client.count()


def test_polygons_become_geojson_and_points_latitude_longitude(rsps, client):
    rsps.get(LAYER, json=MODERN)
    rsps.get(f"{LAYER}/query", json={**PAGE, "exceededTransferLimit": False})

    rows = list(client.records())

    assert len(rows) == 6 and rows[0]["LHNAME"] == "Limited Height District"
    geometry = rows[0]["geometry"]
    assert geometry["type"] in ("Polygon", "MultiPolygon")
    ring = (
        geometry["coordinates"][0]
        if geometry["type"] == "Polygon"
        else geometry["coordinates"][0][0]
    )
    assert ring[0] == ring[-1]  # closed, as Esri sends it
    assert "latitude" not in rows[0]


def test_count_layers_and_fields(rsps):
    rsps.get(SERVICE, json=load("arcgis_featureserver-service_written.json"))
    rsps.get(f"{SERVICE}/1", json=MRC_1000)
    rsps.get(f"{SERVICE}/1/query", json={"count": 1234})
    client = ArcGIS(SERVICE, http=HttpClient(retries=0))

    layers = client.layers()

    assert [(r.name, r.url) for r in layers] == [
        ("Rounds", f"{SERVICE}/0"),
        ("Depots", f"{SERVICE}/1"),
        ("Round days", f"{SERVICE}/2"),
    ]
    assert client.count(resource=1) == 1234
    assert params(rsps.calls[-1])["returnCountOnly"] == "true"
    assert client.fields(1)["observed"] == "datetime"
    assert client.fields(1)["latitude"] == "float"


def test_a_service_needs_a_layer_named(rsps):
    with pytest.raises(ValueError, match="name a layer"):
        ArcGIS(SERVICE, http=HttpClient(retries=0)).records()


@pytest.mark.parametrize("dest", ["{tmp}/out/", "{tmp}"])
def test_download_into_a_folder_takes_the_layers_name(rsps, client, tmp_path, dest):
    layer(rsps, MRC_1000, 3, cap=1000, point=True)

    path = client.download(None, dest.format(tmp=tmp_path))

    assert path.parent == (tmp_path / "out" if dest.endswith("/") else tmp_path)
    assert path.name == "Facilities.geojson"
    data = json.loads(path.read_text())
    assert [f["properties"]["objectid"] for f in data["features"]] == [1, 2, 3]
    assert data["features"][0]["geometry"]["type"] == "Point"


def test_download_to_a_file_name_as_csv(rsps, client, tmp_path):
    layer(rsps, MRC_1000, 2, cap=1000, point=True)

    path = client.download(None, tmp_path / "facilities.csv", format="csv")

    assert path == tmp_path / "facilities.csv"
    lines = path.read_text().splitlines()
    assert lines[0].split(",")[:2] == ["objectid", "LHNAME"] and len(lines) == 3


# -- Hub sites ---------------------------------------------------------------------------

HUB = "https://opendata.example.com"


def test_hub_search_pages_the_ogc_items_with_a_one_based_startindex(rsps):
    items = load("hub_search-items_written.json")
    rest = {**items, "features": [copy.deepcopy(items["features"][0])], "numberReturned": 1}
    rest["features"][0]["properties"]["id"] = "ffffffffffffffffffffffffffffffff"
    rsps.get(f"{HUB}/api/search/v1/collections/dataset/items", json=items)
    rsps.get(f"{HUB}/api/search/v1/collections/dataset/items", json=rest)

    found = list(ArcGISHub(HUB, http=HttpClient(retries=0)).search("waste"))

    assert [d.title for d in found][:2] == [
        "Household waste recycling centres",
        "Bin collection rounds",
    ]
    assert len(found) == 3
    sent = [params(c) for c in rsps.calls]
    assert [(q["startindex"], q["q"]) for q in sent] == [("1", "waste"), ("3", "waste")]
    assert found[0].resources[0].url.endswith("/Recycling_Centres/FeatureServer/0")
    assert found[0].license_id == "Open Government Licence v3.0"
    assert found[0].metadata_modified is not None


def test_hub_search_falls_back_to_the_dcat_feed(rsps):
    rsps.get(f"{HUB}/api/search/v1/collections/dataset/items", status=404, body="<html>nope</html>")
    rsps.get(f"{HUB}/api/feed/dcat-us/1.1.json", json=load("hub_dcat-us-1.1_written.json"))

    found = list(ArcGISHub(HUB, http=HttpClient(retries=0)).search("recycling"))

    assert [d.id for d in found] == ["4f1d2c3b4a5e6f708192a3b4c5d6e7f8"]
    layer_res = [r for r in found[0].resources if r.datastore_active]
    assert [r.url for r in layer_res] == [
        "https://gis.example.com/arcgis/rest/services/Recycling_Centres/FeatureServer/0"
    ]


def test_hub_dataset_lists_the_services_layers_and_reads_them(rsps):
    item = load("hub_search-items_written.json")["features"][1]
    item_id = item["properties"]["id"]
    service = item["properties"]["url"]
    rsps.get(f"{HUB}/api/search/v1/collections/dataset/items/{item_id}", json=item)
    rsps.get(service, json=load("arcgis_featureserver-service_written.json"))
    rsps.get(f"{service}/1", json=MRC_1000)
    rsps.get(f"{service}/1/query", json={"features": features(0, 2, "objectid", point=True)})
    hub = ArcGISHub(HUB, http=HttpClient(retries=0), concurrency=1)

    ds = hub.dataset(item_id)
    rows = list(hub.records(ds.resources[1]))

    assert [r.name for r in ds.resources] == ["Rounds", "Depots", "Round days"]
    assert [r["objectid"] for r in rows] == [1, 2]
    assert rows[0]["latitude"] == 53.8
