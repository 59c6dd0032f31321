"""OpenDataSoft Explore v2.1, on the vendor's own example bodies in tests/fixtures/portals."""

from __future__ import annotations

import copy
import json
import re
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from civickit.errors import RateLimited, ValidationError
from civickit.http import HttpClient
from civickit.portals import OpenDataSoft
from tests.helpers import load_json

SITE = "https://data.leicester.gov.uk"
API = f"{SITE}/api/explore/v2.1"
DATASET = "geonames-all-cities-with-a-population-1000"
RECORDS = f"{API}/catalog/datasets/{DATASET}/records"
EXPORT = f"{API}/catalog/datasets/{DATASET}/exports/jsonl"


load = partial(load_json, "portals")


TEMPLATE = load("ods_catalog-dataset-records_v2.1_ods-openapi-example.json")["results"][0]


def params(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def row(i: int) -> dict[str, Any]:
    out = copy.deepcopy(TEMPLATE)
    out["geoname_id"] = str(i)
    out["coordinates"] = {"lat": 52.6 + i / 1e6, "lon": -1.13}
    return out


def records_server(total: int):
    def callback(request):
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        limit, offset = int(q.get("limit", 10)), int(q.get("offset", 0))
        if limit > 100 or offset + limit >= 10_000:
            body = {
                "message": "Invalid value for sum of offset + limit API parameter",
                "error_code": "InvalidRESTParameterError",
            }
            return 400, {}, json.dumps(body)
        rows = [row(i) for i in range(offset + 1, min(offset + limit, total) + 1)]
        return (
            200,
            {"Content-Type": "application/json"},
            json.dumps({"total_count": total, "results": rows}),
        )

    return callback


@pytest.fixture
def ods() -> OpenDataSoft:
    return OpenDataSoft(SITE, http=HttpClient(retries=0), concurrency=1)


def test_multi_page_read_returns_every_row_once_in_order(rsps, ods):
    rsps.add_callback(responses.GET, re.compile(re.escape(RECORDS) + r"\b.*"), records_server(250))

    rows = list(
        ods.records(DATASET, where="population > 1000", fields=["geoname_id", "coordinates"])
    )

    assert [r["geoname_id"] for r in rows] == [str(i) for i in range(1, 251)]
    sent = [params(c) for c in rsps.calls]
    assert [(q["offset"], q["limit"]) for q in sent] == [
        ("0", "100"),
        ("100", "100"),
        ("200", "50"),  # the total is known: ask for what is left
    ]
    assert {q["where"] for q in sent} == {"population > 1000"}  # ODSQL passes straight through
    assert {q["select"] for q in sent} == {"geoname_id,coordinates"}
    assert rows[0]["latitude"] == pytest.approx(52.600001) and rows[0]["longitude"] == -1.13


def test_a_read_past_ten_thousand_rows_streams_the_export(rsps, ods):
    rsps.add_callback(
        responses.GET, re.compile(re.escape(RECORDS) + r"\b.*"), records_server(12_000)
    )
    body = "".join(json.dumps(row(i)) + "\n" for i in range(1, 12_001))
    rsps.get(EXPORT, body=body, content_type="application/jsonl")

    rows = list(ods.records(DATASET, where="country_code = 'GB'"))

    assert [r["geoname_id"] for r in rows] == [str(i) for i in range(1, 12_001)]
    export = [params(c) for c in rsps.calls if "/exports/" in c.request.url]
    assert export == [{"where": "country_code = 'GB'", "limit": "-1"}]
    assert len(rsps.calls) == 2  # one records call learnt the total, then the export


def test_a_limit_inside_the_window_stays_on_records(rsps, ods):
    rsps.add_callback(
        responses.GET, re.compile(re.escape(RECORDS) + r"\b.*"), records_server(50_000)
    )

    rows = list(ods.records(DATASET, limit=9_999))

    assert len(rows) == 9_999 and rows[-1]["geoname_id"] == "9999"
    assert all("/records" in c.request.url for c in rsps.calls)


def test_an_odsql_error_is_a_validation_error_carrying_the_message(rsps, ods):
    rsps.get(RECORDS, status=400, json=load("ods_error-400-ODSQLError_ods-openapi-example.json"))

    with pytest.raises(ValidationError) as info:
        list(ods.records(DATASET, fields=["invalid_function()"]))

    assert "ODSQL query is malformed: invalid_function()" in str(info.value)
    assert "ODSQLError" in str(info.value)
    assert info.value.errors["ODSQLError"].startswith("ODSQL query is malformed")


def test_the_quota_429_is_rate_limited_with_its_reset_time(rsps, ods):
    rsps.get(RECORDS, status=429, json=load("ods_error-429-quota_ods-openapi-example.json"))

    with pytest.raises(RateLimited) as info:
        list(ods.records(DATASET))

    assert "2021-01-26T00:00:00Z" in str(info.value)
    assert "10000 calls a day" in str(info.value)
    assert info.value.retry_after == 0.0  # that reset time is long past


def test_search_and_dataset_on_the_catalogue_examples(rsps, ods):
    rsps.get(
        f"{API}/catalog/datasets", json=load("ods_catalog-datasets_v2.1_ods-openapi-example.json")
    )
    rsps.get(
        f"{API}/catalog/datasets/{DATASET}",
        json=load("ods_catalog-dataset-single_v2.1_ods-openapi-example.json"),
    )

    found = list(ods.search("cities"))
    ds = ods.dataset(DATASET)

    assert [d.id for d in found] == [
        "world-administrative-boundaries-countries-and-territories",
        DATASET,
    ]
    assert params(rsps.calls[0])["where"] == '"cities"'
    assert ds.title == "Geonames - All Cities with a population > 1000"
    assert ds.license_id == "CC BY 4.0" and ds.organization == "GeoNames"
    assert [r.id for r in ds.resources] == [
        DATASET,
        f"{DATASET}.csv",
        f"{DATASET}.json",
        f"{DATASET}.geojson",
    ]
    assert ds.resources[0].datastore_active and ds.resources[0].size == 137611
    assert ods.fields(DATASET)["population"] == "integer"
    assert ods.fields(DATASET)["latitude"] == "float"


def test_download_asks_for_comma_csv_without_a_bom_into_a_folder(rsps, ods, tmp_path):
    rsps.get(
        f"{API}/catalog/datasets/{DATASET}/exports/csv", body=b"geoname_id,name\n1,Leicester\n"
    )

    path = ods.download(DATASET, f"{tmp_path}/data/")

    assert path == tmp_path / "data" / f"{DATASET}.csv"
    assert path.read_bytes() == b"geoname_id,name\n1,Leicester\n"
    assert params(rsps.calls[0]) == {"delimiter": ",", "with_bom": "false"}


def test_the_api_key_goes_in_the_authorization_header(rsps):
    rsps.add_callback(responses.GET, re.compile(re.escape(RECORDS) + r"\b.*"), records_server(1))
    client = OpenDataSoft(SITE, api_key="k3y", http=HttpClient(retries=0))

    list(client.records(DATASET))

    assert rsps.calls[0].request.headers["Authorization"] == "Apikey k3y"
