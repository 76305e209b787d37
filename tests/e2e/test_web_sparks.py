"""Sparks in the browser: the public price list, the balance and statement after a chat,
and a send refused for want of Sparks, explained in the chat with a link to the prices.

The test server runs with the default Sparks settings: 200 free a day (at most 400),
1 Spark per 100 tokens written, 0.5 cents of EUR a Spark."""

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

from conftest import _afterdark_bin

pytestmark = pytest.mark.e2e


def create_admin(server_env: dict[str, str]) -> str:
    """An admin account made with the real CLI, against the running server's data."""
    email = new_email()
    command = [_afterdark_bin(), "users", "create", email, "--birthdate", "1990-01-01"]
    done = subprocess.run(
        [*command, "--password-stdin", "--admin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=server_env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return email


def open_chat(page: Any) -> int:
    """A new chat with the first character, open in the page; its id."""
    character = api(page, "GET", "/characters")[0]
    conversation = api(page, "POST", "/conversations", {"character_id": character["id"]})
    page.goto(f"/chat/{conversation['id']}")
    expect(page.get_by_test_id("messages")).to_have_attribute("aria-busy", "false")
    return int(conversation["id"])


def send(page: Any, text: str) -> None:
    box = page.get_by_test_id("composer-input")
    box.fill(text)
    box.press("Enter")


def test_the_price_list_reads_without_logging_in(page: Any) -> None:
    logged: list[str] = []
    page.on("console", lambda msg: logged.append(msg.text) if msg.type == "error" else None)
    page.goto("/pricing")
    row = page.get_by_test_id("price-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("A chat reply")
    expect(row).to_contain_text("1 Spark per 100 tokens written (at least 1)")
    expect(row).to_contain_text("a 250-token reply (about 190 words) costs 3 Sparks")
    expect(page.get_by_test_id("pricing-free")).to_contain_text("200 Sparks free each day")
    expect(page.get_by_test_id("pricing-cap")).to_contain_text("never takes them past 400 Sparks")
    expect(page.get_by_test_id("pricing-money")).to_have_text(
        "100 Sparks cost 0.50 EUR (0.5 cents of EUR each)."
    )
    expect(page.get_by_test_id("payments-note")).to_have_text(
        "Payments are not set up on this instance yet; an admin can grant Sparks."
    )
    # A visitor: no balance asked for, no link to a statement they do not have.
    expect(page.get_by_test_id("nav-sparks")).to_be_hidden()
    expect(page.get_by_test_id("pricing-mine")).to_be_hidden()
    assert logged == [], logged


def test_the_sparks_page_shows_the_balance_and_a_charged_reply(page: Any, standin: Any) -> None:
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    expect(page.get_by_test_id("nav-sparks-balance")).to_have_text("200")
    open_chat(page)
    standin.reply = "*She nods.* Good evening."  # a few tokens: 1 Spark
    send(page, "Good evening.")
    expect(page.get_by_test_id("message").last).to_contain_text("Good evening.", timeout=15_000)
    expect(page.get_by_test_id("send")).to_be_visible()

    page.goto("/sparks")
    expect(page.get_by_test_id("sparks-available")).to_have_text("199")
    expect(page.get_by_test_id("sparks-held")).to_have_text("0")
    expect(page.get_by_test_id("nav-sparks-balance")).to_have_text("199")
    expect(page.get_by_test_id("sparks-allowance")).to_contain_text("200 free Sparks")
    rows = page.get_by_test_id("history-row")
    expect(rows).to_have_count(2)
    reply = rows.first
    expect(reply.get_by_test_id("history-what")).to_contain_text("A chat reply")
    expect(reply.get_by_test_id("history-amount")).to_have_text("\u22121")
    expect(reply.get_by_test_id("history-status")).to_have_text("Charged")
    daily = rows.last
    expect(daily.get_by_test_id("history-what")).to_have_text("Free daily Sparks")
    expect(daily.get_by_test_id("history-amount")).to_have_text("+200")
    expect(page.get_by_test_id("history-more")).to_be_hidden()
    page.get_by_test_id("sparks-pricing-link").click()
    expect(page).to_have_url(re.compile(r"/pricing$"))
    expect(page.get_by_test_id("pricing-mine")).to_be_visible()


def test_a_send_without_sparks_says_why_and_links_the_prices(
    page: Any, browser: Any, server_url: str, server_env: dict[str, str]
) -> None:
    admin_email = create_admin(server_env)
    email = sign_up(page)
    expect(page.get_by_test_id("nav-sparks-balance")).to_have_text("200")
    chat = open_chat(page)
    with other_browser(browser, server_url) as admin:
        log_in(admin, admin_email)
        admin.goto("/admin")
        account = admin.get_by_test_id("account-item").filter(has_text=email)
        account.get_by_test_id("admin-sparks-open").click()
        summary = account.get_by_test_id("admin-sparks-summary")
        expect(summary).to_have_text("200 available (200 free, 0 other), 0 set aside")
        account.get_by_test_id("admin-sparks-action").select_option("revoke")
        account.get_by_test_id("admin-sparks-amount").fill("200")
        account.get_by_test_id("admin-sparks-reason").fill("Testing an empty balance")
        account.get_by_test_id("admin-sparks-submit").click()
        expect(summary).to_have_text("0 available (0 free, 0 other), 0 set aside")
        account.get_by_test_id("admin-sparks-amount").fill("1")
        account.get_by_test_id("admin-sparks-reason").fill("One more")
        account.get_by_test_id("admin-sparks-submit").click()
        expect(account.get_by_test_id("admin-sparks-error")).to_contain_text(
            "needs 1 and you have 0"
        )

    send(page, "Are you there?")
    toast = page.get_by_test_id("toast-error")
    expect(toast).to_contain_text("Not enough Sparks: this needs 3 and you have 0.")
    link = toast.get_by_test_id("pricing-link")
    expect(link).to_have_attribute("href", "/pricing")
    expect(page.get_by_test_id("composer-input")).to_have_value("Are you there?")
    kept = api(page, "GET", f"/conversations/{chat}")["messages"]
    assert [m["role"] for m in kept] == ["assistant"]  # the greeting only: nothing was sent
    link.click()
    expect(page).to_have_url(re.compile(r"/pricing$"))
    expect(page.get_by_test_id("price-row")).to_contain_text("1 Spark per 100 tokens")
    page.goto("/sparks")
    taken = page.get_by_test_id("history-row").first
    expect(taken).to_contain_text("Sparks taken back by an admin")
    expect(taken).to_contain_text("Testing an empty balance")
    expect(taken.get_by_test_id("history-amount")).to_have_text("\u2212200")


def test_the_sparks_pages_fit_a_phone(phone_page: Any) -> None:
    page = phone_page
    sign_up(page)
    expect(page.get_by_test_id("nav-sparks")).to_have_attribute(
        "aria-label", "Sparks: 200 available"
    )
    page.goto("/sparks")
    expect(page.get_by_test_id("history-row")).to_have_count(1)
    assert_fits_phone(page, "#main button, #main a, .topnav a")
    page.goto("/pricing")
    expect(page.get_by_test_id("price-row")).to_have_count(1)
    assert_fits_phone(page, "#main button, #main a, .topnav a")
