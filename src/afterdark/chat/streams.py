"""In-memory event streams of running generations, replayable from any event id.

Each generation gets a ``GenerationStream``: an append-only list of events plus the
subscribers waiting for the next one. A subscriber that falls behind receives what it
missed as one batch, and consecutive token events in a batch are merged, so a slow
client costs one write per batch, not one per token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(slots=True, frozen=True)
class Event:
    id: int
    name: str
    data: dict[str, Any]

    def encode(self) -> bytes:
        """The event in Server-Sent Events framing."""
        return b"id: %d\nevent: %s\ndata: %s\n\n" % (
            self.id,
            self.name.encode(),
            orjson.dumps(self.data),
        )


def coalesce(events: list[Event]) -> list[Event]:
    """Merge runs of token events into one event carrying the last id."""
    merged: list[Event] = []
    for event in events:
        if merged and event.name == "token" and merged[-1].name == "token":
            text = merged[-1].data["text"] + event.data["text"]
            merged[-1] = Event(event.id, "token", {"text": text})
        else:
            merged.append(event)
    return merged


class GenerationStream:
    """The events of one generation; ``done`` is always the last."""

    def __init__(self, generation_id: int) -> None:
        self.generation_id = generation_id
        self.events: list[Event] = []
        self.finished = False
        # One future per waiting subscriber: cancelling one never disturbs the others.
        self._waiters: list[asyncio.Future[bool]] = []

    def publish(self, name: str, data: dict[str, Any]) -> None:
        if self.finished:
            raise RuntimeError(f"generation {self.generation_id} already finished")
        self.events.append(Event(len(self.events), name, data))
        if name == "done":
            self.finished = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(False)

    async def subscribe(
        self, after: int = -1, *, keepalive: float | None = None
    ) -> AsyncIterator[list[Event]]:
        """Yield batches of events with ids greater than ``after`` until ``done``; with
        ``keepalive``, an empty batch after that many idle seconds (a proxy's idle timer
        must not cut a reply whose model is slow to start)."""
        position = max(after + 1, 0)
        loop = asyncio.get_running_loop()
        while True:
            if position < len(self.events):
                batch = self.events[position:]
                position = len(self.events)
                yield coalesce(batch)
                if batch[-1].name == "done":
                    return
                continue
            if self.finished:
                return
            waiter: asyncio.Future[bool] = loop.create_future()
            self._waiters.append(waiter)
            timer = loop.call_later(keepalive, _idle, waiter) if keepalive else None
            try:
                idle = await waiter
            finally:
                if timer is not None:
                    timer.cancel()
                if not waiter.done():
                    self._waiters.remove(waiter)
            if idle:
                yield []


def _idle(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(True)


class StreamHub:
    """Streams by generation id; finished ones stay replayable for ``retention`` seconds."""

    def __init__(self, retention: float = 300.0) -> None:
        self.retention = retention
        self._streams: dict[int, GenerationStream] = {}

    def open(self, generation_id: int) -> GenerationStream:
        stream = GenerationStream(generation_id)
        self._streams[generation_id] = stream
        return stream

    def get(self, generation_id: int) -> GenerationStream | None:
        return self._streams.get(generation_id)

    def retire(self, generation_id: int) -> None:
        """Forget a finished stream after the retention period."""
        loop = asyncio.get_running_loop()
        loop.call_later(self.retention, self._streams.pop, generation_id, None)
