"""Background runner for memory work (episodes, fact extraction, summaries).

In process by default: one queue and one worker, so memory jobs never compete with each
other for a small local model (chat replies still run beside them). A job is a coroutine
factory under a key; submitting a key that is already waiting replaces the waiting
job in place (the newest state is what counts), so a burst of replies in one
conversation costs one run, not many. A job that fails is logged; the runner goes on.

The scale-out work replaces this with a Redis-backed queue behind the same Protocol.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

JobFactory = Callable[[], Awaitable[None]]


class JobRunner(Protocol):
    """Where memory work is sent to run later."""

    def submit(self, factory: JobFactory, key: str | None = None) -> bool:
        """Queue ``factory()``; False when it replaced a job already waiting under ``key``."""
        ...

    async def drain(self) -> None:
        """Wait until every queued job (and any they queue) has finished."""
        ...

    async def aclose(self) -> None:
        """Finish the queued work (for a bounded time), then stop."""
        ...


class InProcessJobs:
    """Jobs as asyncio tasks in this process, ``concurrency`` at a time."""

    def __init__(self, concurrency: int = 1, *, close_timeout: float = 30.0) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.close_timeout = close_timeout
        self._waiting: dict[str, JobFactory] = {}
        self._queue: asyncio.Queue[str] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._ids = itertools.count(1)
        self._closed = False
        self.failed = 0  # jobs that raised, for tests and health pages

    def submit(self, factory: JobFactory, key: str | None = None) -> bool:
        """Queue ``factory()`` under ``key``; False when it replaced a waiting job."""
        if self._closed:
            log.warning("memory job %s dropped: the runner is closed", key)
            return False
        if key is None:
            key = f"#{next(self._ids)}"
        if key in self._waiting:
            self._waiting[key] = factory
            return False
        self._waiting[key] = factory
        self._start().put_nowait(key)
        return True

    def _start(self) -> asyncio.Queue[str]:
        # Made on first use, so the runner can be built outside a running event loop.
        if self._queue is None:
            self._queue = asyncio.Queue()
        while len(self._workers) < self.concurrency:
            name = f"memory-jobs-{len(self._workers)}"
            self._workers.append(asyncio.create_task(self._work(self._queue), name=name))
        return self._queue

    async def _work(self, queue: asyncio.Queue[str]) -> None:
        while True:
            key = await queue.get()
            try:
                factory = self._waiting.pop(key, None)
                if factory is not None:
                    await factory()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failed += 1
                log.exception("memory job %s failed", key)
            finally:
                queue.task_done()

    async def drain(self) -> None:
        """Wait until every queued job (and any they queue) has finished."""
        if self._queue is not None:
            await self._queue.join()

    async def aclose(self) -> None:
        """Finish the queued work for at most ``close_timeout`` seconds, then stop."""
        self._closed = True
        try:
            await asyncio.wait_for(self.drain(), self.close_timeout)
        except TimeoutError:
            log.warning("memory jobs left unfinished at shutdown: %d", len(self._waiting))
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        self._waiting.clear()
