"""Write-behind for streaming replies: never a database write per token.

Running generations hand their text to one ``ReplyWriter``. Partial text is saved
every ``interval`` seconds in one transaction for all streams together; a finished
generation's final state is saved at once (batched with whatever else is pending) and
``finish`` returns only after it is committed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update

from afterdark.chat.models import Generation, Message
from afterdark.kit.clock import utcnow
from afterdark.store.engine import Database

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FinalState:
    generation_id: int
    message_id: int | None
    content: str
    status: str
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ReplyWriter:
    def __init__(self, database: Database, interval: float) -> None:
        self.database = database
        self.interval = interval
        self._partial: dict[int, str] = {}
        self._finals: list[FinalState] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="afterdark-reply-writer")

    def save_partial(self, message_id: int, content: str) -> None:
        """Remember the latest text of a streaming message; saved at the next tick."""
        self._partial[message_id] = content

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
        if not self._partial and not self._finals:
            return
        partial, self._partial = self._partial, {}
        finals, self._finals = self._finals, []
        for state in finals:
            partial.pop(state.message_id or -1, None)
        try:
            await self._write(partial, finals)
        except Exception as exc:  # keep streaming; the next tick retries the partial text
            log.exception("saving replies failed")
            for message_id, content in partial.items():
                self._partial.setdefault(message_id, content)
            for state in finals:
                if not state.done.done():
                    state.done.set_exception(exc)
            return
        for state in finals:
            if not state.done.done():
                state.done.set_result(None)

    async def _write(self, partial: dict[int, str], finals: list[FinalState]) -> None:
        now = utcnow()
        messages: list[dict[str, Any]] = [
            {"id": message_id, "content": content} for message_id, content in partial.items()
        ]
        messages += [
            {
                "id": s.message_id,
                "content": s.content,
                "status": s.status,
                "error": s.error,
                "prompt_tokens": s.prompt_tokens,
                "completion_tokens": s.completion_tokens,
            }
            for s in finals
            if s.message_id is not None
        ]
        generations = [
            {
                "id": s.generation_id,
                "status": s.status,
                "error": s.error,
                "finished_at": now,
                "output": s.content if s.message_id is None else None,
            }
            for s in finals
        ]
        async with self.database.session() as session:
            # Group by key set: SQLAlchemy's bulk UPDATE by primary key wants uniform rows.
            for rows in _by_keys(messages):
                await session.execute(update(Message), rows)
            if generations:
                await session.execute(update(Generation), generations)
            await session.commit()


def _by_keys(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return list(groups.values())
