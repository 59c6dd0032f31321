"""The app on its bundled sample, offline: the page, the JSON endpoint and bad input."""

from __future__ import annotations

import pytest
from app.state import SAMPLE
from markupsafe import escape

import civickit
from civickit.datasets.hospitals import read_nhs


def test_the_form_page_says_it_shows_the_sample(client):
    page = client.get("/").get_data(as_text=True)
    assert "Sample data." in page
    assert 'name="postcode"' in page


def test_the_json_lists_every_sample_row_within_the_radius_nearest_first(client):
    answer = client.get("/api/near?postcode=ls1%203ex").get_json()
    assert answer["postcode"] == "LS1 3EX"
    # the same rows, measured one by one from the real file
    measured = sorted(
        (
            civickit.distance_m(answer["latitude"], answer["longitude"], h.latitude, h.longitude),
            h.name,
        )
        for h in read_nhs(SAMPLE)
        if h.latitude is not None and h.longitude is not None
    )
    expected = [name for metres, name in measured if metres <= answer["radius_m"]]
    assert expected  # the sample has hospitals in Leeds
    assert len(expected) <= 20  # so every one is shown
    assert sorted(row["name"] for row in answer["rows"]) == sorted(expected)
    distances = [row["distance_m"] for row in answer["rows"]]
    assert distances == sorted(distances)


def test_the_page_lists_and_maps_the_rows(client):
    page = client.get("/?postcode=LS1+3EX").get_data(as_text=True)
    answer = client.get("/api/near?postcode=LS1+3EX").get_json()
    assert 'id="map"' in page and "leaflet.js" in page
    for row in answer["rows"]:
        assert str(escape(row["name"])) in page
    assert page.count("data-lat=") == len(answer["rows"]) + 1  # each row, and the postcode


@pytest.mark.parametrize("text", ["not a postcode", "", "ZZ99 9ZZ"])
def test_bad_or_unknown_postcodes_get_one_clear_line(client, text):
    response = client.get("/api/near", query_string={"postcode": text})
    assert response.status_code == 400
    message = response.get_json()["error"]
    assert message and "\n" not in message and "Traceback" not in message
    page = client.get("/", query_string={"postcode": text or " x"})
    assert page.status_code == 400
    assert "There is a problem" in page.get_data(as_text=True)


def test_the_environment_sets_what_the_app_shows_and_config_overrides_it(monkeypatch):
    from app import create_app

    monkeypatch.setenv("APP_RADIUS_M", "2500")
    monkeypatch.setenv("APP_TITLE", "Hospitals in walking distance")
    app = create_app({"PORTAL": None, "MAX_ROWS": 3})

    assert app.config["RADIUS_M"] == 2500 and app.config["MAX_ROWS"] == 3
    assert app.config["TITLE"] == "Hospitals in walking distance"
    assert app.config["NAME_FIELD"] == "name"  # the sample's default
