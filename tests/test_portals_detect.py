"""detect_portal, portal() and the UK registry."""

from __future__ import annotations

import ast
import re
from functools import partial
from pathlib import Path

import pytest

import civickit.portals.registry
from civickit.errors import ServiceUnavailable, UnknownPortal
from civickit.http import HttpClient
from civickit.portals import (
    CKAN,
    KINDS,
    ArcGIS,
    ArcGISHub,
    OpenDataSoft,
    Socrata,
    clear_cache,
    detect_portal,
    known_portals,
    portal,
)
from tests.helpers import load_json

SITE = "https://portal.example.com"
ANY = re.compile(r"https://portal\.example\.com/.*")
HTML = "<!doctype html><html><body><div id='app'></div></body></html>"


load = partial(load_json, "portals")


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def http() -> HttpClient:
    return HttpClient(retries=0)


def html_everywhere(rsps) -> None:
    rsps.get(ANY, body=HTML, content_type="text/html")


PROBE = {
    "opendatasoft": "/api/explore/v2.1/catalog/datasets",
    "ckan": "/api/3/action/status_show",
    "socrata": "/api/views.json",
    "arcgis-hub": "/api/search/v1",
}
ANSWER = {
    "opendatasoft": lambda: load("ods_catalog-datasets_v2.1_ods-openapi-example.json"),
    "ckan": lambda: load("ckan_status_show_written.json"),
    "socrata": lambda: [load("socrata_api-views-metadata_nyc-buildability-ZT08.json")],
    "arcgis-hub": lambda: load("hub_search-landing_written.json"),
}


@pytest.mark.parametrize("kind", list(PROBE))
def test_each_kind_is_found_by_its_own_api_on_a_site_that_otherwise_answers_html(rsps, http, kind):
    rsps.get(SITE + PROBE[kind], json=ANSWER[kind]())
    html_everywhere(rsps)  # every other probe gets the site's HTML with status 200

    assert detect_portal(SITE, http=http) == kind


def test_a_hub_site_without_the_search_api_is_found_by_its_dcat_feed(rsps, http):
    rsps.get(f"{SITE}/api/search/v1", status=404, body=HTML, content_type="text/html")
    rsps.get(f"{SITE}/api/feed/dcat-us/1.1.json", json=load("hub_dcat-us-1.1_written.json"))
    html_everywhere(rsps)

    assert detect_portal(SITE, http=http) == "arcgis-hub"


def test_an_arcgis_rest_layer_url_is_checked_with_f_json(rsps, http):
    url = "https://gis.example.com/arcgis/rest/services/Zoning/FeatureServer/0"
    rsps.get(url, json=load("arcgis_featureserver-layer-metadata_nyc-buildability-ZF01a.json"))

    assert detect_portal(url, http=http) == "arcgis"
    assert rsps.calls[0].request.url == f"{url}?f=json"
    assert isinstance(portal(url, http=http), ArcGIS)


def test_an_html_site_answering_200_everywhere_is_unknown_and_says_what_each_probe_got(rsps, http):
    html_everywhere(rsps)

    with pytest.raises(UnknownPortal) as info:
        detect_portal(SITE, http=http)

    message = str(info.value)
    assert len(info.value.probes) == 5
    for path in (*PROBE.values(), "/api/feed/dcat-us/1.1.json"):
        assert SITE + path in message
    assert message.count("HTTP 200 text/html") == 5
    assert "\n" not in message


def test_a_redirect_from_www_is_followed_and_the_final_host_kept(rsps, http):
    www = "https://www.portal.example.com"
    rsps.get(
        f"{www}/api/explore/v2.1/catalog/datasets",
        status=301,
        headers={"Location": f"{SITE}/api/explore/v2.1/catalog/datasets?limit=1"},
    )
    rsps.get(f"{SITE}/api/explore/v2.1/catalog/datasets", json=ANSWER["opendatasoft"]())

    assert detect_portal(www, http=http) == "opendatasoft"
    client = portal(www, http=http)
    assert isinstance(client, OpenDataSoft) and client.base_url == SITE


def test_answers_are_cached_per_site_for_a_while(rsps, http):
    rsps.get(SITE + PROBE["opendatasoft"], body=HTML, content_type="text/html")
    rsps.get(SITE + PROBE["ckan"], json=ANSWER["ckan"]())

    assert detect_portal(SITE, http=http) == "ckan"
    calls = len(rsps.calls)
    assert detect_portal(SITE + "/", http=http) == "ckan"
    assert len(rsps.calls) == calls
    clear_cache()
    detect_portal(SITE, http=http)
    assert len(rsps.calls) == 2 * calls


def test_an_unreachable_site_is_service_unavailable_not_unknown(http):
    with pytest.raises(ServiceUnavailable, match="could not reach"):
        detect_portal("http://127.0.0.1:9", http=http)


# -- portal() ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("datamillnorth", CKAN),
        ("bristol", ArcGISHub),
        ("leicester", OpenDataSoft),
        ("camden", Socrata),
    ],
)
def test_registered_names_open_the_right_client_without_a_request(rsps, name, cls):
    client = portal(name)
    assert isinstance(client, cls) and client.kind == known_portals()[name].kind
    assert len(rsps.calls) == 0


def test_kind_skips_detection_and_options_reach_the_client(rsps):
    client = portal("opendata.camden.gov.uk", kind="socrata", app_token="t")
    assert isinstance(client, Socrata) and client.base_url == "https://opendata.camden.gov.uk"
    with pytest.raises(ValueError, match="does not take api_key"):
        portal("camden", api_key="x")
    assert len(rsps.calls) == 0


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownPortal) as info:
        portal("leeds city council")
    assert "datamillnorth" in str(info.value) and "camden" in str(info.value)


# -- the registry --------------------------------------------------------------------------


def test_the_registry_has_at_least_twenty_uk_portals_of_every_kind_but_rest():
    infos = known_portals()
    assert len(infos) >= 20
    assert {i.kind for i in infos.values()} == set(KINDS) - {"arcgis"}
    for name, info in infos.items():
        assert info.name == name and info.url.startswith("https://") and info.title


def test_every_registry_entry_cites_its_evidence_in_a_comment():
    source = Path(civickit.portals.registry.__file__).read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    calls = [
        node
        for node in tree.body
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", "") == "register"
    ]
    assert len(calls) == len(known_portals())
    for call in calls:
        comment = []
        n = call.lineno - 2
        while n >= 0 and lines[n].startswith("#"):
            comment.insert(0, lines[n])
            n -= 1
        text = " ".join(comment)
        assert re.search(r"\[(CDI|ODU|CODE)\]|alphagov/", text), (
            f"no evidence above line {call.lineno}"
        )


def test_the_docs_table_lists_every_registered_portal():
    docs = (Path(__file__).parent.parent / "docs" / "portals.md").read_text()
    for name, info in known_portals().items():
        assert f"`{name}`" in docs and info.url in docs
