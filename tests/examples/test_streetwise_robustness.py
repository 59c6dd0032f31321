"""streetwise against hostile requests: bad Host headers, no 5xx."""

from __future__ import annotations

import pytest

from examples.streetwise import importer
from tests.examples.helpers import (
    MALFORMED_HOSTS,
    every_route,
    make_streetwise_app,
    streetwise_engine,
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_streetwise_app(f"sqlite:///{tmp_path_factory.mktemp('sw') / 'sw.sqlite3'}")
    importer.import_sample(streetwise_engine(app))
    yield app
    streetwise_engine(app).dispose()


@pytest.mark.parametrize("host", MALFORMED_HOSTS)
def test_malformed_or_foreign_host_headers_are_400_on_every_route(app, host):
    client = app.test_client()
    for method, path in every_route(app):
        response = client.open(path, method=method, headers={"Host": host})
        assert response.status_code == 400, (host, method, path, response.status_code)
