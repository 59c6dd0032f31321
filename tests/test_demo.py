"""`make demo`'s runner: both apps come up on bundled data, offline, and stop cleanly."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port

ROOT = Path(__file__).parent.parent


def _get(url: str, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_for(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the demo exited while starting"
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {timeout} s")


def _start_demo(leeds: int, street: int, **extra_env: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "LEEDS_BINS_PORT": str(leeds),
        "STREETWISE_PORT": str(street),
        # no network: any attempt to reach the internet fails at once
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        **extra_env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "examples.demo"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own session, so no child can outlive the test
    )


def _session_members(sid: int) -> list[int]:
    """Every live process in session ``sid``: the demo's children keep its session."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == sid:
                    members.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return members


def _stop(proc: subprocess.Popen, timeout: float = 30, signum: int | None = signal.SIGTERM) -> str:
    """Send ``signum`` (None: it was sent already) to the demo; return its output.
    Fails if it or any child lingers."""
    if signum is not None:
        proc.send_signal(signum)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in _session_members(proc.pid):
            os.kill(pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"the demo did not stop within {timeout} s of {signum!r}:\n{out[-3000:]}")
    lingering = _session_members(proc.pid)
    for pid in lingering:
        os.kill(pid, signal.SIGKILL)
    assert not lingering, f"demo children outlived the demo:\n{out[-2000:]}"
    return out


@pytest.mark.slow
def test_demo_serves_both_apps_offline_and_stops_on_sigterm():
    leeds, street = free_port(), free_port()
    proc = _start_demo(leeds, street)
    out = ""
    try:
        _wait_for(f"http://127.0.0.1:{leeds}/healthz", proc)
        _wait_for(f"http://127.0.0.1:{street}/healthz", proc)

        status, html = _get(f"http://127.0.0.1:{leeds}/addresses?postcode=ls5%203dh")
        assert status == 200 and "1 Abbey Avenue" in html and "Sample data" in html
        status, html = _get(f"http://127.0.0.1:{street}/area/LS1%203EX")
        assert status == 200 and "Leeds General Infirmary" in html

        # links keep to the demo's own loopback address, whatever Host a request names
        page = f"http://127.0.0.1:{leeds}/premises/666057"
        status, html = _get(page, host=f"localhost:{leeds}")
        assert status == 200 and f"http://127.0.0.1:{leeds}/premises/666057/calendar.ics" in html
        assert _get(page, host="evil.example")[0] == 400
        assert _get(f"http://127.0.0.1:{street}/", host="evil.example")[0] == 400
    finally:
        out = _stop(proc)

    assert proc.returncode == 0, out[-2000:]
    assert "Traceback" not in out


@pytest.mark.slow
@pytest.mark.parametrize("after_s", [0.3, 1.0, 2.0])
def test_a_stop_while_starting_up_leaves_nothing_behind(after_s):
    """The stop lands ``after_s`` after the demo armed its handlers (its first step),
    not after Popen: on a busy machine the interpreter alone can take longer than
    0.3 s to start, and a SIGTERM before any of the demo's code has run is the
    operating system's to handle."""
    proc = _start_demo(free_port(), free_port(), CIVICKIT_DEMO_PAUSE_AT="start")
    seen = _lines_until(proc, "demo: paused at start")
    proc.stdin.write("\n")
    proc.stdin.flush()
    time.sleep(after_s)
    out = "".join(seen) + _stop(proc)
    assert proc.returncode == 0, out[-2000:]
    assert "Stopping the demo" in out


def _lines_until(proc: subprocess.Popen, prefix: str) -> list[str]:
    """The demo's output up to and including the line starting with ``prefix``."""
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(prefix):
            return seen
    pytest.fail(f"the demo never printed {prefix!r}:\n{''.join(seen)[-2000:]}")


# Every step at which examples.demo checks for a stop, in the order it takes them.
STEPS = [
    "start",
    "import:leeds_bins",
    "import:streetwise",
    "serve:leeds_bins",
    "background:leeds_bins",
    "serve:streetwise",
    "banner",
    "running",
]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("step", STEPS)
def test_a_stop_inside_a_finaliser_at_each_step_is_never_lost(step, signum):
    """The demo pauses inside a __del__ (where a raised exception is dropped, as in
    an import's weakref callback); the stop lands there; the demo must still stop."""
    proc = _start_demo(free_port(), free_port(), CIVICKIT_DEMO_PAUSE_AT=step)
    seen = _lines_until(proc, f"demo: paused at {step}")
    proc.send_signal(signum)
    time.sleep(0.2)  # the handler runs while the finaliser is blocked reading stdin
    proc.stdin.write("\n")
    proc.stdin.flush()
    out = "".join(seen) + _stop(proc, timeout=STOP_WITHIN_S, signum=None)
    assert proc.returncode == 0, out[-2000:]
    assert "Stopping the demo" in out
    assert "Exception ignored" not in out
    if STEPS.index(step) < STEPS.index("banner"):
        assert "Press Ctrl-C to stop" not in out, "the demo went on starting after the stop"


STOP_WITHIN_S = 15  # STOP_GRACE_S in examples/demo.py, plus start-up slack on a busy machine


@pytest.mark.slow
def test_thirty_stops_at_random_moments_with_no_bytecode_lose_none(tmp_path):
    """The reproduction from the bug report: compile everything afresh at each start
    (as on a fresh clone) and stop after a random 20-1200 ms."""
    delays = random.Random(14).sample(range(20, 1201), 30)
    lost = []
    for delay_ms in delays:
        prefix = tmp_path / f"pyc-{delay_ms}"
        prefix.mkdir()  # empty: no module has bytecode
        proc = _start_demo(
            free_port(),
            free_port(),
            PYTHONPYCACHEPREFIX=str(prefix),
            PYTHONDONTWRITEBYTECODE="1",
        )
        time.sleep(delay_ms / 1000)
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            out = ""
            lost.append(delay_ms)
        for pid in _session_members(proc.pid):
            os.kill(pid, signal.SIGKILL)
            lost.append(delay_ms)
        proc.communicate()
        if proc.returncode not in (0, -signal.SIGTERM):
            lost.append(delay_ms)
        assert "Traceback" not in (out or ""), out
    assert lost == [], f"stops lost after these delays (ms): {lost}"


@pytest.mark.parametrize("taken", ["leeds", "street"])
def test_a_taken_port_is_one_line_naming_the_setting_and_nothing_starts(taken):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        free = free_port()
        leeds, street = (port, free) if taken == "leeds" else (free, port)
        setting = "LEEDS_BINS_PORT" if taken == "leeds" else "STREETWISE_PORT"

        done = subprocess.run(
            [sys.executable, "-m", "examples.demo"],
            cwd=ROOT,
            env={**os.environ, "LEEDS_BINS_PORT": str(leeds), "STREETWISE_PORT": str(street)},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert done.returncode == 2
    assert done.stdout == ""  # no banner advertising the busy port, no server started
    assert done.stderr.strip().splitlines() == [
        f"demo: port {port} on 127.0.0.1 is taken by another program; stop it, or choose "
        f"another port: {setting}={port + 10} make demo"
    ]


def test_a_port_that_is_not_a_number_is_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "examples.demo"],
        cwd=ROOT,
        env={**os.environ, "LEEDS_BINS_PORT": "eighty"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == "demo: LEEDS_BINS_PORT='eighty' is not a port number (1-65535)."
