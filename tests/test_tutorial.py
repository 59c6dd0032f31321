"""docs/tutorial.md runs top to bottom offline: its Python in order, in one namespace, as a
reader pastes it; a chapter marked *(online)* fails with a one-line message instead.

The shell lines are run by tests/test_cli_sweep.py (every documented example).
"""

from __future__ import annotations

import re
from pathlib import Path

import responses

import civickit

ROOT = Path(__file__).parent.parent
TUTORIAL = ROOT / "docs" / "tutorial.md"


def chapters() -> list[tuple[str, bool, list[str]]]:
    """(title, online, python blocks) for each ``## `` chapter, in order."""
    found: list[tuple[str, bool, list[str]]] = []
    for part in re.split(r"^## ", TUTORIAL.read_text(encoding="utf-8"), flags=re.M)[1:]:
        title = part.splitlines()[0]
        blocks = re.findall(r"^```python\n(.*?)^```", part, flags=re.M | re.S)
        found.append((title, "*(online)*" in title, blocks))
    return found


def test_the_tutorial_runs_offline_and_its_online_chapters_say_so_in_one_line(
    tmp_path, monkeypatch, capsys
):
    for name in ("civickit", "examples"):  # the paths it reads, from the clone's root
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    # chapter 1's `export CIVICKIT_POSTCODES=$PWD/civickit/data/postcodes_sample.db`
    monkeypatch.setenv("CIVICKIT_POSTCODES", str(tmp_path / "civickit/data/postcodes_sample.db"))
    namespace: dict[str, object] = {}
    ran = failed_online = 0
    with responses.RequestsMock(assert_all_requests_are_fired=False):  # the network is cut
        for title, online, blocks in chapters():
            for code in blocks:
                try:
                    exec(compile(code, f"tutorial: {title}", "exec"), namespace)
                except civickit.CivicKitError as exc:
                    assert online, f"offline chapter {title!r} failed: {exc}"
                    message = str(exc)
                    assert "\n" not in message and "could not reach" in message, message
                    assert "check your connection" in message
                    failed_online += 1
                    break  # the rest of an online chapter needs what failed
                else:
                    ran += 1
    assert ran >= 5 and failed_online == 2  # chapters 2 and 3 (police.uk, a portal)
    out = capsys.readouterr().out
    assert "LS1 3EX" in out and "hospitals;" in out and "within 2 km" in out
    assert (tmp_path / "bins.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")
