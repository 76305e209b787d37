"""The rolling summary: made after ``summary_every`` replies, merged on as checkpoints,
carried into a new chat with the same character and into a branch, following the path
through swipes and edits, dropped when a summarised message is deleted and rebuilt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from afterdark.chat import service as chat_service
from afterdark.chat.models import Conversation, Message
from afterdark.config import Settings
from afterdark.kit.clock import as_utc
from afterdark.memory import summary
from afterdark.memory.models import Memory
from afterdark.memory.pipeline import after_messages_deleted
from afterdark.memory.summary import MAX_SUMMARY_CHARS, clean_summary, summary_for_prompt
from tests.conftest import make_settings
from tests.memory.test_pipeline import GREETING, Chat, start_chat

FIRST = "Ada told Wren about the blue boat. Wren asked about the weather."
SECOND = "Ada and Wren planned a trip to the north island on the blue boat."


@pytest.fixture
def settings(tmp_path: Path, standin: Any, database_url: str) -> Settings:
    # Facts off: every model call in these tests is a summary.
    return make_settings(
        tmp_path,
        standin.base_url,
        database_url=database_url,
        memory={"embedder": "fake", "summary_every": 2, "extract_facts": False},
    )


@pytest.fixture
async def chat(user_client: Any, app: Any) -> Chat:
    return await start_chat(user_client, app)


async def carried(chat: Chat) -> Memory | None:
    """The summary a reply at the end of the chat's active path would be given."""
    async with chat.runtime.database.session() as session:
        conversation = await session.get(Conversation, chat.conversation_id)
        assert conversation is not None
        path = (await chat_service.load_state(session, conversation)).path
        return await summary_for_prompt(
            session, chat.user_id, chat.character_id, chat.conversation_id, {m.id for m in path}
        )


async def current(chat: Chat) -> list[int]:
    """The chat's summaries that are not superseded (what the memory page shows)."""
    return [
        m.id
        for m in await chat.memories("summary")
        if m.conversation_id == chat.conversation_id and m.superseded_by_id is None
    ]


async def all_ids(chat: Chat) -> list[int]:
    async with chat.runtime.database.session() as session:
        return list(
            await session.scalars(
                select(Message.id)
                .where(Message.conversation_id == chat.conversation_id)
                .order_by(Message.id)
            )
        )


async def test_summary_every_n_replies_and_carried_into_a_new_chat(
    chat: Chat, standin: Any, user_client: Any, app: Any
) -> None:
    _, r1 = await chat.turn("I painted the boat blue.", "Blue suits her. Is the weather holding?")
    await chat.after(r1)
    assert standin.requests == []  # one reply: not due yet
    assert await carried(chat) is None

    standin.reply = f"```\nSummary: {FIRST}\n```"
    _, r2 = await chat.turn("The forecast says calm seas.", "Then the north island is in reach.")
    await chat.after(r2)
    [made] = await chat.memories("summary")
    assert made.text == FIRST
    assert (made.kind, made.origin, made.category) == ("summary", "summarised", "shared")
    assert (made.conversation_id, made.character_id) == (chat.conversation_id, chat.character_id)
    assert await chat.sources(made.id) == await all_ids(chat)  # greeting and both turns
    async with chat.runtime.database.session() as session:
        reply = await session.get(Message, r2)
        assert reply is not None
        assert made.happened_at is not None
        assert as_utc(made.happened_at) == as_utc(reply.created_at)

    [request] = standin.requests
    assert (request["temperature"], request["max_tokens"]) == (0.3, 450)
    system, prompt = request["messages"]
    assert "at most 200 words" in system["content"]
    assert prompt["content"] == (
        "Summary so far:\n(none yet: the chat has just begun)\n\nNew messages:\n"
        f"Wren: {GREETING}\n"
        f"{chat.persona}: I painted the boat blue.\n"
        "Wren: Blue suits her. Is the weather holding?\n"
        f"{chat.persona}: The forecast says calm seas.\n"
        "Wren: Then the north island is in reach."
    )

    _, r3 = await chat.turn("Shall we take bread?", "And cheese, and a warm coat.")
    await chat.after(r3)
    assert len(standin.requests) == 1
    standin.reply = SECOND
    _, r4 = await chat.turn("We leave at dawn, then.", "At dawn. I will be at the quay.")
    await chat.after(r4)
    # A new checkpoint; the first is kept, superseded, for a path that moves back.
    first, merged = await chat.memories("summary")
    assert (first.id, merged.text) == (made.id, SECOND)
    assert first.superseded_by_id == merged.id
    assert await current(chat) == [merged.id]
    assert await chat.sources(merged.id) == await all_ids(chat)
    assert await chat.sources(first.id) == await chat.sources(made.id)
    prompt = standin.requests[-1]["messages"][1]["content"]
    assert prompt.startswith(f"Summary so far:\n{FIRST}\n\nNew messages:\n{chat.persona}: Shall")
    assert "blue" not in prompt.split("New messages:")[1]  # only the turns since

    # A new chat with the same character starts from it; another character does not.
    again = await chat.new_conversation()
    carried_over = await carried(again)
    assert carried_over is not None
    assert carried_over.id == merged.id
    other = await start_chat(user_client, app, name="Tamsin")
    assert await carried(other) is None
    # Once the new chat has its own summary, that one is used.
    standin.reply = "Ada and Wren met again at the quay."
    for n in range(2):
        _, answered = await again.turn(f"Back at the quay, day {n}.", f"Day {n}, and still here.")
        await again.after(answered)
    own = await carried(again)
    assert own is not None
    assert (own.conversation_id, own.text) == (again.conversation_id, standin.reply)

    # A deleted chat's summary is never carried, even before it is pruned.
    async with chat.runtime.database.session() as session:
        await session.execute(delete(Conversation).where(Conversation.id == again.conversation_id))
        await session.commit()
    fresh = await chat.new_conversation()
    carried_now = await carried(fresh)
    assert carried_now is not None
    assert carried_now.id == merged.id


async def test_deleting_a_summarised_message_drops_the_summary(chat: Chat, standin: Any) -> None:
    standin.reply = FIRST
    said = []
    for text in ("The tide is out.", "The gulls are loud.", "The ferry is late."):
        s, r = await chat.turn(text, f"Yes: {text.lower()}")
        said.append(s)
        await chat.after(r)
    [made] = await chat.memories("summary")
    assert len(await chat.sources(made.id)) == 5  # greeting and two turns; the third waits

    async with chat.runtime.database.session() as session:
        # Pruning leaves a summary that still has sources alone...
        assert await after_messages_deleted(session, chat.user_id) == 0
        # ...but one that lost a summarised message tells what was deleted: it goes.
        await session.execute(delete(Message).where(Message.id == said[1]))
        # The summary, and the four episodes of the deleted turns (orphans now).
        assert await after_messages_deleted(session, chat.user_id) == 5
        await session.commit()
    assert await chat.memories("summary") == []

    # Rebuilt from the active path by the next replies: from scratch, no deleted text.
    standin.requests.clear()
    standin.reply = SECOND
    _, r = await chat.turn("The lamps are lit.", "Then it is time to go home.")
    await chat.after(r)
    [rebuilt] = await chat.memories("summary")
    assert rebuilt.text == SECOND
    prompt = standin.requests[-1]["messages"][1]["content"]
    assert "(none yet" in prompt
    assert "gulls" not in prompt
    assert await chat.sources(rebuilt.id) == await all_ids(chat)


async def test_a_long_backlog_is_summarised_in_chunks(
    chat: Chat, standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary, "CHUNK_CHARS", 60)  # about one turn per update
    replies = []
    for n in range(5):
        _, r = await chat.turn(f"Question number {n} about the harbour?", f"Answer number {n}.")
        replies.append(r)
    standin.reply = FIRST
    await chat.after(replies[-1])
    # Three rounds at most per reply, oldest first, each ending on a reply.
    assert len(standin.requests) == 3
    firsts = [r["messages"][1]["content"].split("New messages:\n")[1] for r in standin.requests]
    assert firsts[0].startswith(f"Wren: {GREETING}")
    assert firsts[1].startswith(f"{chat.persona}: Question number 1")
    assert len(await chat.memories("summary")) == 3  # a checkpoint per round
    [made] = await current(chat)
    covered = await chat.sources(made)
    assert covered[-1] == replies[2]
    # The next run goes on from there while two replies wait.
    await chat.after(replies[-1])
    assert len(standin.requests) == 4
    [latest] = await current(chat)
    assert (await chat.sources(latest))[-1] == replies[3]  # one left: not due


async def test_a_failed_summary_is_retried_on_the_next_reply(chat: Chat, standin: Any) -> None:
    standin.fail_status = 503
    for text in ("One.", "Two."):
        _, r = await chat.turn(f"Turn {text}", f"Reply {text}")
        await chat.after(r)
    assert await chat.memories("summary") == []
    standin.fail_status = None
    standin.reply = FIRST
    _, r = await chat.turn("Turn three.", "Reply three.")
    await chat.after(r)
    [made] = await chat.memories("summary")
    assert made.text == FIRST


async def test_the_summary_follows_a_swipe_and_an_edit(chat: Chat, standin: Any) -> None:
    standin.reply = FIRST
    said, replies = [], []
    for text in ("The tide is out.", "The gulls are loud."):
        s, r = await chat.turn(text, f"Yes: {text.lower()}")
        said.append(s)
        replies.append(r)
    await chat.after(replies[-1])
    standin.reply = SECOND
    for text in ("The ferry is late.", "The lamps are lit."):
        s, r = await chat.turn(text, f"Indeed: {text.lower()}")
        said.append(s)
        replies.append(r)
    await chat.after(replies[-1])
    first, second = await chat.memories("summary")
    now = await carried(chat)
    assert now is not None
    assert now.id == second.id

    # A swipe on a reply the second checkpoint summarised: its story no longer holds, the
    # first one does (its newest message is still on the path).
    swiped = await chat.swipe(said[3], "The lamps can wait.")
    fits = await carried(chat)
    assert fits is not None
    assert (fits.id, fits.text) == (first.id, FIRST)

    # The next update grows from the checkpoint that fits, over the swiped reply.
    standin.reply = "Ada and Wren waited for the ferry; the lamps could wait."
    standin.requests.clear()
    _, r = await chat.turn("Then we stay.", "We stay.")
    await chat.after(r)
    prompt = standin.requests[-1]["messages"][1]["content"]
    assert prompt.startswith(f"Summary so far:\n{FIRST}\n")
    assert "The lamps can wait." in prompt
    assert "Indeed: the lamps are lit." not in prompt
    grown = await carried(chat)
    assert grown is not None
    assert grown.text == standin.reply
    assert swiped in await chat.sources(grown.id)
    assert await current(chat) == [grown.id]  # the page shows the newest, the rest superseded

    # Swiping back brings the second checkpoint back into use, as it was.
    async with chat.runtime.database.session() as session:
        mine = await session.get(Message, said[3])
        assert mine is not None
        mine.active_child_id = replies[3]
        await session.commit()
    back = await carried(chat)
    assert back is not None
    assert (back.id, back.text) == (second.id, SECOND)

    # An edit of a message the checkpoints covered: those go, an earlier one fits.
    async with chat.runtime.database.session() as session:
        user = await chat.user(session)
        await chat_service.edit_message(
            session,
            user,
            said[1],
            "The gulls are quiet.",
            max_chars=10_000,
            memory=chat.runtime.memory,
        )
        await session.commit()
    assert await carried(chat) is None  # every checkpoint covered the edited message
    left = {m.id for m in await chat.memories("summary")}
    assert left.isdisjoint({first.id, second.id, grown.id})


async def test_checkpoints_are_capped(
    chat: Chat, standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary, "KEEP_CHECKPOINTS", 2)
    standin.reply = FIRST
    for n in range(8):
        _, r = await chat.turn(f"Step {n}.", f"Step {n} done.")
        await chat.after(r)
    made = await chat.memories("summary")
    assert len(made) == 2
    older, newer = made
    assert older.superseded_by_id == newer.id
    assert newer.superseded_by_id is None


async def test_a_branch_takes_the_summary_of_its_path(
    chat: Chat, standin: Any, user_client: Any
) -> None:
    standin.reply = FIRST
    replies = []
    for text in ("The tide is out.", "The gulls are loud."):
        _, r = await chat.turn(text, f"Yes: {text.lower()}")
        replies.append(r)
    await chat.after(replies[-1])
    standin.reply = SECOND
    for text in ("The ferry is late.", "The lamps are lit."):
        _, r = await chat.turn(text, f"Indeed: {text.lower()}")
        replies.append(r)
    await chat.after(replies[-1])
    first, _second = await chat.memories("summary")

    # Branching from the second reply: the first checkpoint is the story of that path.
    response = await user_client.post(f"/api/v1/messages/{replies[1]}/branch")
    assert response.status_code == 201, response.text
    branch_id = response.json()["id"]
    copies = [m for m in await chat.memories("summary") if m.conversation_id == branch_id]
    [copy] = copies
    assert (copy.text, copy.origin) == (FIRST, "summarised")
    async with chat.runtime.database.session() as session:
        ids = list(
            await session.scalars(
                select(Message.id).where(Message.conversation_id == branch_id).order_by(Message.id)
            )
        )
    assert await chat.sources(copy.id) == ids  # the copies, greeting to the branch point
    branched = Chat(chat.runtime, chat.user_id, chat.character_id, branch_id, chat.persona)
    given = await carried(branched)
    assert given is not None
    assert given.id == copy.id

    # From the greeting nothing was summarised yet: nothing is copied, nothing carried over
    # from the source chat either (the branch has its own story).
    response = await user_client.post(f"/api/v1/messages/{replies[0] - 2}/branch")
    assert response.status_code == 201, response.text
    early = response.json()["id"]
    assert [m for m in await chat.memories("summary") if m.conversation_id == early] == []


def test_clean_summary() -> None:
    assert clean_summary("```text\n**Updated summary:** They met.\n```") == "They met."
    assert clean_summary('"They met."') == "They met."
    long = " ".join(["They walked along the shore and talked about the sea."] * 60)
    cleaned = clean_summary(long)
    assert len(cleaned) <= MAX_SUMMARY_CHARS
    assert cleaned.endswith("sea.")
    assert clean_summary("word " * 1000).endswith(" …")
