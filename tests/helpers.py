"""Helpers shared by the library's tests (pytest fixtures are in conftest.py)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def load_json(source: str, name: str) -> Any:
    """A recorded answer, parsed: ``tests/fixtures/<source>/<name>``."""
    return json.loads((FIXTURES / source / name).read_text())


def assert_one_line_error(result: Any, *needles: str) -> None:
    """A CLI command failed as a user should see it: one line, and no traceback.

    ``result`` is click's ``Result``: a non-zero exit handled by the command
    (no exception but ``SystemExit``), and output that is one ``Error: ...``
    line containing each of ``needles``.
    """
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), lines[0]
    for needle in needles:
        assert needle in lines[0]


def free_port() -> int:
    """A loopback TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
