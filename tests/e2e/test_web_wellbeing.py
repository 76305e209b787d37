"""Healthy use in the browser: usage and limits in Settings, reminders in chat, a hard stop."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import api, sign_up
from playwright.sync_api import expect

from conftest import DESKTOP, PHONE, SCREENSHOTS, _open_page

pytestmark = pytest.mark.e2e

REPLY = "*She nods.* It is good to see you."


def shot(target: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.fixture
def tokyo_page(request: pytest.FixtureRequest, browser: Any, server_url: str) -> Iterator[Any]:
    """A desktop browser whose clock says Asia/Tokyo."""
    yield from _open_page(request, browser, server_url, viewport=DESKTOP, timezone_id="Asia/Tokyo")


@pytest.fixture
def phone_tokyo_page(
    request: pytest.FixtureRequest, browser: Any, server_url: str
) -> Iterator[Any]:
    yield from _open_page(
        request,
        browser,
        server_url,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        timezone_id="Asia/Tokyo",
    )


def is_usage(response: Any) -> bool:
    return "/api/v1/me/usage" in response.url and response.request.method == "GET"


def open_time_panel(page: Any) -> Any:
    """Settings, scrolled to "Your time here", once usage and limits have loaded."""
    page.goto("/settings#time")
    panel = page.get_by_test_id("time-panel")
    expect(panel.get_by_test_id("usage")).to_be_visible()
    expect(panel.get_by_test_id("limit-minutes")).to_be_enabled()
    return panel


def start_chat(page: Any) -> int:
    page.goto("/characters")
    page.get_by_test_id("character-card").first.click()
    expect(page).to_have_url(re.compile(r"/characters/\d+$"))
    expect(page.get_by_test_id("character-name")).not_to_have_text("…")
    page.get_by_test_id("start-chat").click()
    expect(page).to_have_url(re.compile(r"/chat/\d+$"))
    expect(page.get_by_test_id("messages")).to_have_attribute("aria-busy", "false")
    return int(page.url.rsplit("/", 1)[1])


def send_and_wait(page: Any, text: str) -> None:
    """Send a line, wait for the whole reply, then for the usage check that follows it."""
    with page.expect_response(is_usage, timeout=20_000):
        box = page.get_by_test_id("composer-input")
        box.fill(text)
        box.press("Enter")
        reply = page.get_by_test_id("message").last
        expect(reply).to_have_attribute("data-role", "assistant", timeout=20_000)
        expect(reply).to_have_attribute("data-status", "complete", timeout=20_000)


def test_usage_limits_reminders_and_hard_stop(tokyo_page: Any, standin: Any) -> None:
    page = tokyo_page
    standin.reply = REPLY
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    assert api(page, "GET", "/me/wellbeing")["timezone"] == "UTC"

    # A new account: nothing yet, and the browser's time zone is saved without asking.
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/me/wellbeing") and r.request.method == "PUT"
    ):
        panel = open_time_panel(page)
    assert api(page, "GET", "/me/wellbeing")["timezone"] == "Asia/Tokyo"
    expect(panel.get_by_test_id("usage-timezone")).to_contain_text("Asia/Tokyo")
    for testid in ("today-messages", "today-minutes", "week-messages", "week-minutes"):
        expect(panel.get_by_test_id(f"usage-{testid}")).to_have_text("0")
    days = panel.get_by_test_id("usage-day")
    expect(days).to_have_count(7)
    today = panel.locator('[data-testid="usage-day"][data-today="true"]')
    expect(today).to_have_attribute("data-messages", "0")
    expect(panel.get_by_test_id("limit-break")).to_have_value("60")
    expect(panel.get_by_test_id("limit-nudges")).to_be_checked()
    expect(panel.get_by_test_id("limit-hard-stop")).not_to_be_checked()

    # One message a day, as a reminder only.
    panel.get_by_test_id("limit-messages").fill("1")
    panel.get_by_test_id("wellbeing-save").click()
    expect(page.get_by_test_id("toast-ok")).to_contain_text("saved")
    saved = api(page, "GET", "/me/wellbeing")
    assert saved["daily_messages"] == 1
    assert saved["hard_stop"] is False
    assert saved["timezone"] == "Asia/Tokyo"

    # The first message reaches the limit: a gentle banner, and the chat goes on.
    start_chat(page)
    expect(page.get_by_test_id("nudge")).to_have_count(0)
    send_and_wait(page, "Hello again.")
    nudge = page.get_by_test_id("nudge")
    expect(nudge).to_be_visible()
    expect(nudge).to_have_attribute("data-kind", "limit_messages")
    expect(nudge).to_contain_text("you set 1 message as your daily limit")
    expect(page.get_by_test_id("nudge-region")).to_have_attribute("role", "status")
    expect(nudge.get_by_test_id("nudge-limits")).to_have_attribute("href", "/settings#time")
    expect(page.get_by_test_id("composer-input")).to_be_enabled()
    shot(page, "wellbeing-chat-nudge")

    # Dismissed, it stays away after another reply and after a reload.
    nudge.get_by_test_id("nudge-dismiss").click()
    expect(nudge).to_have_count(0)
    send_and_wait(page, "Tell me about your day.")
    expect(page.get_by_test_id("nudge")).to_have_count(0)
    with page.expect_response(is_usage):
        page.reload()
    expect(page.get_by_test_id("messages")).to_have_attribute("aria-busy", "false")
    expect(page.get_by_test_id("nudge")).to_have_count(0)
    chat_url = page.url

    # With "Stop me at my limit", the next message is refused until midnight.
    panel = open_time_panel(page)
    expect(panel.get_by_test_id("limit-messages")).to_have_value("1")
    panel.get_by_test_id("limit-hard-stop").check()
    panel.get_by_test_id("wellbeing-save").click()
    expect(page.get_by_test_id("toast-ok")).to_contain_text("saved")
    assert api(page, "GET", "/me/wellbeing")["hard_stop"] is True

    page.goto(chat_url)
    expect(page.get_by_test_id("messages")).to_have_attribute("aria-busy", "false")
    before = page.get_by_test_id("message").count()
    box = page.get_by_test_id("composer-input")
    box.fill("One more?")
    box.press("Enter")
    expect(page.get_by_test_id("toast-error")).to_contain_text("resets at midnight")
    expect(page.get_by_test_id("message")).to_have_count(before)
    expect(box).to_have_value("One more?")

    # Settings counts the two messages sent today, and today's bar shows them.
    panel = open_time_panel(page)
    expect(panel.get_by_test_id("usage-today-messages")).to_have_text("2")
    expect(panel.get_by_test_id("usage-week-messages")).to_have_text("2")
    today = panel.locator('[data-testid="usage-day"][data-today="true"]')
    expect(today).to_have_attribute("data-messages", "2")
    expect(today).to_contain_text("2 messages")
    assert today.locator(".usage-fill").bounding_box()["height"] > 50
    others = panel.locator('[data-testid="usage-day"]:not([data-today])')
    expect(others).to_have_count(6)
    for i in range(6):
        expect(others.nth(i)).to_have_attribute("data-messages", "0")
    assert api(page, "GET", "/me/wellbeing")["timezone"] == "Asia/Tokyo"
    shot(panel, "wellbeing-settings")


def test_settings_refuses_bad_values(tokyo_page: Any) -> None:
    page = tokyo_page
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    panel = open_time_panel(page)
    # Out of range: the browser's own check stops the form before it is sent.
    panel.get_by_test_id("limit-minutes").fill("2")
    panel.get_by_test_id("wellbeing-save").click()
    assert panel.get_by_test_id("limit-minutes").evaluate("el => !el.validity.valid")
    assert api(page, "GET", "/me/wellbeing")["daily_minutes"] is None
    # Empty means no limit, and turning break reminders off.
    panel.get_by_test_id("limit-minutes").fill("30")
    panel.get_by_test_id("limit-break").fill("")
    panel.get_by_test_id("limit-nudges").uncheck()
    panel.get_by_test_id("wellbeing-save").click()
    expect(page.get_by_test_id("toast-ok")).to_contain_text("saved")
    saved = api(page, "GET", "/me/wellbeing")
    assert (saved["daily_minutes"], saved["break_minutes"], saved["nudges"]) == (30, None, False)
    page.reload()
    panel = open_time_panel(page)
    expect(panel.get_by_test_id("limit-minutes")).to_have_value("30")
    expect(panel.get_by_test_id("limit-break")).to_have_value("")
    expect(panel.get_by_test_id("limit-nudges")).not_to_be_checked()


def test_phone_layout(phone_tokyo_page: Any, standin: Any) -> None:
    page = phone_tokyo_page
    standin.reply = REPLY
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    panel = open_time_panel(page)
    panel.get_by_test_id("limit-messages").fill("1")
    panel.get_by_test_id("wellbeing-save").click()
    expect(page.get_by_test_id("toast-ok")).to_contain_text("saved")

    start_chat(page)
    send_and_wait(page, "Hi.")
    nudge = page.get_by_test_id("nudge")
    expect(nudge).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the chat is {width} px wide"
    box = nudge.bounding_box()
    composer = page.get_by_test_id("composer").bounding_box()
    assert box["y"] + box["height"] <= composer["y"] + 1, "the banner overlaps the composer"
    shot(page, "wellbeing-chat-nudge-phone")

    panel = open_time_panel(page)
    expect(panel.get_by_test_id("usage-today-messages")).to_have_text("1")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"Settings is {width} px wide"
    shot(panel, "wellbeing-settings-phone")
