"""streetwise compares each postcode with its own district, and reads STATS19's district codes.

postcodes.io answers are in the shape of its documented BR8 7RE example
(tests/fixtures/postcodes_io/lookup_BR87RE_200.json) with the postcode, the
coordinates and the district replaced. The district codes, names and land
areas are the ONS's (the bundled SAM and LAD24 files). LS1 3EX and NW1 2BU sit
at the coordinates the NHS Hospital.csv (January 2018) gives for Leeds General
Infirmary and University College Hospital; CF24 4NP at the grid reference of
postcodes.io's documented bulk reverse-geocode example
(tests/fixtures/postcodes_io/bulk_reverse_geocode_CF244NP_200.json). For
EH16 4SA no cited file gives coordinates, so the tests place it at a point
inside its district's ONS boundary (the figures checked here depend on the
district, not on the exact point).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner

from examples.streetwise import importer
from examples.streetwise.districts import SUCCESSORS, Districts
from tests.examples.helpers import make_streetwise_app, stats19_file, streetwise_engine

FIXTURES = Path(__file__).parent.parent / "fixtures"
DATA = Path(__file__).parent.parent.parent / "examples" / "streetwise" / "data"

# postcode, latitude, longitude, district code, district name, land km² (SAM AREALHECT / 100)
PLACES = [
    ("LS1 3EX", 53.801460, -1.552119, "E08000035", "Leeds", 551.6983),
    ("NW1 2BU", 51.524891, -0.136896, "E09000007", "Camden", 21.7785),
    ("CF24 4NP", 51.480770, -3.160487, "W06000015", "Cardiff", 140.9148),
    ("EH16 4SA", None, None, "S12000036", "City of Edinburgh", 263.3943),
]


def _inside(code: str) -> tuple[float, float]:
    """A point inside the district's bundled boundary: the middle of its box, else a vertex
    nudged inwards along the box's diagonal until inside."""
    district = Districts().get(code)
    assert district is not None
    south, west, north, east = district.bbox
    for f in [i / 20 for i in range(1, 20)]:
        for g in [i / 20 for i in range(1, 20)]:
            lat, lon = south + (north - south) * f, west + (east - west) * g
            if district.contains([lat], [lon])[0]:
                return round(lat, 6), round(lon, 6)
    raise AssertionError(f"no point found inside {code}")


def _answer(postcode, lat, lon, code, name):
    body = json.loads((FIXTURES / "postcodes_io" / "lookup_BR87RE_200.json").read_text())
    result = copy.deepcopy(body["result"])
    result.update(postcode=postcode, latitude=lat, longitude=lon, admin_district=name)
    result["codes"]["admin_district"] = code
    return {"status": 200, "result": result}


@pytest.fixture
def streetwise_config():
    """No local postcode directory: each test answers for its postcode as postcodes.io."""
    return {"POSTCODES_DIRECTORY": "none"}


#: The bundled postcode directory alone: a test marked with this makes no request.
OFFLINE = pytest.mark.parametrize("streetwise_config", [{"POSTCODES_ONLINE": False}])


@pytest.mark.parametrize(("postcode", "lat", "lon", "code", "name", "km2"), PLACES)
@responses.activate
def test_each_postcode_is_compared_with_its_own_district(
    streetwise_app, postcode, lat, lon, code, name, km2
):
    if lat is None:
        lat, lon = _inside(code)
    url = "https://api.postcodes.io/postcodes/" + postcode.replace(" ", "%20")
    responses.get(url, json=_answer(postcode, lat, lon, code, name))
    body = streetwise_app.test_client().get(f"/api/area/{postcode}").get_json()
    district = body["district"]
    assert district["code"] == code and district["name"] == name
    assert district["land_km2"] == pytest.approx(km2, abs=0.01)
    assert district["boundary_vintage"] == "December 2024"
    assert "postcodes.io" in district["found_by"]
    assert body["comparison"]["area"] == name
    html = streetwise_app.test_client().get(f"/area/{postcode}").get_data(as_text=True)
    assert f"In {name}" in html and "Leeds rate" not in html.replace(f"{name} rate", "")
    map_data = json.loads(html.split('id="sw-map-data">')[1].split("</script>")[0])
    assert map_data["outline"] and map_data["district"] == name


@responses.activate
def test_edinburgh_says_police_uk_does_not_cover_scotland(streetwise_app):
    lat, lon = _inside("S12000036")
    responses.get(
        "https://api.postcodes.io/postcodes/EH16%204SA",
        json=_answer("EH16 4SA", lat, lon, "S12000036", "City of Edinburgh"),
    )
    body = streetwise_app.test_client().get("/api/area/EH16 4SA").get_json()
    assert body["crime"]["not_covered"]["code"] == "police_uk_not_in_scotland"
    html = streetwise_app.test_client().get("/area/EH16 4SA").get_data(as_text=True)
    assert 'id="crime-not-covered"' in html and "not Scotland" in html


@OFFLINE
def test_the_bundled_directory_serves_leeds_london_and_wales_offline(streetwise_app):
    """Each real postcode the demo names is found offline, in its own council."""
    client = streetwise_app.test_client()
    with responses.RequestsMock():  # no routes: any request would fail the test
        for postcode, code in (
            ("LS1 3EX", "E08000035"),
            ("NW1 2BU", "E09000007"),
            ("CF24 4NP", "W06000015"),
            ("NP20 6ZE", "W06000022"),
        ):
            body = client.get(f"/api/area/{postcode}").get_json()
            assert body["location_source"] == "local"
            assert body["district"]["code"] == code


@OFFLINE
def test_a_district_the_loaded_files_do_not_cover_is_not_said_to_have_none(streetwise_app):
    """The demo's sample has no collision rows or snapshot crimes in Cardiff: the page says
    the data is missing there rather than that police recorded nothing."""
    client = streetwise_app.test_client()
    cardiff = client.get("/api/area/CF24 4NP").get_json()
    assert cardiff["collisions"]["district_covered"] is False
    assert cardiff["collisions"]["total"]["district_per_km2"] is None
    assert "covers only Leeds" in cardiff["crime"]["note"]
    html = client.get("/area/CF24 4NP").get_data(as_text=True)
    assert 'id="collisions-not-loaded"' in html and "has no rows for Cardiff" in html
    assert "None recorded across Cardiff" not in html
    leeds = client.get("/api/area/LS1 3EX").get_json()
    assert leeds["collisions"]["district_covered"] is True
    assert leeds["collisions"]["total"]["district_per_km2"] > 0
    assert leeds["crime"]["note"] is None
    assert 'id="collisions-not-loaded"' not in client.get("/area/LS1 3EX").get_data(as_text=True)


@OFFLINE
def test_a_welsh_page_says_the_nhs_list_lacks_nhs_wales_hospitals(streetwise_app):
    """The 2018 list holds independent hospitals in Wales and no NHS Wales one: a Cardiff
    resident is told the nearest hospital may be missing from it."""
    client = streetwise_app.test_client()
    wales = client.get("/api/area/CF24 4NP").get_json()["hospitals_list"]["in_country"]
    assert wales["country"] == "Wales" and wales["sites"] > 0 and wales["nhs_sites"] == 0
    html = client.get("/area/CF24 4NP").get_data(as_text=True)
    assert 'id="hospital-list-country"' in html and "NHS Wales are not in it" in html
    assert "in_country" not in client.get("/api/area/LS1 3EX").get_json()["hospitals_list"]


# -- STATS19 ---------------------------------------------------------------------------


def _districts(engine):
    import sqlalchemy as sa

    from examples.streetwise.models import collisions

    with engine.connect() as conn:
        return sorted(
            tuple(r)
            for r in conn.execute(sa.select(collisions.c.district_recorded, collisions.c.district))
        )


def test_merged_councils_join_old_and_new_codes_and_highway_is_never_the_district(tmp_path):
    app = make_streetwise_app(f"sqlite:///{tmp_path / 'sw.db'}")
    engine = streetwise_engine(app)
    path = stats19_file(
        tmp_path / "c.csv",
        [
            # Allerdale (2022) and Cumberland (after April 2023): one council today
            {"local_authority_ons_district": "E07000026", "local_authority_highway": "E10000006"},
            {"local_authority_ons_district": "E06000063", "local_authority_highway": "E06000063"},
            # a Kent district: the highway authority is the county, never the district
            {"local_authority_ons_district": "E07000111", "local_authority_highway": "E10000016"},
            # a row before the ONS column was filled: DfT's number 608, Taunton Deane
            {"local_authority_ons_district": "-1", "local_authority_district": "608"},
        ],
    )
    importer.import_collisions(engine, stats19=[path])
    assert _districts(engine) == [
        ("E06000063", "E06000063"),
        ("E07000026", "E06000063"),
        ("E07000111", "E07000111"),
        ("E07000190", "E06000066"),  # Taunton Deane, now Somerset
    ]


def test_successors_name_codes_from_the_dft_guide_and_current_districts():
    from scripts.stats19_district_codes import codes

    known = Districts()
    assert all(new in known for new in SUCCESSORS.values())
    assert not any(old in known for old in SUCCESSORS)
    assert known.get("S12000046").name == "Glasgow City"
    # every code STATS19 has used (DfT's 2024 data guide) is a district today or has a
    # successor, but Cheshire's: the county split in two in 2009
    guide = {code for code, _ in codes("local_authority_ons_district")} - {"-1"}
    former = guide - set(known.codes())
    assert former - set(SUCCESSORS) == {"E10000004"}
    assert set(SUCCESSORS) - guide == {"E07000246"}  # Somerset West and Taunton, 2019-2023


def test_a_national_file_with_a_short_year_is_warned_about(tmp_path):
    app = make_streetwise_app(f"sqlite:///{tmp_path / 'sw.db'}")
    codes = sorted(Districts().codes())[:120]  # a national file: many districts
    rows = [
        {"local_authority_ons_district": c, "date": "05/01/2021", "accident_year": "2021"}
        for c in codes
    ] + [{"local_authority_ons_district": codes[0], "date": "05/01/2022"}]
    report = importer.import_collisions(
        streetwise_engine(app), stats19=[stats19_file(tmp_path / "all.csv", rows)]
    )
    assert report.per_year == {2021: 120, 2022: 1}
    warned = " ".join(report.warnings)
    assert "2022 holds 1 collisions but DfT published 106,004" in warned
    assert "2021 holds 120" in warned


def test_a_councils_own_extract_is_not_called_short(tmp_path):
    app = make_streetwise_app(f"sqlite:///{tmp_path / 'sw.db'}")
    rows = [{"local_authority_ons_district": "E08000035"}] * 3
    report = importer.import_collisions(
        streetwise_engine(app), stats19=[stats19_file(tmp_path / "leeds.csv", rows)]
    )
    assert not [w for w in report.warnings if "published" in w]


def test_sw_h_is_help():
    from examples.streetwise.cli import sw

    short = CliRunner().invoke(sw, ["-h"])
    long = CliRunner().invoke(sw, ["--help"])
    assert short.exit_code == 0 and short.output == long.output


def test_the_years_sentence_names_the_years_loaded_and_keeps_capitals(tmp_path):
    """The bundled sample has 2015 and 2020-2024 for Leeds: six years, not "2015 to 2024"."""
    app = make_streetwise_app(f"sqlite:///{tmp_path / 'sw.db'}")
    importer.import_sample(streetwise_engine(app))
    html = app.test_client().get("/area/LS1%203EX").get_data(as_text=True)
    assert "In 2015 and 2020 to 2024 (6 years of data for Leeds)" in html
    assert "averaged over those 6 years" in html
    assert "times the Leeds rate" in html and "the leeds rate" not in html
    assert "From 2015 to 2024" not in html
