"""civickit.postcodes.PostcodeDirectory: building from the ONS files, and answering like Postcodes.

The input files are constructed here from the published ONSPD column list and
postcodes.io's documented BR8 7RE record (see tests/fixtures/onspd/SOURCE.txt
for exactly what is real and what is constructed).
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import sqlite3
import threading
import zipfile
from pathlib import Path

import pytest
import responses

from civickit.errors import (
    DataFormatError,
    InvalidPostcode,
    NoPostcodeDirectory,
    PostcodeNotFound,
    ServiceUnavailable,
    ValidationError,
)
from civickit.geo import distance_m
from civickit.http import HttpClient
from civickit.postcodes import (
    CODE_FIELDS,
    Place,
    PostcodeDirectory,
    Postcodes,
    _key,
    _new_place,
    _postcode,
    default_directory,
)
from tests.onspd_rows import (
    EXAMPLE,
    FIXTURES,
    br8_7re,
    channel_islands,
    example_place,
    retired,
    write_onspd,
)

ROOT = Path(__file__).parent.parent


@pytest.fixture
def onspd(tmp_path: Path) -> Path:
    return write_onspd(tmp_path / "ONSPD.csv", [br8_7re(), retired(), channel_islands()])


@pytest.fixture
def directory(tmp_path: Path, onspd: Path) -> PostcodeDirectory:
    return PostcodeDirectory.build(onspd, tmp_path / "postcodes.db")


# -- build: the layouts -----------------------------------------------------------------


def test_a_row_in_the_onspd_layout_answers_as_postcodes_io_does(directory):
    place = directory.lookup("br87re")
    theirs = example_place()
    for name in ("postcode", "latitude", "longitude", "eastings", "northings", "country", "region"):
        assert getattr(place, name) == getattr(theirs, name), name
    for field in ("admin_district", "admin_county", "admin_ward", "parish", "ced", "pfa"):
        assert place.codes[field] == theirs.codes[field], field
    assert place.codes["lsoa"] == theirs.codes["lsoa21"]
    assert place.codes["msoa"] == theirs.codes["msoa21"]
    assert place.codes["parliamentary_constituency"] == theirs.codes["parliamentary_constituency"]
    assert set(place.codes) == set(CODE_FIELDS)
    assert directory.info["rows"] == "3" and directory.info["in_use"] == "2"
    assert directory.info["retired"] == "1" and directory.info["without_location"] == "1"


def test_names_come_from_the_ons_lookups_given_beside_the_rows(tmp_path, onspd):
    """The SAM file names districts as the ONSPD's Documents do: LAD23CD -> LAD23NM (real)."""
    plain = PostcodeDirectory.build(onspd, tmp_path / "a.db").lookup("BR8 7RE")
    assert plain.admin_district is None  # a code without a names lookup has no name
    named = PostcodeDirectory.build(
        [onspd, FIXTURES / "onspd" / "SAM_LAD_DEC_2023_UK.csv"], tmp_path / "b.db"
    ).lookup("BR8 7RE")
    assert named.admin_district == "Sevenoaks" == example_place().admin_district
    assert named.country == "England" and named.region == "South East"


def test_a_retired_postcode_is_not_found_and_says_when(directory):
    with pytest.raises(PostcodeNotFound) as caught:
        directory.lookup("e1w 1uu")
    assert caught.value.terminated == {
        "postcode": "E1W 1UU",
        "year": 2015,
        "month": 2,
        "latitude": 51.505708,
        "longitude": -0.059541,
    }
    assert "retired" in str(caught.value) and "02/2015" in str(caught.value)


def test_a_crown_dependency_row_without_a_grid_reference(directory):
    place = directory.lookup("GY1 1AA")
    assert (place.latitude, place.longitude, place.eastings, place.northings) == (None,) * 4
    assert place.country == "Channel Islands"
    assert place.codes["admin_district"] == "L99999999"  # the pseudo-code is kept...
    assert place.admin_district is None and place.region is None  # ...and has no name


def test_an_unknown_postcode_is_not_found_and_junk_is_invalid(directory):
    with pytest.raises(PostcodeNotFound) as caught:
        directory.lookup("LS1 1UR")
    assert caught.value.terminated is None
    with pytest.raises(InvalidPostcode):
        directory.lookup("not a postcode")


ERAS = {
    "ONSPD column list": {},
    "NSPL district name (constructed)": {"oslaua": "laua", "osward": "ward", "oscty": "cty"},
    "year-coded names (constructed)": {
        "pcd": "pcd7", "pcd2": "pcd8", "oslaua": "lad24cd", "osward": "wd24cd",
        "oscty": "cty24cd", "ctry": "ctry25cd", "rgn": "rgn25cd", "pfa": "pfa23cd",
        "oseast1m": "east1m", "osnrth1m": "north1m", "osgrdind": "gridind",
        "lsoa21": "lsoa21cd", "msoa21": "msoa21cd", "lsoa11": "lsoa11cd", "msoa11": "msoa11cd",
    },
}  # fmt: skip


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("quoted", [True, False], ids=["quoted", "unquoted"])
def test_every_header_era_gives_the_same_answers(tmp_path, era, quoted):
    rows = [br8_7re(), retired(), channel_islands()]
    baseline = PostcodeDirectory.build(write_onspd(tmp_path / "a.csv", rows), tmp_path / "a.db")
    src = write_onspd(tmp_path / "b.csv", rows, rename=ERAS[era], quoted=quoted, bom=True)
    built = PostcodeDirectory.build(src, tmp_path / "b.db")
    pcs = ["BR8 7RE", "E1W 1UU", "GY1 1AA"]
    assert built.lookup_many(pcs) == baseline.lookup_many(pcs)
    assert built.lookup("BR8 7RE").codes["admin_district"] == "E07000111"


def test_the_newest_of_several_year_coded_columns_is_used(tmp_path):
    row = {**br8_7re(), "lsoa01": "E01000001"}
    src = write_onspd(tmp_path / "a.csv", [row])  # has lsoa01, lsoa11 and lsoa21
    assert (
        PostcodeDirectory.build(src, tmp_path / "a.db").lookup("BR8 7RE").codes["lsoa"]
        == (EXAMPLE["codes"]["lsoa21"])
    )


def test_the_published_zip_reads_the_whole_uk_file_and_its_names(tmp_path):
    """ONSPD zips hold Data/<whole UK>.csv, Data/multi_csv/<per area>.csv and Documents/."""
    whole = write_onspd(tmp_path / "whole.csv", [br8_7re(), retired(), channel_islands()])
    area = write_onspd(tmp_path / "area.csv", [br8_7re()])
    archive = tmp_path / "ONSPD.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(whole, "Data/ONSPD_FEB_2025_UK.csv")
        z.write(area, "Data/multi_csv/ONSPD_FEB_2025_UK_BR.csv")
        z.write(FIXTURES / "onspd" / "SAM_LAD_DEC_2023_UK.csv", "Documents/LAD names.csv")
        z.writestr("User Guide/ONSPD User Guide.pdf", b"%PDF-1.4")
    built = PostcodeDirectory.build(archive, tmp_path / "postcodes.db")
    assert built.info["duplicates"] == "0"  # the per-area copy was not read as well
    assert built.info["ignored"] == "ONSPD.zip:Data/multi_csv/ONSPD_FEB_2025_UK_BR.csv"
    assert built.info["rows"] == "3"
    assert built.info["release"] == "ONSPD FEB 2025"
    assert built.lookup("BR8 7RE").admin_district == "Sevenoaks"


def test_a_zip_of_only_per_area_files_reads_them_all(tmp_path):
    archive = tmp_path / "ONSPD.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(write_onspd(tmp_path / "br.csv", [br8_7re()]), "Data/multi_csv/BR.csv")
        z.write(write_onspd(tmp_path / "e.csv", [retired()]), "Data/multi_csv/E.csv")
    assert len(PostcodeDirectory.build(archive, tmp_path / "p.db")) == 2


CODE_POINT_HEADERS = (
    "PC,PQ,EA,NO,CY,RH,LH,CC,DC,WC\r\n"
    "Postcode,Positional_quality_indicator,Eastings,Northings,Country_code,"
    "NHS_regional_HA_code,NHS_HA_code,Admin_county_code,Admin_district_code,Admin_ward_code\r\n"
)


def code_point_row(postcode: str = "BR8 7RE") -> str:
    """CONSTRUCTED in Code-Point Open's column order; BR8 7RE's grid reference and codes (real)."""
    codes = EXAMPLE["codes"]
    return (
        f'"{postcode}",10,{EXAMPLE["eastings"]},{EXAMPLE["northings"]},"E92000001","","",'
        f'"{codes["admin_county"]}","{codes["admin_district"]}","{codes["admin_ward"]}"\r\n'
    )


@pytest.mark.parametrize("with_headers_file", [True, False])
def test_code_point_open_grid_references_become_latitude_and_longitude(tmp_path, with_headers_file):
    archive = tmp_path / "codepo_gb.zip"
    with zipfile.ZipFile(archive, "w") as z:
        if with_headers_file:
            z.writestr("Doc/Code-Point_Open_Column_Headers.csv", CODE_POINT_HEADERS)
        z.writestr("Data/CSV/br.csv", code_point_row())
        z.writestr("Data/CSV/zz.csv", '"GY1 1AA",90,0,0,"L93000001","","","","",""\r\n')
    built = PostcodeDirectory.build(archive, tmp_path / "p.db")
    place = built.lookup("BR8 7RE")
    assert (place.eastings, place.northings) == (551626, 170342)
    assert place.codes["admin_district"] == "E07000111"
    # the ONS's own latitude and longitude for this grid reference, within the few
    # metres between pyproj's Helmert transformation and the ONS's OSTN15
    assert (
        distance_m(place.latitude, place.longitude, EXAMPLE["latitude"], EXAMPLE["longitude"]) < 10
    )
    unplaced = built.lookup("GY1 1AA")
    assert unplaced.latitude is None and unplaced.eastings is None
    assert built.info["layout"] == "Code-Point Open (headerless)"


def test_loose_code_point_open_csv_files(tmp_path):
    (tmp_path / "br.csv").write_text(code_point_row())
    built = PostcodeDirectory.build([tmp_path / "br.csv"], tmp_path / "p.db")
    assert built.lookup("BR8 7RE").latitude == pytest.approx(EXAMPLE["latitude"], abs=1e-4)


# -- build: bad input, order, atomic swap ---------------------------------------------


def test_a_bad_row_stops_the_build_with_its_line_and_leaves_the_old_directory(tmp_path, onspd):
    dest = tmp_path / "postcodes.db"
    PostcodeDirectory.build(onspd, dest)
    before = dest.read_bytes()
    bad = write_onspd(tmp_path / "bad.csv", [br8_7re(), {**retired(), "pcds": "NOT A PC"}])
    with pytest.raises(DataFormatError) as caught:
        PostcodeDirectory.build(bad, dest)
    assert caught.value.line == 3 and "NOT A PC" in str(caught.value)
    assert dest.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_rows_can_be_skipped_and_are_counted(tmp_path):
    rows = [
        br8_7re(),
        {**retired(), "doterm": "2015-02"},
        {**br8_7re(), "pcds": "BR8 7RF", "lat": "N"},
    ]
    seen: list[DataFormatError] = []
    built = PostcodeDirectory.build(
        write_onspd(tmp_path / "a.csv", rows), tmp_path / "a.db", on_error=seen.append
    )
    assert [e.line for e in seen] == [3, 4]
    assert built.info["skipped"] == "2" and len(built) == 1


def test_files_that_are_not_postcode_files_are_refused(tmp_path):
    (tmp_path / "notes.csv").write_text("name,colour\nfox,red\n")
    with pytest.raises(DataFormatError, match="not an ONSPD"):
        PostcodeDirectory.build(tmp_path / "notes.csv", tmp_path / "p.db")
    with pytest.raises(DataFormatError, match="no such file"):
        PostcodeDirectory.build(tmp_path / "missing.csv", tmp_path / "p.db")
    assert not (tmp_path / "p.db").exists()


def test_rows_out_of_order_and_repeated(tmp_path):
    rows = [channel_islands(), br8_7re(), retired(), br8_7re()]
    built = PostcodeDirectory.build(write_onspd(tmp_path / "a.csv", rows), tmp_path / "a.db")
    assert built.info["duplicates"] == "1" and len(built) == 3
    assert built.lookup("BR8 7RE").postcode == "BR8 7RE"


def test_a_reader_keeps_its_file_while_a_new_build_replaces_it(tmp_path, onspd):
    dest = tmp_path / "postcodes.db"
    old = PostcodeDirectory.build(onspd, dest)
    assert old.lookup("BR8 7RE")
    PostcodeDirectory.build(write_onspd(tmp_path / "new.csv", [retired()]), dest)
    assert old.lookup("BR8 7RE").postcode == "BR8 7RE"  # still the file it opened
    assert "BR8 7RE" not in PostcodeDirectory(dest)


def test_opening_something_that_is_not_a_directory(tmp_path):
    with pytest.raises(NoPostcodeDirectory, match="civickit postcodes fetch"):
        PostcodeDirectory(tmp_path / "missing.db")
    (tmp_path / "junk.db").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(DataFormatError, match="not a civickit postcode directory"):
        PostcodeDirectory(tmp_path / "junk.db")
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(DataFormatError, match="not a civickit postcode directory"):
        PostcodeDirectory(tmp_path / "other.db")


# -- queries ---------------------------------------------------------------------------


def test_lookup_many_is_keyed_by_the_callers_strings_in_their_order(directory):
    asked = ["gy11aa", "BR8 7RE", "not a postcode", "br8  7re", "E1W 1UU", "LS1 1UR"]
    found = directory.lookup_many(asked)
    assert list(found) == asked
    assert found["BR8 7RE"] == found["br8  7re"] == directory.lookup("BR8 7RE")
    assert found["gy11aa"].postcode == "GY1 1AA"
    assert found["not a postcode"] is found["E1W 1UU"] is found["LS1 1UR"] is None


def test_contains_and_len(directory):
    assert "br8 7re" in directory and "E1W 1UU" in directory  # retired ones are held
    assert "LS1 1UR" not in directory and "junk" not in directory and 7 not in directory
    assert len(directory) == 3


def generated_rows(n: int, seed: int) -> list[dict[str, str]]:
    """GENERATED: n postcodes scattered over a few km of Leeds, a third retired."""
    rng = random.Random(seed)
    rows = {}
    while len(rows) < n:
        outward = f"LS{rng.randint(1, 29)}"
        pc = f"{outward} {rng.randint(0, 9)}{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTUWXYZ')}"
        rows[pc] = {
            "pcds": pc,
            "lat": f"{53.79 + rng.uniform(0, 0.03):.6f}",
            "long": f"{-1.56 + rng.uniform(0, 0.05):.6f}",
            "doterm": "201001" if rng.random() < 0.33 else "",
        }
    return list(rows.values())


def test_nearest_is_exact_against_brute_force(tmp_path):
    rows = generated_rows(1500, seed=16)
    built = PostcodeDirectory.build(write_onspd(tmp_path / "g.csv", rows), tmp_path / "g.db")
    live = [(r["pcds"], float(r["lat"]), float(r["long"])) for r in rows if not r["doterm"]]
    rng = random.Random(7)
    for _ in range(150):
        lat, lon = 53.785 + rng.uniform(0, 0.04), -1.565 + rng.uniform(0, 0.06)
        radius = rng.choice([50, 100, 250, 600, 2000])
        limit = rng.choice([1, 5, 10, 100])
        expected = sorted((distance_m(lat, lon, la, lo), _key(pc), pc) for pc, la, lo in live)
        expected = [pc for d, _, pc in expected if d <= radius][:limit]
        assert [
            p.postcode for p in built.nearest(lat, lon, limit=limit, radius_m=radius)
        ] == expected


def test_nearest_has_the_same_limits_as_postcodes_io(directory):
    assert directory.nearest(0.0, 0.0, limit=5, radius_m=100) == []
    for limit, radius in [(0, 100), (101, 100), (10, 0), (10, 2001)]:
        with pytest.raises(ValidationError):
            directory.nearest(51.41, 0.18, limit=limit, radius_m=radius)
    near = directory.nearest(51.4118, 0.1788, limit=10, radius_m=100)
    assert [p.postcode for p in near] == ["BR8 7RE"]  # not the retired nor the unplaced one


def test_threads_and_a_forked_child_each_get_their_own_connection(directory):
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                assert directory.lookup("BR8 7RE").postcode == "BR8 7RE"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    pid = os.fork()
    if pid == 0:  # the child: SQLite connections must not cross a fork
        ok = directory.lookup("BR8 7RE").postcode == "BR8 7RE"
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    directory.close()
    assert directory.lookup("BR8 7RE")  # reopens after close


def test_the_fast_place_constructor_equals_the_plain_one():
    names = (
        "England",
        "South East",
        "Sevenoaks",
        "Hextable",
        "Sevenoaks 001A",
        "Sevenoaks 001",
        "Kent",
    )
    codes = tuple(f"E0{i}000001" for i in range(len(CODE_FIELDS)))
    fast = _new_place("BR8 7RE", 51.411831, 0.178871, 551626, 170342, names, codes)
    plain = Place(
        "BR8 7RE", 51.411831, 0.178871, 551626, 170342, *names,
        codes=dict(zip(CODE_FIELDS, codes, strict=True)),
    )  # fmt: skip
    assert fast == plain and repr(fast) == repr(plain) and fast.to_dict() == plain.to_dict()
    assert list(vars(fast)) == list(vars(plain))  # the fields, in the same order
    with pytest.raises(AttributeError):
        fast.postcode = "LS1 1UR"  # type: ignore[misc]


@pytest.mark.parametrize("pc", ["BR8 7RE", "M1 1AE", "EC1A 1BB", "DN55 1PT", "W1A 1HQ", "GIR 0AA"])
def test_keys_round_trip(pc):
    assert _postcode(_key(pc)) == pc


def test_keys_sort_as_the_ons_files_do():
    pcd = ["LS1 1AA", "LS1 9ZZ", "LS10 1AA", "LS2 1AA", "LS29 8TH", "M1 1AE", "M11 1AA", "M2 1AA"]
    assert sorted(pcd, key=_key) == sorted(pcd, key=lambda pc: f"{pc[:-4]:<4}{pc[-3:]}")


def test_the_places_view_reads_back_postcodes_and_codes(directory):
    db = sqlite3.connect(directory.path)
    row = db.execute(
        "SELECT postcode, latitude, admin_district FROM places WHERE terminated IS NULL "
        "AND latitude IS NOT NULL"
    ).fetchone()
    assert row == ("BR8 7RE", 51.411831, "E07000111")


# -- Postcodes with a local directory --------------------------------------------------


def test_with_http_blocked_the_directory_answers_and_unknown_is_not_found(directory):
    with responses.RequestsMock():  # no routes: any request fails to connect
        client = Postcodes(local=directory.path, http=HttpClient(retries=0))
        assert client.lookup("br8 7re") == directory.lookup("BR8 7RE")
        with pytest.raises(PostcodeNotFound):
            client.lookup("LS1 1UR")  # postcodes.io unreachable: not ServiceUnavailable
        with pytest.raises(PostcodeNotFound) as caught:
            client.lookup("E1W 1UU")
        assert caught.value.terminated["year"] == 2015
        found = client.lookup_many(["LS1 1UR", "br87re", "junk"])
        assert list(found) == ["LS1 1UR", "br87re", "junk"]
        assert found["br87re"].postcode == "BR8 7RE" and found["LS1 1UR"] is None
        assert [p.postcode for p in client.nearest(51.4118, 0.1788, radius_m=100)] == ["BR8 7RE"]
        assert client.nearest(53.8, -1.55, radius_m=100) == []


def test_without_a_directory_http_blocked_is_still_service_unavailable():
    with responses.RequestsMock():
        client = Postcodes(local=False, http=HttpClient(retries=0))
        with pytest.raises(ServiceUnavailable):
            client.lookup("LS1 1UR")


def test_offline_never_touches_the_network(directory):
    with responses.RequestsMock() as rsps:
        client = Postcodes(local=directory, offline=True, http=HttpClient(retries=0))
        with pytest.raises(PostcodeNotFound):
            client.lookup("LS1 1UR")
        assert client.lookup_many(["LS1 1UR", "BR8 7RE"])["LS1 1UR"] is None
        assert client.nearest(53.8, -1.55) == []
        assert len(rsps.calls) == 0
    with pytest.raises(NoPostcodeDirectory):
        Postcodes(local=False, offline=True)


def test_a_postcode_the_directory_lacks_is_not_called_out_of_use_when_none_could_ask(directory):
    """Offline, or with postcodes.io out of reach, the directory's silence is all there is:
    the message says so, and names the connection, rather than that the postcode is not in use."""
    offline = Postcodes(local=directory, offline=True, http=HttpClient(retries=0))
    with pytest.raises(PostcodeNotFound) as chosen:
        offline.lookup("LS1 1UR")
    assert (
        str(chosen.value) == "LS1 1UR is not in the local postcode directory (looked up offline)."
    )
    with responses.RequestsMock():  # the network is cut: nothing answers
        cut = Postcodes(local=directory, http=HttpClient(retries=0))
        for _ in range(2):  # asking, then (within the minute) not asking again
            with pytest.raises(PostcodeNotFound) as unreachable:
                cut.lookup("LS1 1UR")
            assert "postcodes.io could not be reached" in str(unreachable.value)
            assert "check your connection" in str(unreachable.value)
            assert unreachable.value.__cause__ is None


def test_postcodes_io_answers_only_what_the_directory_lacks(directory, fixtures):
    theirs = json.loads((fixtures / "postcodes_io" / "lookup_BR87RE_200.json").read_text())
    ls1 = {**theirs["result"], "postcode": "LS1 1UR", "latitude": 53.8, "longitude": -1.55}
    with responses.RequestsMock() as rsps:
        rsps.get(
            "https://api.postcodes.io/postcodes/LS1%201UR", json={"status": 200, "result": ls1}
        )
        rsps.post(
            "https://api.postcodes.io/postcodes",
            json={"status": 200, "result": [{"query": "LS1 1UR", "result": ls1}]},
            match=[responses.matchers.json_params_matcher({"postcodes": ["LS1 1UR"]})],
        )
        client = Postcodes(local=directory, http=HttpClient(retries=0))
        assert client.lookup("LS1 1UR").latitude == 53.8
        found = client.lookup_many(["BR8 7RE", "E1W 1UU", "ls11ur"])
        assert found["BR8 7RE"].codes["country"] == "E92000001"  # from the directory
        assert found["E1W 1UU"] is None  # retired, says the directory: not asked online
        assert found["ls11ur"].postcode == "LS1 1UR"
        assert len(rsps.calls) == 2


def test_after_a_failure_postcodes_io_is_left_alone_for_a_while(directory):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        client = Postcodes(local=directory, http=HttpClient(retries=0))
        with pytest.raises(PostcodeNotFound):
            client.lookup("LS1 1UR")
        rsps.get("https://api.postcodes.io/postcodes/LS2%207EY", status=200)
        with pytest.raises(PostcodeNotFound):
            client.lookup("LS2 7EY")
        assert len(rsps.calls) == 1  # only the first, failed, attempt


def test_postcodes_finds_the_directory_named_by_the_environment(directory, monkeypatch, tmp_path):
    monkeypatch.setenv("CIVICKIT_POSTCODES", str(directory.path))
    assert default_directory() == directory.path
    with responses.RequestsMock():
        assert Postcodes(offline=True).lookup("BR8 7RE").postcode == "BR8 7RE"
    monkeypatch.setenv("CIVICKIT_POSTCODES", "")
    assert default_directory() is None
    monkeypatch.setenv("CIVICKIT_POSTCODES", str(tmp_path / "nowhere.db"))
    with pytest.raises(NoPostcodeDirectory, match=r"nowhere\.db"):
        Postcodes()


def test_postcodes_finds_the_directory_in_the_users_data_folder(directory, monkeypatch, tmp_path):
    monkeypatch.delenv("CIVICKIT_POSTCODES")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # platformdirs on Linux
    assert default_directory() is None
    assert Postcodes().local is None
    home = tmp_path / "data" / "civickit" / "postcodes.db"
    home.parent.mkdir(parents=True)
    home.write_bytes(directory.path.read_bytes())
    assert default_directory() == home
    assert Postcodes().local.path == home


# -- the bundled sample -------------------------------------------------------------------

SAMPLE = ROOT / "civickit" / "data"


def test_the_bundled_sample_is_what_its_sources_build(tmp_path):
    fresh = PostcodeDirectory.build(
        [SAMPLE / "postcodes_sample.csv", SAMPLE / "postcodes_sample_names.csv"], tmp_path / "s.db"
    )
    bundled = PostcodeDirectory(SAMPLE / "postcodes_sample.db")
    with (SAMPLE / "postcodes_sample.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    pcs = [row["pcds"] for row in rows]
    assert bundled.lookup_many(pcs) == fresh.lookup_many(pcs)
    assert len(bundled) == len(rows) == len(set(pcs))
    assert all(row["source"] for row in rows)


def test_the_bundled_sample_covers_every_hospital_in_the_demo_sample():
    from civickit.datasets.hospitals import read_nhs

    bundled = PostcodeDirectory(SAMPLE / "postcodes_sample.db")
    sample = ROOT / "examples" / "streetwise" / "data" / "nhs_hospital_sample.csv"
    for hospital in read_nhs(sample):
        place = bundled.lookup(hospital.postcode)
        assert math.isclose(place.latitude, hospital.latitude, abs_tol=1e-6)
        assert math.isclose(place.longitude, hospital.longitude, abs_tol=1e-6)
