"""`flask --app ... bins -h` / `sw -h` print help with no configuration at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(("app", "group"), [("leeds_bins", "bins"), ("streetwise", "sw")])
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_needs_no_public_base_url(app, group, flag):
    env = {k: v for k, v in os.environ.items() if k != "PUBLIC_BASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", f"examples.{app}", group, flag],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (
        f"Usage: python -m flask {group}" in done.stdout or f"Usage: flask {group}" in done.stdout
    )
    assert "PUBLIC_BASE_URL" not in done.stderr


def test_a_command_that_builds_links_still_needs_it():
    env = {k: v for k, v in os.environ.items() if k != "PUBLIC_BASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "examples.leeds_bins", "bins", "send-due"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "PUBLIC_BASE_URL is not set" in done.stderr
    assert "Traceback" not in done.stderr
