"""Run every benchmark (``make bench``), or those whose names contain the given words.

Each ``benchmarks/bench_*.py`` module has a ``main()`` that prints its own
figures beside a peer measured in the same run. Benchmarks are never tests:
they assert nothing about time.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path


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
        try:
            importlib.import_module(f"benchmarks.{name}").main()
        except Exception:  # keep going: one broken benchmark should not hide the others
            traceback.print_exc()
            failed.append(name)
        print(f"--- {name}: {time.perf_counter() - start:.1f} s", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
