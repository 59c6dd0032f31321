"""The README's library example runs as written (its network calls answered by recorded shapes)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import responses

from tests.helpers import load_json

ROOT = Path(__file__).parent.parent


def _readme_python() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks, "the README has no Python example"
    return blocks[0]


def test_the_readme_example_runs(fixtures, streetwise_data, tmp_path, monkeypatch, capsys):
    shutil.copy(streetwise_data / "nhs_hospital_sample.csv", tmp_path / "Hospital.csv")
    monkeypatch.chdir(tmp_path)
    place = load_json("postcodes_io", "lookup_BR87RE_200.json")
    place["result"].update(postcode="LS1 1UR", latitude=53.7997, longitude=-1.5492)
    months = load_json("police_uk", "crimes_street_dates.json")
    crimes = json.loads(
        (fixtures / "police_uk" / "crimes_street_all_crime_2014-08.json").read_text()
    )
    package = load_json("ckan", "package_show.json")["result"]
    search = {"success": True, "result": {"count": 1, "results": [package]}}

    with responses.RequestsMock() as rsps:
        rsps.get("https://api.postcodes.io/postcodes/LS1%201UR", json=place)
        rsps.get("https://data.police.uk/api/crimes-street-dates", json=months)
        rsps.get(
            re.compile(r"https://data\.police\.uk/api/crimes-street/all-crime\?.*"), json=crimes
        )
        rsps.get(
            re.compile(r"https://datamillnorth\.org/api/3/action/package_search\?.*"), json=search
        )
        exec(compile(_readme_python(), "README.md", "exec"), {})

    out = capsys.readouterr().out
    assert f"{len(crimes)} crimes near LS1 1UR in police.uk's newest month" in out
    assert package["title"] in out
    assert "Leeds General Infirmary" in out  # the nearest hospital to central Leeds
