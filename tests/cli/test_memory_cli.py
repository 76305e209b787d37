"""``afterdark memory``: list, show (with source messages), edit and delete an account's
memories from the command line, over the same service as the web app."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from afterdark.accounts import service as accounts_service
from afterdark.accounts.schemas import UserCreate
from afterdark.characters import service as characters_service
from afterdark.chat import service as chat_service
from afterdark.chat.schemas import ConversationCreate
from afterdark.cli import app
from afterdark.config import load_settings
from afterdark.memory import service
from afterdark.memory.context import MemoryContext
from afterdark.runtime import prepare_database
from tests.conftest import PASSWORD

EMAIL = "cli-memory@example.com"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """No model is needed: the fake embedder indexes, nothing else runs."""
    monkeypatch.setenv("AFTERDARK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AFTERDARK_MEMORY__EMBEDDER", "fake")
    return CliRunner()


async def _seed() -> dict[str, Any]:
    """An account, a chat with a catalogue character, a fact from its greeting, and a note."""
    settings = load_settings()
    db = await prepare_database(settings)
    assert db.keyring is not None
    context = MemoryContext(db.keyring, settings.memory)
    try:
        async with db.session() as session:
            user = await accounts_service.create_user(
                session,
                UserCreate(email=EMAIL, password=PASSWORD, birthdate=date(1990, 1, 1)),
                min_age=18,
            )
            catalogue = await characters_service.list_characters(session, user)
            state = await chat_service.create_conversation(
                session,
                user,
                ConversationCreate(character_id=next(c.id for c in catalogue if c.age)),
            )
            greeting = state.active_root_id
            assert greeting is not None
            fact = await service.add_memory(
                session,
                context,
                user,
                character_id=state.character_id,
                conversation_id=state.id,
                text="They first met in the old library.",
                kind="fact",
                category="shared",
                origin="extracted",
                source_ids=[greeting],
            )
            note = await service.add_memory(
                session,
                context,
                user,
                character_id=state.character_id,
                text="Call them by their nickname.",
                category="preference",
                pinned=True,
            )
            await session.commit()
            return {
                "character": state.character_id,
                "conversation": state.id,
                "greeting": greeting,
                "fact": fact.id,
                "note": note.id,
            }
    finally:
        await db.dispose()


def invoke(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(app, list(args))


def test_list_show_edit_delete(runner: CliRunner) -> None:
    seeded = asyncio.run(_seed())
    character = str(seeded["character"])

    listed = invoke(runner, "memory", "list", EMAIL, character)
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines == [
        f"{seeded['note']}\tnote\tpreference\tpinned\tCall them by their nickname.",
        f"{seeded['fact']}\tfact\tshared\t-\tThey first met in the old library.",
    ]
    as_json = json.loads(invoke(runner, "memory", "list", EMAIL, character, "--json").output)
    assert [(m["id"], m["sources"]) for m in as_json] == [(seeded["note"], 0), (seeded["fact"], 1)]
    facts = json.loads(
        invoke(runner, "memory", "list", EMAIL, character, "--json", "--kind", "fact").output
    )
    assert [m["id"] for m in facts] == [seeded["fact"]]
    bad_kind = invoke(runner, "memory", "list", EMAIL, character, "--kind", "dream")
    assert bad_kind.exit_code == 1
    assert "kind must be one of" in bad_kind.output

    shown = invoke(runner, "memory", "show", EMAIL, str(seeded["fact"]))
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("They first met in the old library.\n")
    assert "category: shared" in shown.output
    assert "origin: extracted" in shown.output
    assert "sources: 1" in shown.output
    assert (
        f"message {seeded['greeting']} in conversation {seeded['conversation']}, assistant"
        in shown.output
    )
    note = invoke(runner, "memory", "show", EMAIL, str(seeded["note"]))
    assert "No source messages" in note.output

    edited = invoke(
        runner,
        "memory",
        "edit",
        EMAIL,
        str(seeded["fact"]),
        "--text",
        "They first met in the library by the river.",
        "--category",
        "user",
        "--pin",
        "--shared",
    )
    assert edited.exit_code == 0, edited.output
    assert edited.output.strip() == f"memory {seeded['fact']} saved (user, pinned, shared)"
    after = json.loads(invoke(runner, "memory", "list", EMAIL, character, "--json").output)
    fact = next(m for m in after if m["id"] == seeded["fact"])
    assert (fact["text"], fact["pinned"], fact["shared"], fact["origin"]) == (
        "They first met in the library by the river.",
        True,
        True,
        "user",
    )
    back = invoke(runner, "memory", "edit", EMAIL, str(seeded["fact"]), "--unpin", "--not-shared")
    assert back.exit_code == 0, back.output
    assert back.output.strip() == f"memory {seeded['fact']} saved (user)"

    deleted = invoke(runner, "memory", "delete", EMAIL, str(seeded["note"]))
    assert deleted.exit_code == 0, deleted.output
    assert deleted.output.strip() == "deleted 1 memory"
    again = invoke(runner, "memory", "delete", EMAIL, str(seeded["note"]))
    assert again.exit_code == 1
    assert f"Memory {seeded['note']} does not exist." in again.output

    everything = invoke(runner, "memory", "delete", EMAIL, "--character", character, "--all")
    assert everything.exit_code == 0, everything.output
    assert everything.output.strip() == "deleted 1 memory"
    assert invoke(runner, "memory", "list", EMAIL, character).output == ""
    none = invoke(runner, "memory", "delete", EMAIL, "--all")
    assert none.output.strip() == "deleted 0 memories"


def test_errors_are_one_line_and_nonzero(runner: CliRunner) -> None:
    seeded = asyncio.run(_seed())
    memory = str(seeded["fact"])
    cases = [
        (["memory", "edit", EMAIL, memory], 2, "nothing to change"),
        (["memory", "edit", EMAIL, memory, "--category", "secrets"], 1, "category must be"),
        (["memory", "edit", EMAIL, memory, "--text", "   "], 1, "needs some text"),
        (["memory", "delete", EMAIL], 2, "give a MEMORY_ID or --all"),
        (["memory", "delete", EMAIL, memory, "--all"], 2, "give a MEMORY_ID or --all"),
        (["memory", "delete", EMAIL, "--character", "1"], 2, "add --all"),
        (["memory", "show", "nobody@example.com", memory], 1, "nobody@example.com"),
        (["memory", "show", EMAIL, "987654"], 1, "Memory 987654 does not exist."),
        (["memory", "list", EMAIL, "987654"], 1, "Character 987654 does not exist."),
    ]
    for args, code, text in cases:
        result = invoke(runner, *args)
        assert result.exit_code == code, (args, result.output)
        assert text in result.output, (args, result.output)
        assert "Traceback" not in result.output
    # Nothing changed on the way.
    shown = invoke(runner, "memory", "show", EMAIL, memory)
    assert shown.output.startswith("They first met in the old library.\n")
