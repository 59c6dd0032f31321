"""Record each benchmark run in ``benchmarks/results/`` so every figure in the docs names its run.

``python -m benchmarks`` writes one JSON file per benchmark it runs:
``results/<name>-<UTC date and time>-<short commit>.json`` holding when and
where it ran (commit, dirty tree, Python, cores, CPU model), every table the
benchmark printed (headers and rows, as printed) and its whole printed output.
A figure quoted in the docs cites the file it came from.
"""

from __future__ import annotations

import io
import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

RESULTS_DIR = Path(__file__).parent / "results"
ROOT = Path(__file__).parent.parent

_tables: list[dict[str, Any]] = []


def record_table(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> None:
    """Keep a printed table for the run's record (called by ``_common.table``)."""
    _tables.append({"headers": list(headers), "rows": [list(row) for row in cells]})


class _Tee(io.TextIOBase):
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.buffer_text = io.StringIO()

    def write(self, text: str) -> int:
        self.buffer_text.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


class Recording:
    """Capture one benchmark's output and tables; write them out on ``save``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = datetime.now(UTC)
        self._tee = _Tee(sys.stdout)

    def __enter__(self) -> Recording:
        _tables.clear()
        self._stdout = sys.stdout
        sys.stdout = self._tee
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout = self._stdout

    def save(self, *, seconds: float, ok: bool) -> Path:
        commit = _git("rev-parse", "HEAD")
        record = {
            "benchmark": self.name,
            "started_utc": self.started.isoformat(timespec="seconds"),
            "seconds": round(seconds, 1),
            "ok": ok,
            "commit": commit,
            "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
            "python": platform.python_version(),
            "machine": {
                "cores": os.cpu_count(),
                "cpu": _cpu_model(),
                "system": f"{platform.system()} {platform.release()} {platform.machine()}",
            },
            "tables": list(_tables),
            "output": self._tee.buffer_text.getvalue(),
        }
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = self.started.strftime("%Y-%m-%dT%H%M%SZ")
        path = RESULTS_DIR / f"{self.name}-{stamp}-{(commit or 'nogit')[:8]}.json"
        path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
