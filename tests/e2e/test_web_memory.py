"""A character's memory page: reached from the character page, it shows what the character
remembers; a memory is edited in place, filtered by category, pinned, shared, traced to the
messages it came from, deleted; a note is added; everything with the character forgotten;
and the page on a phone."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from e2e_helpers import api, assert_fits_phone, sign_up
from playwright.sync_api import expect

from conftest import SCREENSHOTS

pytestmark = pytest.mark.e2e

FACT = "They first met in the lighthouse library, out of the rain."

# A fact as the chat's extractor makes one: from a message, through the same service the
# server uses, in a process of its own on the server's data (as a CLI command would be).
SEED = """
import asyncio, json, sys
from afterdark.accounts import service as accounts
from afterdark.config import load_settings
from afterdark.memory import service
from afterdark.memory.context import MemoryContext
from afterdark.runtime import prepare_database

async def main(email, character_id, conversation_id, message_id, text):
    settings = load_settings()
    db = await prepare_database(settings)
    try:
        async with db.session() as session:
            user = await accounts.require_user_by_email(session, email)
            memory = await service.add_memory(
                session, MemoryContext(db.keyring, settings.memory), user,
                character_id=character_id, conversation_id=conversation_id, text=text,
                kind="fact", category="shared", origin="extracted", source_ids=[message_id],
            )
            await session.commit()
            print(memory.id)
    finally:
        await db.dispose()

asyncio.run(main(*json.loads(sys.argv[1])))
"""


def shot(target: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def seed_fact(env: dict[str, str], email: str, chat: dict[str, Any]) -> int:
    args = [email, chat["character"]["id"], chat["id"], chat["messages"][0]["id"], FACT]
    done = subprocess.run(
        [sys.executable, "-c", SEED, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def prepare(page: Any, env: dict[str, str]) -> dict[str, Any]:
    """A new account with a chat with Mara Quill, a fact from its greeting and a note."""
    email = sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    mara = next(c for c in api(page, "GET", "/characters") if c["name"] == "Mara Quill")
    chat = api(page, "POST", "/conversations", {"character_id": mara["id"]})
    fact = seed_fact(env, email, chat)
    note = api(
        page,
        "POST",
        f"/characters/{mara['id']}/memories",
        {"text": "Prefers tea to coffee.", "category": "preference"},
    )
    return {"character": mara["id"], "chat": chat, "fact": fact, "note": note["id"]}


def item(page: Any, memory_id: int) -> Any:
    return page.locator(f'[data-testid="memory-item"][data-memory-id="{memory_id}"]')


def open_memory(page: Any, character: int) -> None:
    page.goto(f"/characters/{character}/memory")
    expect(page.get_by_test_id("memory-loading")).to_be_hidden()


def test_memory_page(page: Any, server_env: dict[str, str]) -> None:
    made = prepare(page, server_env)
    character, chat = made["character"], made["chat"]
    base = f"/characters/{character}/memories"

    # From the character page (and the chat's header) to the memory page.
    page.goto(f"/chat/{chat['id']}")
    expect(page.get_by_test_id("open-memory")).to_have_attribute(
        "href", f"/characters/{character}/memory"
    )
    page.goto(f"/characters/{character}")
    page.get_by_test_id("memory-link").click()
    expect(page).to_have_url(re.compile(rf"/characters/{character}/memory$"))
    expect(page.get_by_test_id("memory-loading")).to_be_hidden()
    expect(page.get_by_test_id("memory-title")).to_have_text("What Mara Quill remembers")
    expect(page).to_have_title("Mara Quill's memory · Afterdark")

    # Empty lists say so; the trace panel says there is none yet.
    expect(page.get_by_test_id("summary-empty")).to_have_text(
        "No summary yet. One is written as your chats go on."
    )
    expect(page.get_by_test_id("pinned-empty")).to_have_text("Nothing pinned yet.")
    expect(page.get_by_test_id("why-empty")).to_contain_text(
        "has a record yet of what went into it"
    )
    episodes = len(api(page, "GET", f"{base}?kind=episode"))
    expect(page.get_by_test_id("episode-count")).to_have_text(str(episodes))

    fact, note = item(page, made["fact"]), item(page, made["note"])
    expect(fact.get_by_test_id("memory-text")).to_have_text(FACT)
    expect(fact.get_by_test_id("memory-category")).to_have_text("Together")
    expect(note.get_by_test_id("memory-category")).to_have_text("Likes and dislikes")
    shot(page, "memory-page")

    # Edit in place: Escape cancels, Save keeps the text and the category.
    note.get_by_test_id("memory-edit").click()
    field = note.get_by_test_id("memory-edit-text")
    expect(field).to_be_focused()
    expect(field).to_have_value("Prefers tea to coffee.")
    field.fill("Not this")
    field.press("Escape")
    expect(note.get_by_test_id("memory-edit-form")).to_be_hidden()
    expect(note.get_by_test_id("memory-text")).to_have_text("Prefers tea to coffee.")
    note.get_by_test_id("memory-edit").click()
    field.fill("")
    note.get_by_test_id("memory-edit-save").click()
    expect(note.get_by_test_id("memory-edit-error")).to_have_text("A memory needs some text.")
    field.fill("Prefers green tea, no sugar.")
    note.get_by_test_id("memory-edit-category").select_option("user")
    note.get_by_test_id("memory-edit-save").click()
    expect(note.get_by_test_id("memory-text")).to_have_text("Prefers green tea, no sugar.")
    expect(note.get_by_test_id("memory-category")).to_have_text("About you")
    expect(note.get_by_test_id("memory-edit")).to_be_focused()
    saved = api(page, "GET", f"/memories/{made['note']}")
    assert (saved["text"], saved["category"]) == ("Prefers green tea, no sugar.", "user")

    # Filter by category.
    page.get_by_test_id("filter-shared").click()
    expect(fact).to_be_visible()
    expect(note).to_have_count(0)
    expect(page.get_by_test_id("filter-shared")).to_have_attribute("aria-pressed", "true")
    page.get_by_test_id("filter-all").click()
    expect(note).to_be_visible()

    # Pin: it moves to the pinned list, and the server agrees.
    note.get_by_test_id("memory-pin").click()
    pinned = page.get_by_test_id("pinned-list")
    expect(pinned.get_by_test_id("memory-item")).to_have_count(1)
    expect(pinned.get_by_test_id("memory-text")).to_have_text("Prefers green tea, no sugar.")
    expect(page.get_by_test_id("pinned-empty")).to_be_hidden()
    expect(note.get_by_test_id("memory-pin")).to_have_text("Unpin")
    expect(note.get_by_test_id("memory-pin")).to_have_attribute("aria-pressed", "true")
    expect(note.get_by_test_id("memory-pin")).to_be_focused()
    assert api(page, "GET", f"/memories/{made['note']}")["pinned"] is True

    # Where the fact came from: one click shows the greeting it was taken from.
    toggle = fact.get_by_test_id("memory-sources-toggle")
    expect(toggle).to_have_text("From 1 message")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    sources = fact.get_by_test_id("source-item")
    expect(sources).to_have_count(1)
    expect(sources.get_by_test_id("source-role")).to_have_text("Mara Quill")
    greeting = chat["messages"][0]["content"]
    expect(sources.get_by_test_id("source-text")).to_contain_text(greeting.replace("*", "")[:40])
    expect(sources.get_by_test_id("source-link")).to_have_attribute("href", f"/chat/{chat['id']}")
    shot(page, "memory-page-sources")

    # Share with every character, and back to this one (it was made in her chat).
    fact.get_by_test_id("memory-share").click()
    expect(fact.get_by_test_id("memory-shared")).to_have_text("Every character")
    assert api(page, "GET", f"/memories/{made['fact']}")["shared"] is True
    fact.get_by_test_id("memory-share").click()
    expect(fact.get_by_test_id("memory-shared")).to_have_count(0)
    assert api(page, "GET", f"/memories/{made['fact']}")["character_id"] == character

    # Delete: cancel first, then for real.
    note.get_by_test_id("memory-delete").click()
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text("Prefers green tea")
    page.get_by_test_id("confirm-cancel").click()
    expect(note).to_have_count(1)
    note.get_by_test_id("memory-delete").click()
    page.get_by_test_id("confirm-ok").click()
    expect(note).to_have_count(0)
    expect(page.get_by_test_id("pinned-empty")).to_be_visible()
    expect(page.get_by_test_id("memory-state")).to_have_text("Deleted: it is forgotten.")
    ids = [m["id"] for m in api(page, "GET", base)]
    assert made["note"] not in ids

    # Add a note, shared with every character.
    form = page.get_by_test_id("add-form")
    form.get_by_test_id("add-submit").click()
    expect(form.get_by_test_id("add-error")).to_have_text("Write what they should remember.")
    form.get_by_role("textbox", name="What should Mara Quill remember?").fill(
        "Their favourite season is autumn."
    )
    form.get_by_test_id("add-category").select_option("preference")
    form.get_by_test_id("add-shared").check()
    form.get_by_test_id("add-submit").click()
    added = page.get_by_test_id("memory-item").filter(has_text="favourite season")
    expect(added).to_have_count(1)
    expect(added.get_by_test_id("memory-shared")).to_be_visible()
    expect(form.get_by_test_id("add-text")).to_have_value("")
    [autumn] = [m for m in api(page, "GET", base) if "autumn" in m["text"]]
    assert (autumn["shared"], autumn["category"], autumn["kind"]) == (True, "preference", "note")

    # Forget everything with her: the fact goes, the shared note stays.
    page.get_by_test_id("forget-all").click()
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text("shared with every character")
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("memory-state")).to_contain_text("Mara Quill forgot")
    expect(fact).to_have_count(0)
    expect(added).to_have_count(1)
    assert [m["text"] for m in api(page, "GET", base)] == ["Their favourite season is autumn."]

    page.reload()
    expect(page.get_by_test_id("memory-loading")).to_be_hidden()
    expect(page.get_by_test_id("memory-item")).to_have_count(1)
    expect(page.get_by_test_id("episode-count")).to_have_text("0")
    page.get_by_test_id("episodes-toggle").click()
    expect(page.get_by_test_id("episodes-empty")).to_have_text("No remembered lines yet.")


def test_memory_page_fits_a_phone(phone_page: Any, server_env: dict[str, str]) -> None:
    page = phone_page
    made = prepare(page, server_env)
    open_memory(page, made["character"])
    fact = item(page, made["fact"])
    fact.get_by_test_id("memory-sources-toggle").click()
    expect(fact.get_by_test_id("source-item")).to_have_count(1)
    page.get_by_test_id("episodes-toggle").click()
    controls = (
        ".memory-page button, .memory-page summary, .memory-page select, "
        ".memory-page .check, .memory-page a.btn"
    )
    assert_fits_phone(page, controls)
    shot(page, "memory-page-phone")

    note = item(page, made["note"])
    note.get_by_test_id("memory-edit").click()
    expect(note.get_by_test_id("memory-edit-form")).to_be_visible()
    assert_fits_phone(page, controls + ", .memory-page textarea")
    shot(page, "memory-page-edit-phone")
