"""Run the whole test suite with the system clock set to other dates (``make test-dates``).

A test that passes only before some date is a defect (CONTRIBUTING.md). The suite
sets its own clock with time-machine where it needs one; this sweep checks that
nothing else reads the real one: each run starts pytest under libfaketime
(Debian's ``faketime``), so every process the suite starts, the demo's and the
CLI's included, sees the chosen date, and the clock ticks on from there.

    python -m scripts.date_sweep                     # every date below
    python -m scripts.date_sweep 2030-01-01 -- -k leeds   # one date, some tests
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import date

# Around each UK clock change of 2027 (last Sundays of March and October), a
# Christmas Day, a leap day, a new decade and a date ten years on.
DATES = [
    "2027-03-27",
    "2027-03-29",
    "2027-10-30",
    "2027-11-01",
    "2027-12-25",
    "2028-02-29",
    "2030-01-01",
    "2036-06-15",
]
# Noon UTC is the same day in London all year; TIME lets a run start elsewhere.
TIME = "12:00:00"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dates", nargs="*", default=DATES, help="YYYY-MM-DD (default: all)")
    parser.add_argument("--time", default=TIME, help=f"time of day, UTC (default {TIME})")
    argv = sys.argv[1:] if argv is None else argv
    ours, extra = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    args = parser.parse_args(ours)
    for day in args.dates:
        try:
            date.fromisoformat(day)
        except ValueError:
            parser.error(f"not a date (YYYY-MM-DD): {day!r}")
    if shutil.which("faketime") is None:
        print(
            "date_sweep: faketime not found: apt-get install faketime (Debian's libfaketime)",
            file=sys.stderr,
        )
        return 2
    extra = extra or ["-n", "auto"]
    results = []
    for day in args.dates:
        started = time.monotonic()
        print(f"\n== the suite on {day} {args.time} UTC ==", flush=True)
        # (not FAKETIME_DONT_FAKE_MONOTONIC: with it, libfaketime 0.9.10 fails time.sleep with EINVAL)
        code = subprocess.call(
            ["faketime", f"{day} {args.time}", sys.executable, "-m", "pytest", "-q", *extra],
            env={**os.environ, "TZ": "UTC"},
        )
        results.append((day, code, time.monotonic() - started))
    print("\n== date sweep ==")
    for day, code, seconds in results:
        print(f"{day} {args.time} UTC  {'passed' if code == 0 else 'FAILED'}  ({seconds:.0f} s)")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
