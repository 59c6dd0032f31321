"""The portal commands: civickit portals / search / show / records / download."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import civickit.cli
from civickit.http import HttpClient
from tests.helpers import assert_one_line_error, load_json

API = "https://datamillnorth.org/api/3/action"
CKAN_DIR = Path(__file__).parent / "fixtures" / "ckan"
PACKAGE = load_json("ckan", "package_show.json")
DUMP_ID = PACKAGE["result"]["resources"][0]["id"]


def ok(result: object) -> str:
    return json.dumps({"success": True, "result": result})


def sent(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def test_portals_lists_the_registry(run):
    text = run("portals")
    data = json.loads(run("portals", "--json").output)

    assert text.exit_code == 0
    assert "datamillnorth" in text.output and "https://data.gov.uk" in text.output
    assert {p["name"]: p["url"] for p in data}["datamillnorth"] == "https://datamillnorth.org"


def test_search_prints_datasets_and_passes_org_and_limit(run, rsps):
    rsps.get(f"{API}/package_search", body=ok({"count": 1, "results": [PACKAGE["result"]]}))

    result = run("search", "datamillnorth", "sensors", "--org", "smartme", "--limit", "5")

    assert result.exit_code == 0, result.output
    assert "2a428eae-sensors" in result.output
    q = sent(rsps.calls[0])
    assert (q["q"], q["rows"], q["fq"], q["sort"]) == (
        "sensors",
        "5",
        '+organization:"smartme"',
        "id asc",
    )


def test_search_json_is_a_list_of_datasets(run, rsps):
    rsps.get(f"{API}/package_search", body=ok({"count": 1, "results": [PACKAGE["result"]]}))

    data = json.loads(run("search", "datamillnorth", "--json").output)

    assert [d["name"] for d in data] == ["2a428eae-sensors"]
    assert data[0]["resources"][0]["url"].startswith("https://datamillnorth.org/datastore/dump/")


def test_show_prints_the_dataset_and_its_resources(run, rsps):
    rsps.get(f"{API}/package_show", body=ok(PACKAGE["result"]))

    text = run("show", "datamillnorth", "2a428eae-sensors")
    data = json.loads(run("show", "datamillnorth", "2a428eae-sensors", "--json").output)

    assert text.exit_code == 0, text.output
    assert "SmartMe sensors" in text.output and DUMP_ID in text.output
    assert data["organization"] == "smartme" and len(data["resources"]) == 2


def test_records_json_lines_with_filters(run, rsps):
    rows = [
        {"_id": 1, "ward": "Headingley", "bin": "black"},
        {"_id": 2, "ward": "Headingley", "bin": "green"},
    ]
    rsps.get(f"{API}/datastore_search", body=ok({"records": rows, "limit": 1000, "total": 2}))

    result = run(
        "records",
        "datamillnorth",
        "res-1",
        "--filter",
        "ward=Headingley",
        "--filter",
        "bin=black",
        "--filter",
        "bin=green",
        "--json",
    )

    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.output.splitlines()] == rows
    assert json.loads(sent(rsps.calls[0])["filters"]) == {
        "ward": "Headingley",
        "bin": ["black", "green"],
    }


def test_records_as_csv(run, rsps):
    rows = [{"_id": 1, "postcode": "LS1 1UR"}, {"_id": 2, "postcode": "LS6 3AA"}]
    rsps.get(f"{API}/datastore_search", body=ok({"records": rows, "limit": 1000}))

    result = run("records", "datamillnorth", "res-1", "--limit", "2")

    assert result.exit_code == 0, result.output
    assert list(csv.DictReader(io.StringIO(result.output))) == [
        {"_id": "1", "postcode": "LS1 1UR"},
        {"_id": "2", "postcode": "LS6 3AA"},
    ]


def test_download_saves_the_resource(run, rsps, tmp_path):
    rsps.get(f"{API}/resource_show", body=ok(PACKAGE["result"]["resources"][0]))
    rsps.get(f"https://datamillnorth.org/datastore/dump/{DUMP_ID}", body=b"_id,value\n1,2\n")

    result = run("download", "datamillnorth", DUMP_ID, "-o", str(tmp_path), "--json")

    assert result.exit_code == 0, result.output
    saved = json.loads(result.output)
    assert saved["path"] == str(tmp_path / f"{DUMP_ID}.csv") and saved["bytes"] == 14
    assert (tmp_path / f"{DUMP_ID}.csv").read_bytes() == b"_id,value\n1,2\n"


def test_download_with_progress_bar_prints_where_it_saved(run, rsps, tmp_path):
    rsps.get(f"{API}/resource_show", body=ok(PACKAGE["result"]["resources"][1]))
    rsps.get("http://smartme-data.unime.it/dataset/readings.csv", body=b"a,b\n" * 512)

    result = run("download", "datamillnorth", "r2", "-o", str(tmp_path / "out.csv"))

    assert result.exit_code == 0, result.output
    assert f"Saved {tmp_path / 'out.csv'} (2,048 bytes)" in result.output
    assert (tmp_path / "out.csv").stat().st_size == 2048


# -- errors: one line, non-zero exit, no traceback ------------------------------------------


def test_unknown_portal_lists_the_known_ones(run):
    assert_one_line_error(
        run("search", "datamilnorth", "bins"), "datamilnorth", "datamillnorth", "datagovuk"
    )


def test_bad_filter_syntax(run, rsps):
    result = run("records", "datamillnorth", "res-1", "--filter", "wardHeadingley")

    assert_one_line_error(result, "wardHeadingley", "FIELD=VALUE")
    assert len(rsps.calls) == 0  # refused before any request


def test_a_bad_limit(run):
    assert_one_line_error(run("search", "datamillnorth", "--limit", "0"), "--limit")


def test_a_missing_dataset(run, rsps):
    rsps.get(f"{API}/package_show", status=404, body=(CKAN_DIR / "error_404.json").read_text())

    assert_one_line_error(run("show", "datamillnorth", "nope"), "Not found")


def test_an_unreachable_portal(run, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # the real client, minus the backoff sleeps
    monkeypatch.setattr(civickit.cli, "http_client", lambda ctx: HttpClient(retries=1, backoff=0))

    result = run("show", f"http://127.0.0.1:{port}", "bins")

    assert_one_line_error(result, f"could not reach host 127.0.0.1:{port}")
    assert re.search(r"check your connection", result.output)
