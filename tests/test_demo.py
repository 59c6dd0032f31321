"""`make demo`'s runner: both apps come up on bundled data, offline, and stop cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
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


def _start_demo(leeds: int, street: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "LEEDS_BINS_PORT": str(leeds),
        "STREETWISE_PORT": str(street),
        # no network: any attempt to reach the internet fails at once
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "examples.demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so no child can outlive the test
    )


def _stop(proc: subprocess.Popen) -> str:
    """SIGTERM the demo; return its output. Fails if it or any child lingers."""
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the demo did not stop within 30 s of SIGTERM")
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return out
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail(f"a demo child outlived the demo:\n{out[-2000:]}")


@pytest.mark.slow
def test_demo_serves_both_apps_offline_and_stops_on_sigterm():
    leeds, street = _free_port(), _free_port()
    proc = _start_demo(leeds, street)
    out = ""
    try:
        _wait_for(f"http://127.0.0.1:{leeds}/healthz", proc)
        _wait_for(f"http://127.0.0.1:{street}/healthz", proc)

        status, html = _get(f"http://127.0.0.1:{leeds}/addresses?postcode=ls5%203dh")
        assert status == 200 and "1 Abbey Avenue" in html and "Sample data" in html
        status, html = _get(f"http://127.0.0.1:{street}/area/LS1%201UR")
        assert status == 200 and "Leeds General Infirmary" in html
    finally:
        out = _stop(proc)

    assert proc.returncode == 0, out[-2000:]
    assert "Traceback" not in out


@pytest.mark.slow
@pytest.mark.parametrize("after_s", [0.3, 1.0, 2.0])
def test_a_stop_while_starting_up_leaves_nothing_behind(after_s):
    proc = _start_demo(_free_port(), _free_port())
    time.sleep(after_s)
    out = _stop(proc)
    assert proc.returncode == 0, out[-2000:]
