"""Settings in the browser: downloading everything the account has, and deleting the account."""

from __future__ import annotations

import json
import re
import zipfile
from typing import Any

import httpx
import pytest
from e2e_helpers import PASSWORD, api, assert_fits_phone, sign_up
from playwright.sync_api import expect

from conftest import SCREENSHOTS

pytestmark = pytest.mark.e2e

WRONG_PASSWORD = "That is not the account's password; nothing was deleted."


def shot(page: Any, target: Any, name: str) -> None:
    """The element, from a whole-page capture (so the sticky top bar does not cover it)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    box = target.bounding_box()
    assert box is not None
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, clip=box)


def open_settings(page: Any, email: str) -> Any:
    page.goto("/settings")
    expect(page.get_by_test_id("account-email")).to_have_text(email)
    return page.get_by_test_id("data-panel")


def test_download_and_delete_account(page: Any, server_url: str) -> None:
    email = sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    character = api(
        page,
        "POST",
        "/characters",
        {
            "name": "Juniper Hale",
            "age": 31,
            "tagline": "Clockmaker in a narrow workshop by the canal.",
            "description": "{{char}} repairs antique clocks and hums while working.",
            "first_message": "*The bell over the door chimes.* Come in, come in.",
        },
    )

    panel = open_settings(page, email)
    expect(panel.get_by_role("heading", name="Your data")).to_be_visible()
    expect(page.get_by_test_id("export-hint")).to_contain_text("password")

    # ---------- the export ----------
    link = page.get_by_test_id("export-download")
    expect(link).to_have_accessible_name("Download everything (zip)")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert re.fullmatch(r"afterdark-export-\d{8}\.zip", download.suggested_filename)
    with zipfile.ZipFile(download.path()) as archive:
        manifest = json.loads(archive.read("afterdark-export.json"))
        files = set(archive.namelist())
    assert manifest["account"]["email"] == email
    listed = [c for c in manifest["characters"] if c["id"] == character["id"]]
    assert len(listed) == 1, manifest["characters"]
    assert listed[0]["fields"]["name"] == "Juniper Hale"
    assert listed[0]["file"] in files
    # Downloading leaves the page where it was.
    expect(page).to_have_url(re.compile(r"/settings$"))

    # ---------- deleting: the form, then a wrong password ----------
    form = page.get_by_test_id("delete-form")
    expect(form).to_be_hidden()
    opener = page.get_by_test_id("delete-open")
    expect(opener).to_have_attribute("aria-expanded", "false")
    opener.click()
    expect(form).to_be_visible()
    expect(page.get_by_test_id("delete-explain")).to_have_text(
        "This deletes your characters, conversations and settings on this server, for good."
        " Download your data first if you want to keep it."
    )
    password = page.get_by_label("Your password")
    expect(password).to_be_focused()
    expect(password).to_have_attribute("type", "password")

    # Cancel closes it; opening again starts empty.
    password.fill("half typed")
    page.get_by_test_id("delete-cancel").click()
    expect(form).to_be_hidden()
    expect(opener).to_be_focused()
    opener.click()
    expect(password).to_have_value("")

    # Nothing typed: asked for it, nothing sent.
    page.get_by_test_id("delete-submit").click()
    expect(page.get_by_test_id("delete-error")).to_contain_text("Enter your password")

    password.fill("not the password at all")
    submit = page.get_by_test_id("delete-submit")
    expect(submit).to_have_accessible_name("Delete my account")
    expect(submit).to_have_class(re.compile(r"\bbtn-danger\b"))
    submit.click()
    error = page.get_by_test_id("delete-error")
    expect(error).to_have_text(WRONG_PASSWORD)
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_be_focused()
    expect(page).to_have_url(re.compile(r"/settings$"))
    # Nothing happened: still signed in, the character still there.
    assert api(page, "GET", "/me")["email"] == email
    assert api(page, "GET", f"/characters/{character['id']}")["name"] == "Juniper Hale"
    shot(page, panel, "settings-your-data")

    # ---------- the right password ----------
    password.fill(PASSWORD)
    submit.click()
    expect(page).to_have_url(re.compile(r"/signup$"))
    expect(page.get_by_test_id("signup-form")).to_be_visible()
    assert page.request.get("/api/v1/me").status == 401

    # The old credentials no longer log in, in the browser or from a script.
    page.goto("/login")
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("form-error")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login$"))
    response = httpx.post(
        f"{server_url}/api/v1/auth/login",
        json={"email": email, "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 401, response.text


def test_your_data_fits_a_phone(phone_page: Any) -> None:
    page = phone_page
    email = sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    panel = open_settings(page, email)
    page.get_by_test_id("delete-open").click()
    page.get_by_test_id("delete-password").fill("wrong password")
    page.get_by_test_id("delete-submit").click()
    expect(page.get_by_test_id("delete-error")).to_have_text(WRONG_PASSWORD)

    assert_fits_phone(page, '[data-testid="data-panel"] :is(a, button, input)')
    shot(page, panel, "settings-your-data-phone")
    # Still there after the wrong password.
    assert api(page, "GET", "/me")["email"] == email
