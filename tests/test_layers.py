"""The import-layer contract (import-linter, configured in pyproject.toml) holds.

The library never imports the example apps; the apps never import each other;
examples/common imports no app; each app's state.py imports nothing of its app
but models, and neither app has an import loop; and each library module
imports only the layers below its own (docs/architecture.md draws them).
`make lint` runs the same check as `lint-imports`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports() -> str:
    found = Path(sys.executable).with_name("lint-imports")
    command = str(found) if found.exists() else shutil.which("lint-imports")
    if command is None:
        pytest.fail("lint-imports is missing: install the dev extra (pip install -e '.[dev]')")
    return command


def test_every_import_contract_is_kept():
    result = subprocess.run(
        [_lint_imports(), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    verdicts = {
        line.split(" KEPT")[0].split(" BROKEN")[0]: "KEPT" if " KEPT" in line else "BROKEN"
        for line in result.stdout.splitlines()
        if " KEPT" in line or " BROKEN" in line
    }
    assert verdicts == {
        "The library never imports the example apps": "KEPT",
        "The example apps never import each other": "KEPT",
        "examples.common imports no app": "KEPT",
        "Each app's state.py is a leaf: it imports nothing of its app but models": "KEPT",
        "No import loop inside either app: none between its modules": "KEPT",
        "No import loop inside either app: no module imports its factory": "KEPT",
        "The library's layers: each module imports only the layers below it": "KEPT",
        "The postcodes package's layers: each module imports only the layers below it": "KEPT",
    }, result.stdout
