"""streetwise in Debian Chromium: search, change the radius, read the lists and tables, axe-core.

Map tiles are blocked, as when offline: the markers must still be drawn, and
without JavaScript the page must still carry every figure.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from examples.streetwise import importer
from tests.examples.helpers import make_streetwise_app, streetwise_engine

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "examples" / "streetwise" / "static" / "vendor"


@pytest.fixture
def server(tmp_path, serve):
    if not (STATIC / "leaflet" / "leaflet.js").exists():
        pytest.skip("front-end assets missing: run `make assets` first")
    # civickit's bundled directory of real rows, as in the demo; never postcodes.io
    app = make_streetwise_app(f"sqlite:///{tmp_path / 'sw.sqlite3'}", POSTCODES_ONLINE=False)
    importer.import_sample(streetwise_engine(app))
    yield serve(app)
    streetwise_engine(app).dispose()


def _offline(context):
    context.route("**/*.tile.openstreetmap.org/**", lambda route: route.abort())


def test_search_change_radius_and_read_the_page(browser, server, axe, artifacts):
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    _offline(context)
    page = context.new_page()
    page.goto(server.url + "/")
    assert axe(page) == []
    page.get_by_label("Postcode").fill("ls13ex")
    page.get_by_role("button", name="Show what is nearby").click()
    page.wait_for_url("**/area/LS1%203EX?radius_m=1000")
    assert page.get_by_role("heading", level=1).inner_text() == "Around LS1 3EX"

    hospitals = page.locator("#hospital-list > li")
    assert hospitals.count() == 5
    first = hospitals.nth(0).inner_text()
    assert "Leeds General Infirmary" in first and "km (" in first and "miles)" in first
    link = hospitals.nth(0).get_by_role("link")
    assert link.get_attribute("href") == "http://www.leedsth.nhs.uk"

    # the map draws markers on a plain background with the tiles unreachable
    page.wait_for_selector("#sw-map .leaflet-interactive")
    assert page.locator("#sw-map .leaflet-interactive").count() > 10
    assert page.locator(".sw-map__fallback").count() == 0
    assert axe(page) == []

    one_km = _table(page, "#collisions-by-year")
    page.get_by_label("2 kilometres").check()
    page.get_by_role("button", name="Update").click()
    page.wait_for_url("**/area/LS1%203EX?radius_m=2000")
    assert page.get_by_label("2 kilometres").is_checked()
    assert "Within 2 kilometres" in page.locator(".govuk-caption-l").inner_text()
    two_km = _table(page, "#collisions-by-year")
    assert [row[0] for row in two_km] == [row[0] for row in one_km]
    assert sum(int(r[1].replace(",", "")) for r in two_km) > sum(
        int(r[1].replace(",", "")) for r in one_km
    )
    crime = _table(page, "#crime-by-category")
    assert crime and all(row[1].replace(",", "").isdigit() for row in crime)
    assert "Violence and sexual offences" in [row[0] for row in crime]
    months = _table(page, "#crime-by-month")
    assert len(months) == 12 and months[-1][0] == "September 2025"
    assert page.get_by_text("Why the places are approximate").is_visible()
    assert axe(page) == []
    context.close()


@pytest.mark.parametrize(("postcode", "district"), [("CF24 4NP", "Cardiff"), ("NW1 2BU", "Camden")])
def test_cardiff_and_london_pages_draw_their_district_outline(
    browser, server, axe, postcode, district
):
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    _offline(context)
    page = context.new_page()
    page.goto(server.url + "/area/" + postcode.replace(" ", "%20"))
    assert page.locator("#district").inner_text().startswith(f"In {district}")
    page.wait_for_selector("#sw-map path.sw-district-outline")
    assert page.locator("#sw-map path.sw-district-outline").count() >= 1
    assert district in page.locator("#map-key").inner_text()
    assert page.locator("#attributions").inner_text().count("Open Government Licence") >= 4
    assert axe(page) == []
    context.close()


def _table(page, selector: str) -> list[list[str]]:
    rows = page.locator(f"{selector} tbody tr")
    return [
        [cell.strip() for cell in rows.nth(i).locator("th, td").all_inner_texts()]
        for i in range(rows.count())
    ]


def test_invalid_postcode_shows_the_error_summary(browser, server, axe):
    page = browser.new_page()
    page.goto(server.url + "/")
    page.get_by_label("Postcode").fill("not a postcode")
    page.get_by_role("button", name="Show what is nearby").click()
    summary = page.locator(".govuk-error-summary")
    summary.wait_for()
    assert "Enter a postcode in England, Scotland or Wales" in summary.inner_text()
    assert page.title().startswith("Error:")
    assert axe(page) == []
    page.close()


def test_the_page_is_complete_without_javascript(browser, server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server.url + "/?postcode=LS1+3EX&radius_m=500")
    assert page.url.endswith("/area/LS1%203EX?radius_m=500")
    assert page.locator(".sw-map__fallback").is_visible()
    for table in ("#collisions-by-severity", "#collisions-by-year", "#crime-by-category"):
        assert page.locator(table).is_visible()
    assert page.locator("#hospital-list > li").count() == 5
    context.close()


def test_phone_width_screenshot(browser, server, axe, artifacts, docs_img):
    context = browser.new_context(
        viewport={"width": 390, "height": 1300}, device_scale_factor=1, is_mobile=True
    )
    _offline(context)
    page = context.new_page()
    page.goto(server.url + "/area/LS1%203EX?radius_m=1000")
    page.wait_for_selector("#sw-map .leaflet-interactive")
    assert axe(page) == []
    page.screenshot(path=str(artifacts / "streetwise-phone-full.png"), full_page=True)
    shot = artifacts / "streetwise-phone.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if docs_img is not None:  # `make screenshots`
        shutil.copyfile(shot, docs_img / "streetwise.png")
    context.close()
