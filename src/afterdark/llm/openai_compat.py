"""The ``openai`` backend: any server speaking OpenAI's streaming chat-completions API.

Written for vLLM, llama.cpp's server, Ollama, KoboldCpp and OpenRouter (tested
against the protocol stand-in in ``tests/support``). One aiohttp session per
backend with an unlimited connection pool carries every stream; server-sent
events are split and decoded here (with orjson) because the per-token cost
decides how many thousand streams one process can carry.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson

from afterdark.config import LLMSettings
from afterdark.kit.httperrors import answer_message
from afterdark.kit.httperrors import error_text as _error_text
from afterdark.kit.httperrors import os_reason as _os_reason
from afterdark.llm.base import (
    Chunk,
    GenerationRequest,
    LLMBackend,
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnavailableError,
    Tokenizer,
    Usage,
)
from afterdark.llm.tokenizer import tokenizer_for

# The sampler fields every OpenAI-compatible server accepts, and the ones only
# some do (vLLM, llama.cpp, KoboldCpp, OpenRouter): ours -> the wire name.
_STANDARD_SAMPLERS = (("temperature", "temperature"), ("top_p", "top_p"))
_EXTENDED_SAMPLERS = (
    ("min_p", "min_p"),
    ("top_k", "top_k"),
    ("repetition_penalty", "repetition_penalty"),
)
_MAX_LINE = 1 << 20  # a longer unterminated line means the server is not speaking SSE
_MAX_ERROR_BODY = 64 * 1024
_DRAIN_SECONDS = 1.0


class OpenAICompatBackend:
    """Streams replies from an OpenAI-compatible HTTP server."""

    name = "openai"

    def __init__(self, settings: LLMSettings) -> None:
        self.base_url = settings.base_url.rstrip("/")
        self.context_size = settings.context_size
        self.tokenizer: Tokenizer = tokenizer_for(settings.tokenizer_path)
        self._url = f"{self.base_url}/chat/completions"
        self._model = settings.model
        self._extended = settings.extended_samplers
        self._extra_body = dict(settings.extra_body)
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            **settings.extra_headers,
        }
        if settings.api_key is not None and settings.api_key.get_secret_value():
            self._headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self._connect_timeout = settings.connect_timeout
        self._first_token_timeout = settings.first_token_timeout
        self._idle_timeout = settings.idle_timeout
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def request_body(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body sent for ``request``."""
        sampler = request.sampler
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        if request.prefill:
            # llama.cpp's server, KoboldCpp and OpenRouter continue a trailing
            # assistant message instead of starting a new one.
            messages.append({"role": "assistant", "content": request.prefill})
        body: dict[str, Any] = {
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": sampler.max_tokens,
        }
        if self._model:
            body["model"] = self._model
        fields = _STANDARD_SAMPLERS + (_EXTENDED_SAMPLERS if self._extended else ())
        for ours, theirs in fields:
            value = getattr(sampler, ours)
            if value is not None:
                body[theirs] = value
        if sampler.stop:
            body["stop"] = list(sampler.stop)
        body.update(self._extra_body)
        return body

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        """Yield the reply as the server streams it; cancelling closes the connection."""
        payload = orjson.dumps(self.request_body(request))
        loop = asyncio.get_running_loop()
        reply = _Reply()
        watchdog = _Watchdog(loop, loop.time() + self._first_token_timeout)
        response = await self._open(payload)
        watchdog.watch(response.close)
        content = response.content
        lines = _Lines()
        try:
            if response.content_type == "application/json":
                # The server ignored "stream": true and sent the whole answer at once.
                lines.whole = True
            while not reply.done:
                watchdog.begin_read()
                try:
                    data = await (content.read() if lines.whole else content.readany())
                except aiohttp.ClientError:
                    raise self._read_error(watchdog) from None
                finally:
                    watchdog.reading = False
                if not data:
                    if watchdog.expired:
                        raise self._read_error(watchdog)
                    events = lines.finish()
                else:
                    events = lines.feed(data)
                for event in events:
                    text = reply.feed(event)
                    if text:
                        if not watchdog.seen_token:
                            watchdog.token_seen(self._idle_timeout)
                        yield Chunk(text)
                if lines.whole:
                    reply.done = True
                if not data:
                    break
            if not reply.done and reply.finish_reason is None:
                raise LLMResponseError("The language model server ended mid-reply.")
            watchdog.cancel()
            await _drain(content)
            response.release()
            yield Chunk("", finish_reason=reply.finish_reason or "stop", usage=reply.usage)
        finally:
            watchdog.cancel()
            response.close()  # a no-op after release(); otherwise tells the server to stop

    async def aclose(self) -> None:
        """Close the HTTP session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        # A session belongs to one event loop; tests may run one backend on several.
        if session is None or session.closed or self._session_loop is not loop:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
                timeout=aiohttp.ClientTimeout(total=None, connect=self._connect_timeout),
            )
            self._session, self._session_loop = session, loop
        return session

    async def _open(self, payload: bytes) -> aiohttp.ClientResponse:
        """Send the request and wait for a successful status line."""
        session = self._client()
        try:
            async with asyncio.timeout(self._first_token_timeout):
                response = await session.post(self._url, data=payload, headers=self._headers)
                if response.status >= 400:
                    try:
                        raise await _status_error(response)
                    finally:
                        response.close()
                return response
        except aiohttp.ConnectionTimeoutError:
            raise LLMTimeoutError(
                f"The language model server at {self.base_url} did not accept a connection "
                f"within {self._connect_timeout:g} s."
            ) from None
        except TimeoutError:
            raise self._first_token_error() from None
        except aiohttp.ClientConnectorError as exc:
            raise LLMUnavailableError(
                f"Could not reach the language model server at {self.base_url}: "
                f"{_os_reason(exc.os_error)}."
            ) from None
        except aiohttp.ClientError as exc:
            raise LLMUnavailableError(
                f"Could not reach the language model server at {self.base_url}: {exc}."
            ) from None

    def _read_error(self, watchdog: _Watchdog) -> LLMError:
        if not watchdog.expired:
            return LLMResponseError("The language model server closed the connection mid-reply.")
        if watchdog.seen_token:
            return LLMTimeoutError(
                f"The language model server sent nothing for {self._idle_timeout:g} s mid-reply."
            )
        return self._first_token_error()

    def _first_token_error(self) -> LLMError:
        return LLMTimeoutError(
            f"The language model server at {self.base_url} did not start replying "
            f"within {self._first_token_timeout:g} s."
        )


async def _drain(content: aiohttp.StreamReader) -> None:
    """Read the end of the body after [DONE] so the connection can be reused."""
    try:
        async with asyncio.timeout(_DRAIN_SECONDS):
            while not content.is_eof() and await content.readany():
                pass
    except (TimeoutError, aiohttp.ClientError):
        pass  # release() then closes the connection instead of pooling it


class _Watchdog:
    """Closes the response when the server stays silent too long.

    Until the first token the limit is an absolute deadline; after it, the time
    spent inside one read (the consumer's time between reads does not count). One
    timer per stream re-arms itself only when it fires, so a token costs a clock
    read instead of a timer.
    """

    __slots__ = ("_due", "_handle", "_idle", "_loop", "_on_expire", "expired", "reading")

    def __init__(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        self._loop = loop
        self._on_expire: Callable[[], None] | None = None
        self._idle: float | None = None
        self._due = deadline
        self._handle: asyncio.TimerHandle | None = None
        self.reading = False
        self.expired = False

    @property
    def seen_token(self) -> bool:
        return self._idle is not None

    def watch(self, on_expire: Callable[[], None]) -> None:
        """Start watching; ``on_expire`` runs when the limit passes."""
        self._on_expire = on_expire
        self._handle = self._loop.call_at(self._due, self._check)

    def begin_read(self) -> None:
        self.reading = True
        if self._idle is not None:
            self._due = self._loop.time() + self._idle

    def token_seen(self, idle: float) -> None:
        """Switch from the first-token deadline to the idle limit."""
        self._idle = idle
        self._due = self._loop.time() + idle
        self.cancel()
        self._handle = self._loop.call_at(self._due, self._check)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        now = self._loop.time()
        if now >= self._due and (self.reading or self._idle is None):
            self.expired = True
            self._handle = None
            if self._on_expire is not None:
                self._on_expire()
            return
        if self._idle is not None and self._due <= now:
            self._due = now + self._idle  # the consumer holds the stream: look again later
        self._handle = self._loop.call_at(self._due, self._check)


class _Lines:
    """Splits an SSE byte stream into the payloads of its ``data:`` lines."""

    __slots__ = ("_tail", "whole")

    def __init__(self) -> None:
        self._tail = b""
        self.whole = False  # the body is one JSON document, not an event stream

    def feed(self, data: bytes) -> list[bytes]:
        if self.whole:
            return [data]
        if self._tail:
            data = self._tail + data
        lines = data.split(b"\n")
        self._tail = lines.pop()
        if len(self._tail) > _MAX_LINE:
            raise LLMResponseError("The language model server sent a malformed event stream.")
        return [p for line in lines if line.startswith(b"data:") and (p := line[5:].strip())]

    def finish(self) -> list[bytes]:
        """Payloads of a last line that lacked its newline."""
        tail, self._tail = self._tail, b""
        return self.feed(tail + b"\n") if tail else []


class _Reply:
    """What the events of one reply said besides their text."""

    __slots__ = ("done", "finish_reason", "usage")

    def __init__(self) -> None:
        self.done = False
        self.finish_reason: str | None = None
        self.usage: Usage | None = None

    def feed(self, payload: bytes) -> str | None:
        """Record one event (a chunk or a whole completion) and return its text."""
        if payload == b"[DONE]":
            self.done = True
            return None
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise LLMResponseError(
                "The language model server sent an event that is not JSON."
            ) from None
        if not isinstance(event, dict):
            raise LLMResponseError("The language model server sent a malformed event.")
        if event.get("error"):
            # vLLM and OpenRouter report failures after the stream has started this way.
            message = _error_text(event["error"])
            raise LLMResponseError(f"The language model server reported an error: {message}")
        usage = event.get("usage")
        if isinstance(usage, dict):
            self.usage = Usage(
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
            )
        choices = event.get("choices")
        if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
            return None
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])
        delta = choice.get("delta") or choice.get("message") or {}
        text = delta.get("content") if isinstance(delta, dict) else None
        return text if isinstance(text, str) and text else None


async def _status_error(response: aiohttp.ClientResponse) -> LLMResponseError:
    # OpenAI: {"error": {"message"}}; some servers: {"error": "..."}; FastAPI: {"detail"}.
    message = await answer_message(response, _MAX_ERROR_BODY)
    return LLMResponseError(
        f"The language model server answered {response.status}: {message}",
        status=response.status,
    )


def create(settings: LLMSettings) -> LLMBackend:
    """Factory for the registry (typed so mypy checks the class against the Protocol)."""
    return OpenAICompatBackend(settings)
