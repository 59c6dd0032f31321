"""Run every benchmark (``make bench``), or those whose names contain the given words.

Each ``benchmarks/bench_*.py`` module has a ``main()`` that prints its own
figures beside a peer measured in the same run. Benchmarks are never tests:
they assert nothing about time. Each run is recorded in
``benchmarks/results/`` (see :mod:`benchmarks.results`).
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from benchmarks.results import Recording


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    if argv:
        names = [n for n in names if any(word in n for word in argv)]
        if not names:
            print(f"no benchmark matches {' '.join(argv)}", file=sys.stderr)
            return 2
    failed = []
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        ok = True
        with Recording(name.removeprefix("bench_")) as recording:
            try:
                importlib.import_module(f"benchmarks.{name}").main()
            except Exception:  # keep going: one broken benchmark should not hide the others
                traceback.print_exc()
                failed.append(name)
                ok = False
        seconds = time.perf_counter() - start
        saved = recording.save(seconds=seconds, ok=ok)
        print(f"--- {name}: {seconds:.1f} s, recorded in {os.path.relpath(saved)}", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
