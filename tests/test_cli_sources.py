"""The `civickit postcode` and `civickit crime` commands."""

from __future__ import annotations

import json

import pytest
import responses

from tests.helpers import assert_one_line_error, load_json

POSTCODES = "https://api.postcodes.io"
POLICE = "https://data.police.uk/api"


@pytest.fixture
def br8(rsps):
    return rsps.get(
        f"{POSTCODES}/postcodes/BR8%207RE", json=load_json("postcodes_io", "lookup_BR87RE_200.json")
    )


# -- postcode ------------------------------------------------------------------------


def test_postcode_table(rsps, br8, run):
    result = run("postcode", "br87re")
    assert result.exit_code == 0, result.output
    for text in ("BR8 7RE", "51.411831", "0.178871", "Sevenoaks", "Hextable"):
        assert text in result.output


def test_postcode_json(rsps, br8, run):
    result = run("postcode", "BR8 7RE", "--json")
    assert result.exit_code == 0, result.output
    (place,) = json.loads(result.output)
    assert place["postcode"] == "BR8 7RE" and place["codes"]["pfa"] == "E23000032"


def test_several_postcodes_use_one_bulk_request(rsps, run):
    sample = load_json("postcodes_io", "lookup_BR87RE_200.json")["result"]
    rsps.post(
        f"{POSTCODES}/postcodes",
        json={
            "status": 200,
            "result": [
                {"query": "BR8 7RE", "result": sample},
                {"query": "LS99 9ZZ", "result": None},
            ],
        },
    )
    result = run("postcode", "BR8 7RE", "ls99 9zz", "--json")
    assert result.exit_code == 1
    assert [p["postcode"] for p in json.loads(result.stdout)] == ["BR8 7RE"]
    assert "ls99 9zz is not a postcode in use" in result.stderr
    assert len(rsps.calls) == 1


def test_postcode_junk_is_one_line_and_offline(rsps, run):
    result = run("postcode", "BR8 7RE", "not-a-postcode")
    assert_one_line_error(result, "not-a-postcode", "LS1 1UR")
    assert len(rsps.calls) == 0


def test_postcode_retired(rsps, run):
    rsps.get(
        f"{POSTCODES}/postcodes/E1W%201UU",
        status=404,
        json=load_json("postcodes_io", "lookup_terminated_inline_404.json"),
    )
    assert_one_line_error(run("postcode", "E1W 1UU"), "E1W 1UU was retired", "02/2015")


def test_postcode_needs_an_argument(run):
    result = run("postcode")
    assert result.exit_code == 2
    assert "Missing argument" in result.output


# -- crime ---------------------------------------------------------------------------


@pytest.fixture
def dates(rsps):
    return rsps.get(
        f"{POLICE}/crimes-street-dates", json=load_json("police_uk", "crimes_street_dates.json")
    )


def test_crime_counts_by_category(rsps, br8, dates, run):
    street = rsps.get(
        f"{POLICE}/crimes-street/all-crime",
        json=load_json("police_uk", "crimes_street_all_crime_2014-08.json"),
        match=[
            responses.matchers.query_param_matcher(
                {"lat": "51.411831", "lng": "0.178871", "date": "2025-08"}
            )
        ],
    )
    result = run("crime", "br87re")
    assert result.exit_code == 0, result.output
    assert street.call_count == 1
    lines = result.output.splitlines()
    assert any("bicycle-theft" in line and " 7 " in line for line in lines), result.output
    assert any("anti-social-behaviour" in line and " 3 " in line for line in lines)
    assert any("total" in line and " 10 " in line for line in lines)
    assert "BR8 7RE" in result.output and "2025-08" in result.output


def test_crime_json_prints_records(rsps, br8, dates, run):
    rsps.get(
        f"{POLICE}/crimes-street/burglary",
        json=load_json("police_uk", "crimes_street_all_crime_2014-08.json")[:2],
        match=[responses.matchers.query_param_matcher({"date": "2024-01"}, strict_match=False)],
    )
    result = run("crime", "BR8 7RE", "--month", "2024-01", "--category", "burglary", "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert [r["id"] for r in records] == [35002231, 34992591]
    assert records[0]["persistent_id"] is None and isinstance(records[0]["latitude"], float)


def test_crime_month_out_of_range(rsps, br8, dates, run):
    result = run("crime", "BR8 7RE", "--month", "2015-01")
    assert_one_line_error(result, "2015-01", "2022-09", "2025-08")
    assert not [c for c in rsps.calls if "/crimes-street/" in c.request.url]


def test_crime_malformed_month(rsps, br8, dates, run):
    assert_one_line_error(run("crime", "BR8 7RE", "--month", "jan"), "YYYY-MM")


def test_crime_junk_postcode(rsps, run):
    assert_one_line_error(run("crime", "hello"), "'hello' is not a valid UK postcode")
    assert len(rsps.calls) == 0


def test_crime_unknown_postcode(rsps, run):
    rsps.get(
        f"{POSTCODES}/postcodes/LS99%209ZZ",
        status=404,
        json=load_json("postcodes_io", "lookup_not_found_404.json"),
    )
    rsps.get(
        f"{POSTCODES}/terminated_postcodes/LS99%209ZZ",
        status=404,
        json=load_json("postcodes_io", "terminated_not_found_404.json"),
    )
    assert_one_line_error(run("crime", "LS99 9ZZ"), "LS99 9ZZ is not a postcode in use")


# -- arguments checked before any request ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["crime", "LS1 1UR", "--month", "junk"], "month must look like YYYY-MM"),
        (["crime", "LS1 1UR", "--month", "2024-13"], "month must look like YYYY-MM"),
        (["crime", "LS1 1UR", "--category", "Bad Category!"], "category must be a police.uk"),
        (["crime", "not a postcode"], "not a postcode"),
    ],
)
def test_crime_checks_its_arguments_before_any_request(rsps, run, args, fragment):
    result = run(*args)
    assert_one_line_error(result, fragment)
    assert len(rsps.calls) == 0  # refused before the network was touched


@pytest.mark.parametrize("timeout", ["0", "-1", "soon"])
def test_a_timeout_that_cannot_work_is_a_usage_error(rsps, run, timeout):
    result = run("--timeout", timeout, "postcode", "LS1 1UR")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "Invalid value for '--timeout'" in result.output
    assert len(rsps.calls) == 0
