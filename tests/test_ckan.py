"""CKAN client: paging, the error envelope, resource URLs and downloads."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from civickit.errors import (
    NotAPortalResponse,
    NotAuthorized,
    NotFound,
    ServiceUnavailable,
    ValidationError,
)
from civickit.http import HttpClient
from civickit.portals import CKAN, Dataset, Resource, UnknownPortal, known_portals, portal
from tests.helpers import load_json

SITE = "https://datamillnorth.org"
API = f"{SITE}/api/3/action"
CKAN_DIR = Path(__file__).parent / "fixtures" / "ckan"


load = partial(load_json, "ckan")


def query(call: Any) -> dict[str, str]:
    """The query parameters one recorded request carried (single values)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def envelope(result: Any) -> tuple[int, dict[str, str], str]:
    return (
        200,
        {"Content-Type": "application/json"},
        json.dumps({"success": True, "result": result}),
    )


@pytest.fixture
def ckan() -> CKAN:
    return CKAN(SITE, http=HttpClient(retries=2, backoff=0))


# -- a fake datastore_search ------------------------------------------------------------


def datastore(
    total: int,
    *,
    next_page: bool = False,
    reject_next_page: bool = False,
    include_total: bool = True,
    rows_max: int = 32000,
    prefix: str = "",
):
    """A datastore_search callback over rows ``_id`` 1..total, shaped like the real reply."""
    template = load("datastore_search_empty.json")["result"]

    def callback(request):
        params = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        if reject_next_page and "include_next_page" in params:
            return 409, {}, (CKAN_DIR / "error_409_junk.json").read_text()
        limit = min(int(params.get("limit", 100)), rows_max)
        filters = json.loads(params.get("filters", "{}"))
        after = filters.get("_id", {}).get("gt", 0) if isinstance(filters.get("_id"), dict) else 0
        start = after if "_id" in filters else int(params.get("offset", 0))
        ids = range(start + 1, min(start + limit, total) + 1)
        records = [{"_id": i, "pcode": f"P{i:06d}", "rank": i / 2} for i in ids]
        result = {
            **template,
            "q": params.get("q", ""),
            "limit": limit,
            "records": records,
            # the trap: a server-made next link that drops the site's path prefix
            "_links": {"next": f"/api/action/datastore_search?offset={start + limit}"},
        }
        if include_total:
            result["total"] = total
        else:
            result.pop("total")
        if next_page and "include_next_page" in params and records:
            result["next_page"] = {"_id": {"gt": records[-1]["_id"]}}
        return 200, {}, json.dumps({"help": prefix, "success": True, "result": result})

    return callback


def add_datastore(rsps, base: str = API, **kw) -> None:
    rsps.add_callback(
        responses.GET, re.compile(re.escape(f"{base}/datastore_search") + r"\?.*"), datastore(**kw)
    )


# -- datastore paging ---------------------------------------------------------------


def test_records_pages_by_offset_with_the_sort_on_every_request(rsps_all_used, ckan):
    add_datastore(rsps_all_used, total=2500)

    rows = list(ckan.records("res-1", page_size=1000, dump=False))

    assert [r["_id"] for r in rows] == list(range(1, 2501))
    sent = [query(c) for c in rsps_all_used.calls]
    assert [q.get("offset") for q in sent] == [None, "1000", "2000"]
    assert all(q["sort"] == "_id" and q["limit"] == "1000" for q in sent)
    assert all(q["resource_id"] == "res-1" for q in sent)


def test_records_follows_next_page_when_the_server_offers_it(rsps_all_used, ckan):
    add_datastore(rsps_all_used, total=2500, next_page=True)

    rows = list(ckan.records("res-1", filters={"pcode": {"gte": "P"}}))

    assert [r["_id"] for r in rows] == list(range(1, 2501))
    sent = [query(c) for c in rsps_all_used.calls]
    assert all(q["include_next_page"] == "true" and "offset" not in q for q in sent)
    assert [json.loads(q["filters"]) for q in sent] == [
        {"pcode": {"gte": "P"}},
        {"pcode": {"gte": "P"}, "_id": {"gt": 1000}},
        {"pcode": {"gte": "P"}, "_id": {"gt": 2000}},
    ]


def test_records_falls_back_to_offsets_when_next_page_is_rejected(rsps_all_used, ckan):
    add_datastore(rsps_all_used, total=1500, reject_next_page=True)

    rows = list(ckan.records("res-1", dump=False))
    again = list(ckan.records("res-1", dump=False))

    assert [r["_id"] for r in rows] == [r["_id"] for r in again] == list(range(1, 1501))
    sent = [query(c) for c in rsps_all_used.calls]
    # one rejected probe, then offset paging; the second run does not probe again
    assert "include_next_page" in sent[0]
    assert all("include_next_page" not in q for q in sent[1:])
    assert [q.get("offset") for q in sent[1:]] == [None, "1000", None, "1000"]


def test_records_stops_on_a_short_page_without_a_total(rsps_all_used, ckan):
    add_datastore(rsps_all_used, total=2500, include_total=False)

    assert len(list(ckan.records("res-1", dump=False))) == 2500
    assert len(rsps_all_used.calls) == 3


def test_records_stops_when_the_offset_reaches_the_total(rsps_all_used, ckan):
    add_datastore(rsps_all_used, total=2000)

    assert len(list(ckan.records("res-1", dump=False))) == 2000
    assert len(rsps_all_used.calls) == 2  # no third request for an empty page


def test_records_keeps_paging_when_the_server_clamps_the_page_size(rsps_all_used, ckan):
    add_datastore(rsps_all_used, total=70000, rows_max=32000)

    rows = list(ckan.records("res-1", page_size=50000, dump=False))

    assert len(rows) == 70000
    assert [query(c).get("offset") for c in rsps_all_used.calls] == [None, "32000", "64000"]


def test_records_limit_asks_only_for_what_it_needs(rsps_all_used, ckan):
    add_datastore(rsps_all_used, total=5000)

    rows = list(ckan.records("res-1", page_size=1000, limit=1500))

    assert len(rows) == 1500
    assert [query(c)["limit"] for c in rsps_all_used.calls] == ["1000", "500"]


def test_records_is_a_generator_that_fetches_lazily(rsps_all_used, ckan):
    add_datastore(rsps_all_used, total=5000)

    it = ckan.records("res-1", dump=False)
    assert len(rsps_all_used.calls) == 0
    next(it)
    assert len(rsps_all_used.calls) == 1


def test_records_never_follows_links_next_that_drop_the_path_prefix(rsps_all_used):
    base = "https://data.gov.au/data"
    add_datastore(rsps_all_used, base=f"{base}/api/3/action", total=250)
    client = CKAN(base, http=HttpClient(retries=0))

    rows = list(client.records("eb08d8fc-bb61-4191-9a4b-a20ee44dac1f", page_size=100, dump=False))

    assert len(rows) == 250
    assert len(rsps_all_used.calls) == 3
    assert all(c.request.url.startswith(f"{base}/api/3/action/") for c in rsps_all_used.calls)


def test_records_encodes_filters_q_and_fields_for_get(rsps_all_used, ckan):
    add_datastore(rsps_all_used, total=3)

    list(ckan.records("res-1", filters={"ward": "Headingley"}, q="bins", fields=["_id", "ward"]))

    sent = query(rsps_all_used.calls[0])
    assert json.loads(sent["filters"]) == {"ward": "Headingley"}
    assert sent["q"] == "bins"
    assert sent["fields"] == "_id,ward"
    assert rsps_all_used.calls[0].request.method == "GET"


def test_records_on_a_real_empty_reply(rsps_all_used, ckan):
    rsps_all_used.get(f"{API}/datastore_search", json=load("datastore_search_empty.json"))

    assert list(ckan.records("eb08d8fc-bb61-4191-9a4b-a20ee44dac1f", q="jones")) == []
    assert len(rsps_all_used.calls) == 1


# -- catalogue search -----------------------------------------------------------------


def catalogue(count: int):
    def callback(request):
        params = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        start, rows = int(params.get("start", 0)), int(params.get("rows", 10))
        results = [
            {"id": f"id-{i:05d}", "name": f"dataset-{i}", "title": f"Dataset {i}"}
            for i in range(start, min(start + rows, count))
        ]
        return envelope({"count": count, "results": results, "search_facets": {}})

    return callback


def test_search_pages_in_thousands_with_a_stable_sort(rsps_all_used, ckan):
    rsps_all_used.add_callback(
        responses.GET, re.compile(rf"{re.escape(API)}/package_search\?.*"), catalogue(2300)
    )

    found = list(ckan.search("bins"))

    assert len(found) == len({d.id for d in found}) == 2300
    sent = [query(c) for c in rsps_all_used.calls]
    assert [(q.get("start"), q["rows"], q["sort"], q["q"]) for q in sent] == [
        ("0", "1000", "id asc", "bins"),
        ("1000", "1000", "id asc", "bins"),
        ("2000", "1000", "id asc", "bins"),
    ]


def test_search_limit_and_filters(rsps_all_used, ckan):
    rsps_all_used.add_callback(
        responses.GET, re.compile(rf"{re.escape(API)}/package_search\?.*"), catalogue(50)
    )

    found = list(
        ckan.search(organization="leeds-city-council", tags=["bins"], fq="res_format:CSV", limit=5)
    )

    assert [d.name for d in found] == [f"dataset-{i}" for i in range(5)]
    sent = query(rsps_all_used.calls[0])
    assert sent["rows"] == "5"
    assert sent["fq"] == '+(res_format:CSV) +organization:"leeds-city-council" +tags:"bins"'
    assert len(rsps_all_used.calls) == 1


def test_dataset_from_a_real_package_show(rsps_all_used, ckan):
    rsps_all_used.get(f"{API}/package_show", json=load("package_show.json"))

    ds = ckan.dataset("2a428eae-sensors")

    assert isinstance(ds, Dataset)
    assert query(rsps_all_used.calls[0]) == {"id": "2a428eae-sensors"}
    assert ds.organization == "smartme" and ds.tags == ("testbed",) and ds.license_id == "cc-by"
    assert ds.metadata_modified == datetime(2017, 9, 13, 8, 17, 8, 371045, tzinfo=UTC)
    assert ds.url == f"{SITE}/dataset/2a428eae-sensors"
    dump, csv = ds.resources
    assert dump.url == f"{SITE}/datastore/dump/c1352d7d-0000-0000-0000-000000000001"
    assert dump.datastore_active and dump.size is None
    assert csv.url == "http://smartme-data.unime.it/dataset/readings.csv" and csv.size == 2048
    assert json.loads(json.dumps(ds.to_dict()))["resources"][0]["url"] == dump.url


@pytest.mark.parametrize(
    ("site", "url", "expected"),
    [
        (
            "https://datamillnorth.org",
            "/datastore/dump/abc",
            "https://datamillnorth.org/datastore/dump/abc",
        ),
        (
            "https://data.gov.au/data",
            "/datastore/dump/abc",
            "https://data.gov.au/data/datastore/dump/abc",
        ),
        (
            "https://data.gov.au/data",
            "/data/datastore/dump/abc",
            "https://data.gov.au/data/datastore/dump/abc",
        ),
        (
            "https://data.gov.au/data/",
            "datastore/dump/abc",
            "https://data.gov.au/data/datastore/dump/abc",
        ),
        ("https://data.gov.uk", "https://example.org/a.csv", "https://example.org/a.csv"),
        ("https://data.gov.uk", "//example.org/a.csv", "https://example.org/a.csv"),
    ],
)
def test_relative_resource_urls_are_made_absolute(site, url, expected):
    res = Resource.from_api({"id": "abc", "url": url}, site)
    assert res.url == expected


def test_organizations_pages_through_organization_list(rsps_all_used, ckan):
    names = [f"org-{i:04d}" for i in range(1500)]

    def callback(request):
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        offset, limit = int(q.get("offset", 0)), int(q["limit"])
        return envelope(names[offset : offset + limit])

    rsps_all_used.add_callback(
        responses.GET, re.compile(rf"{re.escape(API)}/organization_list\?.*"), callback
    )

    assert ckan.organizations() == names
    assert [query(c)["offset"] for c in rsps_all_used.calls] == ["0", "1000"]


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "fixture", "error"),
    [
        (403, "error_403.json", NotAuthorized),
        (404, "error_404.json", NotFound),
        (409, "error_409.json", ValidationError),
        (200, "error_404.json", NotFound),  # the docs' "always 200" servers
    ],
)
def test_error_envelopes_become_typed_errors(rsps_all_used, ckan, status, fixture, error):
    rsps_all_used.get(f"{API}/package_show", status=status, json=load(fixture))

    with pytest.raises(error) as info:
        ckan.dataset("missing")

    assert len(rsps_all_used.calls) == 1  # client errors are never retried
    assert info.value.url.startswith(f"{API}/package_show")


def test_validation_errors_carry_their_field_errors(rsps_all_used, ckan):
    rsps_all_used.get(f"{API}/datastore_search", status=409, json=load("error_409.json"))

    with pytest.raises(ValidationError) as info:
        ckan.action("datastore_search", resource_id="x", filters="{not json")

    assert info.value.errors == {"filters": ["Cannot parse JSON"]}
    assert "filters: Cannot parse JSON" in str(info.value)


def test_server_errors_are_retried_then_raised(rsps_all_used, ckan):
    rsps_all_used.get(f"{API}/package_search", status=500, json=load("error_500.json"))

    with pytest.raises(ServiceUnavailable, match="Search Index Error"):
        list(ckan.search())

    assert len(rsps_all_used.calls) == 3  # the first try and two retries


def test_a_server_error_then_success_is_invisible(rsps_all_used, ckan):
    rsps_all_used.get(f"{API}/package_show", status=500, json=load("error_500.json"))
    rsps_all_used.get(f"{API}/package_show", json=load("package_show.json"))

    assert ckan.dataset("x").name == "2a428eae-sensors"
    assert len(rsps_all_used.calls) == 2


def test_an_html_page_with_status_200_is_not_a_portal_response(rsps_all_used, ckan):
    rsps_all_used.get(f"{API}/package_show", body=(CKAN_DIR / "proxy_page.html").read_text())

    with pytest.raises(NotAPortalResponse) as info:
        ckan.dataset("x")

    assert f"{API}/package_show" in str(info.value)


def test_json_that_is_not_a_ckan_envelope_is_not_a_portal_response(rsps_all_used, ckan):
    rsps_all_used.get(f"{API}/package_show", json={"items": []})

    with pytest.raises(NotAPortalResponse, match="envelope"):
        ckan.dataset("x")


# -- auth, writes, downloads ----------------------------------------------------------


def test_the_token_goes_in_the_authorization_header_of_this_portal_only(rsps_all_used):
    http = HttpClient(retries=0)
    rsps_all_used.get(f"{API}/package_show", json=load("package_show.json"))
    rsps_all_used.get(
        "https://data.gov.uk/api/3/action/package_show", json=load("package_show.json")
    )

    CKAN(SITE, api_token="tok-123", http=http).dataset("x")
    CKAN("https://data.gov.uk", http=http).dataset("x")

    assert rsps_all_used.calls[0].request.headers["Authorization"] == "tok-123"
    assert "Authorization" not in rsps_all_used.calls[1].request.headers


def test_write_actions_are_posted_as_json_and_not_retried(rsps_all_used, ckan):
    rsps_all_used.post(f"{API}/datastore_upsert", status=500, json=load("error_500.json"))

    with pytest.raises(ServiceUnavailable):
        ckan.action("datastore_upsert", resource_id="r", records=[{"a": 1}], method="insert")

    assert len(rsps_all_used.calls) == 1
    assert json.loads(rsps_all_used.calls[0].request.body) == {
        "resource_id": "r",
        "records": [{"a": 1}],
        "method": "insert",
    }


def test_sql_returns_the_records(rsps_all_used, ckan):
    rsps_all_used.get(
        f"{API}/datastore_search_sql", json={"success": True, "result": {"records": [{"n": 3}]}}
    )

    assert ckan.sql('SELECT count(*) AS n FROM "abc"') == [{"n": 3}]
    assert query(rsps_all_used.calls[0])["sql"] == 'SELECT count(*) AS n FROM "abc"'


def test_download_a_resource_by_id(rsps_all_used, ckan, tmp_path):
    show = load("package_show.json")["result"]["resources"][0]
    rsps_all_used.get(f"{API}/resource_show", json={"success": True, "result": show})
    rsps_all_used.get(
        f"{SITE}/datastore/dump/{show['id']}", body=b"_id,value\n1,2\n", headers={"ETag": '"v1"'}
    )

    path = ckan.download(show["id"], tmp_path / "sensors.csv")

    assert path == tmp_path / "sensors.csv"
    assert path.read_bytes() == b"_id,value\n1,2\n"
    assert query(rsps_all_used.calls[0]) == {"id": show["id"]}


def test_download_a_resource_object_skips_resource_show(rsps_all_used, ckan, tmp_path):
    res = Resource.from_api({"id": "r1", "url": "/datastore/dump/r1"}, SITE)
    rsps_all_used.get(f"{SITE}/datastore/dump/r1", body=b"a,b\n")

    assert ckan.download(res, tmp_path / "r1.csv").read_bytes() == b"a,b\n"
    assert len(rsps_all_used.calls) == 1


# -- the registry ---------------------------------------------------------------------


def test_portal_by_name_and_by_url():
    assert portal("datamillnorth").base_url == "https://datamillnorth.org"
    assert portal("DataGovUK").api_url == "https://data.gov.uk/api/3/action"
    by_url = portal("https://data.gov.au/data/", kind="ckan")
    assert by_url.api_url == "https://data.gov.au/data/api/3/action"
    assert set(known_portals()) >= {"datamillnorth", "datagovuk"}


def test_an_unknown_portal_lists_the_known_names():
    with pytest.raises(UnknownPortal) as info:
        portal("datamilnorth")
    assert "datamillnorth" in str(info.value) and "datagovuk" in str(info.value)


def test_download_sends_the_token_to_the_portal_only(rsps_all_used, tmp_path):
    ckan = CKAN(SITE, api_token="secret-token", http=HttpClient(retries=0))
    rsps_all_used.get(f"{SITE}/datastore/dump/r1", body=b"a\n")
    rsps_all_used.get("https://files.example.org/r2.csv", body=b"b\n")

    ckan.download(f"{SITE}/datastore/dump/r1", tmp_path / "r1.csv")
    ckan.download("https://files.example.org/r2.csv", tmp_path / "r2.csv")

    assert rsps_all_used.calls[0].request.headers["Authorization"] == "secret-token"
    assert "Authorization" not in rsps_all_used.calls[1].request.headers
