import io
from datetime import date, time

import pytest

from civickit.datasets.collisions import Collision, read_leeds_rtc, read_stats19
from civickit.errors import DataFormatError
from civickit.geo import osgb_to_wgs84

# -- Leeds RTC: the real sample ---------------------------------------------------------


def test_real_leeds_sample_folds_casualties(streetwise_data):
    collisions = list(read_leeds_rtc(streetwise_data / "leeds_rtc_2015_sample.csv"))
    # 25 casualty rows, 21 collisions
    assert len(collisions) == 21
    assert sum(c.casualties for c in collisions) == 25
    first = collisions[0]
    assert first.reference == "21G0539"
    assert first.date == date(2015, 1, 16)  # Excel's 16-Jan-15
    assert first.time == time(12, 5)
    assert (first.severity, first.vehicles, first.casualties) == ("slight", 5, 2)
    assert first.road_class == "A"
    assert first.source == "leeds-rtc"
    lat, lon = osgb_to_wgs84(427798, 426248)
    assert (first.latitude, first.longitude) == pytest.approx((lat, lon))
    assert {c.severity for c in collisions} == {"slight", "serious"}
    assert next(c for c in collisions if c.reference == "21H0565").time == time(9, 30)  # "930"
    assert first.to_dict()["date"] == "2015-01-16"
    assert first.to_dict()["time"] == "12:05"


# -- Leeds RTC: generated files in each year's layout ------------------------------------

HEADER_2015 = (
    "Reference Number,Grid Ref: Easting,Grid Ref: Northing,Number of Vehicles,Accident Date,"
    "Time (24hr),1st Road Class,Road Surface,Lighting Conditions,Weather Conditions,"
    "Casualty Class,Casualty Severity,Sex of Casualty,Age of Casualty,Type of Vehicle"
)
# 2009-2012 say "Easting"; 2013 has an extra unnamed column (Expr1 in one copy)
HEADER_2011 = HEADER_2015.replace("Grid Ref: ", "")
HEADER_2013 = HEADER_2015.replace("Weather Conditions,", "Weather Conditions,,")


def leeds_file(header, rows, encoding="utf-8"):
    return io.BytesIO(("\r\n".join([header, *rows]) + "\r\n").encode(encoding))


def leeds_row(ref, severity, *, date="16/01/2015", tm="1205", east="427798", north="426248",
              extra=False):  # fmt: skip
    cols = [ref, east, north, "2", date, tm, "A", "Dry", "Daylight", "Fine", "Driver/Rider"]
    cols += [""] if extra else []
    return ",".join([*cols, severity, "Male", "30", "Car"])


@pytest.mark.parametrize(("header", "extra"), [(HEADER_2015, False), (HEADER_2011, False),
                                               (HEADER_2013, True)])  # fmt: skip
def test_leeds_header_eras(header, extra):
    rows = [leeds_row("1AB", "Slight", extra=extra), leeds_row("1AB", "Fatal", extra=extra),
            leeds_row("2CD", "Serious", tm="5", extra=extra)]  # fmt: skip
    found = list(read_leeds_rtc(leeds_file(header, rows)))
    assert [(c.reference, c.severity, c.casualties) for c in found] == [
        ("1AB", "fatal", 2),
        ("2CD", "serious", 1),
    ]
    assert found[1].time == time(0, 5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5", time(0, 5)), ("22", time(0, 22)), ("930", time(9, 30)), ("1730", time(17, 30)),
     ("0000", time(0, 0)), ("17:30", time(17, 30))],
)  # fmt: skip
def test_leeds_unpadded_times(text, expected):
    (c,) = read_leeds_rtc(leeds_file(HEADER_2015, [leeds_row("R", "Slight", tm=text)]))
    assert c.time == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("16-Jan-15", date(2015, 1, 16)), ("16/01/2015", date(2015, 1, 16)),
     ("2015-01-16", date(2015, 1, 16)), ("42020", date(2015, 1, 16))],
)  # fmt: skip
def test_leeds_dates_including_excel_damage(text, expected):
    (c,) = read_leeds_rtc(leeds_file(HEADER_2015, [leeds_row("R", "Slight", date=text)]))
    assert c.date == expected


def test_leeds_severity_codes_and_excel_damaged_reference_kept_as_text():
    rows = [leeds_row("1.3E+038", "3"), leeds_row("1.3E+038", "2"), leeds_row("X", "1")]
    found = list(read_leeds_rtc(leeds_file(HEADER_2015, rows)))
    assert [(c.reference, c.severity, c.casualties) for c in found] == [
        ("1.3E+038", "serious", 2),
        ("X", "fatal", 1),
    ]


def test_leeds_same_damaged_reference_for_different_collisions_is_not_merged():
    rows = [leeds_row("1.3E+038", "Slight"), leeds_row("1.3E+038", "Slight", east="430000")]
    assert len(list(read_leeds_rtc(leeds_file(HEADER_2015, rows)))) == 2


def test_leeds_coordinates_are_converted_in_batches_across_many_rows():
    rows = [leeds_row(f"R{i}", "Slight", east=str(420000 + i)) for i in range(5000)]
    found = list(read_leeds_rtc(leeds_file(HEADER_2015, rows)))
    assert len(found) == 5000
    for i in (0, 2047, 2048, 4999):
        assert (found[i].latitude, found[i].longitude) == pytest.approx(
            osgb_to_wgs84(420000 + i, 426248)
        )


def test_leeds_missing_coordinates_are_none():
    (c,) = read_leeds_rtc(leeds_file(HEADER_2015, [leeds_row("R", "Slight", east="", north="")]))
    assert c.latitude is None and c.longitude is None


def test_leeds_bad_rows_are_reported_and_left_out_of_the_count():
    rows = [leeds_row("A", "Slight"), leeds_row("A", "Injured"), leeds_row("A", "Serious"),
            leeds_row("B", "Slight", tm="2561"), leeds_row("C", "Slight", east="north")]  # fmt: skip
    errors = []
    found = list(read_leeds_rtc(leeds_file(HEADER_2015, rows), on_error=errors.append))
    assert [(c.reference, c.severity, c.casualties) for c in found] == [("A", "serious", 2)]
    assert [e.line for e in errors] == [3, 5, 6]
    assert "Injured" in errors[0].message
    assert "time '2561'" in errors[1].message
    assert "easting 'north'" in errors[2].message
    with pytest.raises(DataFormatError, match=r"^<stream>, line 3: casualty severity"):
        list(read_leeds_rtc(leeds_file(HEADER_2015, rows)))


def test_leeds_wrong_file_names_missing_columns():
    with pytest.raises(DataFormatError, match="no column named reference number"):
        list(read_leeds_rtc(leeds_file("a,b,c", ["1,2,3"])))


# -- STATS19 ------------------------------------------------------------------------------

# the columns a reader needs, in each era's real order and spelling (the real files carry
# more columns; extra ones are ignored, so a prefix of the real header is a valid file)
HEADER_2024 = (
    "collision_index,collision_year,collision_reference,location_easting_osgr,"
    "location_northing_osgr,longitude,latitude,police_force,collision_severity,"
    "number_of_vehicles,number_of_casualties,date,day_of_week,time,local_authority_district,"
    "local_authority_ons_district,local_authority_highway,local_authority_highway_current,"
    "first_road_class,first_road_number,road_type,speed_limit"
)
HEADER_2022 = (
    "accident_index,accident_year,accident_reference,location_easting_osgr,"
    "location_northing_osgr,longitude,latitude,police_force,accident_severity,"
    "number_of_vehicles,number_of_casualties,date,day_of_week,time,local_authority_district,"
    "local_authority_ons_district,local_authority_highway,first_road_class,first_road_number"
)
HEADER_2014 = (
    "\ufeffAccident_Index,Location_Easting_OSGR,Location_Northing_OSGR,Longitude,Latitude,"
    "Police_Force,Accident_Severity,Number_of_Vehicles,Number_of_Casualties,Date,Day_of_Week,"
    "Time,Local_Authority_(District),Local_Authority_(Highway),1st_Road_Class,1st_Road_Number"
)


def stats19_row(header, **values):
    base = {
        "index": "2024131000001",
        "east": "430000",
        "north": "433500",
        "lon": "-1.546038",
        "lat": "53.796948",
        "severity": "2",
        "vehicles": "2",
        "casualties": "1",
        "date": "05/01/2024",
        "time": "17:30",
        "road": "3",
        "district": "E08000035",
        "number": "204",  # DfT's number for Leeds
        "highway": "E10000016",  # a county: must never be taken for the district
    }
    base.update(values)
    names = {
        "collision_index": "index", "accident_index": "index", "Accident_Index": "index",
        "location_easting_osgr": "east", "Location_Easting_OSGR": "east",
        "location_northing_osgr": "north", "Location_Northing_OSGR": "north",
        "longitude": "lon", "Longitude": "lon", "latitude": "lat", "Latitude": "lat",
        "collision_severity": "severity", "accident_severity": "severity",
        "Accident_Severity": "severity", "number_of_vehicles": "vehicles",
        "Number_of_Vehicles": "vehicles", "number_of_casualties": "casualties",
        "Number_of_Casualties": "casualties", "date": "date", "Date": "date", "time": "time",
        "Time": "time", "first_road_class": "road", "1st_Road_Class": "road",
        "local_authority_ons_district": "district", "local_authority_highway": "highway",
        "local_authority_district": "number", "Local_Authority_(District)": "number",
        "Local_Authority_(Highway)": "highway",
    }  # fmt: skip
    return ",".join(
        base[names[c]] if c in names else "13" for c in header.lstrip("\ufeff").split(",")
    )


def stats19_file(header, rows, newline="\r\n"):
    return io.BytesIO((newline.join([header, *rows]) + newline).encode("utf-8"))


@pytest.mark.parametrize("header", [HEADER_2024, HEADER_2022, HEADER_2014])
def test_stats19_header_eras(header):
    (c,) = read_stats19(stats19_file(header, [stats19_row(header)]))
    assert c == Collision(
        reference="2024131000001",
        date=date(2024, 1, 5),
        time=time(17, 30),
        latitude=53.796948,
        longitude=-1.546038,
        severity="serious",
        vehicles=2,
        casualties=1,
        road_class="A",
        source="stats19",
        # the district's ONS code (from DfT's number in 2014); never the highway authority
        district="E08000035",
    )


@pytest.mark.parametrize(
    ("ons", "number", "district"),
    [
        ("E08000035", "204", "E08000035"),  # the ONS code, where the file gives one
        ("-1", "204", "E08000035"),  # "predates use of local_authority_ons_district": 204
        ("-1", "146", "E08000037"),  # Gateshead, under the code it has today
        ("-1", "120", None),  # Chester: abolished in 2009, before ONS district codes
        ("-1", "-1", None),
        ("E07000190", "204", "E07000190"),  # the ONS code wins over the number
    ],
)
def test_stats19_district_from_dfts_number_where_the_ons_code_is_missing(ons, number, district):
    row = stats19_row(HEADER_2022, district=ons, number=number)
    (c,) = read_stats19(stats19_file(HEADER_2022, [row]))
    assert c.district == district


def test_the_bundled_district_numbers_are_dfts_data_guide():
    """civickit/data/stats19_districts.csv is what the script makes of DfT's 2024 guide."""
    import csv

    from scripts.stats19_district_codes import OUT, codes, rows

    with OUT.open(encoding="utf-8", newline="") as f:
        bundled = [tuple(r) for r in csv.reader(f)][1:]
    assert bundled == rows()
    numbers = dict(codes("local_authority_district"))
    assert numbers["204"] == "Leeds" and len(numbers) == 531 + 1  # and -1, "Code deprecated"
    assert sum(1 for _, _, ons in bundled if ons) == 409


@pytest.mark.parametrize(
    ("code", "severity"), [("1", "fatal"), ("2", "serious"), ("3", "slight"), ("-1", None)]
)
def test_stats19_severity_codes(code, severity):
    (c,) = read_stats19(stats19_file(HEADER_2024, [stats19_row(HEADER_2024, severity=code)]))
    assert c.severity == severity


def test_stats19_missing_values():
    row = stats19_row(HEADER_2024, vehicles="-1", casualties="-1", time="", road="-1",
                      east="", north="", lon="", lat="")  # fmt: skip
    (c,) = read_stats19(stats19_file(HEADER_2024, [row]))
    assert (c.vehicles, c.casualties, c.time, c.road_class) == (None, None, None, None)
    assert (c.latitude, c.longitude) == (None, None)


def test_stats19_empty_wgs84_is_filled_from_the_national_grid_in_order():
    rows = [stats19_row(HEADER_2024, index=str(i)) for i in range(3000)]
    rows[5] = stats19_row(HEADER_2024, index="5", lon="", lat="", east="530000", north="180000")
    rows[2500] = stats19_row(HEADER_2024, index="2500", lon="NULL", lat="NULL")
    found = list(read_stats19(stats19_file(HEADER_2024, rows, newline="\n")))
    assert [c.reference for c in found] == [str(i) for i in range(3000)]
    assert (found[5].latitude, found[5].longitude) == pytest.approx(osgb_to_wgs84(530000, 180000))
    assert (found[2500].latitude, found[2500].longitude) == pytest.approx(
        osgb_to_wgs84(430000, 433500)
    )
    assert found[4].latitude == 53.796948


def test_stats19_bad_rows_name_file_and_line():
    rows = [stats19_row(HEADER_2024), stats19_row(HEADER_2024, severity="7"),
            stats19_row(HEADER_2024, date="2024-13-45"), "2024,short",
            stats19_row(HEADER_2024, vehicles="two"), stats19_row(HEADER_2024)]  # fmt: skip
    errors = []
    found = list(read_stats19(stats19_file(HEADER_2024, rows), on_error=errors.append))
    assert len(found) == 2
    assert [e.line for e in errors] == [3, 4, 5, 6]
    assert "severity '7'" in errors[0].message
    assert "date '2024-13-45'" in errors[1].message
    assert "fields" in errors[2].message
    assert "vehicles 'two'" in errors[3].message
    named = stats19_file(HEADER_2024, rows)
    named.name = "stats.csv"
    with pytest.raises(DataFormatError, match=r"^stats.csv, line 3: severity"):
        list(read_stats19(named))


def test_stats19_wrong_file():
    with pytest.raises(DataFormatError, match="no column named collision_index"):
        list(read_stats19(io.BytesIO(b"a,b\n1,2\n")))


def test_stats19_reads_from_a_path(tmp_path):
    path = tmp_path / "dft-road-casualty-statistics-collision-2024.csv"
    path.write_bytes(stats19_file(HEADER_2024, [stats19_row(HEADER_2024)]).getvalue())
    (c,) = read_stats19(path)
    assert c.reference == "2024131000001"


def test_stats19_grid_reference_that_is_not_numeric_is_a_bad_row():
    rows = [stats19_row(HEADER_2024, index=str(i)) for i in range(6)]
    rows[1] = stats19_row(HEADER_2024, index="1", lon="", lat="", east="530000", north="180000")
    rows[3] = stats19_row(HEADER_2024, index="3", lon="", lat="", east="5300O0", north="180000")
    errors = []
    found = list(read_stats19(stats19_file(HEADER_2024, rows), on_error=errors.append))
    assert [c.reference for c in found] == ["0", "1", "2", "4", "5"]
    assert [(e.line, e.message) for e in errors] == [
        (5, "grid reference '5300O0', '180000' is not numeric")
    ]
    assert (found[1].latitude, found[1].longitude) == pytest.approx(osgb_to_wgs84(530000, 180000))


def test_records_built_for_speed_are_what_the_constructor_builds(streetwise_data):
    # the readers make records without Collision.__init__ (see fast_constructor): each
    # must have exactly Collision's fields, so the real constructor rebuilds it equal
    rows = [stats19_row(HEADER_2024, index=str(i)) for i in range(5)]
    rows[2] = stats19_row(HEADER_2024, index="2", lon="", lat="", east="530000", north="180000")
    records = list(read_stats19(stats19_file(HEADER_2024, rows)))
    records += read_leeds_rtc(streetwise_data / "leeds_rtc_2015_sample.csv")
    assert len(records) == 5 + 21
    for record in records:
        assert Collision(**vars(record)) == record  # a missing or extra field: TypeError
