"""A password reset link from the admin: the page sets a new password once, then logs in."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from e2e_helpers import PASSWORD, sign_up
from playwright.sync_api import expect

from conftest import _afterdark_bin

pytestmark = pytest.mark.e2e


def reset_link(env: dict[str, str], email: str, base: str) -> str:
    done = subprocess.run(
        [_afterdark_bin(), "users", "reset-link", email, "--base-url", base],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_reset_page_sets_a_new_password_once(
    page: Any, server_env: dict[str, str], server_url: str
) -> None:
    email = sign_up(page)
    expect(page).to_have_url(f"{server_url}/characters")
    link = reset_link(server_env, email, server_url)

    page.goto(link)
    expect(page.get_by_test_id("reset-form")).to_be_visible()
    assert "token" not in page.url  # the secret leaves the address bar at once
    page.get_by_test_id("reset-password").fill("a fresh passphrase")
    page.get_by_test_id("reset-repeat").fill("a different one")
    page.get_by_test_id("reset-submit").click()
    expect(page.get_by_test_id("form-error")).to_have_text("The two passwords differ.")
    page.get_by_test_id("reset-repeat").fill("a fresh passphrase")
    page.get_by_test_id("reset-submit").click()
    expect(page).to_have_url(f"{server_url}/characters")

    # Used once: the same link now says so.
    page.goto(link)
    page.get_by_test_id("reset-password").fill("yet another one")
    page.get_by_test_id("reset-repeat").fill("yet another one")
    page.get_by_test_id("reset-submit").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("not valid")

    # The old password no longer works; the new one does.
    page.context.clear_cookies()
    page.goto("/login")
    expect(page.get_by_test_id("forgot-password")).to_contain_text("reset link")
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("form-error")).to_be_visible()
    page.get_by_test_id("login-password").fill("a fresh passphrase")
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{server_url}/characters")


def test_reset_page_without_a_token_explains(page: Any) -> None:
    page.goto("/reset")
    expect(page.get_by_test_id("reset-missing")).to_be_visible()
    expect(page.get_by_test_id("reset-form")).to_be_hidden()
