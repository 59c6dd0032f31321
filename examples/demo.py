"""Run both example apps on their embedded defaults (``make demo``).

Each app is a package under ``examples/`` with ``create_app()`` and a
``demo`` module offering ``prepare(app)`` (load the bundled sample into the
embedded SQLite database, idempotently) and ``background_commands()``
(extra processes the app needs, such as the reminder scheduler). Each app and
each background command runs in its own process; Ctrl-C stops them all.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time

APPS = [
    ("leeds_bins", "LEEDS_BINS_PORT", 8001, "find your bin days, subscribe a calendar, get a text"),
    ("streetwise", "STREETWISE_PORT", 8002, "hospitals, road collisions and crime near a postcode"),
]
HOST = os.environ.get("DEMO_HOST", "127.0.0.1")


def serve(name: str, port: int) -> None:
    """Prepare and serve one app in this process (the child side of ``main``)."""
    package = importlib.import_module(f"examples.{name}")
    app = package.create_app()
    importlib.import_module(f"examples.{name}.demo").prepare(app)
    app.run(host=HOST, port=port, use_reloader=False, threaded=True)


def _available() -> list[tuple[str, int, str]]:
    found = []
    for name, env, default, blurb in APPS:
        try:
            importlib.import_module(f"examples.{name}.demo")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"examples.{name}"):
                continue
            raise
        found.append((name, int(os.environ.get(env, default)), blurb))
    return found


class _Stopped(BaseException):
    """SIGTERM arrived. Not KeyboardInterrupt: CPython remembers a KeyboardInterrupt
    raised inside a nested PyRun call (some extension imports use one) and then
    exits by SIGINT however the program handled it."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped  # `kill` stops the demo as cleanly as Ctrl-C


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs: list[subprocess.Popen] = []
    try:  # whenever a stop (Ctrl-C, SIGTERM) comes, every child started is stopped
        apps = _available()
        if not apps:
            print("No example apps are installed yet.", file=sys.stderr)
            return 1
        for name, port, _ in apps:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "examples.demo", "--serve", name, str(port)], env=env
                )
            )
            demo = importlib.import_module(f"examples.{name}.demo")
            for argv in getattr(demo, "background_commands", list)():
                procs.append(subprocess.Popen(argv, env=env))
        time.sleep(1.5)  # let the servers print their start-up lines first
        print(
            "\ncivickit demo: sample data, SMS printed to this console, no keys, no network needed"
        )
        for name, port, blurb in apps:
            print(f"  {name:<11} http://{HOST}:{port}/   {blurb}")
        print("Press Ctrl-C to stop.\n", flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        failed = [p for p in procs if p.poll() not in (None, 0)]
        if failed:
            print("A demo process stopped unexpectedly; stopping the others.", file=sys.stderr)
            return 1
        return 0
    except (KeyboardInterrupt, _Stopped):
        print("\nStopping the demo...")
        return 0
    finally:
        _stop_all(procs)


def _stop_all(procs: list[subprocess.Popen]) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second stop must not cut this short
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for p in procs:
        if p.poll() is None:
            # SIGTERM, not SIGINT: children started in the background ignore SIGINT
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        with contextlib.suppress(KeyboardInterrupt):
            serve(sys.argv[2], int(sys.argv[3]))
        sys.exit(0)
    sys.exit(main())
