"""Pictures in the browser: asked for in a chat (the dialog and ``/pic``), followed while they
render, checked against the reference face; the gallery with its reference panel; and the
setup hint when no image backend is configured.

A second ``afterdark serve`` renders through the ``comfyui`` backend against the ComfyUI
stand-in, which returns the uploaded reference as the render (so the face matches), or the
images a test scripts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import api, assert_fits_phone, sign_up
from playwright.sync_api import expect

from conftest import DESKTOP, PHONE, _open_page, serve_afterdark
from tests.support.comfyui_standin import ComfyStandIn, run_comfyui_standin
from tests.support.photos import photos

pytestmark = pytest.mark.e2e

RENDER_S = 30_000  # ms a picture may take here: a few face checks, the NSFW model's first load


@pytest.fixture(scope="module")
def comfy() -> Iterator[ComfyStandIn]:
    with run_comfyui_standin() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_comfy(request: pytest.FixtureRequest) -> None:
    if "comfy" in request.fixturenames:
        server: ComfyStandIn = request.getfixturevalue("comfy")
        server.images = []
        server.step_delay = 0.0
        server.hang = False


@pytest.fixture(scope="module")
def pictures_url(
    server_env: dict[str, str], comfy: ComfyStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``afterdark serve`` with pictures on, rendering through the ComfyUI stand-in."""
    data_dir = tmp_path_factory.mktemp("afterdark-pictures")
    env = server_env | {
        "AFTERDARK_DATA_DIR": str(data_dir),
        "AFTERDARK_IMAGES__BACKEND": "comfyui",
        "AFTERDARK_IMAGES__BASE_URL": comfy.base_url,
        "AFTERDARK_IMAGES__WORKFLOW": "sdxl_instantid",
        "AFTERDARK_IMAGES__PREMIUM_WORKFLOW": "flux_pulid",
        "AFTERDARK_IMAGES__STEPS": "8",
        "AFTERDARK_IMAGES__WIDTH": "256",
        "AFTERDARK_IMAGES__HEIGHT": "384",
    }
    with serve_afterdark(env) as url:
        yield url


@pytest.fixture
def pic_page(request: pytest.FixtureRequest, browser: Any, pictures_url: str) -> Iterator[Any]:
    yield from _open_page(request, browser, pictures_url, viewport=DESKTOP)


def own_character_and_chat(page: Any) -> tuple[int, int]:
    """Sign up, make a character of one's own and start a chat with it."""
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    made = api(
        page,
        "POST",
        "/characters",
        {
            "name": "Mara Quill",
            "age": 34,
            "appearance": "short dark hair, a green scarf",
            "first_message": "You made it. Sit, the tea is still warm.",
        },
    )
    conversation = api(page, "POST", "/conversations", {"character_id": made["id"]})
    return int(made["id"]), int(conversation["id"])


def open_chat(page: Any, conversation_id: int) -> None:
    page.goto(f"/chat/{conversation_id}")
    expect(page.get_by_test_id("messages")).to_have_attribute("aria-busy", "false")


def finished(page: Any, picture_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + RENDER_S / 1000
    while True:
        picture: dict[str, Any] = api(page, "GET", f"/pictures/{picture_id}")
        if picture["status"] not in ("queued", "rendering"):
            return picture
        assert time.monotonic() < deadline, picture
        time.sleep(0.2)


def test_pictures_off_the_chat_and_gallery_say_how_to_turn_them_on(page: Any) -> None:
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    first = api(page, "GET", "/characters")[0]
    conversation = api(page, "POST", "/conversations", {"character_id": first["id"]})
    open_chat(page, conversation["id"])

    page.get_by_test_id("open-picture").click()
    dialog = page.get_by_test_id("picture-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("picture-off")).to_contain_text("AFTERDARK_IMAGES__BACKEND")
    # No button that pretends to render.
    expect(dialog.get_by_test_id("picture-submit")).to_be_hidden()
    expect(dialog.get_by_test_id("picture-request")).to_be_hidden()
    expect(dialog.get_by_test_id("picture-premium")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.goto(f"/characters/{first['id']}/gallery")
    expect(page.get_by_test_id("gallery-off")).to_be_visible()
    expect(page.get_by_test_id("gallery-off-hint")).to_contain_text("AFTERDARK_IMAGES__BACKEND")
    expect(page.get_by_test_id("new-picture-panel")).to_be_hidden()


def test_a_reference_face_then_a_picture_in_the_chat_with_the_same_face(
    pic_page: Any, comfy: ComfyStandIn
) -> None:
    page = pic_page
    cid, conversation_id = own_character_and_chat(page)

    # The reference: refused without saying whose face it is, kept once it is said.
    page.goto(f"/characters/{cid}")
    page.get_by_test_id("pictures-link").click()
    expect(page).to_have_url(re.compile(rf"/characters/{cid}/gallery$"))
    expect(page.get_by_test_id("gallery-title")).to_have_text("Pictures of Mara Quill")
    panel = page.get_by_test_id("reference-panel")
    expect(panel.get_by_test_id("reference-none")).to_be_visible()
    panel.get_by_test_id("reference-file").set_input_files(str(photos() / "obama.jpg"))
    panel.get_by_test_id("reference-upload").click()
    expect(panel.get_by_test_id("reference-error")).to_contain_text("This picture shows a face")
    expect(panel.get_by_test_id("reference-current")).to_be_hidden()
    expect(panel.get_by_test_id("likeness-fictional")).to_be_focused()
    panel.get_by_test_id("likeness-fictional").check()
    panel.get_by_test_id("reference-upload").click()
    expect(panel.get_by_test_id("reference-current")).to_be_visible()
    expect(panel.get_by_test_id("reference-source")).to_have_text(
        "Uploaded by you · marked as no real person"
    )
    expect(panel.get_by_test_id("reference-error")).to_be_hidden()

    # In the chat: the dialog, the card following the render, then the picture.
    comfy.step_delay = 0.4
    open_chat(page, conversation_id)
    greeting = page.get_by_test_id("message").last
    page.get_by_test_id("open-picture").click()
    dialog = page.get_by_test_id("picture-dialog")
    expect(dialog.get_by_test_id("picture-request")).to_be_focused()
    dialog.get_by_test_id("picture-request").fill("reading by the window")
    dialog.get_by_test_id("picture-submit").click()
    expect(dialog).to_be_hidden()

    card = greeting.get_by_test_id("chat-picture")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("“reading by the window”")
    expect(card.get_by_test_id("picture-status")).to_have_text(
        re.compile(r"Rendering · try 1 · step [1-8] of 8")
    )
    expect(card.get_by_test_id("picture-cancel")).to_be_visible()
    expect(card.get_by_test_id("picture-image")).to_be_visible(timeout=RENDER_S)
    expect(card.get_by_test_id("picture-identity")).to_have_text(
        re.compile(r"^Same face · distance 0\.\d\d · 1 try$")
    )
    expect(card.get_by_test_id("picture-cancel")).to_have_count(0)
    loaded = card.get_by_test_id("picture-image").evaluate("img => img.naturalWidth")
    assert loaded > 0

    # The card stays under its message after a reload.
    page.reload()
    expect(page.get_by_test_id("message").last.get_by_test_id("picture-identity")).to_contain_text(
        "Same face"
    )


def test_pic_in_the_composer_makes_a_picture_not_a_message(pic_page: Any, standin: Any) -> None:
    page = pic_page
    _, conversation_id = own_character_and_chat(page)
    open_chat(page, conversation_id)
    messages = page.get_by_test_id("message")
    expect(messages).to_have_count(1)
    asked = len(standin.requests)

    box = page.get_by_test_id("composer-input")
    box.fill("/pic by the window")
    box.press("Enter")

    card = page.get_by_test_id("chat-picture")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("“by the window”")
    expect(card.get_by_test_id("picture-identity")).to_have_text(
        "No reference face set", timeout=RENDER_S
    )
    expect(box).to_have_value("")
    expect(messages).to_have_count(1)
    assert len(standin.requests) == asked  # the model was not asked for a reply
    pictures = api(page, "GET", f"/conversations/{conversation_id}/pictures")
    assert [p["request"] for p in pictures] == ["by the window"]


def test_a_picture_being_made_can_be_cancelled(pic_page: Any, comfy: ComfyStandIn) -> None:
    page = pic_page
    _, conversation_id = own_character_and_chat(page)
    comfy.hang = True  # stalls after the first step until interrupted
    open_chat(page, conversation_id)
    page.get_by_test_id("open-picture").click()
    page.get_by_test_id("picture-request").fill("on the stairs")
    page.get_by_test_id("picture-submit").click()

    card = page.get_by_test_id("chat-picture")
    expect(card.get_by_test_id("picture-status")).to_have_text("Rendering · try 1 · step 1 of 8")
    card.get_by_test_id("picture-cancel").click()
    expect(card.get_by_test_id("picture-status")).to_have_text("Cancelled")
    expect(card).to_have_attribute("data-status", "cancelled")
    expect(card.get_by_test_id("picture-image")).to_have_count(0)
    assert comfy.interrupts, "the render was not stopped on the ComfyUI side"


def queued_classes(comfy: ComfyStandIn) -> set[str]:
    return {node["class_type"] for node in comfy.prompts[-1]["prompt"].values()}


def test_a_premium_picture_first_free_then_at_its_price(pic_page: Any, comfy: ComfyStandIn) -> None:
    page = pic_page
    cid, conversation_id = own_character_and_chat(page)
    open_chat(page, conversation_id)

    # The dialog offers the premium model, unticked, the user's first one free.
    page.get_by_test_id("open-picture").click()
    dialog = page.get_by_test_id("picture-dialog")
    choice = dialog.get_by_test_id("picture-premium")
    expect(choice).to_be_visible()
    expect(choice.get_by_test_id("picture-premium-price")).to_have_text("(1 free)")
    expect(choice.get_by_test_id("picture-premium-toggle")).not_to_be_checked()
    dialog.get_by_test_id("picture-request").fill("on the pier")
    choice.get_by_test_id("picture-premium-toggle").check()
    dialog.get_by_test_id("picture-submit").click()
    expect(dialog).to_be_hidden()

    card = page.get_by_test_id("chat-picture")
    expect(card.get_by_test_id("picture-premium-mark")).to_have_text("Premium · free")
    expect(card.get_by_test_id("picture-identity")).to_be_visible(timeout=RENDER_S)
    [picture] = api(page, "GET", f"/conversations/{conversation_id}/pictures")
    assert (picture["premium"], picture["free_premium"], picture["sparks"]) == (True, True, 0)
    assert "UNETLoader" in queued_classes(comfy)  # the premium workflow: Flux
    assert "CheckpointLoaderSimple" not in queued_classes(comfy)

    # The free one is used: the dialog now says the price.
    page.get_by_test_id("open-picture").click()
    expect(choice.get_by_test_id("picture-premium-price")).to_have_text("(40 Sparks)")
    expect(choice.get_by_test_id("picture-premium-toggle")).not_to_be_checked()
    page.keyboard.press("Escape")

    # The gallery: the mark, and the same choice in the new-picture form.
    page.goto(f"/characters/{cid}/gallery")
    item = page.get_by_test_id("gallery-picture")
    expect(item.get_by_test_id("picture-premium-mark")).to_have_text("Premium · free")
    form = page.get_by_test_id("new-picture-form")
    expect(form.get_by_test_id("picture-premium-price")).to_have_text("(40 Sparks)")
    form.get_by_test_id("picture-request").fill("in the rain")
    form.get_by_test_id("picture-submit").click()
    expect(page.get_by_test_id("gallery-picture")).to_have_count(2)
    newest = page.get_by_test_id("gallery-picture").first
    expect(newest.get_by_test_id("picture-identity")).to_be_visible(timeout=RENDER_S)
    expect(newest.get_by_test_id("picture-premium-mark")).to_have_count(0)
    assert "CheckpointLoaderSimple" in queued_classes(comfy)  # unticked: the usual workflow


def test_the_gallery_lists_uses_as_reference_sets_the_portrait_and_deletes(
    pic_page: Any, comfy: ComfyStandIn
) -> None:
    page = pic_page
    cid, _ = own_character_and_chat(page)
    comfy.images = [(photos() / "obama2.jpg").read_bytes()]  # a render with a face
    first = api(page, "POST", f"/characters/{cid}/pictures", {"request": "in the garden"})
    second = api(page, "POST", f"/characters/{cid}/pictures", {"request": "at the harbour"})
    assert finished(page, first["id"])["status"] == "done"
    assert finished(page, second["id"])["status"] == "done"

    page.goto(f"/characters/{cid}/gallery")
    items = page.get_by_test_id("gallery-picture")
    expect(items).to_have_count(2)
    # Newest first.
    expect(items.first).to_have_attribute("data-picture-id", str(second["id"]))
    expect(items.first.get_by_test_id("picture-identity")).to_have_text("No reference face set")
    expect(items.first.get_by_test_id("picture-download")).to_have_attribute(
        "href", f"/api/v1/pictures/{second['id']}/file"
    )
    expect(items.first.get_by_test_id("picture-download")).to_have_attribute(
        "download", re.compile(r"^mara-quill-picture-\d+$")
    )

    # Use as reference face: the panel shows it, the picture is marked.
    panel = page.get_by_test_id("reference-panel")
    expect(panel.get_by_test_id("reference-none")).to_be_visible()
    older = items.nth(1)
    older.get_by_test_id("picture-use-reference").click()
    expect(panel.get_by_test_id("reference-source")).to_have_text(
        f"From your picture #{first['id']}"
    )
    expect(older.get_by_test_id("picture-is-reference")).to_be_visible()
    expect(items.first.get_by_test_id("picture-is-reference")).to_be_hidden()
    assert api(page, "GET", f"/characters/{cid}/reference")["picture_id"] == first["id"]

    # Set as portrait (the character is one's own).
    items.first.get_by_test_id("picture-portrait").click()
    expect(page.get_by_test_id("gallery-state")).to_have_text(
        "This picture is now the character’s portrait."
    )
    assert api(page, "GET", f"/characters/{cid}")["avatar_url"]

    # It fits a phone: nothing scrolls sideways, every control is big enough for a thumb.
    page.set_viewport_size(PHONE)
    assert_fits_phone(
        page,
        ".gallery-page :is(button, a.btn, .check, [type=file])",
    )
    page.set_viewport_size(DESKTOP)

    # Delete asks first; cancelling keeps it.
    items.first.get_by_test_id("picture-delete").click()
    confirm = page.get_by_test_id("confirm-dialog")
    expect(confirm).to_be_visible()
    confirm.get_by_test_id("confirm-cancel").click()
    expect(items).to_have_count(2)
    items.first.get_by_test_id("picture-delete").click()
    confirm.get_by_test_id("confirm-ok").click()
    expect(items).to_have_count(1)
    expect(items.first).to_have_attribute("data-picture-id", str(first["id"]))
    remaining = api(page, "GET", f"/characters/{cid}/pictures")
    assert [p["id"] for p in remaining] == [first["id"]]

    # Remove the reference.
    panel.get_by_test_id("reference-remove").click()
    page.get_by_test_id("confirm-dialog").get_by_test_id("confirm-ok").click()
    expect(panel.get_by_test_id("reference-none")).to_be_visible()
    expect(older.get_by_test_id("picture-is-reference")).to_be_hidden()
