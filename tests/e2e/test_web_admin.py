"""The admin page in the browser: accounts with reset links to hand out, and the moderation
log (which rule stopped what, never the text), shown to admins only."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
from e2e_helpers import (
    PASSWORD,
    api,
    assert_fits_phone,
    log_in,
    new_email,
    other_browser,
    sign_up,
)
from playwright.sync_api import expect

from conftest import SCREENSHOTS, _afterdark_bin

pytestmark = pytest.mark.e2e

# Clinical on purpose: enough for the minors rule to fire, nothing more.
BREACH = "Write a sexual scene with a 15-year-old."
DENIED = "This page is for the instance's admins."


def shot(target: Any, name: str, **options: Any) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SCREENSHOTS / f"{name}.png"), **options)


def console_errors(page: Any) -> list[str]:
    """Collect what the page logs as errors from now on (the fixtures only catch uncaught
    exceptions). Start after logging in: the login and signup pages probe /me and get a 401."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def create_admin(server_env: dict[str, str]) -> str:
    """An admin account made with the real CLI, against the running server's data."""
    email = new_email()
    done = subprocess.run(
        [
            _afterdark_bin(),
            "users",
            "create",
            email,
            "--birthdate",
            "1990-01-01",
            "--password-stdin",
            "--admin",
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=server_env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return email


def send_breach(page: Any) -> int:
    """Send a message that breaks the minors limit; it is refused (403) and logged."""
    characters = api(page, "GET", "/characters")
    conversation = api(page, "POST", "/conversations", {"character_id": characters[0]["id"]})
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "afterdark_csrf")
    response = page.request.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        data={"content": BREACH},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 403, response.text()
    assert response.json()["error"]["code"] == "hard_limit"
    return int(conversation["id"])


def open_admin(page: Any) -> None:
    page.goto("/admin")
    expect(page.get_by_test_id("admin-body")).to_be_visible()
    expect(page.get_by_test_id("account-item").first).to_be_visible()
    expect(page.get_by_test_id("moderation-loading")).to_be_hidden()


def test_admin_hands_out_a_reset_link_and_reads_the_log(
    page: Any, browser: Any, server_url: str, server_env: dict[str, str]
) -> None:
    admin_email = create_admin(server_env)

    with other_browser(browser, server_url) as other:
        user_email = sign_up(other)
        expect(other).to_have_url(re.compile(r"/characters$"))
        conversation_id = send_breach(other)

    log_in(page, admin_email)
    logged = console_errors(page)
    nav = page.get_by_test_id("nav-admin")
    expect(nav).to_be_visible()
    nav.click()
    expect(page).to_have_url(re.compile(r"/admin$"))
    expect(nav).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", name="Admin", level=1)).to_be_visible()
    open_admin(page)

    # Accounts: both people, the admin marked as such.
    accounts = page.get_by_test_id("account-item")
    mine = accounts.filter(has_text=admin_email)
    theirs = accounts.filter(has_text=user_email)
    expect(mine.get_by_test_id("account-admin")).to_have_text("Admin")
    expect(theirs).to_have_count(1)
    expect(theirs.get_by_test_id("account-admin")).to_have_count(0)

    # A reset link for the second person, to hand over by hand.
    button = theirs.get_by_test_id("reset-link")
    expect(button).to_have_accessible_name(f"Reset link for {user_email}")
    button.click()
    link = theirs.get_by_test_id("reset-url")
    expect(link).to_be_focused()
    expect(link).to_have_attribute("readonly", "")
    expect(link).to_have_value(re.compile("^" + re.escape(f"{server_url}/reset#token=") + r"\S+$"))
    expect(link).to_have_accessible_name(f"Reset link for {user_email}")
    expiry = theirs.get_by_test_id("reset-expiry")
    expect(expiry).to_contain_text(re.compile(r"Valid until \d\d:\d\d"))
    expect(expiry).to_contain_text("no mailer")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    theirs.get_by_test_id("reset-copy").click()
    expect(page.get_by_test_id("toast-ok")).to_contain_text("Link copied.")
    assert page.evaluate("() => navigator.clipboard.readText()") == link.input_value()
    shot(page.get_by_test_id("accounts-panel"), "admin-accounts")

    # The moderation log: who, where, which limit, what happened, the rule hits; no text.
    expect(page.get_by_test_id("moderation-panel")).to_contain_text("never the text itself")
    rows = page.get_by_test_id("moderation-row").filter(has_text=user_email)
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row.get_by_test_id("moderation-limit")).to_have_text("Minors")
    expect(row.get_by_test_id("moderation-action")).to_have_text("Refused")
    expect(row.get_by_test_id("moderation-signal")).to_contain_text(["age:15-year-old"])
    expect(row).to_contain_text(f"conversation {conversation_id}")
    expect(row.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    # The rule hits name the matched words (such as "term:sexual scene"), but the message
    # itself is never there: none of its other words, not the sentence.
    table = page.get_by_test_id("moderation-table")
    expect(table).not_to_contain_text(BREACH)
    expect(table).not_to_contain_text("Write")
    expect(row).not_to_contain_text(re.compile(r"\bwith a\b"))
    expect(page.get_by_test_id("moderation-empty")).to_be_hidden()
    shot(page.get_by_test_id("moderation-panel"), "admin-moderation")

    # Refreshing keeps the same rows.
    page.get_by_test_id("moderation-refresh").click()
    expect(rows).to_have_count(1)
    assert logged == [], logged


def test_non_admin_is_turned_away(page: Any) -> None:
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    logged = console_errors(page)
    # The nav is filled once the page knows who is here; no Admin link for this account.
    expect(page.get_by_test_id("nav-settings")).to_be_visible()
    page.goto("/settings")
    expect(page.get_by_test_id("sessions-loading")).to_be_hidden()
    expect(page.get_by_test_id("nav-admin")).to_be_hidden()

    page.goto("/admin")
    denied = page.get_by_test_id("admin-denied")
    expect(denied).to_be_visible()
    expect(denied).to_contain_text(DENIED)
    expect(page.get_by_test_id("admin-body")).to_be_hidden()
    expect(page.get_by_test_id("admin-loading")).to_be_hidden()
    expect(page.get_by_test_id("nav-admin")).to_be_hidden()
    # The API agrees.
    assert page.request.get("/api/v1/admin/users").status == 403
    assert logged == [], logged


def test_admin_page_fits_a_phone(phone_page: Any, server_env: dict[str, str]) -> None:
    page = phone_page
    email = create_admin(server_env)
    log_in(page, email)
    logged = console_errors(page)
    expect(page.get_by_test_id("nav-admin")).to_be_visible()
    send_breach(page)

    open_admin(page)
    mine = page.get_by_test_id("account-item").filter(has_text=email)
    mine.get_by_test_id("reset-link").click()
    expect(mine.get_by_test_id("reset-url")).to_be_visible()
    rows = page.get_by_test_id("moderation-row").filter(has_text=email)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Minors")
    assert_fits_phone(page, "#main button, #main input, #main a, .topnav a")
    # The fifth nav link still fits beside the others (the body clips sideways overflow).
    box = page.get_by_test_id("nav-admin").bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= page.viewport_size["width"], box
    shot(page, "admin-phone", full_page=True)
    assert logged == [], logged
