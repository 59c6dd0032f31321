"""streetwise degrades, never breaks: every way police.uk and postcodes.io can fail.

police.uk and postcodes.io are rsps with ``responses``; any request the
test did not expect fails loudly. Each failure must leave the page at 200
with a plain-words notice in the failed section, and the rest of the page
(hospitals, collisions) intact; the API carries ``{"error": {...}}`` in the
failed section.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from examples.streetwise import importer, region, state
from scripts.generate_streetwise_sample import police_crime
from tests.examples.helpers import make_streetwise_app, north, streetwise_engine

POLICE = "https://data.police.uk/api"
POSTCODES = "https://api.postcodes.io"
CENTRE = (53.801460, -1.552119)  # LS1 3EX in the bundled postcode directory
MONTHS = [f"2025-{m:02d}" for m in range(9, 0, -1)] + ["2024-12", "2024-11", "2024-10", "2024-09"]


def crime(i: int, where: tuple[float, float], category: str = "burglary", month="2025-09"):
    return police_crime(
        i, where, category, month, street_id=100 + i, street="On or near Park Row", decimals=7
    )


# within 1 km: ids 1, 2, 3 (on a quadrant boundary: the centre's own latitude); 4 is outside
CRIMES = [
    crime(1, north(CENTRE, 200)),
    crime(2, north(CENTRE, -900), "violent-crime"),
    crime(3, CENTRE, "shoplifting"),
    crime(4, north(CENTRE, 1100)),
]


@pytest.fixture
def streetwise_config():
    """Crime from police.uk (answered by ``responses``), not the bundled snapshot."""
    return {"CRIME_SOURCE": "live"}


def dates(rsps, months=MONTHS):
    rsps.get(
        f"{POLICE}/crimes-street-dates",
        json=[{"date": m, "stop-and-search": []} for m in months],
    )


def _poly(request) -> list[tuple[float, float]]:
    if request.method == "POST":
        text = parse_qs(request.body)["poly"][0]
    else:
        text = parse_qs(urlsplit(request.url).query)["poly"][0]
    return [tuple(float(v) for v in pair.split(",")) for pair in text.split(":")]


def crimes_inside(request):
    """police.uk's answer: the fixture crimes in the requested polygon.

    For the parts of a split area, anything within about a metre of a part's
    box comes back, so a crime on the line between two parts is sent twice.
    """
    poly = _poly(request)
    found = []
    for c in CRIMES:
        lat, lon = float(c["location"]["latitude"]), float(c["location"]["longitude"])
        if len(poly) == 12:
            hit = region.point_inside(lat, lon, poly)
        else:
            lats, lons = [p[0] for p in poly], [p[1] for p in poly]
            hit = (min(lats) - 1e-5 <= lat <= max(lats) + 1e-5) and (
                min(lons) - 1e-5 <= lon <= max(lons) + 1e-5
            )
        if hit:
            found.append(c)
    return found


def page(app, postcode="LS1 3EX", radius=1000):
    response = app.test_client().get(f"/area/{postcode}?radius_m={radius}")
    return response.status_code, response.get_data(as_text=True)


def api(app, postcode="LS1 3EX", radius=1000):
    response = app.test_client().get(f"/api/area/{postcode}?radius_m={radius}")
    return response.status_code, response.get_json()


def assert_rest_of_page_intact(html: str) -> None:
    assert "Leeds General Infirmary" in html  # hospitals
    assert 'id="collisions-by-severity"' in html  # collisions


# -- police.uk ----------------------------------------------------------------------


def test_live_crime_uses_the_newest_12_months_and_the_exact_radius(streetwise_app, rsps):
    dates(rsps)
    asked: list[str] = []

    def reply(request):
        month = parse_qs(urlsplit(request.url).query)["date"][0]
        asked.append(month)
        body = crimes_inside(request) if month == "2025-09" else []
        return 200, {}, json.dumps(body)

    rsps.add_callback(responses.GET, re.compile(f"{POLICE}/crimes-street/all-crime"), reply)
    status, body = api(streetwise_app)
    assert status == 200
    assert sorted(asked) == sorted(MONTHS[:12])  # 2024-09 is the 13th: not asked
    crime_ = body["crime"]
    assert crime_["source"] == "live"
    assert {c["category"]: c["count"] for c in crime_["by_category"]} == {
        "burglary": 1,
        "violent-crime": 1,
        "shoplifting": 1,
    }
    assert crime_["baseline_complete"] is False  # no Leeds-wide counts loaded
    status, html = page(streetwise_app)
    assert status == 200 and 'id="crime-no-baseline"' in html


FAILURES = {
    "timeout": (
        {"body": requests.exceptions.ReadTimeout("read timed out")},
        "did not answer in time",
    ),
    "connection refused": (
        {"body": requests.exceptions.ConnectionError("refused")},
        "is not available",
    ),
    "429 rate limited": ({"status": 429, "json": {"error": "slow down"}}, "busy"),
    "503 down": ({"status": 503, "body": "Service Unavailable"}, "is not available"),
    "500 error": ({"status": 500, "body": "oops"}, "is not available"),
    "malformed JSON": ({"status": 200, "body": '[{"date": "2025-'}, "could not read"),
    "an HTML page": (
        {"status": 200, "body": "<html><body>Maintenance</body></html>"},
        "could not read",
    ),
    "JSON of the wrong shape": ({"status": 200, "json": {"dates": []}}, "could not read"),
}


@pytest.mark.parametrize("failure", FAILURES, ids=list(FAILURES))
def test_police_failure_on_the_month_list_leaves_the_page_at_200(streetwise_app, rsps, failure):
    kwargs, words = FAILURES[failure]
    rsps.add(responses.GET, f"{POLICE}/crimes-street-dates", **kwargs)
    status, html = page(streetwise_app)
    assert status == 200
    assert 'id="crime-unavailable"' in html
    assert "We cannot show crime figures right now." in html
    assert words in html
    assert "police.uk" in html
    assert "Traceback" not in html
    assert_rest_of_page_intact(html)
    status, body = api(streetwise_app)
    assert status == 200
    assert set(body["crime"]) == {"error"}
    assert set(body["crime"]["error"]) == {"code", "message"}
    assert words in body["crime"]["error"]["message"]
    assert body["hospitals"] and body["collisions"]["total"]["count"] > 0


CRIME_FAILURES = {
    "timeout": (
        {"body": requests.exceptions.ConnectTimeout("connect timed out")},
        "did not answer in time",
    ),
    "429 rate limited": ({"status": 429, "body": ""}, "busy"),
    "malformed JSON": ({"status": 200, "body": "[{"}, "could not read"),
    "a list of crimes missing their ids": (
        {"status": 200, "json": [{"category": "burglary"}]},
        "could not read",
    ),
    "coordinates that are not numbers": (
        {
            "status": 200,
            "json": [
                crime(9, CENTRE)
                | {"location": {"latitude": "north", "longitude": "x", "street": {}}}
            ],
        },
        "could not read",
    ),
}


@pytest.mark.parametrize("failure", CRIME_FAILURES, ids=list(CRIME_FAILURES))
def test_police_failure_on_the_crimes_leaves_the_page_at_200(streetwise_app, rsps, failure):
    kwargs, words = CRIME_FAILURES[failure]
    dates(rsps)
    rsps.add(responses.GET, re.compile(f"{POLICE}/crimes-street/all-crime"), **kwargs)
    status, html = page(streetwise_app)
    assert status == 200
    assert 'id="crime-unavailable"' in html and words in html
    assert_rest_of_page_intact(html)
    assert api(streetwise_app)[1]["crime"]["error"]["code"].startswith("upstream_")


def test_over_10000_crimes_splits_the_area_and_counts_each_crime_once(streetwise_app, rsps):
    dates(rsps)
    calls = {"whole": 0, "parts": 0}

    def reply(request):
        poly = _poly(request)
        if len(poly) == 12:  # the whole circle: police.uk's answer for over 10,000 crimes
            calls["whole"] += 1
            return 503, {}, ""
        calls["parts"] += 1
        month = parse_qs(urlsplit(request.url).query)["date"][0]
        return 200, {}, json.dumps(crimes_inside(request) if month == "2025-09" else [])

    rsps.add_callback(responses.GET, re.compile(f"{POLICE}/crimes-street/all-crime"), reply)
    status, body = api(streetwise_app)
    assert status == 200, body
    assert calls["whole"] == 12 and calls["parts"] >= 12 * 2
    counts = {c["category"]: c["count"] for c in body["crime"]["by_category"]}
    # crime 3 sits on the line between quadrants and comes back twice: counted once
    assert counts == {"burglary": 1, "violent-crime": 1, "shoplifting": 1}
    status, html = page(streetwise_app)
    assert status == 200 and 'id="crime-by-category"' in html


def test_auto_falls_back_to_the_snapshot_with_a_visible_note(streetwise_app, rsps):
    streetwise_app.config["CRIME_SOURCE"] = "auto"
    rsps.add(responses.GET, f"{POLICE}/crimes-street-dates", status=503)
    status, html = page(streetwise_app)
    assert status == 200
    assert 'id="crime-note"' in html
    assert "recorded snapshot" in html and "is not available" in html
    assert 'id="crime-by-category"' in html
    body = api(streetwise_app)[1]
    assert body["crime"]["source"] == "snapshot" and body["crime"]["note"]
    assert body["crime"]["total"]["count"] > 0


# -- postcodes.io ------------------------------------------------------------------

ELSEWHERE = "LS6 3HN"  # not in the bundled postcode table


def lookup_body(postcode=ELSEWHERE, lat=53.8195, lon=-1.5763):
    return {
        "status": 200,
        "result": {
            "postcode": postcode,
            "latitude": lat,
            "longitude": lon,
            "eastings": 428600,
            "northings": 435500,
            "country": "England",
            "admin_district": "Leeds",
            "codes": {},
        },
    }


def test_postcodes_missing_locally_are_looked_up_on_postcodes_io(streetwise_app, rsps):
    rsps.get(f"{POSTCODES}/postcodes/LS6%203HN", json=lookup_body())
    dates(rsps, [])
    status, body = api(streetwise_app, ELSEWHERE)
    assert status == 200
    assert body["location_source"] == "postcodes.io"
    assert body["latitude"] == 53.8195


def test_local_postcodes_never_touch_the_network(streetwise_app, rsps):
    streetwise_app.config["CRIME_SOURCE"] = "snapshot"
    status, _html = page(streetwise_app, "LS1 3EX")
    assert status == 200 and len(rsps.calls) == 0


POSTCODE_FAILURES = {
    "timeout": ({"body": requests.exceptions.ReadTimeout("slow")}, "did not answer in time"),
    "429 rate limited": ({"status": 429, "json": {"status": 429}}, "busy"),
    "503 down": ({"status": 503, "body": "down"}, "is not available"),
    "malformed JSON": ({"status": 200, "body": '{"status": 200, "result": {'}, "could not read"),
    "JSON of the wrong shape": ({"status": 200, "json": {"status": 200}}, "could not read"),
}


@pytest.mark.parametrize("failure", POSTCODE_FAILURES, ids=list(POSTCODE_FAILURES))
def test_postcode_lookup_failure_says_so_at_200(streetwise_app, rsps, failure):
    kwargs, words = POSTCODE_FAILURES[failure]
    rsps.add(responses.GET, f"{POSTCODES}/postcodes/LS6%203HN", **kwargs)
    status, html = page(streetwise_app, ELSEWHERE)
    assert status == 200
    assert "We cannot find where this postcode is right now" in html
    assert "postcodes.io" in html and words in html
    status, body = api(streetwise_app, ELSEWHERE)
    assert status == 503
    assert set(body) == {"error"} and words in body["error"]["message"]


def test_a_retired_postcode_says_when_it_was_retired(streetwise_app, rsps):
    rsps.get(
        f"{POSTCODES}/postcodes/LS1%201AA",
        status=404,
        json={
            "status": 404,
            "error": "Postcode not found",
            "terminated": {
                "postcode": "LS1 1AA",
                "year_terminated": 2005,
                "month_terminated": 3,
                "longitude": -1.54,
                "latitude": 53.79,
            },
        },
    )
    status, html = page(streetwise_app, "LS1 1AA")
    assert status == 404
    assert "LS1 1AA was retired in March 2005" in html
    assert "govuk-error-summary" in html
    status, body = api(streetwise_app, "LS1 1AA")
    assert status == 404 and body["error"]["code"] == "postcode_terminated"
    assert "March 2005" in body["error"]["message"]


def test_an_unknown_postcode_is_a_404_with_plain_words(streetwise_app, rsps):
    rsps.get(
        f"{POSTCODES}/postcodes/LS1%209ZZ",
        status=404,
        json={"status": 404, "error": "Postcode not found"},
    )
    rsps.get(
        f"{POSTCODES}/terminated_postcodes/LS1%209ZZ",
        status=404,
        json={"status": 404, "error": "Terminated postcode not found"},
    )
    status, html = page(streetwise_app, "LS1 9ZZ")
    assert status == 404 and "We could not find LS1 9ZZ" in html
    status, body = api(streetwise_app, "LS1 9ZZ")
    assert status == 404 and body["error"]["code"] == "postcode_not_found"


@pytest.mark.parametrize("text", ["LS1", "hello", "LS1 1U", "12345", "LS1 1UR!"])
def test_invalid_postcodes_get_an_inline_error_and_no_request(streetwise_app, rsps, text):
    response = streetwise_app.test_client().get("/", query_string={"postcode": text})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "govuk-error-summary" in html and "govuk-error-message" in html
    assert "<title>Error:" in html
    status, body = api(streetwise_app, text.replace(" ", "%20").replace("!", "%21"))
    assert status == 400 and body["error"]["code"] == "invalid_postcode"
    assert len(rsps.calls) == 0


def test_cached_police_answers_cost_no_rate_limit_tokens(tmp_path, rsps):
    """A repeat page is served from the HTTP cache without waiting for police.uk's 15/s."""
    from civickit.http import TokenBucket

    app = make_streetwise_app(
        f"sqlite:///{tmp_path / 'sw.sqlite3'}",
        CRIME_SOURCE="live",
        HTTP_CACHE=str(tmp_path / "cache.sqlite"),
    )
    importer.import_sample(streetwise_engine(app))
    dates(rsps)
    rsps.add(responses.GET, re.compile(f"{POLICE}/crimes-street/all-crime"), json=[])
    assert api(app)[0] == 200
    sent = len(rsps.calls)
    assert sent == 13  # the month list and twelve months

    def no_waiting(seconds):
        raise AssertionError(f"a cached answer waited {seconds:.1f} s for a token")

    client = state.get_http(app)
    host = POLICE.split("/")[2]
    assert client.has_rate_limit(host)  # police.uk's limit, taken beneath the cache
    client._buckets[host] = TokenBucket(1, 0, sleep=no_waiting)  # no tokens left at all
    status, body = api(app)
    assert status == 200 and body["crime"]["source"] == "live"
    assert len(rsps.calls) == sent  # nothing went out
    streetwise_engine(app).dispose()


def test_parsed_crime_is_kept_in_memory_between_pages(streetwise_app, rsps):
    streetwise_app.config["CRIME_MEMO_TTL"] = 600
    dates(rsps)
    rsps.add(responses.GET, re.compile(f"{POLICE}/crimes-street/all-crime"), json=CRIMES[:1])
    first = api(streetwise_app)[1]["crime"]
    sent = len(rsps.calls)
    assert sent == 13
    second = api(streetwise_app)[1]["crime"]
    assert len(rsps.calls) == sent and second == first
    api(streetwise_app, radius=2000)  # another circle: its twelve months are asked for, and
    # PoliceUK checks them against the month list once (an HTTP cache hit in real use)
    assert len(rsps.calls) == sent + 13


def test_crime_baseline_counts_leeds_once_per_crime(streetwise_app, rsps):
    """`sw crime-baseline --district`: the whole of Leeds is too many crimes, so it is split
    and merged; only crimes inside the district's boundary count."""
    import sqlalchemy as sa

    from examples.streetwise.models import crime_baseline

    dates(rsps)
    whole = []

    def reply(request):
        poly = _poly(request)
        month = parse_qs(urlsplit(request.url).query).get("date") or parse_qs(
            request.body or ""
        ).get("date")
        lats = [p[0] for p in poly]
        if max(lats) - min(lats) > 0.2:  # the whole district: police.uk's "over 10,000" 503
            whole.append(month)
            return 503, {}, ""
        # every part sees crime 1 (central Leeds); crime 2 lies outside Leeds' boundary
        inside = crime(1, CENTRE, "burglary", month[0])
        outside = crime(2, (51.5, -0.1), "burglary", month[0])
        return 200, {}, json.dumps([inside, outside])

    for method in (responses.GET, responses.POST):
        rsps.add_callback(method, re.compile(f"{POLICE}/crimes-street/all-crime.*"), callback=reply)

    result = streetwise_app.test_cli_runner().invoke(
        args=["sw", "crime-baseline", "--district", "E08000035", "--months", "2"]
    )

    assert result.exit_code == 0, result.output
    assert "E08000035 Leeds 2025-09: 1 crimes" in result.output
    assert "2 district-months counted" in result.output
    assert len(whole) == 2  # one refused whole-area request per month, then its parts
    with streetwise_engine(streetwise_app).connect() as conn:
        rows = conn.execute(
            sa.select(
                crime_baseline.c.district,
                crime_baseline.c.month,
                crime_baseline.c.category,
                crime_baseline.c.count,
            )
        ).all()
    assert sorted(rows) == [
        ("E08000035", "2025-08", "burglary", 1),
        ("E08000035", "2025-09", "burglary", 1),
    ]
    # the page now compares crime with Leeds, and says where the Leeds figures come from
    rsps.add(responses.GET, re.compile(f"{POLICE}/crimes-street/all-crime"), json=[])
    body = api(streetwise_app)[1]["crime"]
    assert "inside the district's ONS boundary" in body["baseline_source"]


def test_a_sigterm_during_crime_baseline_keeps_finished_months_and_a_rerun_resumes(
    streetwise_app, rsps
):
    """The stop lands while a month is being fetched: that month finishes and is stored,
    no further month is asked for, and the same command run again asks only the rest."""
    import os
    import signal

    import sqlalchemy as sa

    from examples.streetwise.models import crime_baseline

    engine = streetwise_engine(streetwise_app)
    dates(rsps)
    asked = []
    stop = [True]

    def reply(request):
        month = parse_qs(urlsplit(request.url).query).get("date") or parse_qs(
            request.body or ""
        ).get("date")
        asked.append(month[0])
        if stop[0]:
            os.kill(os.getpid(), signal.SIGTERM)  # a service manager stops the command now
        return 200, {}, json.dumps([crime(len(asked), CENTRE, "burglary", month[0])])

    for method in (responses.GET, responses.POST):
        rsps.add_callback(method, re.compile(f"{POLICE}/crimes-street/all-crime.*"), callback=reply)
    command = ["sw", "crime-baseline", "--district", "E08000035", "--months", "3"]

    result = streetwise_app.test_cli_runner().invoke(args=command)

    assert result.exit_code == 1
    assert "stopped by SIGTERM" in result.output
    assert "after 1 district-months; those are stored" in result.output
    assert set(asked) == {"2025-09"}  # the newest month only: none after the stop
    stop[0] = False
    asked.clear()
    again = streetwise_app.test_cli_runner().invoke(args=command)
    assert again.exit_code == 0, again.output
    assert set(asked) == {"2025-08", "2025-07"}  # 2025-09 is not asked again
    with engine.connect() as conn:
        months = conn.execute(sa.select(crime_baseline.c.month)).scalars().all()
    assert sorted(months) == ["2025-07", "2025-08", "2025-09"]


def test_crime_baseline_refuses_an_unknown_district_and_skips_scotland(streetwise_app, rsps):
    dates(rsps)
    bad = streetwise_app.test_cli_runner().invoke(
        args=["sw", "crime-baseline", "--district", "E99999999"]
    )
    assert bad.exit_code == 2 and "not a district code" in bad.output
    scot = streetwise_app.test_cli_runner().invoke(
        args=["sw", "crime-baseline", "--district", "S12000036"]
    )
    assert scot.exit_code == 0 and "police.uk does not cover Scotland" in scot.output


def test_the_page_cache_reuses_answers_until_the_data_changes(streetwise_app, rsps):
    streetwise_app.config["CRIME_MEMO_TTL"] = 0
    state.get_cache(streetwise_app).ttl = 60
    dates(rsps)
    rsps.add(responses.GET, re.compile(f"{POLICE}/crimes-street/all-crime"), json=CRIMES[:1])
    first = api(streetwise_app)
    sent = len(rsps.calls)
    assert first[0] == 200 and sent == 13

    assert api(streetwise_app) == first
    assert len(rsps.calls) == sent  # answered from the page cache
    page = streetwise_app.test_client().get("/area/LS1%203EX?radius_m=1000")
    assert page.status_code == 200 and len(rsps.calls) == sent + 13  # pages are separate

    importer.import_sample(streetwise_engine(streetwise_app))  # new data, new version
    assert api(streetwise_app)[0] == 200
    assert len(rsps.calls) == sent + 26
