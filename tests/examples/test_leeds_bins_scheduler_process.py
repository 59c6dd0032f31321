"""`bins scheduler` as a real process: a service manager's SIGTERM (or Ctrl-C) stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_scheduler_stops_cleanly_on_a_signal(tmp_path, signum):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bins.db'}",
        "PUBLIC_BASE_URL": "https://bins.example.org",  # production settings
        "HTTP_PROXY": "http://127.0.0.1:9",  # no network
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "examples.leeds_bins", "bins", "scheduler"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("Scheduler running"):
                break
        else:
            pytest.fail("the scheduler never started:\n" + "".join(seen)[-2000:])
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    out = "".join(seen) + out
    assert proc.returncode == 0, out[-2000:]
    assert out.rstrip().endswith("Scheduler stopped."), out[-2000:]
    assert "Traceback" not in out
