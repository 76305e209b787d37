"""The live call socket: ``/api/v1/conversations/{id}/call``. Thin over ``voice/call.py``.

The browser is known by its session cookie, other clients by a bearer token. A browser's
socket must come from our own page (its Origin names this host): cookies travel with a
WebSocket from any site, and CSRF tokens cannot be sent on one. Refusals are sent as an
``error`` event, then the socket is closed with a 44xx code, so a client can show why.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from afterdark.accounts.models import User
from afterdark.errors import AfterdarkError, AuthenticationError
from afterdark.runtime import Runtime
from afterdark.store.base import MAX_ID
from afterdark.voice.call import Call
from afterdark.web.deps import identify

router = APIRouter(tags=["voice"])
START_TIMEOUT = 15.0  # seconds for the client's start message
MAX_FRAME = 2**20  # one audio frame: 1 MiB is seconds of audio at any rate we take
CLOSE_CODES = {401: 4401, 402: 4402, 403: 4403, 404: 4404, 503: 4503}


class SocketTransport:
    """Sends a call's events over the socket; an audio clip goes right after its event."""

    def __init__(self, socket: WebSocket) -> None:
        self.socket = socket
        self._lock = asyncio.Lock()

    async def send(self, event: dict[str, Any], audio: bytes | None = None) -> None:
        async with self._lock:
            await self.socket.send_text(orjson.dumps(event).decode())
            if audio is not None:
                await self.socket.send_bytes(audio)

    async def close(self, code: int, reason: str) -> None:
        async with self._lock:
            with contextlib.suppress(Exception):
                await self.socket.close(code, reason[:120])


async def _refuse(socket: WebSocket, code: str, message: str, close_code: int) -> None:
    with contextlib.suppress(Exception):
        await socket.send_text(
            orjson.dumps(
                {"type": "error", "code": code, "message": message, "fatal": True}
            ).decode()
        )
        await socket.close(close_code, message[:120])


def _same_origin(socket: WebSocket) -> bool:
    origin = socket.headers.get("origin")
    if origin is None:  # not a browser: a browser always sends Origin on a WebSocket
        return True
    return urlsplit(origin).netloc.lower() == socket.headers.get("host", "").lower()


async def _user(socket: WebSocket, runtime: Runtime) -> User:
    user, cookie = await identify(socket, runtime)
    if user is None or (cookie is not None and not _same_origin(socket)):
        raise AuthenticationError(
            "Log in first (from this site), or send an API token as 'Authorization: Bearer'."
        )
    return user


async def _start(socket: WebSocket) -> int | None:
    """The sample rate from the client's start message; None (and refused) when wrong."""
    try:
        raw = await asyncio.wait_for(socket.receive_text(), START_TIMEOUT)
        first = orjson.loads(raw)
    except (TimeoutError, orjson.JSONDecodeError, KeyError, RuntimeError):
        first = None
    rate = first.get("sample_rate") if isinstance(first, dict) else None
    if not isinstance(first, dict) or first.get("type") != "start" or type(rate) is not int:
        await _refuse(
            socket,
            "bad_start",
            'Start the call with {"type": "start", "sample_rate": <Hz>} as the first message.',
            4400,
        )
        return None
    return rate


@router.websocket("/api/v1/conversations/{conversation_id}/call")
async def call_socket(socket: WebSocket, conversation_id: int) -> None:
    """A live voice call with the conversation's character (protocol: docs/voice.md)."""
    runtime: Runtime = socket.app.state.runtime
    await socket.accept()
    if not 1 <= conversation_id <= MAX_ID:
        await _refuse(socket, "not_found", f"Conversation {conversation_id} does not exist.", 4404)
        return
    try:
        user = await _user(socket, runtime)
    except AuthenticationError as exc:
        await _refuse(socket, exc.code, exc.message, 4401)
        return
    rate = await _start(socket)
    if rate is None:
        return
    transport = SocketTransport(socket)
    call = Call(runtime, user, conversation_id, transport)
    try:
        ready = await call.start(rate)
    except AfterdarkError as exc:
        await _refuse(socket, exc.code, exc.message, CLOSE_CODES.get(exc.status, 4400))
        return
    await transport.send(ready)
    await transport.send({"type": "state", "state": "listening"})
    limit = runtime.settings.voice.call_max_minutes * 60
    try:
        async with asyncio.timeout(limit):
            await _listen(socket, call)
    except TimeoutError:
        await _refuse(
            socket,
            "call_too_long",
            f"Calls end after {runtime.settings.voice.call_max_minutes} minutes; call again.",
            1000,
        )
    except WebSocketDisconnect:
        pass
    finally:
        await call.end()
    with contextlib.suppress(Exception):
        await socket.close(1000)


async def _listen(socket: WebSocket, call: Call) -> None:
    while True:
        message = await socket.receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("bytes")
        if data is not None:
            if len(data) > MAX_FRAME:
                await _refuse(socket, "frame_too_large", "An audio frame is at most 1 MiB.", 1009)
                return
            await call.hear(data)
            continue
        try:
            event = orjson.loads(message.get("text") or "")
        except orjson.JSONDecodeError:
            event = None
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "hangup":
            return
        if kind == "played" and isinstance(event, dict):
            await call.played(event.get("message_id"), event.get("seq"))
