"""Voice in the browser: the Studio's voice slot, a message read aloud, and push-to-talk
through Chromium's fake microphone. The server runs the real embedded backends (Piper and
Whisper tiny.en), so the first call of each loads a model."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import api, mic_chromium, mic_recording, sign_up
from playwright.sync_api import expect

from conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP

pytestmark = pytest.mark.e2e

SENTENCE = "are you still at the harbour"
MODEL_WAIT = 60_000  # ms: the first speech or transcription loads its model


def signed_up(page: Any) -> None:
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))


def start_chat(page: Any) -> None:
    """Open the first character and start a chat with it (its greeting comes first)."""
    page.get_by_test_id("character-card").first.click()
    expect(page).to_have_url(re.compile(r"/characters/\d+$"))
    expect(page.get_by_test_id("character-name")).not_to_have_text("…")
    page.get_by_test_id("start-chat").click()
    expect(page).to_have_url(re.compile(r"/chat/\d+$"))
    expect(page.get_by_test_id("messages")).to_have_attribute("aria-busy", "false")


def test_studio_voice_slot(page: Any) -> None:
    signed_up(page)
    character = api(
        page,
        "POST",
        "/characters",
        {"name": "Marisol Vey", "age": 34, "first_message": "Evening. Mind the wet paint."},
    )
    voices = api(page, "GET", "/voice/status")["voices"]
    assert voices, "the embedded speech backend offers voices"

    page.goto(f"/studio/{character['id']}")
    slot = page.get_by_test_id("slot-voice")
    select = page.get_by_test_id("studio-voice")
    expect(select).to_be_visible()
    expect(select).to_be_enabled()
    expect(page.get_by_test_id("studio-voice-new")).to_be_hidden()
    expect(select.locator("option")).to_have_count(len(voices))

    # Each change is saved at once, and says so.
    select.select_option(voices[-1]["id"])
    expect(slot.get_by_test_id("studio-voice-state")).to_have_text("Voice saved.")
    page.get_by_test_id("studio-voice-speed").fill("1.25")
    expect(page.get_by_test_id("studio-voice-speed-value")).to_have_text("1.25×")
    page.get_by_test_id("studio-voice-pitch").fill("-2")
    expect(page.get_by_test_id("studio-voice-pitch-value")).to_have_text("-2 semitones")
    expect(slot.get_by_test_id("studio-voice-state")).to_have_text("Voice saved.")
    assert api(page, "GET", f"/characters/{character['id']}/voice") == {
        "voice": voices[-1]["id"],
        "speed": 1.25,
        "pitch": -2.0,
    }

    # The preview plays the sample, then the button is ready again.
    preview = page.get_by_test_id("studio-voice-preview")
    with page.expect_response(re.compile(r"/api/v1/voice/preview$"), timeout=MODEL_WAIT) as info:
        preview.click()
    response = info.value
    assert response.status == 200
    assert response.headers["content-type"].startswith("audio/wav")
    assert float(response.headers["x-audio-seconds"]) > 0.3
    expect(preview).to_have_text("Stop")
    expect(preview).to_have_text("Preview", timeout=15_000)

    # After a reload, the slot shows what was saved.
    page.reload()
    expect(page.get_by_test_id("studio-voice-speed-value")).to_have_text("1.25×")
    expect(select).to_have_value(voices[-1]["id"])


def test_new_character_voice_says_save_first(page: Any) -> None:
    signed_up(page)
    page.goto("/studio/new")
    expect(page.get_by_test_id("studio-voice-new")).to_have_text("Save the character first.")
    expect(page.get_by_test_id("studio-voice")).to_be_hidden()


def test_read_aloud_the_greeting(page: Any) -> None:
    signed_up(page)
    start_chat(page)
    greeting = page.get_by_test_id("message").first
    speak = greeting.get_by_test_id("message-speak")
    expect(speak).to_have_attribute("aria-label", "Read aloud")

    with page.expect_response(
        re.compile(r"/api/v1/messages/\d+/speech$"), timeout=MODEL_WAIT
    ) as info:
        speak.click()
    response = info.value
    assert response.status == 200
    assert response.headers["content-type"].startswith("audio/wav")
    expect(speak).to_have_attribute("aria-label", "Stop reading")

    # Stop ends it at once; a second press plays the clip kept in the page again.
    speak.click()
    expect(speak).to_have_attribute("aria-label", "Read aloud")
    speak.click()
    expect(speak).to_have_attribute("aria-label", "Stop reading")
    seconds = float(response.headers["x-audio-seconds"])
    expect(speak).to_have_attribute(
        "aria-label", "Read aloud", timeout=int(seconds * 1000) + 10_000
    )


# ---------- push-to-talk with Chromium's fake microphone ----------


@pytest.fixture(scope="module")
def mic_browser(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("push-to-talk test needs espeak-ng to make its recording")
    # The fake microphone loops the file: quiet around the sentence keeps the words apart.
    wav = mic_recording(
        tmp_path_factory.mktemp("voice") / "harbour.wav", SENTENCE, before=0.4, after=2.0
    )
    instance = mic_chromium(browser, wav, CHROMIUM, CHROMIUM_ARGS, once=False)
    yield instance
    instance.close()


@pytest.fixture
def mic_page(mic_browser: Any, server_url: str) -> Iterator[Any]:
    context = mic_browser.new_context(
        base_url=server_url, viewport=DESKTOP, permissions=["microphone"]
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def test_push_to_talk_fills_the_composer(mic_page: Any) -> None:
    page = mic_page
    signed_up(page)
    start_chat(page)
    messages = page.get_by_test_id("message")
    before = messages.count()
    box = page.get_by_test_id("composer-input")
    box.fill("Hello.")

    mic = page.get_by_test_id("push-to-talk")
    expect(mic).to_be_visible()
    expect(mic).to_have_attribute("aria-pressed", "false")
    area = mic.bounding_box()
    assert area is not None
    page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)
    page.mouse.down()
    expect(mic).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#chat-announce")).to_have_text("Listening…")
    page.wait_for_timeout(3_000)
    with page.expect_response(re.compile(r"/api/v1/voice/transcribe$"), timeout=MODEL_WAIT) as info:
        page.mouse.up()
    assert info.value.status == 200, info.value.text()

    # What was said joins what was typed; nothing is sent.
    expect(box).to_have_value(re.compile(r"^Hello\. .*harbou?r", re.IGNORECASE))
    expect(box).to_be_focused()
    expect(mic).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#chat-announce")).to_contain_text("Added to your message")
    assert messages.count() == before

    # From the keyboard, Space starts and stops it (a toggle: no holding needed).
    box.fill("")
    mic.focus()
    page.keyboard.press("Space")
    expect(mic).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#chat-announce")).to_have_text("Listening…")
    page.wait_for_timeout(3_000)
    with page.expect_response(re.compile(r"/api/v1/voice/transcribe$"), timeout=MODEL_WAIT) as info:
        page.keyboard.press("Space")
    assert info.value.status == 200, info.value.text()
    expect(box).to_have_value(re.compile(r"harbou?r", re.IGNORECASE))
    assert messages.count() == before
