"""Run the whole test suite with the clock set to other dates (``make test-dates``).

A test that passes only before some date is a defect (CONTRIBUTING.md). Each run
starts pytest with ``tests/_clock`` on ``PYTHONPATH`` and the date in
``CIVICKIT_TEST_CLOCK``: its ``sitecustomize`` starts time-machine in pytest, in
its workers and in every Python program the tests start (the demo, the command
lines, gunicorn), so all of them read that date and tick on from it. Tests that
set the clock themselves still do, on top of it.

Debian's libfaketime (0.9.10, bookworm) cannot do this for Python 3.11: with the
monotonic clock faked, a timed lock wait (``threading.Event().wait(0.05)``)
never returns, and with ``FAKETIME_DONT_FAKE_MONOTONIC=1`` every ``time.sleep``
fails with EINVAL. ``--faketime`` runs it anyway, to check a later libfaketime.

    python -m scripts.date_sweep                                   # every date below
    python -m scripts.date_sweep 2030-01-01 -- -k leeds            # one date, some tests
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOCK = ROOT / "tests" / "_clock"

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
# Noon UTC is the same day in London all year; --time starts a run elsewhere.
TIME = "12:00:00"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("dates", nargs="*", default=DATES, help="YYYY-MM-DD (default: all)")
    parser.add_argument("--time", default=TIME, help=f"time of day, UTC (default {TIME})")
    parser.add_argument(
        "--faketime", action="store_true", help="set the clock with libfaketime instead"
    )
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
    if args.faketime and shutil.which("faketime") is None:
        parser.error("faketime not found: apt-get install faketime (Debian's libfaketime)")
    # time_machine, imported by sitecustomize, is also a pytest plugin: too early to rewrite
    quiet = ["-W", "ignore:Module already imported so cannot be rewritten; time_machine"]
    pytest = [sys.executable, "-m", "pytest", "-q", *quiet, *(extra or ["-n", "auto"])]
    results = []
    for day in args.dates:
        when = f"{day}T{args.time}+00:00"
        print(f"\n== the suite at {when} ==", flush=True)
        env = dict(os.environ)
        prefix: list[str] = []
        if args.faketime:
            prefix = ["faketime", f"{day} {args.time}"]
            env["TZ"] = "UTC"
        else:
            env["CIVICKIT_TEST_CLOCK"] = when
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CLOCK), env.get("PYTHONPATH")]))
        # a child Python must see the date, or the run would prove nothing
        seen = subprocess.run(
            [
                *prefix,
                sys.executable,
                "-c",
                "import datetime as d; print(d.date.today())",
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if seen != day:
            print(
                f"date_sweep: a child process saw {seen or 'nothing'}, not {day}", file=sys.stderr
            )
            return 2
        started = time.monotonic()
        code = subprocess.call([*prefix, *pytest], env=env, cwd=ROOT)
        results.append((when, code, time.monotonic() - started))
    print("\n== date sweep ==")
    for when, code, seconds in results:
        print(f"{when}  {'passed' if code == 0 else 'FAILED'}  ({seconds:.0f} s)")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
