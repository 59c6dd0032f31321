"""Shared helpers for the benchmarks: timing, peak memory in a child process, printing."""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.results import record_table

DATA_DIR = Path(__file__).parent / ".data"  # generated inputs, git-ignored


def data_dir() -> Path:
    DATA_DIR.mkdir(exist_ok=True)
    return DATA_DIR


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once; return (seconds, result)."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _child(fn: Callable[[], Any], queue: Any) -> None:
    seconds, result = timed(fn)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((seconds, result, peak_kb / 1024))


def in_child(fn: Callable[[], Any]) -> tuple[float, Any, float]:
    """Run ``fn`` in a fresh forked process; return (seconds, result, peak RSS in MB).

    A separate process gives each contender its own peak-memory figure.
    """
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def percentiles(samples: Sequence[float], points: Sequence[int] = (50, 99)) -> dict[int, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {p: cuts[p - 1] for p in points}


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a plain aligned table (figures are pre-formatted strings or numbers)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    record_table(cells[0], cells[1:])
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ratio(ours: float, peer: float) -> str:
    return f"{ours / peer:.2f}x" if peer else "n/a"
