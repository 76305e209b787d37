"""The web UI end to end: sign-up, characters, a streamed chat and its tree operations."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from e2e_helpers import PASSWORD, api, new_email, sign_up
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

FIRST_REPLY = "*She looks up from her book.* Oh, hello. I didn't hear you come in."
SECOND_REPLY = "*She smiles and closes the book.* Good evening to you too."


def script(standin: Any, reply: str, token_delay: float) -> None:
    """What the stand-in model answers next, and how fast."""
    standin.reply = reply
    standin.token_delay = token_delay


def shown(text: str) -> str:
    """How a reply reads on screen: *action* markers become italics."""
    return text.replace("*", "")


def last_message(page: Any) -> Any:
    return page.get_by_test_id("message").last


def start_chat(page: Any, scene: str = "") -> int:
    """From the character list, open the first character and start a chat; returns its id."""
    page.get_by_test_id("character-card").first.click()
    expect(page).to_have_url(re.compile(r"/characters/\d+$"))
    expect(page.get_by_test_id("character-name")).not_to_have_text("…")
    if scene:
        page.get_by_test_id("start-scene").fill(scene)
    page.get_by_test_id("start-chat").click()
    expect(page).to_have_url(re.compile(r"/chat/\d+$"))
    expect(page.get_by_test_id("messages")).to_have_attribute("aria-busy", "false")
    return int(page.url.rsplit("/", 1)[1])


def send(page: Any, text: str) -> None:
    box = page.get_by_test_id("composer-input")
    box.fill(text)
    box.press("Enter")


def test_signup_refuses_minors(page: Any) -> None:
    today = date.today()
    sign_up(page, birthdate=today.replace(year=today.year - 16, day=min(today.day, 28)).isoformat())

    error = page.get_by_test_id("form-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("18 or older")
    expect(page).to_have_url(re.compile(r"/signup$"))
    assert page.request.get("/api/v1/me").status == 401


def test_pages_send_strangers_to_login(page: Any) -> None:
    page.goto("/chat/1")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fchat%2F1$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))


def test_chat_flow(page: Any, standin: Any) -> None:
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    expect(page.get_by_test_id("character-card").first).to_be_visible()
    start_chat(page, scene="A rainy evening in a quiet library.")
    expect(page.get_by_test_id("scene-card")).to_contain_text("rainy evening")
    greetings = page.get_by_test_id("message").count()

    # A streamed reply: the stop button shows while tokens arrive.
    script(standin, FIRST_REPLY, token_delay=0.08)
    send(page, "Hello there.")
    expect(page.get_by_test_id("composer-input")).to_have_value("")
    expect(page.get_by_test_id("stop")).to_be_visible()
    reply = last_message(page)
    expect(reply.get_by_test_id("message-text")).to_have_text(shown(FIRST_REPLY), timeout=20_000)
    expect(page.get_by_test_id("stop")).to_be_hidden()
    expect(page.get_by_test_id("send")).to_be_visible()
    expect(reply).to_have_attribute("data-status", "complete")
    conversation = int(page.url.rsplit("/", 1)[1])
    saved = api(page, "GET", f"/conversations/{conversation}")["messages"][-1]
    assert saved["content"] == FIRST_REPLY
    expect(reply.locator("em.action").first).to_have_text("She looks up from her book.")
    assert page.get_by_test_id("message").count() == greetings + 2

    # Swiping right on the last reply generates another version.
    script(standin, SECOND_REPLY, token_delay=0.01)
    reply.get_by_test_id("swipe-right").click()
    expect(reply.get_by_test_id("swipe-counter")).to_have_text("2/2")
    expect(reply.get_by_test_id("message-text")).to_have_text(shown(SECOND_REPLY), timeout=20_000)
    expect(page.get_by_test_id("stop")).to_be_hidden()
    last_message(page).get_by_test_id("swipe-left").click()
    expect(last_message(page).get_by_test_id("swipe-counter")).to_have_text("1/2")
    expect(last_message(page).get_by_test_id("message-text")).to_have_text(shown(FIRST_REPLY))

    # Edit the user's message in place; it stays edited after a reload.
    mine = page.locator('[data-testid="message"][data-role="user"]').last
    mine.hover()
    mine.get_by_test_id("edit").click()
    mine.get_by_test_id("edit-input").fill("Good evening. May I sit here?")
    mine.get_by_test_id("edit-save").click()
    expect(mine.get_by_test_id("message-text")).to_have_text("Good evening. May I sit here?")
    page.reload()
    mine = page.locator('[data-testid="message"][data-role="user"]').last
    expect(mine.get_by_test_id("message-text")).to_have_text("Good evening. May I sit here?")
    expect(last_message(page).get_by_test_id("swipe-counter")).to_have_text("1/2")

    # Branch at the reply: a new conversation holding the same path.
    old_url = page.url
    texts = page.get_by_test_id("message-text").all_inner_texts()
    last_message(page).hover()
    last_message(page).get_by_test_id("branch").click()
    expect(page).not_to_have_url(old_url)
    expect(page).to_have_url(re.compile(r"/chat/\d+$"))
    expect(page.get_by_test_id("branch-note")).to_be_visible()
    expect(page.get_by_test_id("message-text")).to_have_text(texts)


def test_stop_keeps_partial_text(page: Any, standin: Any) -> None:
    sign_up(page)
    start_chat(page)
    words = " ".join(f"word{i}" for i in range(200))
    script(standin, words, token_delay=0.05)
    send(page, "Tell me a long story.")
    reply = last_message(page)
    expect(reply.get_by_test_id("message-text")).to_contain_text("word3")
    page.get_by_test_id("stop").click()
    expect(reply).to_have_attribute("data-status", "stopped")
    expect(reply.get_by_test_id("message-status")).to_have_text("Stopped")
    kept = reply.get_by_test_id("message-text").inner_text()
    assert kept.startswith("word0 word1")
    assert len(kept) < len(words)
    expect(page.get_by_test_id("send")).to_be_visible()


def test_backend_error_is_shown_in_chat(page: Any, standin: Any) -> None:
    sign_up(page)
    start_chat(page)
    standin.fail_status = 500
    send(page, "Are you there?")
    reply = last_message(page)
    expect(reply).to_have_attribute("data-status", "error", timeout=20_000)
    expect(reply.get_by_test_id("message-error")).to_be_visible()
    expect(page.get_by_test_id("stop")).to_be_hidden()


def test_impersonate_fills_the_input(page: Any, standin: Any) -> None:
    sign_up(page)
    start_chat(page)
    script(standin, "I wave and take a seat by the window.", token_delay=0.01)
    page.get_by_test_id("impersonate").click()
    expect(page.get_by_test_id("composer-input")).to_have_value(
        "I wave and take a seat by the window.", timeout=20_000
    )


def test_delete_and_scene_editor(page: Any, standin: Any) -> None:
    sign_up(page)
    conversation = start_chat(page)
    script(standin, "Of course.", token_delay=0)
    send(page, "Could you help me?")
    expect(last_message(page).get_by_test_id("message-text")).to_have_text("Of course.")
    before = page.get_by_test_id("message").count()

    page.get_by_test_id("open-scene").click()
    page.get_by_test_id("scene-input").fill("A market square at noon.")
    page.get_by_test_id("scene-save").click()
    expect(page.get_by_test_id("scene-dialog")).to_be_hidden()
    expect(page.get_by_test_id("scene-card")).to_contain_text("market square")
    assert api(page, "GET", f"/conversations/{conversation}")["scene"] == "A market square at noon."

    mine = page.locator('[data-testid="message"][data-role="user"]').last
    mine.hover()
    mine.get_by_test_id("delete").click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("message")).to_have_count(before - 2)


def test_sampler_panel_saves(page: Any) -> None:
    sign_up(page)
    conversation = start_chat(page)
    page.get_by_test_id("open-sampler").click()
    preset = page.get_by_test_id("sampler-preset")
    expect(preset.locator("option").first).to_be_attached()
    page.get_by_test_id("sampler-temperature").fill("0.55")
    page.get_by_test_id("sampler-max_tokens").fill("123")
    page.get_by_test_id("sampler-save").click()
    expect(page.get_by_test_id("sampler-dialog")).to_be_hidden()
    sampler = api(page, "GET", f"/conversations/{conversation}")["sampler"]
    assert sampler["temperature"] == pytest.approx(0.55)
    assert sampler["max_tokens"] == 123


def test_settings_tokens_persona_logout(page: Any) -> None:
    email = sign_up(page)
    page.get_by_test_id("nav-settings").click()
    expect(page.get_by_test_id("account-email")).to_have_text(email)

    page.get_by_test_id("persona-name").fill("Sam")
    page.get_by_test_id("persona-description").fill("A traveller with a tidy notebook.")
    page.get_by_test_id("persona-save").click()
    expect(page.get_by_test_id("toast-ok")).to_be_visible()
    assert api(page, "GET", "/me/persona")["name"] == "Sam"

    page.get_by_test_id("token-name").fill("my script")
    page.get_by_test_id("token-create").click()
    expect(page.get_by_test_id("token-value")).not_to_be_empty()
    expect(page.get_by_test_id("token-item")).to_have_count(1)
    page.reload()
    expect(page.get_by_test_id("token-item")).to_have_count(1)
    page.get_by_test_id("token-delete").click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("token-item")).to_have_count(0)

    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert page.request.get("/api/v1/me").status == 401

    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill("not the password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("form-error")).to_be_visible()
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(re.compile(r"/characters$"))


def test_login_rate_limit_is_explained(page: Any) -> None:
    email = new_email()
    for _ in range(10):
        tried = page.request.post("/api/v1/auth/login", data={"email": email, "password": "nope"})
        assert tried.status == 401, tried.text()
    page.goto("/login")
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill("still not it")
    with page.expect_response(re.compile(r"/api/v1/auth/login$")) as answer:
        page.get_by_test_id("login-submit").click()
    response = answer.value
    assert response.status == 429
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["error"]["code"] == "rate_limited"
    expect(page.get_by_test_id("form-error")).to_have_text(body["error"]["message"])
    expect(page.get_by_test_id("form-error")).to_contain_text("Too many login attempts")


def test_rate_limited_send_is_explained(page: Any) -> None:
    sign_up(page)
    start_chat(page)
    message = "Too many replies started: at most 30 in 1 minute. Try again in 12 seconds."

    def refuse(route: Any) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        error = {"error": {"code": "rate_limited", "message": message}}
        route.fulfill(status=429, headers={"Retry-After": "12"}, json=error)

    page.route(re.compile(r"/api/v1/conversations/\d+/messages$"), refuse)
    send(page, "Are you still there?")
    expect(page.get_by_test_id("toast-error")).to_contain_text(message)
    expect(page.get_by_test_id("composer-input")).to_have_value("Are you still there?")
    expect(page.get_by_test_id("send")).to_be_enabled()


def test_phone_chat_has_no_horizontal_scroll(phone_page: Any, standin: Any) -> None:
    page = phone_page
    sign_up(page)
    start_chat(page, scene="A windy pier at dusk.")
    script(standin, FIRST_REPLY + " " + "A very long unbroken word: " + "x" * 120, token_delay=0)
    send(page, "Hi! " + "y" * 80)
    expect(last_message(page)).to_have_attribute("data-status", "complete", timeout=20_000)
    widths = page.evaluate(
        "() => ({doc: document.documentElement.scrollWidth, view: window.innerWidth,"
        " body: document.body.scrollWidth})"
    )
    assert widths["doc"] <= widths["view"], widths
    assert widths["body"] <= widths["view"], widths
    small = page.evaluate(
        """() => [...document.querySelectorAll('button, a, textarea')]
            .filter((el) => el.offsetParent !== null)
            .map((el) => ({id: el.dataset.testid || el.textContent.trim().slice(0, 20),
                           w: el.getBoundingClientRect().width,
                           h: el.getBoundingClientRect().height}))
            .filter((r) => r.w < 40 || r.h < 40)"""
    )
    assert small == [], small


def test_reload_mid_reply_picks_up_the_stream(page: Any, standin: Any) -> None:
    sign_up(page)
    start_chat(page)
    words = " ".join(f"w{i}" for i in range(40))
    script(standin, words, token_delay=0.1)
    send(page, "Count for me, please.")
    expect(last_message(page).get_by_test_id("message-text")).to_contain_text("w2")
    page.reload()
    expect(page.get_by_test_id("stop")).to_be_visible()
    reply = last_message(page)
    expect(reply.get_by_test_id("message-text")).to_have_text(words, timeout=20_000)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(page.get_by_test_id("stop")).to_be_hidden()


def test_greeting_alternates_are_swipes(page: Any) -> None:
    sign_up(page)
    start_chat(page)
    greeting = page.get_by_test_id("message").first
    counter = greeting.get_by_test_id("swipe-counter")
    expect(counter).to_have_text(re.compile(r"^1/[2-9]$"))
    first_text = greeting.get_by_test_id("message-text").inner_text()
    greeting.get_by_test_id("swipe-right").click()
    expect(counter).to_have_text(re.compile(r"^2/"))
    expect(greeting.get_by_test_id("message-text")).not_to_have_text(first_text)
    greeting.get_by_test_id("swipe-left").click()
    expect(counter).to_have_text(re.compile(r"^1/"))
    expect(greeting.get_by_test_id("message-text")).to_have_text(first_text)


def test_continue_extends_the_reply(page: Any, standin: Any) -> None:
    sign_up(page)
    start_chat(page)
    script(standin, "The door creaks open.", token_delay=0)
    send(page, "What was that?")
    reply = last_message(page)
    expect(reply.get_by_test_id("message-text")).to_have_text("The door creaks open.")
    script(standin, " Nobody is there.", token_delay=0.01)
    reply.get_by_test_id("continue").click()
    expect(reply.get_by_test_id("message-text")).to_have_text(
        "The door creaks open. Nobody is there.", timeout=20_000
    )
    expect(page.get_by_test_id("stop")).to_be_hidden()


def test_search_and_tag_filter(page: Any) -> None:
    sign_up(page)
    cards = page.get_by_test_id("character-card")
    expect(cards.first).to_be_visible()
    everyone = cards.count()
    name = cards.first.locator(".char-card-name").inner_text().split("\n")[0]
    page.get_by_test_id("character-search").fill(name)
    expect(cards.first.locator(".char-card-name")).to_contain_text(name)
    assert cards.count() <= everyone
    page.get_by_test_id("character-search").fill("no such character anywhere")
    expect(page.get_by_test_id("characters-empty")).to_be_visible()
    page.get_by_test_id("character-search").fill("")
    expect(cards).to_have_count(everyone)
    chip = page.locator('[data-testid="tag-chip"]:not([data-tag=""])').first
    tag = chip.get_attribute("data-tag")
    chip.click()
    expect(chip).to_have_attribute("aria-pressed", "true")
    expect(page).to_have_url(re.compile(r"tag="))
    for card in cards.all():
        expect(card.locator(".tag")).to_contain_text([tag])
