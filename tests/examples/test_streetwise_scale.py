"""streetwise's scale path: radius queries from the database (SQLite grid index, PostGIS).

The bundled national files are imported, then every answer from the
database's spatial index must equal the in-memory ``PointIndex`` fallback's,
and a worker using the database loads no collisions into memory.
"""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

from civickit.geo import distance_m_many
from examples.streetwise import importer, spatial, store
from tests.examples.helpers import (
    make_streetwise_app,
    stats19_file,
    streetwise_engine,
    throwaway_schema,
)

# LS1 3EX (Leeds General Infirmary), NW1 2BU (University College Hospital): real places
# with real collisions around them in the bundled sample
PLACES = [(53.801460, -1.552119), (51.524891, -0.136896), (51.5072, -0.1276)]


@pytest.fixture
def postgis_url(postgres_url):
    """A throwaway schema in a database with PostGIS (made here if the server has it)."""
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        pytest.skip(
            "PostGIS is not installed on this PostgreSQL server "
            f"(apt-get install postgresql-15-postgis-3; .ci/run does): {exc.orig}"
        )
    engine.dispose()
    with throwaway_schema(postgres_url, "gis_") as url:
        yield url


def _answers(app):
    client = app.test_client()
    out = []
    for postcode in ("LS1 3EX", "NW1 2BU"):
        for radius in (500, 1000, 2000):
            body = client.get(f"/api/area/{postcode}?radius_m={radius}").get_json()
            out.append(body["collisions"])
    return out


def _check(url, expected_backend):
    app = make_streetwise_app(url)
    engine = streetwise_engine(app)
    importer.import_sample(engine)
    assert spatial.backend(engine) == expected_backend and spatial.has_index(engine)
    data = store.get_data(app)
    assert data.spatial == expected_backend
    assert len(data.lats) == 0  # nothing loaded into this worker
    memory = make_streetwise_app(url, COLLISION_INDEX="memory")
    assert store.get_data(memory).spatial == "memory"
    assert len(store.get_data(memory).lats) == 4074
    for lat, lon in PLACES:
        for radius in (200, 1000, 2000):
            ours = store_within(app, lat, lon, radius)
            theirs = store_within(memory, lat, lon, radius)
            assert len(ours) == len(theirs) > 0 or radius == 200
            assert np.allclose(np.sort(ours.distance), np.sort(theirs.distance))
    assert _answers(app) == _answers(memory)
    engine.dispose()
    streetwise_engine(memory).dispose()


def store_within(app, lat, lon, radius):
    return store.collisions_within(streetwise_engine(app), store.get_data(app), lat, lon, radius)


def test_sqlite_grid_answers_as_the_in_memory_index(tmp_path):
    _check(f"sqlite:///{tmp_path / 'sw.db'}", "grid")


def test_the_grid_keeps_points_on_cell_edges_and_across_the_meridian(tmp_path):
    """The grid's cells are hundredths of a degree, truncated towards zero: points on the
    edges of cells, either side of longitude 0 and of a row of cells must all be found."""
    rng = np.random.default_rng(7)
    # a lattice on the cell edges around Greenwich (51.49..51.51, -0.02..0.02), and jitter
    edges = [(51.49 + i / 1000, -0.02 + j / 1000) for i in range(21) for j in range(41)]
    points = edges + [
        (float(la), float(lo))
        for la, lo in zip(
            rng.uniform(51.48, 51.52, 400), rng.uniform(-0.03, 0.03, 400), strict=True
        )
    ]
    path = stats19_file(
        tmp_path / "edges.csv",
        [{"latitude": f"{la:.6f}", "longitude": f"{lo:.6f}"} for la, lo in points],
    )
    app = make_streetwise_app(f"sqlite:///{tmp_path / 'sw.db'}")
    engine = streetwise_engine(app)
    importer.import_collisions(engine, stats19=[path])
    assert spatial.backend(engine) == "grid" and spatial.has_index(engine)
    lats = np.array([round(la, 6) for la, _ in points])
    lons = np.array([round(lo, 6) for _, lo in points])
    for lat, lon in [*edges[::37], (51.5, 0.0), (51.5, -0.005), (51.5, 0.005)]:
        for radius in (100, 555, 1500):
            expected = np.sort(distance_m_many(lat, lon, lats, lons))
            found = spatial.within(engine, lat, lon, radius)
            assert np.allclose(np.sort(found.distance), expected[expected <= radius])
    engine.dispose()


@pytest.mark.postgres
def test_postgis_answers_as_the_in_memory_index(postgis_url):
    _check(postgis_url, "postgis")
