"""Write-behind for streaming replies: never a database write per token.

Running generations register a ``ReplyBuffer`` with one ``ReplyWriter``. The text of
every buffer that changed is saved every ``interval`` seconds in one statement for all
streams together; a finished generation's final state is saved at once (batched with
whatever else is pending) and ``finish`` returns only after it is committed. A failed
save is retried at the next tick, finals included.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session

from afterdark.chat.models import Generation, Message
from afterdark.kit.clock import utcnow
from afterdark.privacy.keyring import Pending
from afterdark.privacy.sealing import seal_fields
from afterdark.store.engine import Database

log = logging.getLogger(__name__)

_messages = cast(Table, Message.__table__)
_generations = cast(Table, Generation.__table__)
_SAVE_TEXT = (
    update(_messages)
    .where(_messages.c.id == bindparam("b_id"))
    .values(sealed=bindparam("b_sealed"))
)
_SAVE_FINAL = (
    update(_messages)
    .where(_messages.c.id == bindparam("b_id"))
    .values(
        sealed=bindparam("b_sealed"),
        status=bindparam("b_status"),
        error=bindparam("b_error"),
        prompt_tokens=bindparam("b_prompt_tokens"),
        completion_tokens=bindparam("b_completion_tokens"),
    )
)
_FINISH_GENERATION = (
    update(_generations)
    .where(_generations.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        error=bindparam("b_error"),
        sealed=bindparam("b_sealed"),
        finished_at=bindparam("b_finished_at"),
    )
)
MAX_ATTEMPTS = 5


class ReplyBuffer:
    """The text of a streaming reply: what it held before, plus the pieces streamed since.

    ``user_id`` is the conversation's owner, whose key seals the text when it is saved.
    """

    __slots__ = ("base", "parts", "user_id")

    def __init__(self, user_id: int, base: str = "") -> None:
        self.user_id = user_id
        self.base = base
        self.parts: list[str] = []

    def text(self) -> str:
        return self.base + "".join(self.parts)


@dataclass(slots=True)
class FinalState:
    generation_id: int
    user_id: int
    message_id: int | None
    content: str
    status: str
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    attempts: int = 0
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ReplyWriter:
    def __init__(self, database: Database, interval: float) -> None:
        self.database = database
        self.interval = interval
        self._dirty: dict[int, ReplyBuffer] = {}
        self._finals: list[FinalState] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="afterdark-reply-writer")

    def touch(self, message_id: int, buffer: ReplyBuffer) -> None:
        """Mark a streaming message's text as changed; it is saved at the next tick."""
        self._dirty[message_id] = buffer

    async def finish(self, state: FinalState) -> None:
        """Save a generation's final state; returns once it is committed."""
        self._finals.append(state)
        self._wake.set()
        if self._task is None or self._task.done():
            await self._write_pending()
        await state.done

    async def aclose(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self._write_pending()

    async def _run(self) -> None:
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            except TimeoutError:
                pass
            self._wake.clear()
            await self._write_pending()

    async def _write_pending(self) -> None:
        if not self._dirty and not self._finals:
            return
        dirty, self._dirty = self._dirty, {}
        finals, self._finals = self._finals, []
        for state in finals:
            if state.message_id is not None:
                dirty.pop(state.message_id, None)
        texts = {i: (buffer.user_id, buffer.text()) for i, buffer in dirty.items()}
        try:
            await self._write(texts, finals)
        except Exception as exc:
            log.warning("saving %d replies failed; retrying: %s", len(texts) + len(finals), exc)
            for message_id, buffer in dirty.items():
                self._dirty.setdefault(message_id, buffer)
            for state in finals:
                state.attempts += 1
                if state.attempts < MAX_ATTEMPTS and not self._closing:
                    self._finals.append(state)
                elif not state.done.done():
                    state.done.set_exception(exc)
            return
        for state in finals:
            if not state.done.done():
                state.done.set_result(None)

    async def _write(self, texts: dict[int, tuple[int, str]], finals: list[FinalState]) -> None:
        async with self.database.session() as session:
            statements = await session.run_sync(self._statements, texts, finals)
            for statement, rows in statements:
                await session.execute(statement, rows)
            await session.commit()

    def _statements(
        self, session: Session, texts: dict[int, tuple[int, str]], finals: list[FinalState]
    ) -> list[tuple[Any, list[dict[str, Any]]]]:
        """The updates to run, every text sealed with its owner's key."""
        keyring = self.database.keyring
        connection, pending = session.connection(), Pending.of(session)

        def sealed(table: str, row_id: int, owner: int, fields: dict[str, Any]) -> bytes:
            return seal_fields(
                keyring,
                connection,
                pending,
                table=table,
                row_id=row_id,
                owner=owner,
                fields=fields,
            )

        now = utcnow()
        statements: list[tuple[Any, list[dict[str, Any]]]] = []
        if texts:
            rows = [
                {"b_id": i, "b_sealed": sealed("messages", i, owner, {"content": text})}
                for i, (owner, text) in texts.items()
            ]
            statements.append((_SAVE_TEXT, rows))
        ended: list[dict[str, Any]] = [
            {
                "b_id": s.message_id,
                "b_sealed": sealed("messages", s.message_id, s.user_id, {"content": s.content}),
                "b_status": s.status,
                "b_error": s.error,
                "b_prompt_tokens": s.prompt_tokens,
                "b_completion_tokens": s.completion_tokens,
            }
            for s in finals
            if s.message_id is not None
        ]
        if ended:
            statements.append((_SAVE_FINAL, ended))
        if finals:
            generations = [
                {
                    "b_id": s.generation_id,
                    "b_status": s.status,
                    "b_error": s.error,
                    # An impersonation is not a message; its draft is kept with the generation.
                    "b_sealed": sealed(
                        "generations",
                        s.generation_id,
                        s.user_id,
                        {"output": s.content if s.message_id is None else None},
                    ),
                    "b_finished_at": now,
                }
                for s in finals
            ]
            statements.append((_FINISH_GENERATION, generations))
        return statements
