"""A loopback stand-in for an OpenAI-compatible transcription server.

It speaks the real wire protocol: ``POST /v1/audio/transcriptions`` takes a multipart form
(``file`` and ``model`` required, ``response_format`` json, text or verbose_json) and
answers OpenAI's shapes and error documents, so the ``openai`` transcription backend is
tested over a real socket. Tests steer it through the ``TranscriptionStandIn`` object: the
transcript, a delay, failures, a required key; it records every form it was sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import BodyPartReader, hdrs, web

from tests.support.loopback import in_thread, serving


@dataclass
class Upload:
    """One request as the server read it."""

    fields: dict[str, str]  # the form's plain fields: model, response_format, language ...
    filename: str | None
    content_type: str | None
    audio: bytes | None
    headers: dict[str, str]


@dataclass
class TranscriptionStandIn:
    """The stand-in's behaviour and what it has seen; change fields at any time."""

    text: str = "hello from the stand-in"
    language: str = "english"  # verbose_json names languages in full, as OpenAI does
    duration: float = 1.5
    delay: float = 0.0  # seconds before answering
    fail_status: int | None = None  # answer every transcription with this status
    fail_message: str = "the stand-in was told to fail"
    api_key: str | None = None  # when set, require "Authorization: Bearer <api_key>"
    uploads: list[Upload] = field(default_factory=list)
    base_url: str = ""  # http://127.0.0.1:<port>/v1 once started

    def app(self) -> web.Application:
        """The aiohttp application serving this stand-in."""
        app = web.Application(client_max_size=32 * 1024 * 1024)  # OpenAI's 25 MB, and some
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        return app

    async def _transcribe(self, request: web.Request) -> web.StreamResponse:
        if not request.content_type.startswith("multipart/form-data"):
            return _error(400, "Expected a multipart/form-data body.", "invalid_request")
        fields: dict[str, str] = {}
        file: tuple[str | None, str | None, bytes] | None = None
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                continue  # a nested multipart: not part of this API
            if part.name == "file" and part.filename is not None:
                file = (part.filename, part.headers.get(hdrs.CONTENT_TYPE), await part.read())
            elif part.name:
                fields[part.name] = await part.text()
        self.uploads.append(
            Upload(
                fields=fields,
                filename=file[0] if file else None,
                content_type=file[1] if file else None,
                audio=file[2] if file else None,
                headers=dict(request.headers),
            )
        )
        if self.api_key is not None and request.headers.get("Authorization") != (
            f"Bearer {self.api_key}"
        ):
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        if file is None:
            return _error(400, "Missing required parameter: 'file'.", "missing_required_parameter")
        if not fields.get("model"):
            return _error(400, "Missing required parameter: 'model'.", "missing_required_parameter")
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_status is not None:
            return _error(self.fail_status, self.fail_message, "standin_failure")
        response_format = fields.get("response_format") or "json"
        if response_format == "text":
            return web.Response(text=self.text + "\n")
        body: dict[str, Any] = {"text": self.text}
        if response_format == "verbose_json":
            body |= {
                "task": "transcribe",
                "language": self.language,
                "duration": self.duration,
                "segments": [],
            }
        elif response_format != "json":
            return _error(400, f"Unsupported response_format: {response_format}.", "invalid_value")
        return web.Response(body=orjson.dumps(body), content_type="application/json")


def _error(status: int, message: str, code: str) -> web.Response:
    data = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def serve_transcription_standin(
    server: TranscriptionStandIn | None = None, **options: Any
) -> AbstractAsyncContextManager[TranscriptionStandIn]:
    """Run a stand-in on a free loopback port in the running event loop."""
    return serving(server or TranscriptionStandIn(**options), "/v1")


@contextmanager
def run_transcription_standin(
    server: TranscriptionStandIn | None = None, **options: Any
) -> Iterator[TranscriptionStandIn]:
    """Run a stand-in on a free loopback port in a background thread with its own loop."""
    server = server or TranscriptionStandIn(**options)
    with in_thread(lambda: serve_transcription_standin(server)):
        yield server
