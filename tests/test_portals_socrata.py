"""Socrata SODA 2.1 and the Discovery API, on the recorded shapes in tests/fixtures/portals."""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from civickit.errors import NotFound, ValidationError
from civickit.http import HttpClient
from civickit.portals import Socrata
from tests.helpers import load_json

SITE = "https://opendata.camden.gov.uk"
VIEW = "64uk-42ks"
RESOURCE = f"{SITE}/resource/{VIEW}.json"


load = partial(load_json, "portals")


TEMPLATE = load("socrata_resource-order-limit-page1_nyc-buildability-F06a.json")[0]


def params(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def soda(total: int):
    """/resource/<4x4>.json over rows bbl 1..total, all values strings as SODA sends them."""

    def callback(request):
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        limit, offset = int(q.get("$limit", 1000)), int(q.get("$offset", 0))
        rows = []
        for i in range(offset + 1, min(offset + limit, total) + 1):
            row = {k: v for k, v in TEMPLATE.items() if k not in ("latitude", "longitude")}
            row["bbl"] = str(i)
            row["location"] = {"type": "Point", "coordinates": [-0.14, 51.54 + i / 1e6]}
            rows.append(row)
        return 200, {"Content-Type": "application/json", "X-SODA2-Fields": "[]"}, json.dumps(rows)

    return callback


@pytest.fixture
def socrata(monkeypatch) -> Socrata:
    monkeypatch.delenv("SOCRATA_APP_TOKEN", raising=False)
    return Socrata(SITE, http=HttpClient(retries=0), concurrency=1)


def test_multi_page_read_returns_every_row_once_always_ordered_by_id(rsps, socrata):
    rsps.add_callback(responses.GET, re.compile(re.escape(RESOURCE) + r"\b.*"), soda(2500))

    rows = list(socrata.records(VIEW, page_size=1000, where="borough = 'MN'"))

    assert [r["bbl"] for r in rows] == [str(i) for i in range(1, 2501)]
    sent = [params(c) for c in rsps.calls]
    assert [(q["$offset"], q["$limit"]) for q in sent] == [
        ("0", "1000"),
        ("1000", "1000"),
        ("2000", "1000"),
    ]
    assert {q["$order"] for q in sent} == {":id"}
    assert {q["$where"] for q in sent} == {"borough = 'MN'"}
    assert rows[0]["latitude"] == pytest.approx(51.540001) and rows[0]["longitude"] == -0.14
    assert rows[0]["lotarea"] == "7577714"  # SODA's strings, untouched


def test_a_callers_order_keeps_id_as_the_tie_break(rsps, socrata):
    rsps.add_callback(responses.GET, re.compile(re.escape(RESOURCE) + r"\b.*"), soda(3))

    list(socrata.records(VIEW, order="bbl DESC"))

    assert params(rsps.calls[0])["$order"] == "bbl DESC, :id"


def test_the_app_token_header_from_the_argument_or_the_environment(rsps, monkeypatch):
    rsps.add_callback(responses.GET, re.compile(re.escape(RESOURCE) + r"\b.*"), soda(1))
    monkeypatch.setenv("SOCRATA_APP_TOKEN", "from-env")

    list(Socrata(SITE, app_token="from-arg", http=HttpClient(retries=0)).records(VIEW))
    list(Socrata(SITE, http=HttpClient(retries=0)).records(VIEW))

    assert [c.request.headers["X-App-Token"] for c in rsps.calls] == ["from-arg", "from-env"]


@pytest.mark.parametrize(
    ("fixture", "code", "words"),
    [
        (
            "socrata_error-400-no-such-column_nyc-buildability-ZT10.json",
            "query.soql.no-such-column",
            "No such column: nonexistent_column",
        ),
        (
            "socrata_error-400-type-mismatch_written.json",
            "query.soql.type-mismatch",
            "Type mismatch for op$>, is text",
        ),
    ],
)
def test_soql_errors_are_validation_errors_with_the_servers_message(
    rsps, socrata, fixture, code, words
):
    rsps.get(RESOURCE, status=400, json=load(fixture))

    with pytest.raises(ValidationError) as info:
        list(socrata.records(VIEW, fields=["nonexistent_column"]))

    assert code in str(info.value) and words in str(info.value)
    assert code in info.value.errors


def test_discovery_search_uses_the_eu_host_for_a_uk_domain(rsps, socrata):
    rsps.get(
        "https://api.eu.socrata.com/api/catalog/v1",
        json=load("socrata_discovery-api-catalog-v1_sodapy.json"),
    )

    found = list(socrata.search("permits", limit=3))

    q = params(rsps.calls[0])
    assert (q["domains"], q["search_context"], q["q"], q["limit"]) == (
        "opendata.camden.gov.uk",
        "opendata.camden.gov.uk",
        "permits",
        "3",
    )
    assert found[0].id == "msk6-43c6" and found[0].title == "Approved Building Permits"
    assert found[0].resources[0].url == f"{SITE}/resource/msk6-43c6.json"
    assert "permits" in found[0].tags
    assert len(found) == 3


def test_discovery_tries_the_other_region_when_the_domain_is_unknown(rsps, socrata):
    rsps.get(
        "https://api.eu.socrata.com/api/catalog/v1",
        status=400,
        json={"error": "Domain not found: opendata.camden.gov.uk"},
    )
    rsps.get(
        "https://api.us.socrata.com/api/catalog/v1",
        json=load("socrata_discovery-api-catalog-v1_sodapy.json"),
    )

    assert len(list(socrata.search())) == 7
    assert socrata.region == "us"


def test_dataset_from_the_views_metadata(rsps, socrata):
    rsps.get(
        f"{SITE}/api/views/fdkv-4t4z.json",
        json=load("socrata_api-views-metadata_nyc-buildability-ZT08.json"),
    )

    ds = socrata.dataset("fdkv-4t4z")
    types = socrata.fields("fdkv-4t4z")

    assert ds.title == "NYC Zoning Tax Lot Database"
    assert [r.id for r in ds.resources] == ["fdkv-4t4z", "fdkv-4t4z.csv", "fdkv-4t4z.json"]
    assert ds.resources[0].datastore_active and not ds.resources[1].datastore_active
    assert types["bbl"] == "float" and types["zoning_district_1"] == "text"


def test_a_bad_dataset_id_is_refused_before_any_request(rsps, socrata):
    with pytest.raises(ValueError, match="four-by-four"):
        socrata.records("not an id")
    assert len(rsps.calls) == 0


def test_a_missing_view_is_not_found(rsps, socrata):
    rsps.get(
        f"{SITE}/api/views/abcd-1234.json",
        status=404,
        json={"code": "not_found", "error": True, "message": "Cannot find view with id abcd-1234"},
    )

    with pytest.raises(NotFound, match="Cannot find view"):
        socrata.dataset("abcd-1234")


def test_download_the_export_into_a_folder(rsps, socrata, tmp_path):
    rsps.get(f"{SITE}/api/views/{VIEW}/rows.csv", body=b"bbl\n1\n")

    path = socrata.download(f"{VIEW}.csv", tmp_path)

    assert path == tmp_path / f"{VIEW}.csv" and path.read_bytes() == b"bbl\n1\n"
    assert params(rsps.calls[0]) == {"accessType": "DOWNLOAD"}
