"""Run both example apps on their embedded defaults (``make demo``).

Each app is a package under ``examples/`` with ``create_app()`` and a
``demo`` module offering ``prepare(app)`` (load the bundled sample into the
embedded SQLite database, idempotently) and ``background_commands()``
(extra processes the app needs, such as the reminder scheduler). Each app and
each background command runs in its own process group; Ctrl-C or SIGTERM
stops them all.

A stop can come at any moment, including while a module is being imported.
The signal handlers only record it (:class:`civickit.stopping.StopSignals`);
the runner checks for it between its steps, so no stop is ever lost, and it
tracks every child from the moment ``Popen`` returns.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import socket
import subprocess
import sys
import time

from civickit.stopping import Stopped, StopSignals

APPS = [
    ("leeds_bins", "LEEDS_BINS_PORT", 8001, "find your bin days, subscribe a calendar, get a text"),
    ("streetwise", "STREETWISE_PORT", 8002, "hospitals, road collisions and crime near a postcode"),
]
HOST = os.environ.get("DEMO_HOST", "127.0.0.1")
# The name links are built on: the address the demo listens on, or loopback if it listens on all.
LINK_HOST = "127.0.0.1" if HOST in ("0.0.0.0", "::", "") else HOST
STOP_GRACE_S = 10  # how long children get to stop before they are killed

# Test hook: the step named here pauses inside an object's __del__ (where an
# exception is dropped, as in an import's callbacks) until a line arrives on
# stdin, so a test can land a stop at exactly that point.
PAUSE_AT = os.environ.get("CIVICKIT_DEMO_PAUSE_AT")


def serve(name: str, port: int) -> None:
    """Prepare and serve one app in this process (the child side of ``main``)."""
    package = importlib.import_module(f"examples.{name}")
    app = package.create_app()
    importlib.import_module(f"examples.{name}.demo").prepare(app)
    app.run(host=HOST, port=port, use_reloader=False, threaded=True)


def main() -> int:
    with StopSignals() as stop:
        procs: list[subprocess.Popen[bytes]] = []
        try:
            return _run(stop, procs)
        except Stopped:
            print("\nStopping the demo...", flush=True)
            return 0
        finally:
            _stop_all(procs)  # still inside StopSignals: a second Ctrl-C cannot cut this short


def _run(stop: StopSignals, procs: list[subprocess.Popen[bytes]]) -> int:
    _step(stop, "start")
    apps = []
    for name, env_name, default, blurb in APPS:
        module = _import_demo(name)
        _step(stop, f"import:{name}")
        if module is not None:
            port = _port(env_name, default)
            if port is None:
                return 2
            apps.append((name, port, blurb, module))
    if not apps:
        print("No example apps are installed yet.", file=sys.stderr)
        return 1
    for name, port, _, module in apps:
        env = app_env(port)
        serve_argv = [sys.executable, "-m", "examples.demo", "--serve", name, str(port)]
        procs.append(_start(serve_argv, env))
        _step(stop, f"serve:{name}")
        for argv in getattr(module, "background_commands", list)():
            procs.append(_start(argv, env))
            _step(stop, f"background:{name}")
    stop.wait(1.5)  # let the servers print their start-up lines first
    _step(stop, "banner")
    print("\ncivickit demo: sample data, SMS printed to this console, no keys, no network needed")
    for name, port, blurb, _ in apps:
        print(f"  {name:<11} http://{HOST}:{port}/   {blurb}")
    print("Press Ctrl-C to stop.\n", flush=True)
    _step(stop, "running")
    while all(p.poll() is None for p in procs):
        stop.wait(0.5)
        stop.check()
    print("A demo process stopped unexpectedly; stopping the others.", file=sys.stderr)
    return 1


def _port(env_name: str, default: int) -> int | None:
    """The app's port, if it is a number and free; else say, in one line, what to set."""
    text = os.environ.get(env_name, str(default))
    try:
        port = int(text)
        if not 0 < port < 65536:
            raise ValueError(text)
    except ValueError:
        print(f"demo: {env_name}={text!r} is not a port number (1-65535).", file=sys.stderr)
        return None
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            print(
                f"demo: port {port} on {HOST} is taken by another program; "
                f"stop it, or choose another port: {env_name}={port + 10} make demo",
                file=sys.stderr,
            )
            return None
    return port


def app_env(port: int) -> dict[str, str]:
    """The environment of one app's processes: its own address, so links never follow
    the Host header, and only loopback names answered (any other Host gets 400)."""
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PUBLIC_BASE_URL": f"http://{LINK_HOST}:{port}",
        "TRUSTED_HOSTS": "localhost,127.0.0.1",
    }


def _import_demo(name: str) -> object | None:
    try:
        return importlib.import_module(f"examples.{name}.demo")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(f"examples.{name}"):
            return None
        raise


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Its own process group: a terminal's Ctrl-C reaches only this runner, which
    # then stops the whole group, grandchildren included.
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, process_group=0)


def _step(stop: StopSignals, name: str) -> None:
    if name == PAUSE_AT:
        _PauseInFinaliser(name)  # dropped at once: its __del__ runs here
    stop.check()


class _PauseInFinaliser:
    def __init__(self, step: str) -> None:
        self.step = step

    def __del__(self) -> None:
        print(f"demo: paused at {self.step}", flush=True)
        sys.stdin.readline()


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        _signal_group(p, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"demo: process {p.pid} did not stop within {STOP_GRACE_S} s; killing it")
    for p in procs:
        _signal_group(p, signal.SIGKILL)  # whatever is left of each group, grandchildren too
        p.wait()


def _signal_group(p: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, signum)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        with contextlib.suppress(KeyboardInterrupt):
            serve(sys.argv[2], int(sys.argv[3]))
        sys.exit(0)
    sys.exit(main())
