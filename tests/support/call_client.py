"""The client side of a live call, for tests and benchmarks: events in order (each audio
event with its clip attached), speech streamed in the 20 ms frames a browser sends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.speech_audio import Pcm, frames

RATE = 48_000  # what a browser's microphone usually runs at; the server resamples
WAIT = 90.0  # seconds: the first turn loads Whisper and Piper


class CallClient:
    """The test's side of a call: events in order, each audio event with its clip."""

    def __init__(self, socket: ClientConnection, rate: int = RATE) -> None:
        self.socket = socket
        self.rate = rate
        self.events: list[dict[str, Any]] = []
        self.arrived: list[float] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.closed: tuple[int, str] | None = None

    async def _read(self) -> None:
        try:
            async for message in self.socket:
                if isinstance(message, bytes):
                    assert self.events, "audio before any event"
                    assert self.events[-1]["type"] == "audio", "audio out of turn"
                    assert "clip" not in self.events[-1]
                    self.events[-1]["clip"] = message
                else:
                    self.events.append(json.loads(message))
                    self.arrived.append(time.monotonic())
                self._changed.set()
        except ConnectionClosed:
            pass
        self.closed = (self.socket.close_code or 0, self.socket.close_reason or "")
        self._changed.set()

    async def send(self, event: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(event))

    async def say(self, pcm: Pcm, *, pace: float = 4.0) -> None:
        """Stream the audio in 20 ms frames, ``pace`` times faster than real time."""
        for frame in frames(pcm, self.rate):
            await self.socket.send(frame)
            await asyncio.sleep(0.02 / pace)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    async def next(self, kind: str, *, after: int = 0, timeout: float = WAIT) -> dict[str, Any]:
        """The first ``kind`` event at index ``after`` or later, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events[after:]:
                if event["type"] == kind and (kind != "audio" or "clip" in event):
                    return event
            if self.closed is not None:
                raise AssertionError(f"closed {self.closed} before {kind}: {self.kinds()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {kind} within {timeout} s: {self.kinds()}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def kinds(self) -> list[str]:
        return [e["type"] if e["type"] != "state" else f"state:{e['state']}" for e in self.events]


@contextlib.asynccontextmanager
async def open_call(
    base_url: str,
    conversation: int,
    headers: dict[str, str],
    *,
    start: bool = True,
    rate: int = RATE,
) -> AsyncIterator[CallClient]:
    """A call to ``conversation`` on the server at ``base_url`` (http://host:port)."""
    url = base_url.replace("http://", "ws://") + f"/api/v1/conversations/{conversation}/call"
    async with connect(url, additional_headers=headers, max_size=2**24) as socket:
        client = CallClient(socket, rate)
        if start:
            await client.send({"type": "start", "sample_rate": rate})
        try:
            yield client
        finally:
            client._reader.cancel()
            await asyncio.gather(client._reader, return_exceptions=True)


def cookie_headers(http: Any, base_url: str) -> dict[str, str]:
    """What a browser's socket sends: the login cookies of ``http`` (an httpx client) and
    the page's Origin."""
    cookies = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    return {"Cookie": cookies, "Origin": base_url}
