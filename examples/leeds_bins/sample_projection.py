"""Move the bundled sample's collection dates forward, so that a demo always has upcoming ones.

``data/dm_jobs.csv`` holds real (and some generated, see ``data/SOURCE.txt``)
collection dates from July-August 2025. For a demo those would all be past,
so :func:`project` reads each premises' pattern per bin (an anchor date and a
weekly or fortnightly cycle) and writes the same pattern forward from today,
in the published layout, for :func:`load` to import through the normal importer.
"""

from __future__ import annotations

import itertools
import shutil
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from civickit.datasets import bins as bins_reader

from . import importer

DATA = Path(__file__).parent / "data"
PREMISES = DATA / "dm_premises.csv"
JOBS = DATA / "dm_jobs.csv"
DAYS_BACK = 14
WEEKS_AHEAD = 13
SOURCE = "bundled sample (examples/leeds_bins/data), projected from {today}"


def patterns(jobs: Path = JOBS) -> dict[tuple[int, str], tuple[date, int]]:
    """``(premises_id, bin) -> (anchor date, cycle in days)`` read from a jobs file."""
    dates: dict[tuple[int, str], set[date]] = defaultdict(set)
    for c in bins_reader.read_jobs(jobs):
        dates[(int(c.premises_id), c.bin)].add(c.date)
    out = {}
    for key, found in dates.items():
        ordered = sorted(found)
        gaps = [b - a for a, b in itertools.pairwise(ordered)]
        cycle = min(gaps).days if gaps else 14
        out[key] = (ordered[0], 7 if cycle <= 7 else 14)
    return out


def project(today: date, dest: Path, *, jobs: Path = JOBS) -> Path:
    """Write ``dest/dm_jobs.csv``: the sample's patterns from ``today - 14 days`` on."""
    dest.mkdir(parents=True, exist_ok=True)
    start, end = today - timedelta(days=DAYS_BACK), today + timedelta(weeks=WEEKS_AHEAD)
    lines = []
    for (pid, bin_), (anchor, cycle) in sorted(patterns(jobs).items()):
        # first date on the cycle at or after `start`
        k = -((anchor - start).days // cycle)
        day = anchor + timedelta(days=k * cycle)
        while day <= end:
            lines.append(f"{pid},{bin_.upper()},{day:%d/%m/%y}\r\n")
            day += timedelta(days=cycle)
    out = dest / importer.JOBS_FILE
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes("".join(lines).encode("cp1252"))
    tmp.replace(out)
    shutil.copyfile(PREMISES, dest / importer.PREMISES_FILE)
    return out


def needs_refresh(engine: sa.Engine, today: date) -> bool:
    """True when there is no data, or the sample in use runs out within 8 weeks."""
    serving = importer.serving(engine)
    if serving is None:
        return True
    if not serving.is_sample:
        return False
    last = importer.last_date(serving)
    imported = serving.imported_at.date()
    return last is None or last < today + timedelta(weeks=9) or imported < today


def load(engine: sa.Engine, workdir: Path, today: date, **kwargs: Any) -> importer.BinsReport:
    """Project the sample to ``today`` and import it (marked as sample data)."""
    project(today, workdir)
    return importer.import_files(
        engine,
        workdir / importer.PREMISES_FILE,
        workdir / importer.JOBS_FILE,
        source=SOURCE.format(today=today.isoformat()),
        is_sample=True,
        **kwargs,
    )
