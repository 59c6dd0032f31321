"""The README's library example runs as written.

Its postcode comes from the bundled postcode directory with postcodes.io
unreachable; police.uk and the CKAN portal are answered by recorded shapes.
"""

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
    # as the README says: the bundled directory, and no route to postcodes.io at all
    monkeypatch.setenv(
        "CIVICKIT_POSTCODES", str(ROOT / "civickit" / "data" / "postcodes_sample.db")
    )
    months = load_json("police_uk", "crimes_street_dates.json")
    crimes = json.loads(
        (fixtures / "police_uk" / "crimes_street_all_crime_2014-08.json").read_text()
    )
    package = load_json("ckan", "package_show.json")["result"]
    search = {"success": True, "result": {"count": 1, "results": [package]}}

    with responses.RequestsMock() as rsps:
        rsps.get("https://data.police.uk/api/crimes-street-dates", json=months)
        rsps.get(
            re.compile(r"https://data\.police\.uk/api/crimes-street/all-crime\?.*"), json=crimes
        )
        rsps.get(
            re.compile(r"https://datamillnorth\.org/api/3/action/package_search\?.*"), json=search
        )
        exec(compile(_readme_python(), "README.md", "exec"), {})

    assert not [c for c in rsps.calls if "postcodes.io" in c.request.url]
    out = capsys.readouterr().out
    assert f"{len(crimes)} crimes near LS1 3EX in police.uk's newest month" in out
    assert package["title"] in out
    assert "Leeds General Infirmary" in out  # the nearest hospital to central Leeds
