"""Generate streetwise's demo data: the GENERATED files in ``examples/streetwise/data/``.

It writes, from a fixed seed (so the bundle is reproducible byte for byte):

* ``leeds_rtc_2020_generated.csv``, ``leeds_rtc_2021_generated.csv``: 600
  collisions a year in the Leeds City Council yearly RTC layout;
* ``stats19_collision_2022_generated.csv`` ... ``_2024_``: 600 collisions a
  year in the DfT STATS19 collision layout of each year;
* ``crime_snapshot.json``: a twelve-month "recorded" police.uk snapshot
  around central Leeds, with generated Leeds-wide baseline counts.

Postcodes are not generated: the demo uses civickit's bundled postcode
directory, built from real rows by ``scripts/postcodes_sample.py``.

None of it is real: each file's name or its entry in ``data/SOURCE.txt`` says
GENERATED, and the app labels every page built on the bundle "Sample data".
The real published excerpts beside them are never touched. Points "inside
Leeds" are inside the ONS boundary of Leeds bundled with the app.

    python -m scripts.generate_streetwise_sample

The generated rows follow the real published layouts exactly (the Leeds RTC
yearly files, the DfT STATS19 collision files of 2021-23 and 2024, the
police.uk ``crimes-street`` response), so the importer and the crime
service read them through the same code as the real thing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import random
from datetime import date, timedelta
from pathlib import Path

from examples.streetwise.districts import Districts

LEEDS = Districts().get("E08000035")
assert LEEDS is not None

DATA = Path(__file__).resolve().parent.parent / "examples" / "streetwise" / "data"
SEED = 20250601
CENTRE = (53.7997, -1.5492)  # Leeds city centre, near City Square
CENTRE_EN = (430050, 433550)  # the same place in British National Grid

#: The twelve months the recorded crime snapshot claims to cover.
SNAPSHOT_MONTHS = [f"{y}-{m:02d}" for y, m in [(2024, 10), (2024, 11), (2024, 12)]] + [
    f"2025-{m:02d}" for m in range(1, 10)
]

LEEDS_RTC_HEADER_2013_ON = [
    "Reference Number",
    "Grid Ref: Easting",
    "Grid Ref: Northing",
    "Number of Vehicles",
    "Accident Date",
    "Time (24hr)",
    "1st Road Class",
    "Road Surface",
    "Lighting Conditions",
    "Weather Conditions",
    "Casualty Class",
    "Casualty Severity",
    "Sex of Casualty",
    "Age of Casualty",
    "Type of Vehicle",
]

STATS19_2024_HEADER = [
    "collision_index",
    "collision_year",
    "collision_reference",
    "location_easting_osgr",
    "location_northing_osgr",
    "longitude",
    "latitude",
    "police_force",
    "collision_severity",
    "number_of_vehicles",
    "number_of_casualties",
    "date",
    "day_of_week",
    "time",
    "local_authority_district",
    "local_authority_ons_district",
    "local_authority_highway",
    "local_authority_highway_current",
    "first_road_class",
    "first_road_number",
    "road_type",
    "speed_limit",
    "junction_detail_historic",
    "junction_detail",
    "junction_control",
    "second_road_class",
    "second_road_number",
    "pedestrian_crossing_human_control_historic",
    "pedestrian_crossing_physical_facilities_historic",
    "pedestrian_crossing",
    "light_conditions",
    "weather_conditions",
    "road_surface_conditions",
    "special_conditions_at_site",
    "carriageway_hazards_historic",
    "carriageway_hazards",
    "urban_or_rural_area",
    "did_police_officer_attend_scene_of_accident",
    "trunk_road_flag",
    "lsoa_of_accident_location",
    "enhanced_severity_collision",
    "collision_injury_based",
    "collision_adjusted_severity_serious",
    "collision_adjusted_severity_slight",
]


def stats19_header(year: int) -> list[str]:
    """The collision-file header of ``year``: ``accident_*`` for 2021-23, ``collision_*`` after."""
    if year >= 2024:
        return list(STATS19_2024_HEADER)
    header = [
        h.replace("collision_", "accident_", 1) if h.startswith("collision_") else h
        for h in STATS19_2024_HEADER
    ]
    # 2021-23 files end at enhanced_severity_collision (2023) or the LSOA (2021-22)
    cut = header.index("enhanced_severity_collision")
    return header[: cut + 1] if year == 2023 else header[:cut]


CRIME_CATEGORIES = {
    # category: (share of all crime, Leeds-wide monthly count used for the baseline)
    "anti-social-behaviour": (0.16, 1650),
    "violent-crime": (0.33, 3900),
    "shoplifting": (0.10, 700),
    "other-theft": (0.07, 600),
    "public-order": (0.08, 800),
    "criminal-damage-arson": (0.05, 750),
    "vehicle-crime": (0.04, 650),
    "burglary": (0.03, 450),
    "theft-from-the-person": (0.04, 120),
    "drugs": (0.03, 180),
    "bicycle-theft": (0.02, 90),
    "robbery": (0.02, 110),
    "possession-of-weapons": (0.015, 70),
    "other-crime": (0.015, 160),
}

STREETS = [
    "Briggate",
    "Boar Lane",
    "The Headrow",
    "Park Row",
    "Wellington Street",
    "Call Lane",
    "Kirkgate",
    "Vicar Lane",
    "Albion Street",
    "Great George Street",
    "Woodhouse Lane",
    "Eastgate",
    "New Briggate",
    "Merrion Street",
    "Park Lane",
    "Kirkstall Road",
    "Meadow Lane",
    "Dewsbury Road",
    "Regent Street",
    "York Road",
    "Roundhay Road",
    "Chapeltown Road",
    "Clarendon Road",
    "Hyde Park Road",
    "Burley Road",
    "Armley Road",
    "Whitehall Road",
    "Water Lane",
    "Neville Street",
    "Sovereign Street",
    "Marsh Lane",
    "Cookridge Street",
    "Calverley Street",
    "Portland Way",
    "Lovell Park Road",
    "Sheepscar Street South",
    "Holbeck Lane",
    "Domestic Street",
    "Elland Road",
    "Beckett Street",
]
PLACE_KINDS = [
    "Supermarket",
    "Parking Area",
    "Shopping Area",
    "Nightclub",
    "Petrol Station",
    "Further/higher Educational Building",
    "Sports/recreation Area",
    "Pedestrian Subway",
]

#: Central Leeds postcodes bundled with approximate (generated) centres.


class _Points:
    """Random points in Leeds, thicker towards the centre, through one pyproj transformer."""

    def __init__(self, rng: random.Random) -> None:
        from pyproj import Transformer

        self.rng = rng
        self.to_wgs84 = Transformer.from_crs(27700, 4326, always_xy=True)
        self.to_bng = Transformer.from_crs(4326, 27700, always_xy=True)

    def leeds(self) -> tuple[float, float, int, int]:
        """(lat, lon, easting, northing) inside the ONS boundary of Leeds."""
        while True:
            if self.rng.random() < 0.45:
                e = CENTRE_EN[0] + self.rng.gauss(0, 1800)
                n = CENTRE_EN[1] + self.rng.gauss(0, 1800)
            else:
                e = self.rng.uniform(414000, 446000)
                n = self.rng.uniform(421000, 449000)
            lon, lat = self.to_wgs84.transform(e, n)
            if LEEDS.contains([lat], [lon])[0]:
                return round(lat, 6), round(lon, 6), int(e), int(n)

    def near_centre(self, sigma_m: float) -> tuple[float, float]:
        e = CENTRE_EN[0] + self.rng.gauss(0, sigma_m)
        n = CENTRE_EN[1] + self.rng.gauss(0, sigma_m)
        lon, lat = self.to_wgs84.transform(e, n)
        return lat, lon


def _severity(rng: random.Random) -> int:
    r = rng.random()
    return 1 if r < 0.012 else 2 if r < 0.19 else 3


def _casualties(rng: random.Random) -> int:
    r = rng.random()
    return 1 if r < 0.74 else 2 if r < 0.92 else 3 if r < 0.98 else 4


def _day(rng: random.Random, year: int) -> date:
    return date(year, 1, 1) + timedelta(days=rng.randrange(365))


def write_leeds_rtc(rng: random.Random, points: _Points, year: int, collisions: int) -> Path:
    """A Leeds RTC yearly file: one row per casualty, BNG coordinates, text severities."""
    path = DATA / f"leeds_rtc_{year}_generated.csv"
    sev_text = {1: "Fatal", 2: "Serious", 3: "Slight"}
    rows = []
    for i in range(collisions):
        _, _, e, n = points.leeds()
        day = _day(rng, year)
        hhmm = rng.choice([rng.randrange(700, 1900), rng.randrange(0, 2400)])
        hhmm = hhmm - hhmm % 100 + min(hhmm % 100, 59)
        worst = _severity(rng)
        vehicles = rng.choice([1, 1, 2, 2, 2, 3])
        ref = f"G{year % 100:02d}{i:05d}"
        for c in range(_casualties(rng)):
            sev = worst if c == 0 else max(worst, rng.choice([2, 3, 3, 3]))
            rows.append(
                [
                    ref,
                    e,
                    n,
                    vehicles,
                    day.strftime("%d/%m/%Y"),
                    str(hhmm),
                    rng.choice(["A", "A", "B", "C", "Unclassified", "Unclassified", "A(M)"]),
                    rng.choice(["Dry", "Dry", "Wet / Damp"]),
                    rng.choice(
                        [
                            "Daylight: street lights present",
                            "Darkness: street lights present and lit",
                        ]
                    ),
                    "Fine without high winds",
                    rng.choice(["Driver/Rider", "Passenger", "Pedestrian"]),
                    sev_text[sev],
                    rng.choice(["Male", "Female"]),
                    rng.randrange(5, 90),
                    rng.choice(
                        ["Car", "Car", "Pedal cycle", "Bus or coach (17 or more passenger seats)"]
                    ),
                ]
            )
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(LEEDS_RTC_HEADER_2013_ON)
        writer.writerows(rows)
    return path


def write_stats19(rng: random.Random, points: _Points, year: int, collisions: int) -> Path:
    """A DfT STATS19 collision file for ``year`` in that year's header, Leeds rows only."""
    path = DATA / f"stats19_collision_{year}_generated.csv"
    header = stats19_header(year)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for i in range(collisions):
            lat, lon, e, n = points.leeds()
            day = _day(rng, year)
            ref = f"13G{i:06d}"
            sev = _severity(rng)
            row = dict.fromkeys(header, "-1")
            prefix = "collision" if year >= 2024 else "accident"
            row.update(
                {
                    f"{prefix}_index": f"{year}{ref}",
                    f"{prefix}_year": str(year),
                    f"{prefix}_reference": ref,
                    "location_easting_osgr": str(e),
                    "location_northing_osgr": str(n),
                    # about one row in twenty has no WGS84 columns, as in the real files
                    "longitude": "" if i % 20 == 7 else f"{lon:.6f}",
                    "latitude": "" if i % 20 == 7 else f"{lat:.6f}",
                    "police_force": "13",
                    f"{prefix}_severity": str(sev),
                    "number_of_vehicles": str(rng.choice([1, 1, 2, 2, 2, 3])),
                    "number_of_casualties": str(_casualties(rng)),
                    "date": day.strftime("%d/%m/%Y"),
                    "day_of_week": str(day.isoweekday() % 7 + 1),
                    "time": f"{rng.randrange(24):02d}:{rng.randrange(60):02d}",
                    "local_authority_district": "204",
                    "local_authority_ons_district": "E08000035",
                    "local_authority_highway": "E08000035",
                    "first_road_class": str(rng.choice([3, 3, 4, 5, 6, 6, 1])),
                    "speed_limit": str(rng.choice([20, 30, 30, 40])),
                    "urban_or_rural_area": "1",
                }
            )
            if "local_authority_highway_current" in row:
                row["local_authority_highway_current"] = "E08000035"
            if "enhanced_severity_collision" in row:
                row["enhanced_severity_collision"] = {1: "1", 2: "6", 3: "3"}[sev]
            writer.writerow(row)
    return path


def police_crime(
    crime_id: int,
    where: tuple[float, float],
    category: str,
    month: str,
    *,
    street_id: int,
    street: str,
    outcome: dict | None = None,
    persistent_id: str = "",
    decimals: int = 6,
) -> dict:
    """One element of a police.uk ``crimes-street`` reply, in its real shape and key order.

    Coordinates are strings, as police.uk sends them; anti-social behaviour
    has no ``persistent_id`` and no outcome.
    """
    return {
        "category": category,
        "location_type": "Force",
        "location": {
            "latitude": f"{where[0]:.{decimals}f}",
            "street": {"id": street_id, "name": street},
            "longitude": f"{where[1]:.{decimals}f}",
        },
        "context": "",
        "outcome_status": outcome,
        "persistent_id": persistent_id,
        "id": crime_id,
        "location_subtype": "",
        "month": month,
    }


def write_crime_snapshot(rng: random.Random, points: _Points) -> Path:
    """Twelve months of police.uk ``crimes-street`` elements around central Leeds."""
    path = DATA / "crime_snapshot.json"
    # police.uk snaps every crime to an anonymous map point: make 260 of them
    snap_points = []
    for k in range(260):
        lat, lon = points.near_centre(750)
        name = (
            f"On or near {rng.choice(PLACE_KINDS)}"
            if k % 9 == 0
            else f"On or near {rng.choice(STREETS)}"
        )
        snap_points.append((round(lat, 6), round(lon, 6), 1_400_000 + k, name))
    categories = list(CRIME_CATEGORIES)
    weights = [CRIME_CATEGORIES[c][0] for c in categories]
    months: dict[str, list[dict]] = {}
    next_id = 120_000_000
    for m_index, month in enumerate(SNAPSHOT_MONTHS):
        count = 150 + int(25 * math.sin(m_index / 2)) + rng.randrange(-10, 11)
        items = []
        for _ in range(count):
            lat, lon, loc_id, street = rng.choice(snap_points)
            category = rng.choices(categories, weights)[0]
            next_id += rng.randrange(1, 40)
            asb = category == "anti-social-behaviour"
            items.append(
                police_crime(
                    next_id,
                    (lat, lon),
                    category,
                    month,
                    street_id=loc_id,
                    street=street,
                    outcome=None
                    if asb
                    else {
                        "category": rng.choice(
                            [
                                "Investigation complete; no suspect identified",
                                "Unable to prosecute suspect",
                                "Under investigation",
                                "Awaiting court outcome",
                            ]
                        ),
                        "date": month,
                    },
                    persistent_id=""
                    if asb
                    else hashlib.sha256(f"{SEED}:{next_id}".encode()).hexdigest(),
                )
            )
        months[month] = items
    baseline = {
        month: {
            c: max(0, int(CRIME_CATEGORIES[c][1] * (1 + 0.08 * math.sin(i / 2)) + rng.gauss(0, 20)))
            for c in categories
        }
        for i, month in enumerate(SNAPSHOT_MONTHS)
    }
    snapshot = {
        "about": (
            "GENERATED sample in the data.police.uk crimes-street response format; "
            "not real crimes. See SOURCE.txt."
        ),
        "generated": True,
        "crimes-street-dates": [
            {"date": m, "stop-and-search": ["west-yorkshire"]} for m in reversed(SNAPSHOT_MONTHS)
        ],
        "crimes-street": months,
        "district_baselines": {
            LEEDS.code: {
                "about": "GENERATED monthly counts per category across Leeds",
                "months": baseline,
            }
        },
    }
    text = json.dumps(snapshot, separators=(",", ":")).replace("/", "\\/")
    path.write_text(text + "\n", encoding="utf-8")
    return path


def main() -> None:
    rng = random.Random(SEED)
    points = _Points(rng)
    for year in (2020, 2021):
        print(write_leeds_rtc(rng, points, year, 600))
    for year in (2022, 2023, 2024):
        print(write_stats19(rng, points, year, 600))
    print(write_crime_snapshot(rng, points))


if __name__ == "__main__":
    main()
