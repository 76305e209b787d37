"""World books in Settings: import a SillyTavern world file, turn it off, rename it, download it
both ways, refuse a file that is not a lorebook, delete it; and the section on a phone."""

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
    expect(switch).to_have_accessible_name("Use in chats: st_Eldoria_world_info")
    [saved] = api(page, "GET", "/worldbooks")
    assert saved["name"] == "st_Eldoria_world_info"
    assert saved["entries"] == 4
    assert saved["enabled"] is True
    shot(panel, "settings-worldbooks")

    # Off, then the server agrees.
    switch.click()
    expect(panel.get_by_test_id("world-state")).to_contain_text("is off")
    expect(switch).not_to_be_checked()
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

    book.get_by_test_id("world-rename").click()
    expect(book.get_by_test_id("world-rename-form")).to_be_visible()
    assert_fits_phone(page, controls + ', [data-testid="worlds-panel"] input[type="text"]')
    shot(panel, "settings-worldbooks-rename-phone")
