import json

import pytest
from click.testing import CliRunner

from civickit.cli import READERS, cli


@pytest.fixture
def runner():
    return CliRunner()


@pytest.mark.parametrize(
    ("kind", "folder", "path", "count"),
    [
        ("premises", "fixtures", "bins/dm_premises_sample.csv", 1),
        ("jobs", "fixtures", "bins/dm_jobs_sample.csv", 18),
        ("leeds-rtc", "streetwise_data", "leeds_rtc_2015_sample.csv", 21),
        ("hospitals", "streetwise_data", "nhs_hospital_sample.csv", 41),
    ],
)
def test_read_real_samples(runner, request, kind, folder, path, count):
    result = runner.invoke(cli, ["read", kind, str(request.getfixturevalue(folder) / path)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == count
    assert result.stderr == f"read {count:,} rows, skipped 0\n"


def test_read_premises_json_shape(runner, fixtures):
    result = runner.invoke(cli, ["read", "premises", str(fixtures / "bins/dm_premises_sample.csv")])
    assert json.loads(result.stdout) == {
        "id": 666057,
        "saon": None,
        "paon": "1",
        "street": "ABBEY AVENUE",
        "locality": "BRAMLEY",
        "town": "LEEDS",
        "postcode": "LS5 3DH",
        "address": "1 Abbey Avenue, Bramley, Leeds",
    }


def test_read_stats19_from_stdin(runner):
    data = (
        "collision_index,longitude,latitude,collision_severity,number_of_vehicles,"
        "number_of_casualties,date,time,location_easting_osgr,location_northing_osgr,"
        "first_road_class\n"
        "2024131000001,-1.5,53.8,1,2,1,05/01/2024,17:30,430000,433500,3\n"
    )
    result = runner.invoke(cli, ["read", "stats19", "-"], input=data.encode())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["severity"] == "fatal"


def test_bad_rows_go_to_stderr_with_line_numbers_and_exit_1(runner, tmp_path):
    path = tmp_path / "dm_jobs.csv"
    path.write_bytes(
        b"1,BLACK,04/07/25\r\n1,PURPLE,04/07/25\r\n2,GREEN,99/99/25\r\n3,BROWN,01/08/25\r\n"
    )
    result = runner.invoke(cli, ["read", "jobs", str(path)])
    assert result.exit_code == 1
    assert [json.loads(line)["premises_id"] for line in result.stdout.splitlines()] == [1, 3]
    assert result.stderr.splitlines() == [
        f"{path}, line 2: bin type 'PURPLE' is not one of BLACK, GREEN, BROWN, FOOD",
        f"{path}, line 3: collection date '99/99/25' is not DD/MM/YY",
        "read 2 rows, skipped 2",
    ]


def test_unknown_kind_is_one_line(runner, fixtures):
    result = runner.invoke(cli, ["read", "crimes", "x.csv"])
    assert result.exit_code == 1
    assert result.stderr == f"Error: unknown kind 'crimes': choose one of {', '.join(READERS)}\n"


def test_missing_file_is_one_line(runner, tmp_path):
    missing = tmp_path / "nope.csv"
    result = runner.invoke(cli, ["read", "hospitals", str(missing)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {missing}: no such file\n"


def test_wrong_layout_is_one_line(runner, fixtures):
    result = runner.invoke(cli, ["read", "stats19", str(fixtures / "bins/dm_jobs_sample.csv")])
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1
    assert "no column named collision_index" in result.stderr


def test_read_is_documented():
    from pathlib import Path

    docs = (Path(__file__).parent.parent / "docs" / "datasets.md").read_text()
    assert "civickit read" in docs
    for kind in READERS:
        assert kind in docs
