"""Settings in the browser: where the account is logged in, and logging other devices out."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from e2e_helpers import PASSWORD, api, assert_fits_phone, log_in, other_browser, sign_up
from playwright.sync_api import expect

from conftest import SCREENSHOTS

pytestmark = pytest.mark.e2e

FIREFOX_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
)


def shot(target: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def log_in_elsewhere(server_url: str, email: str, user_agent: str) -> None:
    """A login session from outside any browser (a script, say)."""
    response = httpx.post(
        f"{server_url}/api/v1/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"User-Agent": user_agent},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def open_settings(page: Any) -> Any:
    page.goto("/settings")
    expect(page.get_by_test_id("sessions-loading")).to_be_hidden()
    return page.get_by_test_id("session-item")


def test_log_out_other_devices(page: Any, browser: Any, server_url: str) -> None:
    email = sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))

    with other_browser(browser, server_url, FIREFOX_ON_WINDOWS) as other:
        log_in(other, email)

        sessions = open_settings(page)
        expect(sessions).to_have_count(2)
        here = page.locator('[data-testid="session-item"][data-current="true"]')
        there = page.locator('[data-testid="session-item"][data-current="false"]')
        expect(here).to_have_count(1)
        expect(page.get_by_test_id("session-current")).to_have_count(1)
        expect(here.get_by_test_id("session-current")).to_have_text("This device")
        expect(here.get_by_test_id("session-revoke")).to_have_count(0)
        expect(here.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
        expect(there.get_by_test_id("session-device")).to_have_text("Firefox on Windows")
        expect(there).to_contain_text("Signed in")
        # The other browser sees the same two sessions from its side.
        other.goto("/settings")
        expect(other.locator('[data-testid="session-item"][data-current="true"]')).to_contain_text(
            "Firefox on Windows"
        )

        button = there.get_by_test_id("session-revoke")
        expect(button).to_have_accessible_name("Log out Firefox on Windows")
        button.click()
        expect(page.get_by_test_id("toast-ok")).to_contain_text("Logged out Firefox on Windows")
        expect(sessions).to_have_count(1)
        expect(page.get_by_test_id("revoke-others")).to_be_hidden()

        # Its next navigation lands on the login page.
        other.goto("/characters")
        expect(other).to_have_url(re.compile(r"/login"))
        assert other.request.get("/api/v1/me").status == 401

        # Two other sessions this time, one of them not a browser.
        log_in(other, email)
        log_in_elsewhere(server_url, email, "curl/8.5.0")
        sessions = open_settings(page)
        expect(sessions).to_have_count(3)
        # This device first, then the others newest first; a non-browser shows its raw agent.
        expect(page.get_by_test_id("session-device")).to_have_text(
            [re.compile(r"\S"), "curl/8.5.0", "Firefox on Windows"]
        )
        shot(page.get_by_test_id("sessions-panel"), "settings-sessions")

        page.get_by_test_id("revoke-others").click()
        expect(page.get_by_test_id("confirm-dialog")).to_contain_text("2 other sessions")
        page.get_by_test_id("confirm-cancel").click()
        expect(sessions).to_have_count(3)

        page.get_by_test_id("revoke-others").click()
        page.get_by_test_id("confirm-ok").click()
        expect(page.get_by_test_id("toast-ok")).to_contain_text("Logged out 2 other sessions.")
        expect(sessions).to_have_count(1)
        expect(sessions.get_by_test_id("session-current")).to_be_visible()
        expect(page.get_by_test_id("revoke-others")).to_be_hidden()

        other.goto("/settings")
        expect(other).to_have_url(re.compile(r"/login"))

    # This browser is still logged in.
    assert api(page, "GET", "/me")["email"] == email
    assert len(api(page, "GET", "/sessions")) == 1


def test_sessions_fit_a_phone(phone_page: Any, server_url: str) -> None:
    page = phone_page
    email = sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    odd_agent = "SomeSyncTool/2.0 " + "+extension-with-a-very-long-name" * 6
    log_in_elsewhere(server_url, email, odd_agent)

    sessions = open_settings(page)
    expect(sessions).to_have_count(2)
    expect(page.get_by_test_id("revoke-others")).to_be_visible()
    device = page.locator('[data-testid="session-item"][data-current="false"]').get_by_test_id(
        "session-device"
    )
    expect(device).to_have_attribute("title", odd_agent)
    assert_fits_phone(page, '[data-testid="sessions-panel"] button')
    shot(page.get_by_test_id("sessions-panel"), "settings-sessions-phone")
