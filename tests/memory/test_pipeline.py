"""Memory after a reply: episodes with their provenance, swipes and edits, deletions that
prune what came from the deleted messages, and the background job runner.

Turns are written straight into a real conversation (made through the API), and
``after_reply`` is driven by hand with the real ``openai`` backend against the loopback
stand-in: a chat reply through the API would also queue the memory work on its own, and
the stand-in answers every request with the same scripted text.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.chat import service as chat_service
from afterdark.chat.models import Conversation, Message
from afterdark.config import Settings
from afterdark.kit.clock import as_utc
from afterdark.memory import episodes, service
from afterdark.memory.jobs import InProcessJobs
from afterdark.memory.models import Memory, MemorySource
from afterdark.memory.pipeline import after_messages_deleted, after_reply, schedule_after_reply
from afterdark.runtime import Runtime
from tests.conftest import make_settings

GREETING = "The lamps along the quay are lit. Wren looks up from the ledger."


@pytest.fixture
def settings(tmp_path: Path, standin: Any) -> Settings:
    # SQLite only: the SQL of summaries, facts and pruning runs on PostgreSQL as well in
    # test_summary.py and test_extraction.py. No summary here: every model call is an
    # extraction.
    return make_settings(
        tmp_path, standin.base_url, memory={"embedder": "fake", "summary_every": 1000}
    )


@dataclass
class Chat:
    """A real conversation whose turns a test writes directly."""

    runtime: Runtime
    user_id: int
    character_id: int
    conversation_id: int
    persona: str

    async def turn(self, said: str, reply: str, *, status: str = "complete") -> tuple[int, int]:
        """Add the user's message and the reply under the end of the active path."""
        async with self.runtime.database.session() as session:
            conversation = await session.get(Conversation, self.conversation_id)
            assert conversation is not None
            path = (await chat_service.load_state(session, conversation)).path
            parent = path[-1] if path else None
            mine = self._message(parent.id if parent else None, "user", said)
            session.add(mine)
            await session.flush()
            if parent is not None:
                parent.active_child_id = mine.id
            answer = self._message(mine.id, "assistant", reply, status)
            session.add(answer)
            await session.flush()
            mine.active_child_id = answer.id
            await session.commit()
            return mine.id, answer.id

    async def swipe(self, user_message_id: int, reply: str) -> int:
        """Another reply to the same message, made the active one."""
        async with self.runtime.database.session() as session:
            answer = self._message(user_message_id, "assistant", reply)
            session.add(answer)
            await session.flush()
            mine = await session.get(Message, user_message_id)
            assert mine is not None
            mine.active_child_id = answer.id
            await session.commit()
            return answer.id

    def _message(
        self, parent_id: int | None, role: str, content: str, status: str = "complete"
    ) -> Message:
        message = Message(
            conversation_id=self.conversation_id,
            user_id=self.user_id,
            parent_id=parent_id,
            role=role,
            status=status,
        )
        message.content = content
        return message

    async def after(self, reply_id: int) -> None:
        runtime = self.runtime
        await after_reply(
            runtime.database,
            runtime.memory,
            runtime.backend,
            user_id=self.user_id,
            conversation_id=self.conversation_id,
            reply_id=reply_id,
        )

    async def memories(self, kind: str | None = None) -> list[Memory]:
        """Every memory of the user (superseded ones too), oldest first."""
        async with self.runtime.database.session() as session:
            query = select(Memory).where(Memory.user_id == self.user_id).order_by(Memory.id)
            if kind is not None:
                query = query.where(Memory.kind == kind)
            return list(await session.scalars(query))

    async def sources(self, memory_id: int) -> list[int]:
        async with self.runtime.database.session() as session:
            return list(
                await session.scalars(
                    select(MemorySource.message_id)
                    .where(MemorySource.memory_id == memory_id)
                    .order_by(MemorySource.message_id)
                )
            )

    async def user(self, session: AsyncSession) -> User:
        user = await session.get(User, self.user_id)
        assert user is not None
        return user

    async def new_conversation(self) -> Chat:
        """Another conversation with the same character."""
        async with self.runtime.database.session() as session:
            conversation = Conversation(
                user_id=self.user_id,
                character_id=self.character_id,
                title="again",
                scene="",
                sampler={},
            )
            session.add(conversation)
            await session.commit()
            return Chat(
                self.runtime, self.user_id, self.character_id, conversation.id, self.persona
            )


async def start_chat(client: httpx.AsyncClient, app: Any, name: str = "Wren") -> Chat:
    """A character of the user's own with a greeting, and a conversation with it."""
    made = await client.post(
        "/api/v1/characters",
        json={
            "name": name,
            "age": 34,
            "description": "A harbour clerk.",
            "first_message": GREETING,
        },
    )
    assert made.status_code == 201, made.text
    character_id = made.json()["id"]
    conversation = await client.post("/api/v1/conversations", json={"character_id": character_id})
    assert conversation.status_code == 201, conversation.text
    runtime: Runtime = app.state.runtime
    async with runtime.database.session() as session:
        user = await session.scalar(select(User))
        assert user is not None
        persona = (await accounts_service.get_persona(session, user)).name
        await session.commit()
    return Chat(runtime, user.id, character_id, conversation.json()["id"], persona)


@pytest.fixture
async def chat(user_client: httpx.AsyncClient, app: Any, standin: Any) -> Chat:
    standin.reply = '{"ops": []}'
    return await start_chat(user_client, app)


# --- episodes ------------------------------------------------------------------------------


async def test_a_turn_becomes_two_episodes_with_provenance(chat: Chat) -> None:
    said, replied = await chat.turn(
        "I finally finished painting the boat, blue hull and a white stripe.",
        "Blue suits her. Will you take her out before the weather turns?",
    )
    await chat.after(replied)

    found = await chat.memories("episode")
    assert [m.text for m in found] == [
        f"{chat.persona}: I finally finished painting the boat, blue hull and a white stripe.",
        "Wren: Blue suits her. Will you take her out before the weather turns?",
    ]
    assert {(m.category, m.origin, m.character_id, m.conversation_id) for m in found} == {
        ("shared", "chat", chat.character_id, chat.conversation_id)
    }
    assert [await chat.sources(m.id) for m in found] == [[said], [replied]]
    async with chat.runtime.database.session() as session:
        times = {
            m.id: as_utc(m.created_at)
            for m in await session.scalars(select(Message).where(Message.id.in_([said, replied])))
        }
    assert [as_utc(m.happened_at) for m in found if m.happened_at] == [times[said], times[replied]]

    # A second run (a continued reply, a retried job) changes nothing.
    await chat.after(replied)
    assert [m.id for m in await chat.memories("episode")] == [m.id for m in found]


async def test_short_withheld_and_unfinished_lines_are_skipped(chat: Chat, standin: Any) -> None:
    _, replied = await chat.turn("ok", "Then let us begin with the harbour accounts.")
    await chat.after(replied)
    assert [m.text for m in await chat.memories("episode")] == [
        "Wren: Then let us begin with the harbour accounts."
    ]

    standin.requests.clear()
    _, failed = await chat.turn("Tell me about the storm last winter.", "The sto", status="error")
    _, stopped = await chat.turn("And the lighthouse keeper?", "He was", status="stopped")
    await chat.after(failed)
    await chat.after(stopped)
    assert len(await chat.memories("episode")) == 1
    assert standin.requests == []  # not complete: no model call at all

    _, hmm = await chat.turn("Hmm.", "Hmm?")
    await chat.after(hmm)
    assert len(await chat.memories("episode")) == 1
    assert standin.requests == []  # nothing worth a fact either


async def test_disabled_memory_does_nothing(
    user_client: httpx.AsyncClient, app: Any, standin: Any
) -> None:
    app.state.runtime.memory.settings.enabled = False
    chat = await start_chat(user_client, app)
    _, replied = await chat.turn("My sister visits on Sunday.", "Then we should bake something.")
    await chat.after(replied)
    assert await chat.memories() == []
    assert standin.requests == []


async def test_an_edit_rederives_the_episode(chat: Chat) -> None:
    said, replied = await chat.turn(
        "We sailed to the north island today.", "Did you see the seals on the rocks?"
    )
    await chat.after(replied)
    before = {m.id: m.text for m in await chat.memories("episode")}

    async with chat.runtime.database.session() as session:
        user = await chat.user(session)
        _, message, _ = await chat_service.edit_message(
            session, user, said, "We sailed to the south island today.", max_chars=10_000
        )
        episode = await episodes.rederive_message(session, chat.runtime.memory, user, message)
        await session.commit()
    assert episode is not None
    assert episode.id in before
    assert episode.text == f"{chat.persona}: We sailed to the south island today."
    assert len(await chat.memories("episode")) == 2

    # Emptied to a mere reaction: the episode goes; the reply's stays.
    async with chat.runtime.database.session() as session:
        user = await chat.user(session)
        _, message, _ = await chat_service.edit_message(session, user, said, "ok", max_chars=10_000)
        assert await episodes.rederive_message(session, chat.runtime.memory, user, message) is None
        await session.commit()
    assert [m.text for m in await chat.memories("episode")] == [
        "Wren: Did you see the seals on the rocks?"
    ]

    # An episode the user rewrote is theirs: never re-derived.
    async with chat.runtime.database.session() as session:
        user = await chat.user(session)
        mine = (await chat.memories("episode"))[0]
        await service.edit_memory(session, chat.runtime.memory, user, mine.id, text="Seals!")
        reply = await session.get(Message, replied)
        assert reply is not None
        kept = await episodes.rederive_message(session, chat.runtime.memory, user, reply)
        await session.commit()
    assert kept is not None
    assert kept.text == "Seals!"


async def test_a_new_swipe_replaces_the_old_episode(chat: Chat) -> None:
    said, first = await chat.turn("What is in the crate?", "Salt cod, by the smell of it.")
    await chat.after(first)
    second = await chat.swipe(said, "Lamp oil for the lighthouse, I think.")
    await chat.after(second)
    texts = [m.text for m in await chat.memories("episode")]
    assert texts == [
        f"{chat.persona}: What is in the crate?",
        "Wren: Lamp oil for the lighthouse, I think.",
    ]


# --- deletions -----------------------------------------------------------------------------


async def test_deleting_the_source_prunes_derived_memories(chat: Chat, standin: Any) -> None:
    keep_said, keep_reply = await chat.turn(
        "The tide was very low this morning.", "Low enough to walk to the old wreck."
    )
    await chat.after(keep_reply)
    standin.reply = (
        '{"ops": [{"op": "add", "text": "The user keeps bees behind the cottage.", '
        '"category": "user", "importance": 0.6}]}'
    )
    said, replied = await chat.turn(
        "I keep bees behind the cottage, three hives.", "Then I know where the honey comes from."
    )
    await chat.after(replied)
    facts = await chat.memories("fact")
    assert [f.text for f in facts] == ["The user keeps bees behind the cottage."]
    assert await chat.sources(facts[0].id) == [said, replied]
    async with chat.runtime.database.session() as session:
        user = await chat.user(session)
        await service.add_memory(
            session, chat.runtime.memory, user, character_id=chat.character_id, text="A note."
        )
        await session.commit()

    async with chat.runtime.database.session() as session:
        # A bare delete (as a conversation's or an account's cascade does), then the pruning.
        await session.execute(delete(Message).where(Message.id == said))  # its reply with it
        pruned = await after_messages_deleted(session, chat.user_id)
        await session.commit()
    assert pruned == 3  # two episodes and the fact
    left = await chat.memories()
    assert [(m.kind, m.origin) for m in left] == [
        ("episode", "chat"),
        ("episode", "chat"),
        ("note", "user"),  # the user's own: kept
    ]
    assert [await chat.sources(m.id) for m in left[:2]] == [[keep_said], [keep_reply]]


# --- failures ------------------------------------------------------------------------------


async def test_a_failing_model_never_raises(
    chat: Chat, standin: Any, caplog: pytest.LogCaptureFixture
) -> None:
    standin.fail_status = 500
    _, replied = await chat.turn(
        "The bell in the square rang thirteen times.", "That bell has never once been right."
    )
    with caplog.at_level(logging.WARNING, logger="afterdark.memory"):
        await chat.after(replied)
    assert len(await chat.memories("episode")) == 2  # stored before the model was asked
    assert await chat.memories("fact") == []
    assert "fact extraction" in caplog.text


async def test_a_reply_of_someone_else_is_ignored(chat: Chat) -> None:
    _, replied = await chat.turn("A quiet evening at the harbour.", "The gulls have gone to bed.")
    await after_reply(
        chat.runtime.database,
        chat.runtime.memory,
        chat.runtime.backend,
        user_id=chat.user_id + 1,
        conversation_id=chat.conversation_id,
        reply_id=replied,
    )
    assert await chat.memories() == []


# --- jobs ----------------------------------------------------------------------------------


async def test_jobs_coalesce_and_drain() -> None:
    jobs = InProcessJobs()
    ran: list[str] = []
    gate = asyncio.Event()

    def job(name: str, wait: bool = False) -> Any:
        async def run() -> None:
            if wait:
                await gate.wait()
            ran.append(name)

        return run

    assert jobs.submit(job("first", wait=True), key="a")
    await asyncio.sleep(0)  # "first" is running now: a new "a" queues behind it
    assert jobs.submit(job("second"), key="a")
    assert not jobs.submit(job("third"), key="a")  # replaces the waiting "second"
    assert jobs.submit(job("other"), key="b")
    gate.set()
    await jobs.drain()
    assert ran == ["first", "third", "other"]
    await jobs.aclose()
    assert not jobs.submit(job("late"))


async def test_a_failing_job_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    jobs = InProcessJobs()
    ran: list[int] = []
    running = 0
    most = 0

    def job(n: int) -> Any:
        async def run() -> None:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.001)
            running -= 1
            if n == 1:
                raise RuntimeError("boom")
            ran.append(n)
            if n == 2:
                jobs.submit(job(9))  # queued by a job: drain waits for it too

        return run

    for n in range(4):
        jobs.submit(job(n))
    with caplog.at_level(logging.ERROR, logger="afterdark.memory.jobs"):
        await jobs.drain()
    assert ran == [0, 2, 3, 9]
    assert (jobs.failed, most) == (1, 1)  # one at a time
    assert "boom" in caplog.text
    await jobs.aclose()


async def test_schedule_after_reply_runs_in_the_runner(chat: Chat, standin: Any) -> None:
    _, replied = await chat.turn(
        "The ferry is late again, third time this week.", "The ferryman has a new sweetheart."
    )
    jobs = InProcessJobs()
    for _ in range(2):  # the same reply twice: one run
        schedule_after_reply(
            jobs,
            chat.runtime.database,
            chat.runtime.memory,
            chat.runtime.backend,
            user_id=chat.user_id,
            conversation_id=chat.conversation_id,
            reply_id=replied,
        )
    await jobs.drain()
    await jobs.aclose()
    assert len(await chat.memories("episode")) == 2
    assert len(standin.requests) == 1  # one extraction
