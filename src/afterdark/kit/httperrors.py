"""Plain words for what went wrong talking to another server (a model, a renderer, a voice).

Every HTTP backend turns connection failures and error bodies into sentences for the user;
these two helpers are what they share.
"""

from __future__ import annotations

import os
import socket


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
