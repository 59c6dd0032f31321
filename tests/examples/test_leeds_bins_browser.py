"""The resident journey in Debian Chromium: axe-core on every page, keyboard only, phone-width screenshots."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.examples.helpers import leeds_engine, load_leeds_sample, make_leeds_app

pytestmark = pytest.mark.browser

PHONE = "+447700900123"


@pytest.fixture
def site(leeds_clock, tmp_path, leeds_sender, serve):
    vendor = Path(__file__).parent.parent.parent / "examples/leeds_bins/static/vendor/civickit.css"
    if not vendor.exists():
        pytest.skip("front-end assets not built: run `make assets` first")
    app = make_leeds_app(f"sqlite:///{tmp_path / 'leeds_bins.sqlite3'}", tmp_path, leeds_sender)
    load_leeds_sample(app)
    server = serve(app)
    yield server.url
    leeds_engine(app).dispose()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    # the document's own 400/404 is logged as a console error too; those are expected
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if "/static/" in r.url and r.status >= 400
            else None
        ),
    )
    page.errors = errors
    yield page
    context.close()


def check(page, axe, artifacts, name: str) -> None:
    """No serious/critical axe violations, no console errors (CSP included); a screenshot."""
    assert axe(page) == [], name
    assert page.errors == [], (name, page.errors)
    page.screenshot(path=str(artifacts / f"leeds_bins_{name}.png"), full_page=True)


def test_resident_journey_with_axe_and_screenshots(
    site, page, axe, artifacts, docs_img, leeds_sender
):
    page.goto(site + "/")
    assert page.title().startswith("Find your bin collection days")
    check(page, axe, artifacts, "1_start")

    page.get_by_label("Postcode").fill("not a postcode")
    page.get_by_role("button", name="Find address").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Error: "))
    check(page, axe, artifacts, "1b_postcode_error")

    page.get_by_label("Postcode").fill("ls53dh")
    page.get_by_role("button", name="Find address").click()
    expect(page.get_by_role("heading", name="Choose your address")).to_be_visible()
    check(page, axe, artifacts, "2_addresses")

    page.get_by_role("link", name="1 Abbey Avenue, Bramley, Leeds", exact=True).click()
    expect(page.get_by_text("Tomorrow, Friday 4 December:")).to_be_visible()
    expect(page.get_by_text("is a bank holiday (Christmas Day)")).to_be_visible()
    check(page, axe, artifacts, "3_bin_days")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts / "leeds_bins_readme.png"), full_page=False)
    if docs_img is not None:  # `make screenshots`
        shutil.copyfile(artifacts / "leeds_bins_readme.png", docs_img / "leeds_bins.png")

    page.get_by_label("UK mobile number").fill("07700 900123")
    page.get_by_role("button", name="Send me a code").click()
    expect(page.locator(".govuk-error-summary")).to_be_visible()  # consent not ticked
    check(page, axe, artifacts, "3b_signup_error")
    page.get_by_label("I agree to Leeds bin days texting").check()
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("heading", name="Enter the code we sent")).to_be_visible()
    check(page, axe, artifacts, "4_code")

    page.get_by_label("Code").fill(leeds_sender.last_code_for(PHONE))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Text reminders confirmed")).to_be_visible()
    check(page, axe, artifacts, "5_confirmed")

    page.get_by_role("link", name="stop them on this website").click()
    expect(page.get_by_role("heading", name="Stop text reminders")).to_be_visible()
    check(page, axe, artifacts, "6_unsubscribe")
    page.get_by_role("button", name="Stop my text reminders").click()
    expect(page.get_by_text("Text reminders stopped")).to_be_visible()
    check(page, axe, artifacts, "7_unsubscribed")

    page.goto(site + "/premises/1")
    check(page, axe, artifacts, "8_not_found")


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            "(s) => document.activeElement && document.activeElement.matches(s)", selector
        ):
            return
    raise AssertionError(f"could not reach {selector} with the Tab key")


def test_the_journey_with_the_keyboard_alone(site, page, leeds_sender):
    page.goto(site + "/")
    tab_to(page, "#postcode")
    page.keyboard.type("LS5 3DH")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/addresses"))

    tab_to(page, 'a[href="/premises/666057"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/premises/666057$"))

    tab_to(page, "#phone")
    page.keyboard.type("07700 900123")
    tab_to(page, "#consent")
    page.keyboard.press("Space")
    tab_to(page, "form[action*='/sms'] button")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/sms/verify"))

    tab_to(page, "#code")
    page.keyboard.type(leeds_sender.last_code_for(PHONE))
    page.keyboard.press("Enter")
    page.get_by_text("Text reminders confirmed").wait_for()

    tab_to(page, "#unsubscribe-link")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/unsubscribe/"))
    tab_to(page, "form button")
    page.keyboard.press("Enter")
    page.get_by_text("Text reminders stopped").wait_for()


def test_pages_work_without_javascript(browser, site, leeds_sender):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(site + "/")
        page.get_by_label("Postcode").fill("LS5 3DH")
        page.get_by_role("button", name="Find address").click()
        page.get_by_role("link", name="1 Abbey Avenue, Bramley, Leeds", exact=True).click()
        page.get_by_label("UK mobile number").fill("07700 900123")
        page.get_by_label("I agree to Leeds bin days texting").check()
        page.get_by_role("button", name="Send me a code").click()
        page.get_by_label("Code").fill(leeds_sender.last_code_for(PHONE))
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_text("Text reminders confirmed")).to_be_visible()
    finally:
        context.close()
