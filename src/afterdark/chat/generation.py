"""Runs generations as background tasks: stream from the backend, publish, save.

A generation writes its text to the reply message as it goes (through the
``ReplyWriter``) and publishes events on its ``GenerationStream``. Stopping cancels
the task; whatever was streamed is kept and marked ``stopped``. A backend failure
keeps the partial text and marks the reply ``error`` with the backend's message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from afterdark.chat.models import Generation, Message
from afterdark.chat.streams import GenerationStream, StreamHub
from afterdark.chat.writer import FinalState, ReplyBuffer, ReplyWriter
from afterdark.credits.service import Sparks
from afterdark.llm.base import Chunk, GenerationRequest, LLMBackend, LLMError
from afterdark.llm.tokenizer import CachedTokenizer
from afterdark.safety import moderation
from afterdark.safety.limits import Breach, HardLimits
from afterdark.store.engine import Database

if TYPE_CHECKING:
    from afterdark.memory.context import MemoryContext

log = logging.getLogger(__name__)


class Prefetch:
    """A backend request started before the reply is recorded, so the model's latency
    overlaps the database work; its chunks wait in a queue until the generation runs."""

    def __init__(self, backend: LLMBackend, request: GenerationRequest) -> None:
        # What went into the prompt, recorded with the reply ("why did she say that?").
        self.trace: PromptTrace | None = None
        # The most the reply may write: what a Spark hold is sized by.
        self.max_tokens = request.sampler.max_tokens
        self._queue: asyncio.Queue[Chunk | Exception | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._pump(backend, request))

    async def _pump(self, backend: LLMBackend, request: GenerationRequest) -> None:
        try:
            async for chunk in backend.stream(request):
                self._queue.put_nowait(chunk)
        except Exception as exc:
            self._queue.put_nowait(exc)
            return
        self._queue.put_nowait(None)

    async def chunks(self) -> AsyncIterator[Chunk]:
        while (item := await self._queue.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item

    def cancel(self) -> None:
        self._task.cancel()


SCREEN_EVERY = 200
"""Characters of streamed text after which a reply is screened again, sentence end or not."""
SENTENCE_ENDS = set('.!?…"”*')  # checked on the chunk's last non-space character


@dataclass(slots=True)
class PromptTrace:
    """The memories (ids) and lorebook entries ({book, entry, name}) a prompt held."""

    memories: list[int] = field(default_factory=list)
    lore: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class GenerationJob:
    generation_id: int
    conversation_id: int
    user_id: int
    message_id: int | None
    kind: str
    prefetch: Prefetch
    # Text the message already holds (continue appends to it).
    base_content: str = ""
    start_extra: dict[str, Any] | None = None
    # The Sparks held for this run (``credits``), settled by what it wrote.
    hold: str | None = None


class Generations:
    """Starts, tracks and stops the generations of this process."""

    def __init__(
        self,
        database: Database,
        backend: LLMBackend,
        flush_interval: float,
        *,
        limits: HardLimits | None = None,
        memory: MemoryContext | None = None,
        sparks: Sparks | None = None,
    ) -> None:
        self.database = database
        # Replies are paid for in Sparks when they are on: held at the start, settled here.
        self.sparks = sparks if sparks is not None and sparks.enabled else None
        # Memory for prompts; ``after_reply`` is told of every completed reply (it queues
        # the memory work: episodes, facts, the summary).
        self.memory = memory
        self.after_reply: Callable[[GenerationJob], None] | None = None
        # The hard limits every reply is screened against while it streams.
        self.limits = limits
        self.backend = backend
        self.tokenizer = CachedTokenizer(backend.tokenizer)
        self.hub = StreamHub()
        self.writer = ReplyWriter(database, flush_interval)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._stop_requested: set[int] = set()

    async def startup(self, *, recover: bool = True) -> None:
        """Start saving; with ``recover``, mark replies left mid-stream by a previous
        process as interrupted (only the server does: a CLI chat beside it must not)."""
        if recover:
            await self._recover()
        await asyncio.to_thread(self.tokenizer.warm)
        self.writer.start()

    async def _recover(self) -> None:
        async with self.database.session() as session:
            await session.execute(
                update(Message).where(Message.status == "streaming").values(status="interrupted")
            )
            await session.execute(
                update(Generation)
                .where(Generation.status == "streaming")
                .values(status="interrupted")
            )
            await session.commit()

    def start(self, job: GenerationJob) -> GenerationStream:
        stream = self.hub.open(job.generation_id)
        start = {
            "generation_id": job.generation_id,
            "message_id": job.message_id,
            "kind": job.kind,
            **(job.start_extra or {}),
        }
        stream.publish("start", start)
        task = asyncio.create_task(self._run(job, stream), name=f"generation-{job.generation_id}")
        self._tasks[job.generation_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job.generation_id, None))
        return stream

    def stop(self, generation_id: int) -> bool:
        """Ask a running generation to stop; False when it is not running here."""
        task = self._tasks.get(generation_id)
        if task is None or task.done():
            return False
        self._stop_requested.add(generation_id)
        task.cancel()
        return True

    async def aclose(self) -> None:
        """Interrupt every running generation (saving its text), then flush."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.writer.aclose()

    async def _log_breach(self, job: GenerationJob, breach: Breach) -> None:
        try:
            async with self.database.session() as session:
                session.add(
                    moderation.event(
                        breach,
                        user_id=job.user_id,
                        conversation_id=job.conversation_id,
                        source="output",
                        action="withheld",
                    )
                )
                await session.commit()
        except Exception:
            log.exception("logging the withheld generation %s failed", job.generation_id)

    async def _settle(
        self,
        job: GenerationJob,
        status: str,
        completion_tokens: int | None,
        written: str,
        breach: Breach | None,
    ) -> None:
        """Charge the Sparks held for a run by what it wrote; a failed, withheld or
        interrupted run (or one that wrote nothing) costs nothing."""
        if self.sparks is None or job.hold is None:
            return
        tokens: int | None = None
        if status in ("complete", "stopped") and breach is None and written.strip():
            tokens = completion_tokens
            if tokens is None:
                tokens = await asyncio.to_thread(self.tokenizer.count, written)
        try:
            await self.sparks.settle_reply(job.hold, tokens)
        except Exception:  # the hold expires on its own; the reply is kept either way
            log.exception("settling the Sparks of generation %s failed", job.generation_id)

    async def _run(self, job: GenerationJob, stream: GenerationStream) -> None:
        buffer = ReplyBuffer(job.user_id, job.base_content)
        status, error = "complete", None
        prompt_tokens = completion_tokens = None
        breach: Breach | None = None
        unscreened = 0
        try:
            async for chunk in job.prefetch.chunks():
                if chunk.text:
                    buffer.parts.append(chunk.text)
                    stream.publish("token", {"text": chunk.text})
                    if job.message_id is not None:
                        self.writer.touch(job.message_id, buffer)
                    # Screened at each sentence's end (and every 200 characters).
                    unscreened += len(chunk.text)
                    if unscreened >= SCREEN_EVERY or chunk.text.rstrip()[-1:] in SENTENCE_ENDS:
                        unscreened = 0
                        if breach := await moderation.check(self.limits, buffer.text()):
                            break
                if chunk.usage is not None:
                    prompt_tokens = chunk.usage.prompt_tokens
                    completion_tokens = chunk.usage.completion_tokens
            if breach is None and unscreened:
                breach = await moderation.check(self.limits, buffer.text())
        except asyncio.CancelledError:
            stopped = job.generation_id in self._stop_requested
            status = "stopped" if stopped else "interrupted"
        except LLMError as exc:
            status, error = "error", str(exc)
        except Exception:
            log.exception("generation %s failed", job.generation_id)
            status, error = "error", "The reply failed because of an internal error."
        finally:
            job.prefetch.cancel()
            self._stop_requested.discard(job.generation_id)
        content = buffer.text()
        if breach is not None:
            status, error, content = "error", breach.message, moderation.WITHHELD
            await self._log_breach(job, breach)
        state = FinalState(
            generation_id=job.generation_id,
            user_id=job.user_id,
            message_id=job.message_id,
            content=content,
            status=status,
            error=error,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        saved = False
        try:
            await self.writer.finish(state)
            saved = True
        except Exception:
            log.exception("saving generation %s failed", job.generation_id)
        await self._settle(job, status, completion_tokens, "".join(buffer.parts), breach)
        if saved and status == "complete" and job.message_id is not None and self.after_reply:
            try:
                self.after_reply(job)
            except Exception:
                log.exception("queueing memory work for generation %s failed", job.generation_id)
        stream.publish(
            "done",
            {
                "generation_id": job.generation_id,
                "message_id": job.message_id,
                "status": status,
                "error": error,
                "content": content,
                "usage": None
                if prompt_tokens is None
                else {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
            },
        )
        self.hub.retire(job.generation_id)
