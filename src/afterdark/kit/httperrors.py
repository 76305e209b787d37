"""Plain words for what went wrong talking to another server (a model, a renderer, a voice).

Every HTTP backend turns connection failures and error bodies into sentences for the user;
these two helpers are what they share.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import aiohttp
import orjson


def os_reason(error: OSError) -> str:
    """Why a connection failed, in the system's words ("Connection refused")."""
    if isinstance(error, socket.gaierror) or not isinstance(error.errno, int):
        return error.strerror or str(error)
    return os.strerror(error.errno)


def error_text(error: object) -> str:
    """The message in an error body: OpenAI's ``error.message``, FastAPI's ``msg`` (or a
    list of them), or the text itself; at most 300 characters."""
    if isinstance(error, dict):
        error = error.get("message") or error.get("msg") or ""
    if isinstance(error, list):  # FastAPI validation errors
        error = "; ".join(error_text(item) for item in error)
    return str(error or "").strip()[:300]


async def answer_message(
    response: aiohttp.ClientResponse,
    limit: int,
    keys: tuple[str, ...] = ("error", "detail", "message"),
    words: Callable[[object], str] = error_text,
) -> str:
    """The message of an error answer: the first of ``keys`` in its JSON body that says
    something (OpenAI's ``error``, FastAPI's ``detail``...), else its text, else the reason."""
    try:
        raw = await response.content.read(limit)
    except aiohttp.ClientError:
        raw = b""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        for key in keys:
            message = words(data.get(key))
            if message:
                return message
    return raw.decode(errors="replace").strip()[:300] or (response.reason or "no reason")
