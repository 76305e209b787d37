"""Settings in the browser: the age check and the explicit content switch (provider "none")."""

from __future__ import annotations

import re
from typing import Any

import pytest
from e2e_helpers import assert_fits_phone, sign_up
from playwright.sync_api import expect

from conftest import SCREENSHOTS

pytestmark = pytest.mark.e2e

PUT_EXPLICIT = """async () => {
    const { put } = await import("/static/js/api.js");
    try {
        await put("/me/content", { explicit: true });
        return { status: 200, message: "" };
    } catch (err) {
        return { status: err.status, message: err.message };
    }
}"""


def open_age(page: Any, path: str = "/settings#age") -> Any:
    page.goto(path)
    panel = page.get_by_test_id("age-panel")
    expect(panel.get_by_test_id("age-loading")).to_be_hidden()
    return panel


def shot(target: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_no_age_check_keeps_explicit_locked(page: Any) -> None:
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))

    panel = open_age(page)
    expect(panel.get_by_role("heading", name="Age check and content")).to_be_visible()
    expect(panel.get_by_test_id("age-state")).to_have_text("Not checked yet")
    expect(panel.get_by_test_id("age-none")).to_be_visible()
    expect(panel.get_by_test_id("age-none")).to_contain_text("no age check set up")
    expect(panel.get_by_test_id("age-none")).to_contain_text("adult content stays locked")
    expect(panel.get_by_test_id("age-start")).to_be_hidden()
    expect(panel.get_by_role("button", name="Start the age check")).to_have_count(0)

    switch = panel.get_by_role("switch", name="Explicit content")
    expect(switch).to_be_disabled()
    expect(switch).not_to_be_checked()
    expect(panel.get_by_test_id("explicit-hint")).to_have_text(
        "Available once you pass an age check."
    )
    shot(panel, "age-none-desktop")

    # The server refuses it too, with a message meant for people.
    refused = page.evaluate(PUT_EXPLICIT)
    assert refused["status"] == 403, refused
    assert refused["message"], refused
    page.reload()
    panel = open_age(page)
    expect(panel.get_by_role("switch", name="Explicit content")).not_to_be_checked()


def test_result_line_after_coming_back(phone_page: Any) -> None:
    page = phone_page
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))

    panel = open_age(page, "/settings?age=failed#age")
    expect(panel.get_by_test_id("age-result")).to_contain_text("didn't pass")
    expect(page).to_have_url(re.compile(r"/settings#age$"))
    expect(panel.get_by_role("switch", name="Explicit content")).to_be_disabled()
    assert_fits_phone(page, "#age .btn")
    shot(panel, "age-none-phone")
