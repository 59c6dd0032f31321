"""streetwise's figures against hand-checked answers, on SQLite and PostgreSQL.

The fixture places collisions due north or south of the postcode at chosen
distances. Along a meridian the great-circle distance is exactly
``R × Δlatitude`` (R = 6,371,008.8 m), so a point 999 m away is inside a
1 km circle and one 1,001 m away is outside, with no doubt from rounding.
Hospital distances were computed separately on the WGS84 ellipsoid
(Karney's geodesic, pyproj.Geod) and are written out below; the app's
spherical distances must agree within 0.5%.
"""

from __future__ import annotations

import json
import math
from datetime import date

import pytest
import sqlalchemy as sa

from civickit.postcodes import PostcodeDirectory
from examples.streetwise import importer
from examples.streetwise.models import collisions, hospitals
from scripts.generate_streetwise_sample import police_crime
from tests.examples.helpers import make_streetwise_app, north, streetwise_engine

CENTRE = (53.8, -1.55)
POSTCODE = "LS1 1UR"
LEEDS_KM2 = 551.6983  # Leeds' land area: ONS Standard Area Measurements, AREALHECT 55,169.83 ha
LEEDS = "E08000035"


# reference, where, year, severity, casualties, district code as STATS19 records it
COLLISIONS = [
    ("A", north(CENTRE, 999), 2020, "fatal", 2, LEEDS),  # inside 1 km
    ("B", north(CENTRE, 1001), 2020, "slight", 1, LEEDS),  # just outside 1 km, inside 2 km
    ("C", north(CENTRE, -499), 2021, "serious", 1, LEEDS),  # inside 500 m
    ("D", north(CENTRE, -501), 2021, "slight", 3, LEEDS),  # just outside 500 m
    ("E", north(CENTRE, 1999), 2022, "slight", 1, LEEDS),  # inside 2 km
    ("F", north(CENTRE, -2001), 2022, "serious", 1, LEEDS),  # just outside 2 km
    ("G", (53.85, -1.45), 2021, "slight", 1, LEEDS),  # elsewhere in Leeds
    ("H", (53.75, -1.60), 2022, "serious", 2, LEEDS),  # elsewhere in Leeds
    ("L", (51.5072, -0.1276), 2020, "slight", 1, "E09000033"),  # London: not in Leeds
]

# code, name, latitude, longitude, metres from CENTRE on the WGS84 ellipsoid
HOSPITALS = [
    ("RR801", "Leeds General Infirmary", 53.801460266113281, -1.552119255065918, 214.3),
    ("NT225", "Nuffield Health, Leeds Hospital", 53.8006591796875, -1.5542573928833008, 290.0),
    ("O0A1Z", "Nuffield Health Leeds Hospital", 53.8006591796875, -1.5542573928833008, 290.0),
    ("RR802", "Leeds Dental Hospital", 53.803375244140625, -1.5557013750076294, 531.3),
    ("RGD05", "The Mount", 53.804080963134766, -1.5588370561599731, 738.5),
    ("RR813", "St James's Hospital", 53.806873321533203, -1.5203437805175781, 2098.3),
    ("NT332", "Spire Leeds Hospital", 53.832469940185547, -1.5139130353927612, 4325.5),
]


def _snapshot(path):
    """13 months listed; crimes at 999 m and 1,001 m in the newest, one in the oldest."""
    months = [f"2024-{m:02d}" for m in range(1, 13)] + ["2025-01"]

    def crime(i, month, where, category):
        return police_crime(
            i, where, category, month, street_id=i, street="On or near Test Street", decimals=7
        )

    data = {
        "crimes-street-dates": [{"date": m, "stop-and-search": []} for m in reversed(months)],
        "crimes-street": {
            "2025-01": [
                crime(1, "2025-01", north(CENTRE, 999), "burglary"),
                crime(2, "2025-01", north(CENTRE, 1001), "burglary"),
                crime(3, "2025-01", north(CENTRE, -10), "anti-social-behaviour"),
            ],
            "2024-03": [crime(4, "2024-03", north(CENTRE, 5), "robbery")],
            "2024-01": [
                crime(5, "2024-01", north(CENTRE, 5), "robbery")
            ],  # the 13th month: too old
        },
        "leeds_baseline": {
            "area_km2": LEEDS_KM2,
            "months": {m: {"burglary": 545, "anti-social-behaviour": 1090} for m in months},
        },
    }
    path.write_text(json.dumps(data))
    return path


def postcode_directory(tmp_path, rows):
    """A directory built from ONSPD-named rows (pcds, lat, long, oslaua), made up for a test."""
    src = tmp_path / "onspd_rows.csv"
    src.write_text(
        "pcds,lat,long,oslaua\n" + "".join(f"{pc},{la},{lo},{code}\n" for pc, la, lo, code in rows)
    )
    PostcodeDirectory.build(src, tmp_path / "postcodes.db").close()
    return str(tmp_path / "postcodes.db")


@pytest.fixture
def known_app(database_url, tmp_path):
    app = make_streetwise_app(
        database_url,
        CRIME_SNAPSHOT=str(_snapshot(tmp_path / "snap.json")),
        POSTCODES_DIRECTORY=postcode_directory(tmp_path, [(POSTCODE, *CENTRE, LEEDS)]),
    )
    engine = streetwise_engine(app)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(collisions),
            [
                {
                    "reference": ref,
                    "date": date(year, 6, 1),
                    "time": "12:00",
                    "latitude": where[0],
                    "longitude": where[1],
                    "severity": severity,
                    "vehicles": 1,
                    "casualties": casualties,
                    "road_class": "A",
                    "source": "stats19",
                    "year": year,
                    "district": district,
                    "district_recorded": district,
                }
                for ref, where, year, severity, casualties, district in COLLISIONS
            ],
        )
        conn.execute(
            sa.insert(hospitals),
            [
                {
                    "code": code,
                    "name": name,
                    "latitude": lat,
                    "longitude": lon,
                    "address": "Somewhere",
                    "postcode": "LS1 3EX",
                    "website": None,
                }
                for code, name, lat, lon, _ in HOSPITALS
            ],
        )
        for kind in ("collisions", "hospitals"):  # as an import records what it loaded
            report = importer.TableReport(source=kind, status="ok", rows=1)
            importer.import_log(engine).record(conn, report, kind=kind)
    yield app
    engine.dispose()


def _area(app, radius):
    response = app.test_client().get(f"/api/area/{POSTCODE}?radius_m={radius}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.mark.parametrize(
    ("radius", "inside"),
    [(500, {"C"}), (1000, {"A", "C", "D"}), (2000, {"A", "B", "C", "D", "E"})],
)
def test_collisions_counted_exactly_at_the_radius_boundary(known_app, radius, inside):
    body = _area(known_app, radius)
    by_ref = {ref: (year, sev, cas) for ref, _, year, sev, cas, _ in COLLISIONS}
    col = body["collisions"]
    assert col["total"]["count"] == len(inside)
    assert col["casualties"] == sum(by_ref[r][2] for r in inside)
    severities = {s["severity"]: s["count"] for s in col["by_severity"]}
    for name in ("fatal", "serious", "slight"):
        assert severities[name] == sum(1 for r in inside if by_ref[r][1] == name)
    years = {y["year"]: y["count"] for y in col["by_year"]}
    assert col["years"] == [2020, 2021, 2022]
    for year in (2020, 2021, 2022):
        assert years[year] == sum(1 for r in inside if by_ref[r][0] == year)


def test_collision_rates_compare_with_district_per_km2_per_year(known_app):
    col = _area(known_app, 1000)["collisions"]
    circle_km2 = math.pi  # a 1 km circle
    # 3 collisions in the circle over 3 years; 8 in Leeds (all but London) over 3 years
    assert col["total"]["per_km2"] == pytest.approx(3 / circle_km2 / 3, abs=1e-3)
    assert col["total"]["district_per_km2"] == pytest.approx(8 / LEEDS_KM2 / 3, abs=1e-3)
    assert col["total"]["ratio"] == pytest.approx((3 / circle_km2) / (8 / LEEDS_KM2), rel=1e-2)
    fatal = next(s for s in col["by_severity"] if s["severity"] == "fatal")
    # 1 fatal here, 1 fatal in Leeds: per km² per year
    assert fatal["ratio"] == pytest.approx(LEEDS_KM2 / circle_km2, rel=1e-2)
    y2021 = next(y for y in col["by_year"] if y["year"] == 2021)
    # 2021: C and D here (2 of them); C, D and G across Leeds (3)
    assert y2021["count"] == 2 and y2021["serious"] == 1 and y2021["slight"] == 1
    assert y2021["ratio"] == pytest.approx((2 / circle_km2) / (3 / LEEDS_KM2), rel=1e-2)


def test_hospitals_nearest_first_with_independently_computed_distances(known_app):
    body = _area(known_app, 1000)
    shown = body["hospitals"]
    # five places; the Nuffield site listed twice in Hospital.csv shows once
    assert [h["code"] for h in shown] == ["RR801", "NT225", "RR802", "RGD05", "RR813"]
    assert shown[1]["also_listed_as"] == ["O0A1Z"]
    expected = {code: metres for code, _, _, _, metres in HOSPITALS}
    for h in shown:
        assert h["distance_m"] == pytest.approx(expected[h["code"]], rel=0.005)
        assert h["distance_km"] == pytest.approx(expected[h["code"]] / 1000, rel=0.005)
        assert h["distance_miles"] == pytest.approx(expected[h["code"]] / 1609.344, rel=0.005)
    # 4 distinct sites within 1 km (LGI, Nuffield, Dental, The Mount); 6 sites in Leeds
    within = body["hospitals_within"]
    assert within["count"] == 4
    assert within["ratio"] == pytest.approx((4 / math.pi) / (6 / LEEDS_KM2), rel=1e-2)


def test_crime_last_12_months_within_the_radius(known_app):
    crime = _area(known_app, 1000)["crime"]
    assert crime["source"] == "snapshot"
    assert len(crime["months"]) == 12
    assert crime["months"][0] == "2024-02" and crime["months"][-1] == "2025-01"
    counts = {c["category"]: c["count"] for c in crime["by_category"]}
    # 999 m burglary in, 1,001 m burglary out, the ASB in; robbery only in 2024-03 (2024-01 too old)
    assert counts == {"burglary": 1, "anti-social-behaviour": 1, "robbery": 1}
    by_month = {m["month"]: m["count"] for m in crime["by_month"]}
    assert by_month["2025-01"] == 2 and by_month["2024-03"] == 1 and by_month["2024-02"] == 0
    assert crime["approximate"] is True
    burglary = next(c for c in crime["by_category"] if c["category"] == "burglary")
    # Leeds: 545 burglaries a month over 545.006 km² = 1 per km² per month
    assert burglary["district_per_km2"] == pytest.approx(545 / LEEDS_KM2, abs=1e-3)
    assert burglary["per_km2"] == pytest.approx(1 / math.pi / 12, abs=1e-3)


def test_the_page_shows_the_same_figures(known_app):
    html = known_app.test_client().get(f"/area/{POSTCODE}?radius_m=1000").get_data(as_text=True)
    assert "Leeds General Infirmary" in html
    assert "0.21 km (0.13 miles)" in html
    assert "also listed as O0A1Z" in html
    assert "<strong>3 collisions</strong>" in html
    assert "on or near" in html.lower() and "approximate" in html.lower()


def test_the_api_never_shows_private_keys_or_nan():
    from examples.streetwise.area import finite, public

    report = {
        "postcode": "LS1 1UR",
        "_outline": [[[[-1.5, 53.8]]]],
        "collisions": {"total": {"count": 3, "ratio": float("nan")}, "_points": [(1, 2)]},
        "crime": {"by_month": [{"month": "2024-01", "ratio": float("inf")}], "_points": []},
    }
    shown = public(report)
    assert shown == {
        "postcode": "LS1 1UR",
        "collisions": {"total": {"count": 3, "ratio": shown["collisions"]["total"]["ratio"]}},
        "crime": {"by_month": [{"month": "2024-01", "ratio": float("inf")}]},
    }
    assert "_points" in report["collisions"]  # the page's report is left as it was
    assert finite(shown) == {
        "postcode": "LS1 1UR",
        "collisions": {"total": {"count": 3, "ratio": None}},
        "crime": {"by_month": [{"month": "2024-01", "ratio": None}]},
    }


def test_the_api_body_matches_the_page_figures_without_map_points(known_app):
    body = known_app.test_client().get(f"/api/area/{POSTCODE}?radius_m=1000")
    assert body.mimetype == "application/json" and body.get_data(as_text=True).endswith("\n")
    answer = body.get_json()

    def keys(value):
        if isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield from keys(v)
        elif isinstance(value, list):
            for v in value:
                yield from keys(v)

    assert not [k for k in keys(answer) if k.startswith("_")]
    assert answer["collisions"]["total"]["count"] == 3


def test_crimes_on_the_map_are_grouped_by_their_police_uk_place():
    from civickit.police import Crime
    from examples.streetwise.crime import places

    def crime(i, category, lat, lon, street):
        item = {"id": i, "category": category, "month": "2025-01", "location": {
            "latitude": str(lat), "longitude": str(lon), "street": {"id": 1, "name": street}}}  # fmt: skip
        return Crime.from_api(item)

    a = (53.8011, -1.5488, "On or near Park Row")
    b = (53.7996, -1.5491, "On or near Boar Lane")
    crimes = [
        (crime(1, "burglary", *a), 120.4),
        (crime(2, "shoplifting", *b), 180.0),
        (crime(3, "burglary", *a), 120.4),
        (crime(4, "anti-social-behaviour", *a), 120.4),
        (crime(5, "shoplifting", 53.79, -1.56, None), 950.0),
    ]
    shown = places(crimes, limit=10)
    assert [(p["street"], p["count"], p["distance_m"]) for p in shown] == [
        ("On or near Park Row", 3, 120),
        ("On or near Boar Lane", 1, 180),
        ("Place not named", 1, 950),
    ]
    assert shown[0]["types"] == "Burglary (2), Anti-social behaviour (1)"
    # at most `limit` places, the nearest; every crime at those places still counted
    assert [p["count"] for p in places(crimes, limit=1)] == [3]
