"""A loopback stand-in for an OpenAI-compatible chat server.

It speaks the real wire protocol (``POST /v1/chat/completions`` streamed as
server-sent ``chat.completion.chunk`` events ending in ``data: [DONE]``, or as one
JSON document; ``GET /v1/models``), so the ``openai`` backend is tested over a
real socket. Tests steer it through the ``StandIn`` object: the reply, delays,
failures, a required key; it records every request body and header.

Chunk bytes are built once per reply and reused, so it keeps up with benchmarks
of thousands of concurrent streams::

    python -m tests.support.openai_standin --port 8001 --token-delay 0.02 --tokens 64
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

import orjson
from aiohttp import web

from tests.support.loopback import in_thread

LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud"
).split()
_WORD = re.compile(r"\s*\S+")
_CREATED = 1_700_000_000
_DONE = b"data: [DONE]\n\n"


def default_reply(tokens: int) -> str:
    """The deterministic lorem-like reply of ``tokens`` words."""
    return " ".join(LOREM[i % len(LOREM)] for i in range(tokens))


def split_tokens(text: str) -> list[str]:
    """Word tokens, each keeping its leading whitespace."""
    return _WORD.findall(text)


def _chunk(model: str, delta: dict[str, str], finish_reason: str | None = None) -> bytes:
    event = {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    return b"data: " + orjson.dumps(event) + b"\n\n"


@dataclass
class StandIn:
    """The stand-in server's behaviour and what it has seen; change fields at any time."""

    reply: str | None = None  # scripted reply; None: `tokens` lorem words
    tokens: int = 64
    first_token_delay: float = 0.0
    token_delay: float = 0.0
    fail_status: int | None = None  # answer every completion with this status
    fail_message: str = "the stand-in was told to fail"
    hang_after: int | None = None  # send this many tokens, then stall until the client leaves
    drop_after: int | None = None  # send this many tokens, then cut the connection
    api_key: str | None = None  # when set, require "Authorization: Bearer <api_key>"
    model: str = "standin-model"
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    peers: list[Any] = field(default_factory=list)  # client address of each request
    completed: int = 0  # streams sent to the end
    disconnects: int = 0  # streams the client left before the end
    base_url: str = ""  # http://127.0.0.1:<port>/v1 once started
    _cache: dict[tuple[str, str], list[bytes]] = field(default_factory=dict, repr=False)

    def reset(self) -> None:
        """Back to defaults, forgetting recorded requests (the address stays)."""
        fresh = StandIn()
        for name in (f.name for f in fields(self) if f.name != "base_url"):
            setattr(self, name, getattr(fresh, name))

    def app(self) -> web.Application:
        """The aiohttp application serving this stand-in."""
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        return app

    def _token_chunks(self, text: str) -> list[bytes]:
        key = (self.model, text)
        chunks = self._cache.get(key)
        if chunks is None:
            chunks = [_chunk(self.model, {"content": t}) for t in split_tokens(text)]
            self._cache[key] = chunks
        return chunks

    async def _models(self, request: web.Request) -> web.Response:
        data = {"object": "list", "data": [{"id": self.model, "object": "model"}]}
        return web.Response(body=orjson.dumps(data), content_type="application/json")

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.peers.append(request.transport and request.transport.get_extra_info("peername"))
        if self.api_key is not None and request.headers.get("Authorization") != (
            f"Bearer {self.api_key}"
        ):
            return _error(401, "invalid key", "invalid_api_key")
        if self.fail_status is not None:
            return _error(self.fail_status, self.fail_message, "standin_failure")
        text = self.reply if self.reply is not None else default_reply(self.tokens)
        chunks = self._token_chunks(text)
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        finish_reason = "stop"
        if isinstance(max_tokens, int) and len(chunks) > max_tokens:
            chunks, finish_reason = chunks[:max_tokens], "length"
        prompt_tokens = sum(
            len(str(m.get("content") or "").split()) for m in body.get("messages", [])
        )
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(chunks),
            "total_tokens": prompt_tokens + len(chunks),
        }
        if self.first_token_delay:
            await asyncio.sleep(self.first_token_delay)
        if not body.get("stream"):
            return self._whole(text, chunks, finish_reason, usage)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return await self._stream(request, chunks, finish_reason, usage if include_usage else None)

    def _whole(
        self, text: str, chunks: list[bytes], finish_reason: str, usage: dict[str, int]
    ) -> web.Response:
        content = "".join(split_tokens(text)[: len(chunks)])
        data = {
            "id": "chatcmpl-standin",
            "object": "chat.completion",
            "created": _CREATED,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": usage,
        }
        self.completed += 1
        return web.Response(body=orjson.dumps(data), content_type="application/json")

    async def _stream(
        self,
        request: web.Request,
        chunks: list[bytes],
        finish_reason: str,
        usage: dict[str, int] | None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        tail = _chunk(self.model, {}, finish_reason)
        if usage is not None:
            event: dict[str, Any] = {
                "id": "chatcmpl-standin",
                "object": "chat.completion.chunk",
                "created": _CREATED,
                "model": self.model,
                "choices": [],
                "usage": usage,
            }
            tail += b"data: " + orjson.dumps(event) + b"\n\n"
        tail += _DONE
        try:
            await response.write(_chunk(self.model, {"role": "assistant", "content": ""}))
            stall = self.hang_after if self.hang_after is not None else self.drop_after
            if stall is not None:
                for chunk in chunks[:stall]:
                    await response.write(chunk)
                if self.hang_after is not None:
                    await _wait_for_disconnect(request)
                    self.disconnects += 1
                elif request.transport is not None:
                    request.transport.abort()  # no chunked terminator: a crashed server
                return response
            if self.token_delay:
                for chunk in chunks:
                    await asyncio.sleep(self.token_delay)
                    await response.write(chunk)
                await response.write(tail)
            else:
                await response.write(b"".join(chunks) + tail)
            await response.write_eof()
            self.completed += 1
        except ConnectionError:
            self.disconnects += 1
        except asyncio.CancelledError:
            self.disconnects += 1
            raise
        return response


def _error(status: int, message: str, code: str) -> web.Response:
    data = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


async def _wait_for_disconnect(request: web.Request) -> None:
    # aiohttp does not cancel handlers when the client leaves, so look for it.
    while request.transport is not None and not request.transport.is_closing():
        await asyncio.sleep(0.02)


def _listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


async def _start(server: StandIn, host: str = "127.0.0.1", port: int = 0) -> web.AppRunner:
    runner = web.AppRunner(server.app(), access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    sock = _listening_socket(host, port)
    # A deep backlog: benchmarks open thousands of connections at once.
    await web.SockSite(runner, sock, backlog=4096).start()
    server.base_url = f"http://{host}:{sock.getsockname()[1]}/v1"
    return runner


@asynccontextmanager
async def serve_standin(server: StandIn | None = None, **options: Any) -> AsyncIterator[StandIn]:
    """Run a stand-in on a free loopback port in the running event loop."""
    server = server or StandIn(**options)
    runner = await _start(server)
    try:
        yield server
    finally:
        await runner.cleanup()


@contextmanager
def run_standin(server: StandIn | None = None, **options: Any) -> Iterator[StandIn]:
    """Run a stand-in on a free loopback port in a background thread with its own loop."""
    server = server or StandIn(**options)
    with in_thread(lambda: serve_standin(server)):
        yield server


def main(argv: list[str] | None = None) -> None:
    """Serve a stand-in until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--tokens", type=int, default=64, help="words in each reply")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between tokens")
    parser.add_argument("--first-token-delay", type=float, default=0.0)
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args(argv)
    server = StandIn(
        tokens=args.tokens,
        token_delay=args.token_delay,
        first_token_delay=args.first_token_delay,
        api_key=args.api_key,
    )
    # A long benchmark would otherwise keep every request body in memory.
    server.requests = server.headers = server.peers = _Discard()

    async def serve() -> None:
        await _start(server, args.host, args.port)
        print(f"OpenAI stand-in at {server.base_url}", flush=True)  # noqa: T201
        await asyncio.Event().wait()

    try:
        _run_fast(serve())
    except KeyboardInterrupt:
        pass


def _run_fast(coroutine: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop  # several times the throughput of asyncio's own loop
    except ImportError:
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)


class _Discard(list[Any]):
    def append(self, item: Any) -> None:
        pass


if __name__ == "__main__":
    main()
