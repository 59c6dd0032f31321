import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import civickit
from civickit import _pointindex
from civickit.geo import (
    PointIndex,
    distance_m,
    distance_m_many,
    osgb_to_wgs84,
    osgb_to_wgs84_many,
)

LEEDS = (53.7969, -1.5460)


def test_distance_zero():
    assert distance_m(*LEEDS, *LEEDS) == 0.0


@pytest.mark.parametrize(
    ("a", "b", "expected_m", "tolerance"),
    [
        # one degree of latitude on the mean sphere: R * pi / 180
        ((0.0, 0.0), (1.0, 0.0), 6371008.8 * math.pi / 180, 1e-6),
        # a quarter of the equator
        ((0.0, 0.0), (0.0, 90.0), 6371008.8 * math.pi / 2, 1e-6),
        # antipodes (haversine loses a little precision there)
        ((10.0, 20.0), (-10.0, -160.0), 6371008.8 * math.pi, 1.0),
        # Land's End to John o' Groats: 968.9 km (the worked example on
        # movable-type.co.uk/scripts/latlong.html, which uses R = 6371 km)
        (
            (50 + 3 / 60 + 59 / 3600, -(5 + 42 / 60 + 53 / 3600)),
            (58 + 38 / 60 + 38 / 3600, -(3 + 4 / 60 + 12 / 3600)),
            968_900 * 6371008.8 / 6371000,
            100,
        ),
    ],
)
def test_distance_known_values(a, b, expected_m, tolerance):
    assert distance_m(*a, *b) == pytest.approx(expected_m, abs=tolerance)
    assert distance_m(*b, *a) == pytest.approx(expected_m, abs=tolerance)


def test_distance_m_many_is_distance_m_to_each_point():
    rng = random.Random(5)
    points = [(rng.uniform(-89.0, 89.0), rng.uniform(-180.0, 180.0)) for _ in range(2_000)]
    points += [LEEDS, (-LEEDS[0], LEEDS[1] + 180.0)]  # the point itself, and its antipode
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    found = distance_m_many(*LEEDS, lats, lons)
    assert isinstance(found, np.ndarray) and found.shape == (len(points),)
    expected = [distance_m(*LEEDS, *p) for p in points]
    # the same formula; NumPy's sine and cosine may differ from math's in the last bits
    assert found.tolist() == pytest.approx(expected, rel=1e-12, abs=1e-6)
    assert found[-2] == 0.0
    grid = distance_m_many(*LEEDS, np.array([lats[:4], lats[4:8]]), np.array([lons[:4], lons[4:8]]))
    assert grid.shape == (2, 4) and grid.ravel().tolist() == found[:8].tolist()
    assert math.isnan(distance_m_many(*LEEDS, [math.nan], [0.0])[0])


def test_osgb_leeds_city_centre():
    lat, lon = osgb_to_wgs84(430000, 433500)
    assert lat == pytest.approx(53.797, abs=0.001)
    assert lon == pytest.approx(-1.546, abs=0.001)


@pytest.mark.parametrize(
    ("easting", "northing", "lat", "lon"),
    [
        (530000, 180000, 51.508, -0.125),  # Charing Cross, London
        (325000, 673000, 55.946, -3.202),  # Edinburgh
    ],
)
def test_osgb_other_cities(easting, northing, lat, lon):
    got = osgb_to_wgs84(easting, northing)
    assert got == pytest.approx((lat, lon), abs=0.01)


def test_osgb_many_matches_one_by_one_and_marks_bad_points():
    eastings = [430000, 530000, float("nan")]
    northings = [433500, 180000, 1.0]
    lats, lons = osgb_to_wgs84_many(eastings, northings)
    assert isinstance(lats, np.ndarray) and lats.shape == (3,)
    assert (lats[0], lons[0]) == osgb_to_wgs84(430000, 433500)
    assert (lats[1], lons[1]) == osgb_to_wgs84(530000, 180000)
    assert math.isnan(lats[2]) and math.isnan(lons[2])


def test_osgb_many_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        osgb_to_wgs84_many([1, 2], [3])


# -- PointIndex --------------------------------------------------------------------------


@dataclass
class Place:
    name: str
    lat: float | None
    lon: float | None


def brute_within(points, lat, lon, radius):
    found = [(distance_m(lat, lon, p[0], p[1]), i) for i, p in enumerate(points)]
    return sorted((d, i) for d, i in found if d <= radius)


def test_empty_index():
    index = PointIndex([], lat="lat", lon="lon")
    assert len(index) == 0
    assert index.within(*LEEDS, 10_000) == []
    assert index.nearest(*LEEDS, k=3) == []


def test_attribute_dict_and_callable_accessors():
    places = [Place("a", 53.80, -1.55), Place("b", 53.81, -1.54)]
    by_attr = PointIndex(places, lat="lat", lon="lon")
    dicts = [{"lat": p.lat, "lon": p.lon, "name": p.name} for p in places]
    by_key = PointIndex(dicts, lat="lat", lon="lon")
    by_call = PointIndex(places, lat=lambda p: p.lat, lon=lambda p: p.lon)
    assert [p.name for p, _ in by_attr.nearest(53.80, -1.55, k=2)] == ["a", "b"]
    assert [p["name"] for p, _ in by_key.nearest(53.80, -1.55, k=2)] == ["a", "b"]
    assert [p.name for p, _ in by_call.nearest(53.80, -1.55, k=2)] == ["a", "b"]


def test_points_without_coordinates_are_skipped_and_counted():
    places = [
        Place("ok", 53.8, -1.5),
        Place("none", None, -1.5),
        Place("nan", float("nan"), -1.5),
        Place("text", "north", -1.5),  # type: ignore[arg-type]
        Place("out of range", 95.0, -1.5),
        Place("string ok", "53.81", "-1.5"),  # type: ignore[arg-type]
    ]
    index = PointIndex(places, lat="lat", lon="lon")
    assert len(index) == 2
    assert index.skipped == 4
    assert [p.name for p, _ in index.nearest(53.8, -1.5, k=10)] == ["ok", "string ok"]


def test_k_larger_than_n_returns_everything_sorted():
    places = [Place(str(i), 53.8 + i / 100, -1.5) for i in range(3)]
    index = PointIndex(places, lat="lat", lon="lon")
    got = index.nearest(53.9, -1.5, k=10)
    assert [p.name for p, _ in got] == ["2", "1", "0"]
    assert [d for _, d in got] == sorted(d for _, d in got)


def test_nearest_max_m_and_k_zero():
    places = [Place("near", 53.8, -1.5), Place("far", 54.8, -1.5)]
    index = PointIndex(places, lat="lat", lon="lon")
    assert [p.name for p, _ in index.nearest(53.8, -1.5, k=5, max_m=50_000)] == ["near"]
    assert index.nearest(53.8, -1.5, k=0) == []


def test_radius_boundary_is_inclusive():
    places = [Place("centre", 53.8, -1.5), Place("edge", 53.81, -1.5)]
    index = PointIndex(places, lat="lat", lon="lon")
    edge = distance_m(53.8, -1.5, 53.81, -1.5)
    assert [p.name for p, _ in index.within(53.8, -1.5, edge)] == ["centre", "edge"]
    assert [p.name for p, _ in index.within(53.8, -1.5, math.nextafter(edge, 0))] == ["centre"]


def test_ties_keep_input_order():
    # four points at exactly the same spot, and one pair mirrored across the query
    places = [Place(str(i), 53.8, -1.5) for i in range(4)]
    places += [Place("east", 53.8, -1.49), Place("west", 53.8, -1.51)]
    index = PointIndex(places, lat="lat", lon="lon")
    names = [p.name for p, _ in index.within(53.8, -1.5, 5_000)]
    assert names[:4] == ["0", "1", "2", "3"]
    d_east = distance_m(53.8, -1.5, 53.8, -1.49)
    d_west = distance_m(53.8, -1.5, 53.8, -1.51)
    assert names[4:] == (["east", "west"] if d_east <= d_west else ["west", "east"])


def test_distances_are_exactly_distance_m():
    rng = random.Random(7)
    points = [(rng.uniform(53.7, 53.9), rng.uniform(-1.7, -1.4)) for _ in range(2_000)]
    index = PointIndex.from_arrays([p[0] for p in points], [p[1] for p in points])
    for item, d in index.within(53.8, -1.55, 3_000):  # enough candidates for the NumPy path
        assert d == distance_m(53.8, -1.55, *points[item])
    for item, d in index.within(53.8, -1.55, 150):  # the plain-Python path
        assert d == distance_m(53.8, -1.55, *points[item])


def test_rejects_bad_queries():
    index = PointIndex([Place("a", 53.8, -1.5)], lat="lat", lon="lon")
    with pytest.raises(ValueError):
        index.within(91, 0, 10)
    with pytest.raises(ValueError):
        index.within(53.8, -1.5, -1)
    with pytest.raises(ValueError):
        index.nearest(0, 181)


def test_from_arrays_counts_missing_and_keeps_items():
    index = PointIndex.from_arrays([53.8, np.nan, 53.9], [-1.5, -1.5, -1.5], items=["a", "b", "c"])
    assert index.skipped == 1
    assert [item for item, _ in index.nearest(53.8, -1.5, k=5)] == ["a", "c"]


def test_query_across_the_antimeridian_and_near_a_pole():
    lats = [0.0, 0.0, 89.9, 89.9]
    lons = [179.99, -179.99, 0.0, 180.0]
    index = PointIndex.from_arrays(lats, lons)
    assert sorted(i for i, _ in index.within(0.0, 180.0, 5_000)) == [0, 1]
    assert sorted(i for i, _ in index.within(90.0, 0.0, 20_000)) == [2, 3]


coordinates = st.tuples(
    st.floats(min_value=49.9, max_value=58.7), st.floats(min_value=-8.0, max_value=1.8)
)


@settings(max_examples=60, deadline=None)
@given(
    points=st.lists(coordinates, min_size=0, max_size=300),
    query=coordinates,
    radius=st.floats(min_value=0, max_value=300_000),
)
def test_within_matches_brute_force(points, query, radius):
    index = PointIndex.from_arrays([p[0] for p in points], [p[1] for p in points])
    got = [(d, i) for i, d in index.within(*query, radius)]
    assert got == brute_within(points, *query, radius)


@settings(max_examples=60, deadline=None)
@given(
    points=st.lists(coordinates, min_size=0, max_size=300),
    query=coordinates,
    k=st.integers(min_value=1, max_value=20),
    max_m=st.one_of(st.none(), st.floats(min_value=0, max_value=500_000)),
)
def test_nearest_matches_brute_force(points, query, k, max_m):
    index = PointIndex.from_arrays([p[0] for p in points], [p[1] for p in points])
    got = [(d, i) for i, d in index.nearest(*query, k=k, max_m=max_m)]
    limit = math.inf if max_m is None else max_m
    assert got == brute_within(points, *query, limit)[:k]


@settings(max_examples=30, deadline=None)
@given(
    cluster=st.lists(
        st.tuples(st.floats(-0.01, 0.01), st.floats(-0.01, 0.01)), min_size=1, max_size=200
    ),
    radius=st.floats(min_value=0, max_value=2_000),
)
def test_dense_cluster_with_duplicates_matches_brute_force(cluster, radius):
    # many points in a small area, with repeats: exercises ties and the NumPy path
    points = [(53.8 + a, -1.55 + b) for a, b in cluster] * 2
    index = PointIndex.from_arrays([p[0] for p in points], [p[1] for p in points])
    got = [(d, i) for i, d in index.within(53.8, -1.55, radius)]
    assert got == brute_within(points, 53.8, -1.55, radius)


def _brute_nearest(points, lat, lon, k, limit=math.inf):
    return brute_within(points, lat, lon, limit)[:k]


@pytest.mark.parametrize("seed", range(4))
def test_many_points_match_brute_force(seed):
    # enough points for a grid of many bands and columns: exercises one-run and
    # many-run radius queries, both scans (plain Python and NumPy), and nearest's
    # one-band shortcut and its fallback, including queries outside the points
    rng = random.Random(seed)
    points = [(rng.uniform(53.0, 54.0), rng.uniform(-2.5, -1.0)) for _ in range(3_000)]
    points += points[:50]  # duplicates
    items = [f"p{i}" for i in range(len(points))]
    index = PointIndex.from_arrays([p[0] for p in points], [p[1] for p in points], items=items)
    for _ in range(60):
        q = (rng.uniform(52.9, 54.1), rng.uniform(-2.6, -0.9))
        radius = rng.choice([0.0, 300.0, 1_000.0, 2_500.0, 8_000.0, 40_000.0])
        got = [(d, int(item[1:])) for item, d in index.within(*q, radius)]
        assert got == brute_within(points, *q, radius)
        k = rng.choice([1, 5, 12, 60])
        max_m = rng.choice([None, 500.0, 5_000.0])
        got = [(d, int(item[1:])) for item, d in index.nearest(*q, k=k, max_m=max_m)]
        assert got == _brute_nearest(points, *q, k, math.inf if max_m is None else max_m)
    # queries on points themselves, where distances tie at zero
    for lat, lon in points[:20]:
        got = [(d, int(item[1:])) for item, d in index.nearest(lat, lon, k=3)]
        assert got == _brute_nearest(points, lat, lon, 3)


def test_items_from_the_constructor_come_back_in_answers():
    places = [Place(str(i), 53.8 + i / 1000, -1.5 + i / 1000) for i in range(500)]
    places.insert(7, Place("nowhere", None, None))
    index = PointIndex(places, lat="lat", lon="lon")
    for item, d in index.within(53.9, -1.4, 3_000):
        assert d == distance_m(53.9, -1.4, item.lat, item.lon) <= 3_000
    kept = [p for p in places if p.lat is not None]
    expected = sorted(kept, key=lambda p: distance_m(53.9, -1.4, p.lat, p.lon))[:3]
    assert [p for p, _ in index.nearest(53.9, -1.4, k=3)] == expected
    assert expected[0].name == "100"


def test_pickle_round_trip():
    import pickle

    rng = random.Random(3)
    points = [(rng.uniform(53.7, 53.9), rng.uniform(-1.7, -1.4)) for _ in range(500)]
    index = PointIndex.from_arrays([p[0] for p in points], [p[1] for p in points])
    copy = pickle.loads(pickle.dumps(index))
    assert copy.within(53.8, -1.55, 2_000) == index.within(53.8, -1.55, 2_000)
    assert copy.nearest(53.8, -1.55, k=7) == index.nearest(53.8, -1.55, k=7)
    empty = pickle.loads(pickle.dumps(PointIndex([], lat="lat", lon="lon")))
    assert empty.nearest(53.8, -1.55) == []


def test_haversine_error_across_great_britain():
    """The bound docs/geo.md states: 0.03% to 0.37% short of the WGS84 geodesic."""
    from pyproj import Geod

    wgs84 = Geod(ellps="WGS84")
    ratios = []
    for tenth in range(499, 610, 5):  # 49.9 to 60.9 degrees north
        for lon in (-8.0, -5.0, -2.0, 1.7):
            for bearing in range(0, 360, 15):
                for metres in (100, 1_000, 10_000, 50_000):
                    lon2, lat2, _ = wgs84.fwd(lon, tenth / 10, bearing, metres)
                    ratios.append(distance_m(tenth / 10, lon, lat2, lon2) / metres)
    assert 1 - 0.0037 <= min(ratios) < 1 - 0.0036  # the worst: 0.37% short
    assert 1 - 0.0004 < max(ratios) <= 1 - 0.0002  # the best: still 0.03% short


# -- the haversine, written out in the point index's hot loops ---------------------------

# The last line of the haversine, in math's spelling or NumPy's.
HAVERSINE = re.compile(r"\b(?:asin|arcsin)\(\s*(?:np\.)?sqrt\(")


def test_every_haversine_in_the_library_and_the_apps_is_one_pinned_here():
    # distance_m and distance_m_many (tests above), and the loop of civickit/_pointindex.py
    # that writes distance_m out by design (pinned below); the apps call geo's. A new
    # copy fails here until it gets a test of its own.
    root = Path(civickit.__file__).parent.parent
    found = {
        str(path.relative_to(root)): len(HAVERSINE.findall(path.read_text()))
        for folder in ("civickit", "examples")
        for path in sorted((root / folder).rglob("*.py"))
        if HAVERSINE.search(path.read_text())
    }
    assert found == {"civickit/_pointindex.py": 1, "civickit/_sphere.py": 2}


@pytest.mark.parametrize(
    "small_run",
    [10**9, 0],
    ids=["every run scanned in plain Python", "every run picked by NumPy, then _measure"],
)
def test_inlined_haversines_in_radius_queries_are_distance_m_bit_for_bit(monkeypatch, small_run):
    monkeypatch.setattr(_pointindex, "_SMALL", small_run)
    rng = random.Random(11)
    points = [(rng.uniform(53.0, 54.5), rng.uniform(-2.5, -0.5)) for _ in range(5_000)]
    index = PointIndex.from_arrays([p[0] for p in points], [p[1] for p in points])
    for _ in range(40):
        q = (rng.uniform(53.0, 54.5), rng.uniform(-2.5, -0.5))
        radius = rng.choice([300.0, 3_000.0, 30_000.0])
        assert [(d, i) for i, d in index.within(*q, radius)] == brute_within(points, *q, radius)


def test_inlined_haversine_in_the_nearest_shortcut_is_distance_m_bit_for_bit():
    rng = random.Random(12)
    points = [(rng.uniform(53.0, 54.5), rng.uniform(-2.5, -0.5)) for _ in range(5_000)]
    index = PointIndex.from_arrays([p[0] for p in points], [p[1] for p in points])
    grid = index._grid
    settled = 0
    for _ in range(200):
        q = (rng.uniform(53.0, 54.5), rng.uniform(-2.5, -0.5))
        run = grid.nearest_in_run(*q, 5)
        if run is None:
            continue
        assert [d for d, _ in run.hits] == [distance_m(*q, *points[rank]) for _, rank in run.hits]
        assert run.hits == sorted(run.hits) and len(run.hits) == 5
        if run.settled:
            settled += 1
            assert run.hits == brute_within(points, *q, math.inf)[:5]
    assert settled > 100  # the shortcut is the usual path, so it was tested
