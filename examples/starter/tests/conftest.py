"""The app on its bundled sample, offline, and a client for it (as Flask's tutorial has them)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))  # the project's folder, however started

from app import create_app


@pytest.fixture
def app(monkeypatch):
    monkeypatch.delenv("CIVICKIT_POSTCODES", raising=False)
    return create_app({"TESTING": True, "PORTAL": None, "OFFLINE": True})


@pytest.fixture
def client(app):
    return app.test_client()
