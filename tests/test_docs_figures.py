"""Every performance figure in the docs names the benchmark run it came from.

`make bench` records each run in benchmarks/results/ (date, commit, Python,
machine, the printed tables). A section of the docs that quotes a throughput
or a ratio to a peer must cite one of those files, and the file must exist; a
figure that is not measured says "estimate" and shows its arithmetic, and a
service's own limit says "published limit".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = sorted([*(ROOT / "docs").glob("*.md"), ROOT / "README.md"])
THROUGHPUT = re.compile(
    r"\b\d[\d,.]*\s?k?\s?(?:req|requests|rows|records|lookups|messages|queries|points|q|pages)/s\b"
    r"|\b\d[\d,.]*\s(?:times\s|requests\s|pages\s)?a second\b"
)
RATIO = re.compile(r"\b\d+\.\d+x\b")
CITATION = re.compile(r"benchmarks/results/[\w.\-]+\.json")


def sections(path: Path) -> list[tuple[str, str]]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code is not a claim
    parts = re.split(r"\n(?=#{1,4} )", text)
    return [(part.splitlines()[0] if part else "", part) for part in parts]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_measured_figures_name_their_recorded_run(page):
    unsourced = []
    for heading, body in sections(page):
        figures = THROUGHPUT.findall(body) + RATIO.findall(body)
        words = body.lower()
        exempt = "estimate" in words or "published limit" in words
        if figures and not CITATION.search(body) and not exempt:
            unsourced.append(f"{heading!r}: {figures[:3]}")
    assert unsourced == [], f"{page.name}: figures with no recorded run"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_cited_runs_exist(page):
    cited = set(CITATION.findall(page.read_text(encoding="utf-8")))
    missing = [c for c in sorted(cited) if not (ROOT / c).is_file()]
    assert missing == []
