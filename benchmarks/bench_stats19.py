"""Reading a 1,000,000-row STATS19 file (2024 layout) into typed records.

civickit's ``read_stats19`` against pandas.read_csv (the whole file into a
DataFrame) and a plain ``csv.reader`` loop (strings only, no types), each in its
own child process so each peak-memory figure is its own. The input is
generated (and cached in benchmarks/.data): the real 2024 header, plausible
values, 0.5% of rows without WGS84 coordinates.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from benchmarks._common import data_dir, in_child, ratio, table

ROWS = 1_000_000
HEADER = (
    "collision_index,collision_year,collision_reference,location_easting_osgr,"
    "location_northing_osgr,longitude,latitude,police_force,collision_severity,"
    "number_of_vehicles,number_of_casualties,date,day_of_week,time,local_authority_district,"
    "local_authority_ons_district,local_authority_highway,local_authority_highway_current,"
    "first_road_class,first_road_number,road_type,speed_limit,junction_detail_historic,"
    "junction_detail,junction_control,second_road_class,second_road_number,"
    "pedestrian_crossing_human_control_historic,pedestrian_crossing_physical_facilities_historic,"
    "pedestrian_crossing,light_conditions,weather_conditions,road_surface_conditions,"
    "special_conditions_at_site,carriageway_hazards_historic,carriageway_hazards,"
    "urban_or_rural_area,did_police_officer_attend_scene_of_accident,trunk_road_flag,"
    "lsoa_of_accident_location,enhanced_severity_collision,collision_injury_based,"
    "collision_adjusted_severity_serious,collision_adjusted_severity_slight"
)


def generate(path: Path, rows: int = ROWS) -> Path:
    """Write a STATS19-2024-shaped file (generated data, not real collisions)."""
    rng = random.Random(2024)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as out:
        out.write(HEADER + "\r\n")
        for i in range(rows):
            force = rng.randint(1, 99)
            east = rng.randint(100_000, 650_000)
            north = rng.randint(10_000, 1_200_000)
            if rng.random() < 0.005:
                lon = lat = ""
            else:
                lon = f"{rng.uniform(-6, 1.8):.6f}"
                lat = f"{rng.uniform(50, 58.6):.6f}"
            sev = rng.choices("123", weights=(1, 20, 79))[0]
            day = rng.randint(1, 28)
            month = rng.randint(1, 12)
            fields = [
                f"2024{force:02d}{i:07d}", "2024", f"{force:02d}{i:07d}", str(east), str(north),
                lon, lat, str(force), sev, str(rng.randint(1, 4)), str(rng.randint(1, 3)),
                f"{day:02d}/{month:02d}/2024", str(rng.randint(1, 7)),
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}", "-1", "E08000035",
                "E08000035", "E08000035", str(rng.randint(1, 6)), str(rng.randint(0, 999)),
                str(rng.choice((1, 2, 3, 6, 7, 9))), str(rng.choice((20, 30, 40, 50, 60, 70))),
                "-1", str(rng.randint(0, 9)), str(rng.randint(-1, 4)), str(rng.randint(-1, 6)),
                str(rng.randint(0, 999)), "-1", "-1", str(rng.randint(0, 9)),
                str(rng.choice((1, 4, 5, 6, 7))), str(rng.randint(1, 9)), str(rng.randint(1, 5)),
                "0", "-1", "0", str(rng.randint(1, 2)), str(rng.randint(1, 3)),
                str(rng.randint(1, 2)), f"E0100{rng.randint(0, 9999):04d}", sev, "1", "0", "1",
            ]  # fmt: skip
            out.write(",".join(fields) + "\r\n")
    tmp.replace(path)
    return path


def input_file() -> Path:
    path = data_dir() / f"stats19_2024_{ROWS}.csv"
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        generate(path)
    return path


def run_civickit(path: Path) -> int:
    from civickit.datasets.collisions import read_stats19

    n = 0
    for _ in read_stats19(path):
        n += 1
    return n


def run_pandas(path: Path) -> int:
    import pandas as pd

    return len(pd.read_csv(path))


def run_csv(path: Path) -> int:
    n = 0
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        for _ in reader:
            n += 1
    return n


def main() -> None:
    path = input_file()
    size = path.stat().st_size / 1e6
    print(f"{ROWS:,} rows, {size:,.0f} MB, 2024 layout (44 columns)")
    results = {}
    for name, fn in (
        ("civickit read_stats19 (typed records)", run_civickit),
        ("pandas.read_csv (DataFrame)", run_pandas),
        ("csv.reader (strings)", run_csv),
    ):
        seconds, rows, peak = in_child(lambda fn=fn: fn(path))
        assert rows == ROWS, (name, rows)
        results[name] = (rows / seconds, peak)
    ours_rate, ours_peak = results["civickit read_stats19 (typed records)"]
    table(
        ["reader", "rows/s", "peak RSS MB", "rate vs civickit", "memory vs civickit"],
        [
            [name, rate, peak, ratio(rate, ours_rate), ratio(peak, ours_peak)]
            for name, (rate, peak) in results.items()
        ],
    )
    pandas_rate, pandas_peak = results["pandas.read_csv (DataFrame)"]
    print(
        f"\ncivickit / pandas: {ratio(ours_rate, pandas_rate)} the rate (goal >= 0.50x), "
        f"{ratio(ours_peak, pandas_peak)} the memory; "
        f"civickit / csv.reader memory: {ratio(ours_peak, results['csv.reader (strings)'][1])}"
    )


if __name__ == "__main__":
    main()
