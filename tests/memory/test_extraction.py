"""Fact extraction: the stand-in answers with fixed JSON and the facts appear with their
provenance; an update supersedes, a delete retires, the user's own and pinned facts are
left alone, and output that cannot be read stores nothing."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from afterdark.config import Settings
from afterdark.memory import service
from afterdark.memory.extraction import MAX_FACT_CHARS, MAX_OPS, FactOp, parse_ops
from afterdark.memory.models import Memory
from tests.conftest import make_settings
from tests.memory.test_pipeline import Chat, start_chat


@pytest.fixture
def settings(tmp_path: Path, standin: Any, database_url: str) -> Settings:
    return make_settings(
        tmp_path,
        standin.base_url,
        database_url=database_url,
        memory={"embedder": "fake", "summary_every": 1000},
    )


@pytest.fixture
async def chat(user_client: Any, app: Any) -> Chat:
    return await start_chat(user_client, app)


def answer(*ops: dict[str, Any], prose: bool = False) -> str:
    body = json.dumps({"ops": list(ops)})
    return f"Here is what to remember:\n```json\n{body}\n```\nThat is all." if prose else body


def current(memories: list[Memory]) -> list[str]:
    return [m.text for m in memories if m.superseded_by_id is None]


async def test_facts_are_stored_with_provenance(chat: Chat, standin: Any) -> None:
    standin.reply = answer(
        {
            "op": "add",
            "text": "Ada has a grey cat called Miso.",
            "category": "user",
            "importance": 0.7,
        },
        {"op": "add", "text": "Wren is afraid of deep water.", "category": "character"},
        prose=True,
    )
    said, replied = await chat.turn(
        "I adopted a grey cat called Miso last week. She sleeps on my maps.",
        "A harbour clerk who cannot swim, and a cat who sleeps on maps. Deep water frightens me.",
    )
    await chat.after(replied)

    facts = await chat.memories("fact")
    assert [(f.text, f.category, f.origin, f.importance) for f in facts] == [
        ("Ada has a grey cat called Miso.", "user", "extracted", 0.7),
        ("Wren is afraid of deep water.", "character", "extracted", 0.5),
    ]
    assert {(f.character_id, f.conversation_id) for f in facts} == {
        (chat.character_id, chat.conversation_id)
    }
    assert [await chat.sources(f.id) for f in facts] == [[said, replied], [said, replied]]

    # The exact request: the turn, bounded and nearly greedy, no facts known yet.
    [request] = standin.requests
    assert (request["temperature"], request["max_tokens"]) == (0.1, 400)
    system, prompt = request["messages"]
    assert system["role"] == "system"
    assert f"between {chat.persona} and Wren" in system["content"]
    assert '"op": "add"' in system["content"]
    assert prompt["content"] == (
        "Known facts:\n(none)\n\nLatest exchange:\n"
        f"{chat.persona}: I adopted a grey cat called Miso last week. She sleeps on my maps.\n"
        "Wren: A harbour clerk who cannot swim, and a cat who sleeps on maps. "
        "Deep water frightens me."
    )

    # The same fact again only adds the new turn to its sources.
    said2, replied2 = await chat.turn(
        "Miso knocked the ink over again.", "Miso has opinions about ink, it seems."
    )
    standin.reply = answer({"op": "add", "text": "Ada has a grey cat called Miso"})
    await chat.after(replied2)
    facts = await chat.memories("fact")
    assert len(facts) == 2
    assert await chat.sources(facts[0].id) == [said, replied, said2, replied2]
    assert (
        f"[{facts[0].id}] Ada has a grey cat called Miso."
        in (standin.requests[-1]["messages"][1]["content"])
    )


async def test_an_update_supersedes_and_a_delete_retires(chat: Chat, standin: Any) -> None:
    standin.reply = answer(
        {"op": "add", "text": "Ada lives in Leeds.", "category": "user"},
        {"op": "add", "text": "Ada works night shifts at the bakery.", "category": "user"},
    )
    said, replied = await chat.turn(
        "Leeds is grey today, and I have another night shift at the bakery.",
        "Bring me a loaf when the shift ends.",
    )
    await chat.after(replied)
    leeds, bakery = await chat.memories("fact")

    standin.reply = answer(
        {"op": "update", "id": leeds.id, "text": "Ada lives in Bristol.", "importance": 0.8},
        {"op": "delete", "id": str(bakery.id)},
        {"op": "update", "id": 99_999, "text": "Nobody asked for this."},  # never shown
    )
    said2, replied2 = await chat.turn(
        "I moved to Bristol in spring, and I left the bakery for good.",
        "Bristol! Then no more loaves, I suppose.",
    )
    await chat.after(replied2)
    prompt = standin.requests[-1]["messages"][1]["content"]
    assert f"[{leeds.id}] Ada lives in Leeds." in prompt
    assert f"[{bakery.id}] Ada works night shifts at the bakery." in prompt

    old, retired, new = await chat.memories("fact")
    assert (old.id, retired.id) == (leeds.id, bakery.id)
    assert new.text == "Ada lives in Bristol."
    assert (new.category, new.importance, new.character_id) == ("user", 0.8, chat.character_id)
    assert old.superseded_by_id == new.id  # the history stays visible
    assert retired.superseded_by_id == retired.id  # superseded by nothing: no longer true
    assert await chat.sources(new.id) == [said, replied, said2, replied2]
    assert await chat.sources(retired.id) == [said, replied, said2, replied2]
    assert current(await chat.memories("fact")) == ["Ada lives in Bristol."]
    async with chat.runtime.database.session() as session:
        user = await chat.user(session)
        listed = await service.list_memories(session, user, chat.character_id, kind="fact")
    assert [m.text for m in listed] == ["Ada lives in Bristol."]


async def test_the_users_own_and_pinned_facts_only_gain_sources(chat: Chat, standin: Any) -> None:
    context = chat.runtime.memory
    async with chat.runtime.database.session() as session:
        user = await chat.user(session)
        written = await service.add_memory(
            session,
            context,
            user,
            character_id=chat.character_id,
            text="Ada's birthday is in May.",
            kind="fact",
            origin="user",
        )
        pinned = await service.add_memory(
            session,
            context,
            user,
            character_id=chat.character_id,
            text="Ada takes her tea without sugar.",
            kind="fact",
            origin="extracted",
            pinned=True,
        )
        shared = await service.add_memory(
            session,
            context,
            user,
            character_id=None,  # the user shared it with every character
            text="Ada plays the fiddle.",
            category="user",
            kind="fact",
            origin="extracted",
        )
        await session.commit()

    standin.reply = answer(
        {"op": "update", "id": written.id, "text": "Ada's birthday is in June."},
        {"op": "delete", "id": pinned.id},
        {"op": "update", "id": shared.id, "text": "Ada plays the fiddle and the tin whistle."},
    )
    said, replied = await chat.turn(
        "My birthday is in June, I take sugar now, and I learned the tin whistle.",
        "June, sugar and a tin whistle. Noted, all three.",
    )
    await chat.after(replied)

    facts = {m.id: m for m in await chat.memories("fact")}
    assert facts[written.id].text == "Ada's birthday is in May."
    assert facts[written.id].superseded_by_id is None
    assert facts[pinned.id].superseded_by_id is None
    assert await chat.sources(written.id) == [said, replied]
    assert await chat.sources(pinned.id) == [said, replied]
    # A shared fact's update stays shared.
    [newer] = [m for m in facts.values() if m.text.endswith("tin whistle.")]
    assert newer.character_id is None
    assert facts[shared.id].superseded_by_id == newer.id


async def test_malformed_output_is_ignored(
    chat: Chat, standin: Any, caplog: pytest.LogCaptureFixture
) -> None:
    standin.reply = "I would remember the lighthouse, {probably: yes"
    _, replied = await chat.turn(
        "The lighthouse keeper waved at us.", "He waves at everyone, but it was kind of him."
    )
    with caplog.at_level(logging.WARNING, logger="afterdark.memory.extraction"):
        await chat.after(replied)
    assert await chat.memories("fact") == []
    assert "held no operations; nothing stored" in caplog.text
    assert "lighthouse" not in caplog.text  # the user's text stays out of the log
    assert len(await chat.memories("episode")) == 2


# --- parsing -------------------------------------------------------------------------------


def test_parsing_is_lenient_and_bounded() -> None:
    assert parse_ops("") is None
    assert parse_ops("Nothing new [really].") is None
    assert parse_ops('{"ops": []}') == []
    assert parse_ops('Sure [1]: ```\n[{"text": "Ada rows."}]\n```') == [
        FactOp("add", text="Ada rows.")
    ]
    messy = json.dumps(
        {
            "operations": [
                {"op": "ADD", "text": "  Ada   sings.  ", "category": "Plan", "importance": 7},
                {"op": "add", "text": ""},
                {"op": "update", "text": "no id"},
                {"op": "delete", "id": True},
                {"op": "forget", "id": 3},
                "not an object",
                {"op": "edit", "id": "#12", "text": "Ada sings alto.", "category": "mood"},
                {"op": "remove", "id": "[4]", "importance": "high"},
            ]
        }
    )
    assert parse_ops(f"Let me think. {messy} Done.") == [
        FactOp("add", text="Ada sings.", category="plan", importance=0.7),
        FactOp("update", 12, "Ada sings alto."),
        FactOp("delete", 4),
    ]
    many = answer(*({"op": "add", "text": "x " * 400} for _ in range(MAX_OPS + 5)))
    ops = parse_ops(many)
    assert ops is not None
    assert len(ops) == MAX_OPS
    assert all(len(op.text) <= MAX_FACT_CHARS + 2 for op in ops)
