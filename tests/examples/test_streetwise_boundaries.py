"""`sw import --boundaries`: the ONS district boundaries from its ArcGIS service.

The service's answers are made up here in the ArcGIS REST shapes (layer
metadata, a query page with Esri JSON polygons); the ring is a square around
central Leeds, not the real boundary.
"""

from __future__ import annotations

import json
import re

import responses

from examples.streetwise import fetch
from examples.streetwise.districts import get_districts
from tests.examples.helpers import make_streetwise_app

LAYER = fetch.ONS_BOUNDARIES_URL
META = {
    "name": "LAD_DEC_2024_UK_BGC",
    "type": "Feature Layer",
    "geometryType": "esriGeometryPolygon",
    "objectIdField": "FID",
    "maxRecordCount": 2000,
    "advancedQueryCapabilities": {"supportsPagination": True},
    "fields": [
        {"name": "FID", "type": "esriFieldTypeOID"},
        {"name": "LAD24CD", "type": "esriFieldTypeString"},
        {"name": "LAD24NM", "type": "esriFieldTypeString"},
    ],
}
RING = [[-1.6, 53.75], [-1.5, 53.75], [-1.5, 53.85], [-1.6, 53.85], [-1.6, 53.75]]
PAGE = {
    "objectIdFieldName": "FID",
    "features": [
        {
            "attributes": {"FID": 1, "LAD24CD": "E08000035", "LAD24NM": "Leeds"},
            "geometry": {"rings": [RING]},
        }
    ],
    "exceededTransferLimit": False,
}


def test_boundaries_are_fetched_through_the_arcgis_client_and_used(tmp_path):
    dest = tmp_path / "lad_dec_2024_bgc.geojson"
    app = make_streetwise_app(f"sqlite:///{tmp_path / 'sw.db'}", BOUNDARIES_FILE=str(dest))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(re.compile(re.escape(LAYER) + r"/query.*"), json=PAGE)
        rsps.get(re.compile(re.escape(LAYER) + r"(\?.*)?$"), json=META)
        result = app.test_cli_runner().invoke(args=["sw", "import", "--boundaries"])
        queries = [c.request.url for c in rsps.calls if "/query" in c.request.url]
    assert result.exit_code == 0, result.output
    assert "1 districts written" in result.output
    assert queries and all("outSR=4326" in q for q in queries)
    written = json.loads(dest.read_text())
    assert written["features"][0]["properties"]["LAD24CD"] == "E08000035"
    fresh = make_streetwise_app(f"sqlite:///{tmp_path / 'sw.db'}", BOUNDARIES_FILE=str(dest))
    leeds = get_districts(fresh).get("E08000035")
    assert leeds is not None and leeds.contains([53.8], [-1.55])[0]
    assert leeds.land_km2 == 551.6983  # the area still comes from the SAM file
    assert "lad_dec_2024_bgc.geojson" in get_districts(fresh).boundary_source
    assert get_districts(fresh).vintage == "December 2024"
