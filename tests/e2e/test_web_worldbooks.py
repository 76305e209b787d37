"""World books in Settings: import a SillyTavern world file, turn it off, rename it, download it
both ways, refuse a file that is not a lorebook, delete it; link one to a character from
Settings and to one chat from the chat page; and the section on a phone."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import api, assert_fits_phone, sign_up
from playwright.sync_api import expect

from conftest import SCREENSHOTS
from tests.support.shared import CARDS

pytestmark = pytest.mark.e2e

ELDORIA = CARDS / "st_Eldoria_world_info.json"


def shot(target: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def open_world_books(page: Any) -> Any:
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    page.goto("/settings")
    expect(page.get_by_test_id("worlds-loading")).to_be_hidden()
    return page.get_by_test_id("worlds-panel")


def import_file(page: Any, path: Path) -> None:
    """Through the button, as a person would: it opens the file chooser."""
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("world-import").click()
    assert chooser.value.is_multiple() is False
    chooser.value.set_files(str(path))


def test_world_books_in_settings(page: Any, tmp_path: Path) -> None:
    panel = open_world_books(page)
    expect(panel.get_by_role("heading", name="World info")).to_be_visible()
    expect(panel.get_by_test_id("worlds-intro")).to_contain_text(
        "World books are lorebooks of your own"
    )
    expect(panel.get_by_test_id("worlds-empty")).to_have_text("No world books yet.")
    expect(panel.get_by_test_id("world-file")).to_have_attribute("accept", ".json,application/json")
    books = panel.get_by_test_id("world-item")
    expect(books).to_have_count(0)

    # Import: the file has no name of its own, so its stem names the book.
    import_file(page, ELDORIA)
    expect(books).to_have_count(1)
    book = books.first
    expect(book.get_by_test_id("world-name")).to_have_text("st_Eldoria_world_info")
    expect(book.get_by_test_id("world-entries")).to_have_text("4 entries")
    expect(panel.get_by_test_id("worlds-empty")).to_be_hidden()
    expect(panel.get_by_test_id("world-state")).to_contain_text("Imported")
    switch = book.get_by_role("switch")
    expect(switch).to_be_checked()
    expect(switch).to_have_accessible_name("Use in every chat: st_Eldoria_world_info")
    expect(book.get_by_test_id("world-where")).to_have_text("Every chat")
    expect(book).not_to_have_class(re.compile(r"\bis-off\b"))
    [saved] = api(page, "GET", "/worldbooks")
    assert saved["name"] == "st_Eldoria_world_info"
    assert saved["entries"] == 4
    assert saved["enabled"] is True
    shot(panel, "settings-worldbooks")

    # Off, then the server agrees.
    switch.click()
    expect(panel.get_by_test_id("world-state")).to_contain_text("is off")
    expect(switch).not_to_be_checked()
    expect(book.get_by_test_id("world-where")).to_have_text("Not in use")
    expect(book).to_have_class(re.compile(r"\bis-off\b"))
    assert api(page, "GET", "/worldbooks")[0]["enabled"] is False

    # Rename: Escape cancels, Enter saves.
    book.get_by_test_id("world-rename").click()
    field = book.get_by_role("textbox", name="New name")
    expect(field).to_be_focused()
    expect(field).to_have_value("st_Eldoria_world_info")
    field.fill("Not this")
    field.press("Escape")
    expect(book.get_by_test_id("world-rename-form")).to_be_hidden()
    expect(book.get_by_test_id("world-rename")).to_be_focused()
    expect(book.get_by_test_id("world-name")).to_have_text("st_Eldoria_world_info")

    book.get_by_test_id("world-rename").click()
    field.fill("")
    book.get_by_test_id("world-rename-save").click()
    expect(book.get_by_test_id("world-rename-error")).to_have_text("A world book needs a name.")
    field.fill("Eldoria")
    field.press("Enter")
    expect(book.get_by_test_id("world-name")).to_have_text("Eldoria")
    expect(book.get_by_test_id("world-rename-form")).to_be_hidden()
    expect(book.get_by_role("button", name="Rename Eldoria")).to_be_visible()
    [saved] = api(page, "GET", "/worldbooks")
    assert saved["name"] == "Eldoria"
    assert saved["enabled"] is False

    # Download both ways.
    book.get_by_test_id("world-download-open").click()
    with page.expect_download() as v3:
        book.get_by_role("link", name="V3 lorebook").click()
    assert v3.value.suggested_filename == "Eldoria.lorebook.json"
    v3_body = json.loads(Path(v3.value.path()).read_text(encoding="utf-8"))
    assert v3_body["spec"] == "lorebook_v3"
    assert len(v3_body["data"]["entries"]) == 4
    expect(book.get_by_test_id("world-download")).not_to_have_attribute("open", "")

    book.get_by_test_id("world-download-open").click()
    with page.expect_download() as st:
        book.get_by_role("link", name="SillyTavern").click()
    assert st.value.suggested_filename.endswith(".world.json")
    st_body = json.loads(Path(st.value.path()).read_text(encoding="utf-8"))
    assert len(st_body["entries"]) == 4

    # A file that is no lorebook: the server's reason shows in the section, nothing is added.
    bogus = tmp_path / "hello.json"
    bogus.write_bytes(b'{"hello": 1}')
    import_file(page, bogus)
    error = panel.get_by_test_id("world-error")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("role", "alert")
    expect(error).to_contain_text("hello.json was not imported: not a lorebook")
    expect(books).to_have_count(1)
    assert len(api(page, "GET", "/worldbooks")) == 1

    # Delete: cancel first, then for real.
    book.get_by_role("button", name="Delete Eldoria").click()
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text("Eldoria")
    page.get_by_test_id("confirm-cancel").click()
    expect(books).to_have_count(1)
    book.get_by_test_id("world-delete").click()
    page.get_by_test_id("confirm-ok").click()
    expect(books).to_have_count(0)
    expect(panel.get_by_test_id("worlds-empty")).to_have_text("No world books yet.")
    expect(error).to_be_hidden()
    assert api(page, "GET", "/worldbooks") == []

    # It stays gone after a reload.
    page.reload()
    expect(page.get_by_test_id("worlds-loading")).to_be_hidden()
    expect(panel.get_by_test_id("worlds-empty")).to_be_visible()


def character_named(page: Any, name: str) -> dict[str, Any]:
    return next(c for c in api(page, "GET", "/characters") if c["name"] == name)


def test_link_a_world_book_to_characters(page: Any) -> None:
    panel = open_world_books(page)
    import_file(page, ELDORIA)
    book = panel.get_by_test_id("world-item")
    expect(book).to_have_count(1)
    [saved] = api(page, "GET", "/worldbooks")
    assert saved["characters"] == []
    assert saved["conversations"] == []
    book.get_by_role("switch").click()
    expect(book.get_by_test_id("world-where")).to_have_text("Not in use")
    mara = character_named(page, "Mara Quill")

    # The menu lists the characters; the box narrows a long list; Escape closes it.
    menu = book.get_by_test_id("world-characters")
    opener = menu.get_by_test_id("world-characters-open")
    expect(opener).to_have_accessible_name("Characters for st_Eldoria_world_info")
    opener.click()
    choices = menu.get_by_test_id("world-character")
    expect(choices.first).to_be_visible()
    expect(menu.get_by_test_id("world-characters-hint")).to_contain_text("characters you tick")
    assert choices.count() == len(api(page, "GET", "/characters"))
    menu.get_by_role("searchbox", name="Find a character").fill("mara q")
    expect(choices.filter(visible=True)).to_have_count(1)
    expect(choices.filter(visible=True)).to_have_text("Mara Quill")
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(menu.get_by_test_id("world-characters-open")).to_be_focused()

    # Tick Mara Quill: the server keeps the link and the row says where the book applies.
    menu.get_by_test_id("world-characters-open").click()
    mara_box = menu.get_by_role("checkbox", name="Mara Quill")
    expect(mara_box).not_to_be_checked()
    mara_box.check()
    expect(panel.get_by_test_id("world-state")).to_have_text(
        "“st_Eldoria_world_info” now joins your chats with Mara Quill."
    )
    expect(book.get_by_test_id("world-where")).to_have_text("Mara Quill")
    shot(page, "settings-worldbooks-characters")
    expect(book).not_to_have_class(re.compile(r"\bis-off\b"))
    [saved] = api(page, "GET", "/worldbooks")
    assert saved["characters"] == [mara["id"]]
    assert saved["enabled"] is False

    # A chat chosen on the chat page counts too; after a reload the linked one is listed first.
    chat = api(page, "POST", "/conversations", {"character_id": mara["id"]})
    api(page, "PUT", f"/worldbooks/{saved['id']}/conversations/{chat['id']}")
    page.reload()
    expect(page.get_by_test_id("worlds-loading")).to_be_hidden()
    expect(book.get_by_test_id("world-where")).to_have_text("Mara Quill · 1 chat")
    menu.get_by_test_id("world-characters-open").click()
    expect(choices.first).to_have_text("Mara Quill")
    expect(mara_box).to_be_checked()

    # A refusal from the server shows in the section and leaves the box as it was.
    other = choices.nth(1)
    page.route(
        "**/api/v1/worldbooks/*/characters/*",
        lambda route: route.fulfill(
            status=404,
            content_type="application/json",
            body=json.dumps({"error": {"code": "not_found", "message": "No such character."}}),
        ),
    )
    other.get_by_role("checkbox").check()
    expect(panel.get_by_test_id("world-error")).to_have_text("No such character.")
    expect(other.get_by_role("checkbox")).not_to_be_checked()
    page.unroute("**/api/v1/worldbooks/*/characters/*")
    assert api(page, "GET", "/worldbooks")[0]["characters"] == [mara["id"]]

    # Untick: the link goes, the chat's stays.
    mara_box.uncheck()
    expect(panel.get_by_test_id("world-state")).to_have_text(
        "“st_Eldoria_world_info” no longer joins your chats with Mara Quill."
    )
    expect(panel.get_by_test_id("world-error")).to_be_hidden()
    expect(book.get_by_test_id("world-where")).to_have_text("1 chat")
    [saved] = api(page, "GET", "/worldbooks")
    assert saved["characters"] == []
    assert saved["conversations"] == [chat["id"]]

    # Every chat wins over the choices, and says so.
    page.keyboard.press("Escape")
    book.get_by_role("switch").click()
    expect(book.get_by_test_id("world-where")).to_have_text("Every chat")
    expect(panel.get_by_test_id("world-state")).to_have_text(
        "“st_Eldoria_world_info” is on in every chat."
    )
    book.get_by_role("switch").click()
    expect(panel.get_by_test_id("world-state")).to_have_text(
        "“st_Eldoria_world_info” is off for every chat. It still joins: 1 chat."
    )
    shot(panel, "settings-worldbooks-linked")


def test_choose_world_books_for_one_chat(page: Any) -> None:
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    mara = character_named(page, "Mara Quill")
    chat = api(page, "POST", "/conversations", {"character_id": mara["id"]})
    page.goto(f"/chat/{chat['id']}")
    expect(page.get_by_test_id("chat-character-name")).to_have_text("Mara Quill")

    # No books yet: the dialog points to Settings.
    opener = page.get_by_role("button", name="World books")
    opener.click()
    dialog = page.get_by_test_id("worlds-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="World books")).to_be_visible()
    expect(dialog.get_by_test_id("chat-worlds-empty")).to_be_visible()
    expect(dialog.get_by_role("link", name="Import one in Settings")).to_have_attribute(
        "href", re.compile(r"/settings#worlds$")
    )
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # One book, off for every chat: choose it for this chat.
    page.goto("/settings")
    expect(page.get_by_test_id("worlds-loading")).to_be_hidden()
    import_file(page, ELDORIA)
    expect(page.get_by_test_id("world-item")).to_have_count(1)
    [saved] = api(page, "GET", "/worldbooks")
    api(page, "PATCH", f"/worldbooks/{saved['id']}", {"enabled": False})
    page.goto(f"/chat/{chat['id']}")
    expect(page.get_by_test_id("chat-character-name")).to_have_text("Mara Quill")
    page.get_by_test_id("open-worlds").click()
    row = dialog.get_by_test_id("chat-world")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("chat-world-name")).to_have_text("st_Eldoria_world_info")
    toggle = row.get_by_role("checkbox", name="Use in this chat: st_Eldoria_world_info")
    expect(toggle).not_to_be_checked()
    expect(row.get_by_test_id("chat-world-note")).to_be_hidden()
    toggle.check()
    expect(dialog.get_by_test_id("chat-worlds-state")).to_have_text(
        "“st_Eldoria_world_info” joins this chat."
    )
    assert api(page, "GET", "/worldbooks")[0]["conversations"] == [chat["id"]]
    shot(dialog, "chat-worldbooks")
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_be_hidden()

    # It stays chosen; a link to the character shows as another way in.
    api(page, "PUT", f"/worldbooks/{saved['id']}/characters/{mara['id']}")
    page.reload()
    expect(page.get_by_test_id("chat-character-name")).to_have_text("Mara Quill")
    page.get_by_test_id("open-worlds").click()
    expect(toggle).to_be_checked()
    expect(row.get_by_test_id("chat-world-note")).to_have_text("On for Mara Quill")

    # Unchoose it: gone from the chat's list, though it still applies through Mara.
    toggle.uncheck()
    expect(dialog.get_by_test_id("chat-worlds-state")).to_have_text(
        "“st_Eldoria_world_info” is no longer chosen for this chat. "
        "It still applies (On for Mara Quill)."
    )
    [after] = api(page, "GET", "/worldbooks")
    assert after["conversations"] == []
    assert after["characters"] == [mara["id"]]

    # A refusal shows in the dialog and the box goes back.
    page.route(
        "**/api/v1/worldbooks/*/conversations/*",
        lambda route: route.fulfill(
            status=404,
            content_type="application/json",
            body=json.dumps({"error": {"code": "not_found", "message": "No such chat."}}),
        ),
    )
    toggle.check()
    expect(dialog.get_by_test_id("chat-worlds-error")).to_have_text("No such chat.")
    expect(toggle).not_to_be_checked()
    page.unroute("**/api/v1/worldbooks/*/conversations/*")
    assert api(page, "GET", "/worldbooks")[0]["conversations"] == []
    page.keyboard.press("Escape")

    # On for every chat: the note says so.
    api(page, "PATCH", f"/worldbooks/{saved['id']}", {"enabled": True})
    page.get_by_test_id("open-worlds").click()
    expect(row.get_by_test_id("chat-world-note")).to_have_text("On in every chat")
    expect(dialog.get_by_test_id("chat-worlds-error")).to_be_hidden()


def test_world_books_fit_a_phone(phone_page: Any) -> None:
    page = phone_page
    panel = open_world_books(page)
    import_file(page, ELDORIA)
    book = panel.get_by_test_id("world-item")
    expect(book).to_have_count(1)
    panel.scroll_into_view_if_needed()
    controls = (
        '[data-testid="worlds-panel"] button, [data-testid="worlds-panel"] summary, '
        '[data-testid="worlds-panel"] .world-switch'
    )
    assert_fits_phone(page, controls)

    # The open download menu and the rename form fit too.
    book.get_by_test_id("world-download-open").click()
    expect(book.get_by_role("link", name="SillyTavern")).to_be_visible()
    assert_fits_phone(page, '[data-testid="worlds-panel"] .menu-item')
    shot(panel, "settings-worldbooks-phone")
    book.get_by_test_id("world-download-open").click()

    # So does the open Characters menu, with a box per character big enough for a thumb.
    book.get_by_test_id("world-characters-open").click()
    expect(book.get_by_test_id("world-character").first).to_be_visible()
    assert_fits_phone(
        page, '[data-testid="world-character"], [data-testid="world-character-filter"]'
    )
    book.get_by_test_id("world-characters-open").click()

    book.get_by_test_id("world-rename").click()
    expect(book.get_by_test_id("world-rename-form")).to_be_visible()
    assert_fits_phone(page, controls + ', [data-testid="worlds-panel"] input[type="text"]')
    shot(panel, "settings-worldbooks-rename-phone")
