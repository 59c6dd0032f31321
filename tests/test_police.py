"""civickit.police: the data.police.uk client."""

from __future__ import annotations

import json
import math
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from responses import matchers

from civickit.errors import (
    NotAPortalResponse,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    ValidationError,
)
from civickit.http import HttpClient
from civickit.police import MAX_GET_URL, Crime, Outcome, PoliceUK

BASE = "https://data.police.uk/api"
#: recorded answers for fixture_json (tests/conftest.py): tests/fixtures/police_uk/
FIXTURE_SOURCE = "police_uk"
STREET = f"{BASE}/crimes-street/all-crime"
NEWEST, OLDEST = "2025-08", "2022-09"  # the 36 months in crimes_street_dates.json


@pytest.fixture
def dates(rsps, fixture_json):
    return rsps.get(f"{BASE}/crimes-street-dates", json=fixture_json("crimes_street_dates.json"))


@pytest.fixture
def police():
    return PoliceUK(http=HttpClient(backoff=0))


def _calls_to(rsps, prefix: str) -> list:
    return [call for call in rsps.calls if call.request.url.startswith(prefix)]


# -- the Crime record ----------------------------------------------------------------


def test_real_sample_parses(fixture_json):
    crimes = [Crime.from_api(item) for item in fixture_json("crimes_street_all_crime_2014-08.json")]
    assert len(crimes) == 10
    asb = crimes[0]
    assert asb == Crime(
        id=35002231,
        persistent_id=None,
        category="anti-social-behaviour",
        month="2014-08",
        latitude=51.511663,
        longitude=0.017994,
        street="On or near Gorse Close",
        location_id=955359,
        location_type="Force",
        outcome=None,
        outcome_month=None,
    )
    assert crimes[1].street == "On or near Park/open Space"  # the \/ escape decoded
    bike = crimes[3]
    assert isinstance(bike.latitude, float) and isinstance(bike.longitude, float)
    assert bike.longitude == -0.013633
    assert bike.persistent_id.startswith("fa0ea4ba")
    assert (bike.outcome, bike.outcome_month) == (
        "Investigation complete; no suspect identified",
        "2014-08",
    )
    btp = crimes[9]
    assert (btp.location_type, btp.persistent_id, btp.outcome) == (
        "BTP",
        None,
        "Under investigation",
    )
    assert json.loads(json.dumps(asb.to_dict()))["latitude"] == 51.511663


# -- months --------------------------------------------------------------------------


def test_available_months_newest_first_and_cached(rsps, dates, police):
    months = police.available_months()
    assert len(months) == 36
    assert months[0] == NEWEST and months[-1] == OLDEST
    assert months == sorted(months, reverse=True)
    police.available_months()
    assert dates.call_count == 1


def test_default_month_is_the_newest_listed(rsps, dates, police, fixture_json):
    sample = fixture_json("crimes_street_all_crime_2014-08.json")
    street = rsps.get(
        STREET,
        json=sample,
        match=[matchers.query_param_matcher({"lat": "53.8", "lng": "-1.55", "date": NEWEST})],
    )
    crimes = police.street_crimes(53.8, -1.55)
    police.street_crimes(53.8, -1.55)
    assert len(crimes) == 10 and isinstance(crimes[0], Crime)
    assert street.call_count == 2
    assert dates.call_count == 1  # the month list is cached on the instance


def test_wrong_year_is_refused_before_any_crimes_request(rsps, dates, police):
    with pytest.raises(ValidationError) as info:
        police.street_crimes(53.8, -1.55, month="2015-08")
    message = str(info.value)
    assert "2015-08" in message and OLDEST in message and NEWEST in message
    assert _calls_to(rsps, f"{BASE}/crimes-street/") == []


@pytest.mark.parametrize(
    ("month", "ok"),
    [(NEWEST, True), (OLDEST, True), ("2024-02", True), ("2022-08", False), ("2025-09", False)],
)
def test_the_36_month_window(rsps, dates, police, month, ok):
    rsps.get(STREET, json=[])
    if ok:
        assert police.street_crimes(53.8, -1.55, month=month) == []
        assert parse_qs(urlsplit(_calls_to(rsps, STREET)[0].request.url).query)["date"] == [month]
    else:
        with pytest.raises(ValidationError):
            police.street_crimes(53.8, -1.55, month=month)
        assert _calls_to(rsps, STREET) == []


def test_month_as_a_date(rsps, dates, police):
    assert police.resolve_month(date(2024, 2, 17)) == "2024-02"


@pytest.mark.parametrize("month", ["2024-13", "May 2024", "2024-5", "24-05", ""])
def test_malformed_month_makes_no_request(rsps, police, month):
    with pytest.raises(ValidationError, match="YYYY-MM"):
        police.street_crimes(53.8, -1.55, month=month)
    assert len(rsps.calls) == 0


def test_bad_category_makes_no_request(rsps, police):
    with pytest.raises(ValidationError, match="category"):
        police.street_crimes(53.8, -1.55, category="../forces")
    assert len(rsps.calls) == 0


# -- polygons ------------------------------------------------------------------------

SQUARE = [(53.0, -1.6), (53.0, -1.4), (53.2, -1.4), (53.2, -1.6)]


def _poly_of(request) -> list[tuple[float, float]]:
    query = request.body if request.method == "POST" else urlsplit(request.url).query
    poly = parse_qs(query)["poly"][0]
    return [tuple(float(v) for v in pair.split(",")) for pair in poly.split(":")]


def _bbox(points):
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    return min(lats), max(lats), min(lons), max(lons)


def _crime(crime_id: int, lat: float, lon: float) -> dict:
    return {
        "category": "burglary",
        "location_type": "Force",
        "location": {
            "latitude": f"{lat:.6f}",
            "street": {"id": 1000 + crime_id, "name": "On or near Somewhere"},
            "longitude": f"{lon:.6f}",
        },
        "context": "",
        "outcome_status": None,
        "persistent_id": f"p{crime_id}",
        "id": crime_id,
        "location_subtype": "",
        "month": NEWEST,
    }


def test_short_polygon_goes_by_get(rsps, dates, police):
    rsps.get(
        STREET,
        json=[],
        match=[
            matchers.query_param_matcher(
                {"poly": "53,-1.6:53,-1.4:53.2,-1.4:53.2,-1.6", "date": NEWEST}
            )
        ],
    )
    assert police.street_crimes_in([*SQUARE, SQUARE[0]]) == []  # a closed ring is fine too


def test_long_polygon_goes_by_post(rsps, dates, police):
    circle = [
        (
            53.8 + 0.05 * math.sin(2 * math.pi * i / 300),
            -1.55 + 0.08 * math.cos(2 * math.pi * i / 300),
        )
        for i in range(300)
    ]
    rsps.post(STREET, json=[_crime(1, 53.8, -1.55)])
    crimes = police.street_crimes_in(circle, month="2024-01")
    assert [c.id for c in crimes] == [1]
    (call,) = _calls_to(rsps, STREET)
    assert call.request.method == "POST"
    form = parse_qs(call.request.body)
    assert form["date"] == ["2024-01"]
    assert len(form["poly"][0].split(":")) == 300
    assert len(STREET) + len(call.request.body) > MAX_GET_URL


def test_more_than_10000_crimes_splits_and_merges_once(rsps, dates):
    police = PoliceUK(http=HttpClient(backoff=0))
    seen: list[tuple[float, float, float, float]] = []

    def reply(request):
        points = _poly_of(request)
        lat_lo, lat_hi, lon_lo, lon_hi = box = _bbox(points)
        seen.append(box)
        too_many = lat_hi - lat_lo > 0.15 or (
            lat_hi <= 53.1 and lon_hi <= -1.5 and lat_hi - lat_lo > 0.06
        )
        if too_many:  # the whole area, and its south-west quarter once more
            return 503, {}, ""
        centre = ((lat_lo + lat_hi) / 2, (lon_lo + lon_hi) / 2)
        own = int(centre[0] * 1000) * 10000 + int(-centre[1] * 1000)
        # crime 1 sits on the boundary every part shares, so every part returns it
        return 200, {}, json.dumps([_crime(own, *centre), _crime(1, 53.1, -1.5)])

    rsps.add_callback(responses.GET, STREET, callback=reply)
    crimes = police.street_crimes_in(SQUARE)

    ids = [c.id for c in crimes]
    assert len(ids) == len(set(ids))
    answered = [
        b
        for b in seen
        if not (b[1] - b[0] > 0.15 or (b[1] <= 53.1 and b[3] <= -1.5 and b[1] - b[0] > 0.06))
    ]
    assert len(answered) == 3 + 4  # three quarters, and the south-west quarter in four
    assert len(ids) == len(answered) + 1
    assert ids.count(1) == 1
    # every part lies inside the original area, and together they cover it
    for lat_lo, lat_hi, lon_lo, lon_hi in answered:
        assert 53.0 <= lat_lo < lat_hi <= 53.2 and -1.6 <= lon_lo < lon_hi <= -1.4
    area = sum((b[1] - b[0]) * (b[3] - b[2]) for b in answered)
    assert area == pytest.approx(0.2 * 0.2)


def test_split_parts_are_clipped_to_the_polygon(rsps, dates, police):
    triangle = [(53.0, -1.6), (53.0, -1.4), (53.2, -1.6)]
    polys: list[list[tuple[float, float]]] = []

    def reply(request):
        points = _poly_of(request)
        polys.append(points)
        return (503, {}, "") if len(polys) == 1 else (200, {}, "[]")

    rsps.add_callback(responses.GET, STREET, callback=reply)
    police.http = HttpClient(backoff=0, retries=0)
    assert police.street_crimes_in(triangle) == []
    parts = polys[1:]
    # the north-east quarter of the bounding box lies outside the triangle except one point
    assert len(parts) == 3
    for part in parts:
        for lat, lon in part:  # every vertex is inside the triangle (lat + lon slope)
            assert lat - 53.0 <= (lon + 1.4) * -1 + 1e-9


def test_long_polygon_over_10000_crimes_splits_by_post(rsps, dates, police):
    circle = [
        (
            53.8 + 0.05 * math.sin(2 * math.pi * i / 1200),
            -1.55 + 0.08 * math.cos(2 * math.pi * i / 1200),
        )
        for i in range(1200)
    ]
    bodies: list[str] = []

    def reply(request):
        bodies.append(request.body)
        if len(bodies) == 1:
            return 503, {}, ""  # POSTs are not retried, so this is the whole area
        lat, lon = _poly_of(request)[0]
        return 200, {}, json.dumps([_crime(len(bodies), lat, lon), _crime(1, 53.8, -1.55)])

    rsps.add_callback(responses.POST, STREET, callback=reply)
    crimes = police.street_crimes_in(circle)
    assert len(bodies) == 5  # the whole circle, then its four quarters, each still long
    assert sorted(c.id for c in crimes) == [1, 2, 3, 4, 5]


def test_split_gives_up_below_the_minimum_size(rsps, dates):
    police = PoliceUK(http=HttpClient(backoff=0, retries=0))
    rsps.get(STREET, status=503, body="")
    small = [(53.80, -1.55), (53.80, -1.53), (53.82, -1.53), (53.82, -1.55)]
    with pytest.raises(ServiceUnavailable, match="probably down"):
        police.street_crimes_in(small)
    assert 1 < len(_calls_to(rsps, STREET)) < 10  # split a few times, then stopped


def test_other_server_errors_do_not_split(rsps, dates):
    police = PoliceUK(http=HttpClient(backoff=0, retries=0))
    rsps.get(STREET, status=500, body="")
    with pytest.raises(ServiceUnavailable):
        police.street_crimes_in(SQUARE)
    assert len(_calls_to(rsps, STREET)) == 1


@pytest.mark.parametrize(
    "polygon", [[], [(53.0, -1.6), (53.1, -1.5)], [(53.0, -1.6), (53.1, -1.5), (95.0, 0.0)]]
)
def test_bad_polygons_make_no_request(rsps, police, polygon):
    with pytest.raises(ValidationError):
        police.street_crimes_in(polygon)
    assert len(rsps.calls) == 0


# -- rate limits ---------------------------------------------------------------------


def test_repeated_429_ends_in_rate_limited(rsps, dates, police):
    rsps.get(STREET, status=429, headers={"Retry-After": "0"}, body="")
    with pytest.raises(RateLimited):
        police.street_crimes(53.8, -1.55)
    assert len(_calls_to(rsps, STREET)) == 1 + police.http.retries


def test_one_429_is_retried(rsps, dates, police):
    rsps.get(STREET, status=429, headers={"Retry-After": "0"}, body="")
    rsps.get(STREET, json=[])
    assert police.street_crimes(53.8, -1.55) == []


@pytest.mark.parametrize("method", [responses.GET, responses.POST])
def test_a_429_on_an_area_is_retried_after_its_retry_after(rsps, dates, method):
    """Area requests turn status retries off (their 503 means "split"); a 429 is
    still retried, after the server's Retry-After, by GET and by POST alike."""
    police = PoliceUK(http=HttpClient(backoff=0.5, retries=3))
    waits: list[float] = []
    police._sleep = waits.append
    area = SQUARE if method == responses.GET else _long_polygon()
    rsps.add(method, STREET, status=429, headers={"Retry-After": "7"}, body="")
    rsps.add(method, STREET, status=429, body="")  # no Retry-After: the backoff
    rsps.add(method, STREET, json=[_crime(1, 53.8, -1.55)])
    assert [c.id for c in police.street_crimes_in(area)] == [1]
    assert waits == [7.0, 1.0]  # Retry-After, then 0.5 * 2 ** 1


def test_a_429_on_an_area_that_persists_ends_in_rate_limited(rsps, dates):
    police = PoliceUK(http=HttpClient(backoff=0, retries=2))
    police._sleep = lambda seconds: None
    rsps.get(STREET, status=429, body="")
    with pytest.raises(RateLimited):
        police.street_crimes_in(SQUARE)
    assert len(_calls_to(rsps, STREET)) == 3  # the first try and two retries


def _long_polygon() -> list[tuple[float, float]]:
    """A polygon too long for a GET URL, so it goes by POST."""
    return [
        (
            53.8 + 0.05 * math.sin(2 * math.pi * i / 1200),
            -1.55 + 0.08 * math.cos(2 * math.pi * i / 1200),
        )
        for i in range(1200)
    ]


def test_installs_the_published_rate_limit(monkeypatch):
    http = HttpClient()
    installed = []
    original = http.set_rate_limit
    monkeypatch.setattr(
        http,
        "set_rate_limit",
        lambda host, rate, *, burst=None: (
            installed.append((host, rate, burst)) or original(host, rate, burst=burst)
        ),
    )
    PoliceUK(http=http)
    assert installed == [("data.police.uk", 15, 30)]
    assert http.has_rate_limit("data.police.uk")


def test_keeps_a_rate_limit_already_set(monkeypatch):
    http = HttpClient(rate_limits={"data.police.uk": (2, 2)})
    monkeypatch.setattr(http, "set_rate_limit", lambda *a, **k: pytest.fail("overwrote"))
    PoliceUK(http=http)


# -- reference data and other endpoints ----------------------------------------------


def test_categories(rsps, dates, police, fixture_json):
    rsps.get(
        f"{BASE}/crime-categories",
        json=fixture_json("crime_categories.json"),
        match=[matchers.query_param_matcher({"date": "2024-05"})],
    )
    categories = police.categories("2024-05")
    assert categories["anti-social-behaviour"] == "Anti-social behaviour"
    assert categories["violent-crime"] == "Violence and sexual offences"


def test_last_updated(rsps, police, fixture_json):
    rsps.get(f"{BASE}/crime-last-updated", json=fixture_json("crime_last_updated.json"))
    assert police.last_updated() == date(2025, 10, 1)


def test_locate_neighbourhood(rsps, police, fixture_json):
    rsps.get(
        f"{BASE}/locate-neighbourhood",
        json=fixture_json("locate_neighbourhood.json"),
        match=[matchers.query_param_matcher({"q": "53.8,-1.55"})],
    )
    assert police.locate_neighbourhood(53.8, -1.55) == ("west-yorkshire", "NPT-LS1")


def test_locate_neighbourhood_404_is_none(rsps, police):
    rsps.get(f"{BASE}/locate-neighbourhood", status=404, body="")
    assert police.locate_neighbourhood(0.0, 0.0) is None


def test_crimes_at_location(rsps, dates, police, fixture_json):
    rsps.get(
        f"{BASE}/crimes-at-location",
        json=fixture_json("crimes_street_all_crime_2014-08.json")[3:4],
        match=[matchers.query_param_matcher({"location_id": "954365", "date": NEWEST})],
    )
    (crime,) = police.crimes_at_location(954365)
    assert crime.location_id == 954365


def test_outcomes(rsps, police, fixture_json):
    pid = "fa0ea4ba598a434369fdd2baddbc1995bb52f21147da57d0017dfef2009b981d"
    rsps.get(f"{BASE}/outcomes-for-crime/{pid}", json=fixture_json("outcomes_for_crime.json"))
    outcomes = police.outcomes(pid)
    assert outcomes[0] == Outcome("under-investigation", "Under investigation", "2014-08", None)
    assert outcomes[1].category == "no-further-action"


def test_outcomes_of_a_crime_without_persistent_id(rsps, police):
    with pytest.raises(ValidationError):
        police.outcomes("")
    assert len(rsps.calls) == 0


def test_unknown_crime_outcomes_is_not_found(rsps, police):
    rsps.get(f"{BASE}/outcomes-for-crime/abc", status=404, body="")
    with pytest.raises(NotFound):
        police.outcomes("abc")


def test_a_503_for_too_many_crimes_is_split_at_once_not_retried(rsps, dates):
    # the default client retries 503s; police.uk's "too many crimes" 503 must not be
    police = PoliceUK(http=HttpClient(backoff=0))
    whole = []

    def reply(request):
        lat_lo, lat_hi, _, _ = _bbox(_poly_of(request))
        if lat_hi - lat_lo > 0.15:
            whole.append(request)
            return 503, {}, ""
        return 200, {}, json.dumps([_crime(int(lat_lo * 1000), lat_lo, -1.5)])

    rsps.add_callback(responses.GET, STREET, callback=reply)

    crimes = police.street_crimes_in(SQUARE)

    assert len(whole) == 1
    assert len(crimes) == 2  # the four quarters share two distinct southern/northern ids


@pytest.mark.parametrize(
    "element",
    [{"category": "burglary"}, {"id": "x", "category": "c", "month": "2025-01"}, "junk"],
    ids=["no-id", "id-not-a-number", "not-an-object"],
)
def test_a_malformed_crime_is_a_not_a_portal_response(rsps, dates, police, element):
    rsps.get(STREET, json=[element])

    with pytest.raises(NotAPortalResponse) as info:
        police.street_crimes(53.8, -1.55)

    assert "malformed" in info.value.message


def test_the_month_list_is_fetched_again_after_its_ttl(rsps, dates, police, monkeypatch):
    import civickit.police as police_module

    police.available_months()
    police.available_months()
    assert sum("crimes-street-dates" in c.request.url for c in rsps.calls) == 1

    clock = police_module.time.monotonic() + police_module.MONTHS_TTL_S + 1
    monkeypatch.setattr(police_module.time, "monotonic", lambda: clock)
    police.available_months()
    assert sum("crimes-street-dates" in c.request.url for c in rsps.calls) == 2
