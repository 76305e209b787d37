"""The character pages end to end: catalogue filters, the Studio, card import and export."""

from __future__ import annotations

import base64
import io
import json
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import api, sign_up
from playwright.sync_api import expect

from conftest import SCREENSHOTS
from tests.support.photos import photos
from tests.support.shared import CARDS as SHARED_CARDS

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
# Real third-party cards (tests/support/shared.py finds them).
CARDS = SHARED_CARDS
CATALOGUE = REPO / "src" / "afterdark" / "characters" / "catalogue"
REPLY = "*He sets down the loupe.* Welcome in. Mind the pendulums."
CARD_FILES = [
    "st_default_Seraphina.png",
    "card-architect_test-card_v3.json",
    "choral_Default-chan_v3.png",
]


def shot(page: Any, name: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def signed_up(page: Any) -> None:
    """A new account, landed on the catalogue."""
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))


def card_names(page: Any) -> list[str]:
    return page.locator('[data-testid="character-card"] .char-card-name').all_inner_texts()


def wait_for_list(page: Any) -> None:
    expect(page.get_by_test_id("character-list")).to_have_attribute("aria-busy", "false")


def no_horizontal_scroll(page: Any) -> None:
    # On a phone, a page wider than the screen is zoomed out: innerWidth grows with it.
    widths = page.evaluate(
        "() => ({doc: document.documentElement.scrollWidth, view: window.innerWidth,"
        " body: document.body.scrollWidth, screen: document.documentElement.clientWidth})"
    )
    assert widths["view"] == widths["screen"], widths
    assert widths["doc"] <= widths["view"], widths
    assert widths["body"] <= widths["view"], widths


def own_character(page: Any, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Juniper Hale",
        "age": 31,
        "tagline": "Clockmaker in a narrow workshop by the canal.",
        "description": "{{char}} repairs antique clocks and hums while working.",
        "first_message": "*The bell over the door chimes.* Come in, come in.",
        "tags": ["cosy", "crafts"],
        **fields,
    }
    return api(page, "POST", "/characters", body)


# ---------- catalogue ----------


def test_catalogue_filters(page: Any) -> None:
    signed_up(page)
    cards = page.get_by_test_id("character-card")
    expect(cards.first).to_be_visible()
    wait_for_list(page)
    everyone = cards.count()
    built_in = len(list(CATALOGUE.glob("*.json")))
    assert everyone >= (24 if built_in >= 24 else 3), everyone
    # Every card shows its portrait, and the pictures really load.
    first_img = cards.first.locator(".portrait img")
    expect(first_img).to_be_visible()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.portrait img')].slice(0, 3)"
        ".every((img) => img.complete && img.naturalWidth > 0)"
    )
    shot(page, "catalogue-desktop")

    # Search narrows the list and lands in the URL.
    name = card_names(page)[1]
    page.get_by_test_id("character-search").fill(name)
    expect(page).to_have_url(re.compile(r"\?q="))
    expect(cards.first.locator(".char-card-name")).to_have_text(name)
    assert cards.count() < everyone
    page.get_by_test_id("character-search").fill("")
    expect(cards).to_have_count(everyone)

    # Each style button shows that style only (as the API counts it).
    for style in ("anime", "realistic", "fantasy"):
        expected = api(page, "GET", f"/characters?style={style}")
        page.get_by_test_id(f"style-{style}").click()
        expect(page.get_by_test_id(f"style-{style}")).to_have_attribute("aria-pressed", "true")
        expect(page).to_have_url(re.compile(rf"style={style}"))
        wait_for_list(page)
        expect(cards).to_have_count(len(expected))
        for card in cards.all():
            expect(card).to_have_attribute("data-style", style)
        if not expected:
            expect(page.get_by_test_id("characters-empty")).to_be_visible()
    page.get_by_test_id("style-all").click()
    expect(cards).to_have_count(everyone)

    # A tag chip keeps only the characters with that tag, and the URL survives a reload.
    chip = page.locator('[data-testid="tag-chip"]:not([data-tag=""])').first
    tag = chip.get_attribute("data-tag")
    chip.click()
    expect(chip).to_have_attribute("aria-pressed", "true")
    expect(page).to_have_url(re.compile(r"tag="))
    wait_for_list(page)
    tagged = [c for c in api(page, "GET", "/characters") if tag in {t.lower() for t in c["tags"]}]
    expect(cards).to_have_count(len(tagged))
    for card in cards.all():
        expect(card.locator(".tag")).to_contain_text([tag])
    page.reload()
    expect(page.locator(f'[data-testid="tag-chip"][data-tag="{tag}"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(cards).to_have_count(len(tagged))

    # "Mine" is empty for a new account, and says what to do about it.
    page.goto("/characters")
    page.get_by_test_id("mine-filter").click()
    expect(page).to_have_url(re.compile(r"mine=true"))
    expect(page.get_by_test_id("characters-empty")).to_contain_text("Create one")
    expect(cards).to_have_count(0)


def test_catalogue_on_phone(phone_page: Any) -> None:
    page = phone_page
    signed_up(page)
    expect(page.get_by_test_id("character-card").first).to_be_visible()
    wait_for_list(page)
    no_horizontal_scroll(page)
    page.get_by_test_id("import-open").click()
    expect(page.get_by_test_id("import-dropzone")).to_be_visible()
    no_horizontal_scroll(page)
    shot(page, "catalogue-phone")


# ---------- import and export ----------


def drop_files(page: Any, files: list[tuple[str, bytes, str]]) -> None:
    """Drop files on the import zone as a real drag from the desktop would."""
    payload = [
        {"name": name, "type": kind, "b64": base64.b64encode(data).decode()}
        for name, data, kind in files
    ]
    transfer = page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, {type: f.type}));
            }
            return dt;
        }""",
        payload,
    )
    zone = page.get_by_test_id("import-dropzone")
    for event in ("dragenter", "dragover", "drop"):
        zone.dispatch_event(event, {"dataTransfer": transfer})


def test_import_several_cards(page: Any) -> None:
    signed_up(page)
    page.get_by_test_id("import-open").click()
    files = [
        (
            name,
            (CARDS / name).read_bytes(),
            "application/json" if name.endswith(".json") else "image/png",
        )
        for name in CARD_FILES
    ]
    files.append(("notes.png", b"this is not a picture, nor a card", "image/png"))
    drop_files(page, files)

    results = page.get_by_test_id("import-result")
    expect(results).to_have_count(4, timeout=30_000)
    expect(page.get_by_test_id("import-status")).to_contain_text("3 of 4 imported")
    for name in CARD_FILES:
        row = results.filter(has_text=name)
        expect(row).to_have_attribute("data-status", "ok")
        expect(row.get_by_test_id("import-link")).to_have_attribute(
            "href", re.compile(r"/characters/\d+$")
        )
    bad = results.filter(has_text="notes.png")
    expect(bad).to_have_attribute("data-status", "error")
    expect(bad.get_by_test_id("import-error")).to_contain_text("not a character card")
    shot(page, "import-results")

    # The new characters are in the catalogue, under "Mine".
    page.get_by_test_id("mine-filter").click()
    expect(page.get_by_test_id("character-card")).to_have_count(3)
    expect(page.get_by_test_id("character-list")).to_contain_text("Seraphina")

    # The file picker takes several files too.
    page.get_by_test_id("import-input").set_input_files(
        [str(CARDS / "card-architect_test-card_v3.json"), str(CARDS / "st_default_FluxTheCat.png")]
    )
    expect(results).to_have_count(2, timeout=30_000)
    expect(page.get_by_test_id("import-status")).to_have_text("2 imported.")
    expect(page.get_by_test_id("character-card")).to_have_count(5)

    # An imported character opens from its result link.
    results.first.get_by_test_id("import-link").click()
    expect(page).to_have_url(re.compile(r"/characters/\d+$"))
    expect(page.get_by_test_id("character-sub")).to_contain_text("Imported JSON/V3")


def _png_card(data: bytes) -> dict[str, Any]:
    """The card JSON inside a PNG's tEXt chunks (ccv3 preferred, like readers do)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    found: dict[str, bytes] = {}
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            found[key.decode("latin-1").lower()] = value
        pos += 12 + length
    text = found.get("ccv3") or found["chara"]
    return json.loads(base64.b64decode(text))


def test_export_downloads_parse_back(page: Any) -> None:
    signed_up(page)
    me = own_character(page)
    page.goto(f"/characters/{me['id']}")
    expect(page.get_by_test_id("character-name")).to_have_text("Juniper Hale")

    def download(testid: str) -> tuple[str, bytes]:
        page.get_by_test_id("export").click()
        with page.expect_download() as info:
            page.get_by_test_id(testid).click()
        dl = info.value
        return dl.suggested_filename, Path(dl.path()).read_bytes()

    name, data = download("export-png-v2")
    assert name.endswith(".png")
    card = _png_card(data)
    assert card["spec"] == "chara_card_v2"
    assert card["data"]["name"] == "Juniper Hale"

    name, data = download("export-json-v3")
    assert name.endswith(".json")
    card = json.loads(data)
    assert card["spec"] == "chara_card_v3"
    assert card["data"]["first_mes"].startswith("*The bell")

    name, data = download("export-charx-v3")
    assert name.endswith(".charx")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        card = json.loads(archive.read("card.json"))
    assert card["data"]["name"] == "Juniper Hale"

    name, data = download("export-json-v1")
    assert json.loads(data)["name"] == "Juniper Hale"

    # What was exported imports again as a new character.
    response = page.request.post(
        "/api/v1/characters/import",
        multipart={"files": {"name": name, "mimeType": "application/json", "buffer": data}},
        headers={"X-CSRF-Token": _csrf(page)},
    )
    assert response.ok, response.text()
    assert response.json()[0]["character"]["name"] == "Juniper Hale"


def _csrf(page: Any) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "afterdark_csrf")


# ---------- character page ----------


def test_character_page_actions(page: Any) -> None:
    signed_up(page)
    built_in = api(page, "GET", "/characters")[0]
    page.goto(f"/characters/{built_in['id']}")
    expect(page.get_by_test_id("character-name")).to_have_text(built_in["name"])
    expect(page.get_by_test_id("edit-in-studio")).to_be_hidden()
    expect(page.get_by_test_id("delete-character")).to_be_hidden()
    expect(page.get_by_test_id("export")).to_be_visible()

    # Duplicating a built-in opens the Studio on an editable copy.
    page.get_by_test_id("duplicate").click()
    expect(page).to_have_url(re.compile(r"/studio/\d+$"))
    expect(page.get_by_test_id("studio-name")).to_have_value(f"{built_in['name']} (copy)")
    expect(page.get_by_test_id("studio-name")).to_be_editable()
    copy_id = int(page.url.rsplit("/", 1)[1])

    page.goto(f"/characters/{copy_id}")
    expect(page.get_by_test_id("edit-in-studio")).to_be_visible()
    page.get_by_test_id("delete-character").click()
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text("cannot be undone")
    page.get_by_test_id("confirm-ok").click()
    expect(page).to_have_url(re.compile(r"/characters\?mine=true$"))
    assert page.request.get(f"/api/v1/characters/{copy_id}").status == 404


def test_builtin_is_read_only_in_studio(page: Any) -> None:
    signed_up(page)
    built_in = api(page, "GET", "/characters")[0]
    page.goto(f"/studio/{built_in['id']}")
    expect(page.get_by_test_id("readonly-notice")).to_be_visible()
    expect(page.get_by_test_id("studio-name")).to_have_value(built_in["name"])
    expect(page.get_by_test_id("studio-name")).to_be_disabled()
    expect(page.get_by_test_id("studio-save")).to_be_hidden()
    expect(page.get_by_test_id("preview-message").first).to_be_visible()


# ---------- the Studio ----------


def test_studio_build_edit_restore_and_chat(page: Any, standin: Any) -> None:
    signed_up(page)
    page.get_by_test_id("create-character").click()
    expect(page).to_have_url(re.compile(r"/studio/new$"))
    expect(page.get_by_test_id("studio-face-link")).to_be_hidden()
    expect(page.get_by_test_id("studio-face-new")).to_have_text("Save the character first.")
    expect(page.get_by_test_id("studio-voice")).to_be_hidden()
    expect(page.get_by_test_id("studio-voice-new")).to_have_text("Save the character first.")

    # An age under 18 is refused next to the field; nothing is saved.
    page.get_by_test_id("studio-name").fill("Tobias Wren")
    page.get_by_test_id("studio-age").fill("16")
    page.get_by_test_id("studio-save").click()
    age_error = page.get_by_test_id("error-age")
    expect(age_error).to_be_visible()
    expect(age_error).to_contain_text("must be adults")
    expect(page.get_by_test_id("studio-age")).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(re.compile(r"/studio/new$"))
    assert api(page, "GET", "/characters?mine=true") == []
    page.get_by_test_id("studio-age").fill("25")
    expect(age_error).to_be_hidden()

    # The prompt preview follows the draft, message by message, with token counts.
    total = page.get_by_test_id("preview-total")
    expect(total).to_have_text(re.compile(r"^\d[\d,]* / \d[\d,]* tokens$"))
    before = total.inner_text()
    page.get_by_test_id("studio-style").select_option("realistic")
    page.get_by_test_id("studio-tagline").fill("Clockmaker with a workshop by the canal.")
    page.get_by_test_id("studio-tag-input").fill("cosy")
    page.get_by_test_id("studio-tag-input").press("Enter")
    page.get_by_test_id("studio-tag-input").fill("crafts,")
    expect(page.get_by_test_id("studio-tag")).to_have_count(2)
    page.get_by_test_id("studio-description").fill(
        "{{char}} restores antique clocks in a narrow workshop by the canal."
    )
    page.get_by_test_id("studio-personality").fill("Patient, precise, quietly funny.")
    page.get_by_test_id("studio-first_message").fill(
        "*The bell over the door chimes as you step in.* Good afternoon."
    )
    page.get_by_test_id("greeting-add").click()
    page.get_by_test_id("greeting-alt").first.fill("*He looks up from a pocket watch.* Oh, hello.")
    page.get_by_test_id("studio-example_dialogue").fill(
        "<START>\n{{user}}: What are you fixing?\n"
        "{{char}}: A carriage clock. It runs fast on Sundays."
    )
    expect(total).not_to_have_text(before)
    system = page.locator('[data-testid="preview-message"][data-role="system"]')
    expect(system).to_contain_text("restores antique clocks")
    expect(system).to_contain_text("Patient, precise")
    expect(page.locator('[data-testid="preview-message"][data-role="assistant"]')).to_contain_text(
        "Good afternoon"
    )
    for tokens in page.get_by_test_id("preview-tokens").all_inner_texts():
        assert re.fullmatch(r"\d[\d,]* tokens", tokens), tokens

    # A lorebook entry.
    page.get_by_test_id("lore-add").click()
    entry = page.get_by_test_id("lore-entry").first
    entry.get_by_test_id("lore-keys").fill("workshop, canal")
    entry.get_by_test_id("lore-content").fill("The workshop smells of brass polish and old paper.")
    entry.get_by_test_id("lore-comment").fill("setting")
    entry.get_by_test_id("lore-order").fill("20")
    expect(page.get_by_test_id("save-state")).to_have_text("Not saved yet")
    shot(page, "studio-desktop")

    page.get_by_test_id("studio-save").click()
    expect(page).to_have_url(re.compile(r"/studio/\d+$"))
    character_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_test_id("studio-version")).to_have_text("Version 1")
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    expect(page.get_by_test_id("toast-ok")).to_contain_text("saved as version 1")
    # Saved, the character gets its reference face on its Pictures page.
    expect(page.get_by_test_id("studio-face-link")).to_have_attribute(
        "href", f"/characters/{character_id}/gallery"
    )
    saved = api(page, "GET", f"/characters/{character_id}")
    assert saved["age"] == 25
    assert saved["style"] == "realistic"
    assert saved["tags"] == ["cosy", "crafts"]
    assert saved["alternate_greetings"] == ["*He looks up from a pocket watch.* Oh, hello."]
    [lore] = saved["book"]["entries"]
    assert lore["keys"] == ["workshop", "canal"]
    assert lore["insertion_order"] == 20
    assert lore["comment"] == "setting"
    assert lore["enabled"] is True

    # An edit saves version 2, with its note, and it shows in the history.
    page.get_by_test_id("studio-tagline").fill("Clockmaker; mends anything that ticks.")
    expect(page.get_by_test_id("save-state")).to_have_text("Unsaved changes")
    page.get_by_test_id("studio-note").fill("Sharper tagline")
    page.get_by_test_id("studio-save").click()
    expect(page.get_by_test_id("studio-version")).to_have_text("Version 2")
    versions = page.get_by_test_id("version-item")
    expect(versions).to_have_count(2)
    expect(versions.first).to_contain_text("Sharper tagline")
    expect(versions.first).to_contain_text("Current")
    assert api(page, "GET", f"/characters/{character_id}")["tagline"].startswith("Clockmaker;")

    # Leaving with unsaved changes asks first.
    page.get_by_test_id("studio-scenario").fill("A rainy afternoon.")
    asked: list[str] = []

    def stay(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.once("dialog", stay)
    page.get_by_test_id("nav-settings").click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    expect(page).to_have_url(re.compile(rf"/studio/{character_id}$"))
    page.get_by_test_id("studio-scenario").fill("")
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")

    # Restore version 1: saved again as version 3, the form shows the old tagline.
    page.locator('[data-testid="version-item"][data-version="1"]').get_by_test_id(
        "version-restore"
    ).click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("studio-version")).to_have_text("Version 3")
    expect(page.get_by_test_id("studio-tagline")).to_have_value(
        "Clockmaker with a workshop by the canal."
    )
    expect(versions).to_have_count(3)
    assert api(page, "GET", f"/characters/{character_id}")["tagline"].startswith("Clockmaker with")

    # And chat with the character: its greeting, then a streamed reply from the stand-in.
    standin.reply = REPLY
    standin.token_delay = 0.03
    page.get_by_test_id("studio-chat").click()
    expect(page).to_have_url(re.compile(r"/chat/\d+$"))
    expect(page.get_by_test_id("messages")).to_have_attribute("aria-busy", "false")
    expect(page.get_by_test_id("chat-character-name")).to_have_text("Tobias Wren")
    expect(page.get_by_test_id("message").first).to_contain_text("Good afternoon")
    box = page.get_by_test_id("composer-input")
    box.fill("Could you look at my watch?")
    box.press("Enter")
    reply = page.get_by_test_id("message").last
    expect(reply.get_by_test_id("message-text")).to_have_text(
        REPLY.replace("*", ""), timeout=20_000
    )
    expect(reply).to_have_attribute("data-status", "complete")


def test_studio_keeps_unknown_lorebook_keys(page: Any) -> None:
    signed_up(page)
    book = {
        "name": "Canal lore",
        "scan_depth": 3,
        "extensions": {"vendor": {"kept": True}},
        "entries": [
            {
                "keys": ["bridge"],
                "content": "Seven bridges cross the canal.",
                "enabled": True,
                "insertion_order": 5,
                "selective": True,
                "secondary_keys": ["night"],
                "priority": 3,
                "id": 41,
                "extensions": {"depth": 4, "probability": 80},
                "case_sensitive": False,
            },
            {
                "keys": ["bell"],
                "content": "The shop bell is brass.",
                "enabled": False,
                "insertion_order": 9,
            },
        ],
    }
    me = own_character(page, book=book)
    page.goto(f"/studio/{me['id']}")
    entries = page.get_by_test_id("lore-entry")
    expect(entries).to_have_count(2)
    expect(entries.first.get_by_test_id("lore-keys")).to_have_value("bridge")
    expect(entries.nth(1).get_by_test_id("lore-enabled")).not_to_be_checked()
    entries.first.get_by_test_id("lore-content").fill("Nine bridges cross the canal.")
    entries.nth(1).get_by_test_id("lore-constant").check()
    page.get_by_test_id("studio-save").click()
    expect(page.get_by_test_id("studio-version")).to_have_text("Version 2")

    saved = api(page, "GET", f"/characters/{me['id']}")["book"]
    assert saved["name"] == "Canal lore"
    assert saved["scan_depth"] == 3
    assert saved["extensions"] == {"vendor": {"kept": True}}
    first, second = saved["entries"]
    assert first["content"] == "Nine bridges cross the canal."
    for key in (
        "keys",
        "selective",
        "secondary_keys",
        "priority",
        "id",
        "extensions",
        "case_sensitive",
    ):
        assert first[key] == book["entries"][0][key], key
    assert second["constant"] is True
    assert second["enabled"] is False

    # A server refusal about an entry is shown on that entry.
    entries.nth(1).get_by_test_id("lore-constant").uncheck()
    entries.nth(1).get_by_test_id("lore-keys").fill("")
    page.get_by_test_id("studio-save").click()
    expect(entries.nth(1).get_by_test_id("lore-error")).to_contain_text("Lorebook entry 2")
    expect(page.get_by_test_id("studio-error")).to_be_visible()


def _import_lorebook(page: Any, path: Path, mode: str = "add") -> None:
    """Choose a lorebook file through the Studio's import menu, as a person would."""
    page.get_by_test_id("lore-import").click()
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id(f"lore-import-{mode}").click()
    chooser.value.set_files(str(path))


def test_studio_lorebook_file_import_and_export(page: Any) -> None:
    world = CARDS / "st_Eldoria_world_info.json"
    original = json.loads(world.read_text(encoding="utf-8"))["entries"]
    assert len(original) == 4
    signed_up(page)
    page.goto("/studio/new")
    # A character that is not saved yet has no file to import into or export from.
    expect(page.get_by_test_id("lore-file-hint")).to_be_visible()
    expect(page.get_by_test_id("lore-import")).to_be_hidden()
    expect(page.get_by_test_id("lore-export")).to_be_hidden()
    page.get_by_test_id("studio-name").fill("Ilsa Thorn")
    page.get_by_test_id("studio-age").fill("27")
    page.get_by_test_id("studio-save").click()
    expect(page).to_have_url(re.compile(r"/studio/\d+$"))
    character_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_test_id("studio-version")).to_have_text("Version 1")
    expect(page.get_by_test_id("lore-file-hint")).to_be_hidden()
    expect(page.get_by_test_id("lore-import")).to_be_visible()
    expect(page.get_by_test_id("lore-export")).to_be_hidden()  # no entries yet

    # With unsaved changes, importing asks to save them first; then the entries arrive.
    page.get_by_test_id("studio-tagline").fill("Warden of the Eldoria woods.")
    _import_lorebook(page, world)
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text("unsaved changes")
    page.get_by_test_id("confirm-ok").click()
    state = page.get_by_test_id("lore-file-state")
    expect(state).to_have_text(f"Added 4 entries from {world.name}")
    entries = page.get_by_test_id("lore-entry")
    expect(entries).to_have_count(4)
    expect(page.get_by_test_id("studio-version")).to_have_text("Version 3")
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    expect(page.get_by_test_id("studio-tagline")).to_have_value("Warden of the Eldoria woods.")
    saved = api(page, "GET", f"/characters/{character_id}")
    assert saved["tagline"] == "Warden of the Eldoria woods."
    book = saved["book"]["entries"]
    assert len(book) == 4
    expect(entries.first.get_by_test_id("lore-keys")).to_have_value(", ".join(book[0]["keys"]))
    expect(entries.first.get_by_test_id("lore-content")).to_have_value(book[0]["content"])
    expect(page.get_by_test_id("version-item").first).to_contain_text(world.name)

    # Export as SillyTavern world info: the file's entries come back field for field.
    page.get_by_test_id("lore-export-menu").evaluate("(el) => el.scrollIntoView({block: 'center'})")
    page.get_by_test_id("lore-export").click()
    expect(page.get_by_test_id("lore-export-v3")).to_be_visible()
    shot(page, "studio-lorebook-files")
    with page.expect_download() as info:
        page.get_by_test_id("lore-export-sillytavern").click()
    download = info.value
    assert download.suggested_filename.endswith(".json")
    assert json.loads(Path(download.path()).read_bytes())["entries"] == original
    expect(page.get_by_test_id("lore-export-v3")).to_be_hidden()

    # A character card is not a lorebook: the server's message shows; nothing changes.
    card = CARDS / "card-architect_test-card_v3.json"
    _import_lorebook(page, card)
    error = page.get_by_test_id("lore-file-error")
    expect(error).to_contain_text("not a lorebook")
    expect(state).to_have_text("")
    expect(entries).to_have_count(4)
    expect(page.get_by_test_id("studio-version")).to_have_text("Version 3")

    # Replacing (no unsaved changes, so no question) keeps just the file's entries.
    page.get_by_test_id("lore-add").click()
    entries.last.get_by_test_id("lore-keys").fill("glade")
    entries.last.get_by_test_id("lore-content").fill("The glade is always warm.")
    page.get_by_test_id("studio-save").click()
    expect(page.get_by_test_id("studio-version")).to_have_text("Version 4")
    expect(entries).to_have_count(5)
    _import_lorebook(page, world, "replace")
    expect(state).to_have_text(f"Replaced the entries with 4 entries from {world.name}")
    expect(error).to_be_hidden()
    expect(page.get_by_test_id("confirm-dialog")).to_be_hidden()
    expect(page.get_by_test_id("studio-version")).to_have_text("Version 5")
    expect(entries).to_have_count(4)
    assert len(api(page, "GET", f"/characters/{character_id}")["book"]["entries"]) == 4


def test_studio_picture_and_ageless_import(page: Any) -> None:
    signed_up(page)
    character = _import(page, "st_default_Seraphina.png")["character"]
    page.goto(f"/studio/{character['id']}")
    expect(page.get_by_test_id("studio-name")).to_have_value("Seraphina")
    expect(page.get_by_test_id("studio-age")).to_have_value("")
    page.get_by_test_id("studio-tagline").fill("Guardian of a quiet forest glade.")
    page.get_by_test_id("studio-save").click()
    expect(page.get_by_test_id("error-age")).to_contain_text("Set an age")
    page.get_by_test_id("studio-age").fill("24")
    page.get_by_test_id("studio-save").click()
    expect(page.get_by_test_id("studio-version")).to_contain_text("Version 2")

    # A new picture replaces the card's.
    before = _avatar(page, character["id"])
    page.get_by_test_id("picture-input").set_input_files(str(CARDS / "choral_Default-chan_v3.png"))
    expect(page.get_by_test_id("picture-state")).to_have_text("Picture updated.")
    image = page.get_by_test_id("picture-preview").locator("img")
    expect(image).to_have_attribute("src", re.compile(r"/avatar\?"))
    after = page.request.get(image.get_attribute("src")).body()
    assert after != before
    assert after == _avatar(page, character["id"])

    # A photo with a face needs the uploader to say whose face it is.
    face = str(photos() / "obama2.jpg")
    page.get_by_test_id("picture-input").set_input_files(face)
    expect(page.get_by_test_id("picture-state")).to_contain_text("shows a face")
    expect(page.get_by_test_id("likeness-fictional")).to_be_focused()
    assert _avatar(page, character["id"]) == after
    page.get_by_test_id("likeness-consent").check()
    page.get_by_test_id("picture-input").set_input_files(face)
    expect(page.get_by_test_id("picture-state")).to_have_text("Picture updated.")
    assert _avatar(page, character["id"]) != after


def _import(page: Any, name: str) -> dict[str, Any]:
    data = (CARDS / name).read_bytes()
    response = page.request.post(
        "/api/v1/characters/import",
        multipart={"files": {"name": name, "mimeType": "application/octet-stream", "buffer": data}},
        headers={"X-CSRF-Token": _csrf(page)},
    )
    assert response.ok, response.text()
    [result] = response.json()
    return result


def _avatar(page: Any, character_id: int) -> bytes:
    return page.request.get(f"/api/v1/characters/{character_id}/avatar").body()


def test_studio_on_phone(phone_page: Any) -> None:
    page = phone_page
    signed_up(page)
    page.goto("/studio/new")
    expect(page.get_by_test_id("studio-form")).to_be_visible()
    expect(page.get_by_test_id("preview-body")).to_be_hidden()
    page.get_by_test_id("studio-name").fill("Marisol Vega")
    page.get_by_test_id("studio-age").fill("29")
    page.get_by_test_id("studio-description").fill(
        "{{char}} runs a night ferry between two islands."
    )
    expect(page.get_by_test_id("preview-summary")).to_have_text(re.compile(r"\d+ tokens"))
    no_horizontal_scroll(page)
    shot(page, "studio-phone")
    page.get_by_test_id("preview-toggle").click()
    expect(page.get_by_test_id("preview-body")).to_be_visible()
    expect(page.locator('[data-testid="preview-message"][data-role="system"]')).to_contain_text(
        "night ferry"
    )
    page.get_by_test_id("preview-panel").scroll_into_view_if_needed()
    no_horizontal_scroll(page)
    shot(page, "studio-phone-preview")
    page.get_by_test_id("lore-add").click()
    no_horizontal_scroll(page)
    small = page.evaluate(
        """() => [...document.querySelectorAll(
                '.studio button, .studio a, .studio input, .studio select, .studio label.check')]
            // A checkbox or radio is tapped through its label, which is measured instead.
            .filter((el) => el.offsetParent !== null && !['checkbox', 'radio'].includes(el.type))
            .filter((el) => !el.closest('.visually-hidden, .tag-editor'))
            .map((el) => ({id: el.dataset.testid || el.id || el.textContent.trim().slice(0, 20),
                           h: el.getBoundingClientRect().height}))
            .filter((r) => r.h < 40)"""
    )
    assert small == [], small
