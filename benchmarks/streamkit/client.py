"""The one aiohttp client: streamed replies read as SSE, and the requests of both modes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from .constants import CUT_OFF, MAX_TOKENS, MODEL, SAMPLER, USER_LINE
from .processes import Stack
from .stats import StreamResult

# ---------------------------------------------------------------------------------------
# Server-sent events as the client reads them


class _Events:
    """Splits a byte stream into SSE events and counts the tokens they carry."""

    __slots__ = ("_tail", "done", "error", "events", "started")

    def __init__(self) -> None:
        self._tail = b""
        self.events = 0
        self.done = False
        self.started = False
        self.error: str | None = None

    def feed(self, data: bytes) -> int:
        """Take the next bytes; return how many new tokens (words) they completed."""
        if self._tail:
            data = self._tail + data
        *events, self._tail = data.split(b"\n\n")
        return sum(self._event(event) for event in events)

    def _event(self, event: bytes) -> int:
        raise NotImplementedError


def _words(text: str) -> int:
    # The stand-in's tokens are words with their leading space, so words count tokens
    # even when Afterdark merged several into one event.
    return len(text.split())


class _OpenAIEvents(_Events):
    __slots__ = ()

    def _event(self, event: bytes) -> int:
        if not event.startswith(b"data:"):
            return 0
        payload = event[5:].strip()
        if payload == b"[DONE]":
            self.done = True
            return 0
        chunk = orjson.loads(payload)
        if chunk.get("error"):
            self.error = f"backend error: {chunk['error']}"
            return 0
        choices = chunk.get("choices")
        text = (choices[0].get("delta") or {}).get("content") if choices else None
        if not text:
            return 0
        self.events += 1
        return _words(text)


class _AfterdarkEvents(_Events):
    __slots__ = ()

    def _event(self, event: bytes) -> int:
        name, data = b"message", b""
        for line in event.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip()
            elif line.startswith(b"data:"):
                data = line[5:].strip()
        if name == b"token":
            self.events += 1
            return _words(orjson.loads(data)["text"])
        if name == b"start":
            self.started = True
        elif name == b"done":
            self.done = True
            status = orjson.loads(data).get("status")
            if status != "complete":
                self.error = f"reply ended {status}"
        return 0


async def stream_reply(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    events: _Events,
    result: StreamResult,
) -> None:
    """POST ``body`` and read the streamed reply into ``result`` (errors included)."""
    clock = time.perf_counter
    result.sent = clock()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            if response.status not in (200, 201):
                text = (await response.text())[:120].replace("\n", " ")
                result.error = f"HTTP {response.status}: {text}"
                return
            content = response.content
            while data := await content.readany():
                now = clock()
                new = events.feed(data)
                if events.started and result.started is None:
                    result.started = now
                if new:
                    result.arrivals.append(now)
                    result.counts.append(new)
                    result.tokens += new
                if events.done and result.ended is None:
                    result.ended = now
            result.events = events.events
            if events.error is not None:
                result.error = events.error
            elif not events.done:
                result.error = "stream ended without its final event"
            elif not result.arrivals:
                result.error = "no tokens"
    except asyncio.CancelledError:
        result.error = CUT_OFF
        raise
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError, KeyError) as exc:
        # ValueError and KeyError: an event that is not the JSON it should be.
        result.error = f"{type(exc).__name__}: {exc}"[:120]


# ---------------------------------------------------------------------------------------
# Chats


@dataclass
class Client:
    """The one HTTP client and what both modes need to send a turn."""

    session: aiohttp.ClientSession
    stack: Stack
    character_id: int
    direct_messages: list[dict[str, str]]
    _bodies: dict[int, bytes] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.stack.token}"}

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(
            method,
            self.stack.afterdark_url + path,
            data=None if body is None else orjson.dumps(body),
            headers={**self.auth, "Content-Type": "application/json"},
        ) as response:
            data = await response.read()
            if response.status >= 400:
                raise SystemExit(f"{method} {path} answered {response.status}: {data[:300]!r}")
            return orjson.loads(data) if data else None

    def direct_body(self, max_tokens: int) -> bytes:
        # What Afterdark's openai backend sends, built from the same character card.
        body = self._bodies.get(max_tokens)
        if body is None:
            body = self._bodies[max_tokens] = orjson.dumps(
                {
                    "messages": self.direct_messages,
                    "stream": True,
                    "stream_options": {"include_usage": True},
                    "max_tokens": max_tokens,
                    "model": MODEL,
                    **SAMPLER,
                }
            )
        return body

    async def direct_turn(self, result: StreamResult, max_tokens: int = MAX_TOKENS) -> None:
        await stream_reply(
            self.session,
            f"{self.stack.standin_url}/chat/completions",
            self.direct_body(max_tokens),
            {"Content-Type": "application/json", "Accept": "text/event-stream"},
            _OpenAIEvents(),
            result,
        )

    async def afterdark_turn(self, result: StreamResult, conversation: int) -> None:
        await stream_reply(
            self.session,
            f"{self.stack.afterdark_url}/api/v1/conversations/{conversation}/messages?stream=true",
            orjson.dumps({"content": USER_LINE}),
            {**self.auth, "Content-Type": "application/json"},
            _AfterdarkEvents(),
            result,
        )

    async def conversations(self, count: int, max_tokens: int | None = None) -> list[int]:
        """Create ``count`` conversations (not timed), optionally with a shorter reply."""
        semaphore = asyncio.Semaphore(16)

        async def one() -> int:
            async with semaphore:
                created = await self.api(
                    "POST", "/api/v1/conversations", {"character_id": self.character_id}
                )
                if max_tokens is not None:
                    sampler = {**created["sampler"], "max_tokens": max_tokens}
                    await self.api(
                        "PATCH", f"/api/v1/conversations/{created['id']}", {"sampler": sampler}
                    )
                return int(created["id"])

        return list(await asyncio.gather(*(one() for _ in range(count))))


def card_messages(card: dict[str, Any], user_name: str = "User") -> list[dict[str, str]]:
    """A prompt like Afterdark's: card in a system message, the greeting, the user's line."""

    def fill(text: str) -> str:
        return text.replace("{{char}}", card["name"]).replace("{{user}}", user_name)

    system = [
        card.get("system_prompt")
        or "You are {{char}} in an ongoing fictional roleplay with {{user}}. Stay in character.",
        card.get("description", ""),
        f"{card['name']}'s personality: {card.get('personality', '')}",
        f"Scenario: {card.get('scenario', '')}",
        card.get("example_dialogue", ""),
    ]
    return [
        {"role": "system", "content": fill("\n\n".join(part for part in system if part))},
        {"role": "assistant", "content": fill(card.get("first_message", ""))},
        {"role": "user", "content": USER_LINE},
    ]
