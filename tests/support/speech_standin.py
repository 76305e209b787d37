"""A loopback stand-in for an OpenAI-compatible speech server (``POST /v1/audio/speech``).

It checks the JSON body as OpenAI's API does (``model``, ``input`` of at most 4096
characters and ``voice`` required; ``response_format`` one of OpenAI's; ``speed`` 0.25-4.0)
and answers 400 with OpenAI's ``{"error": {"message", "type", "param", "code"}}`` when it is
wrong. The speech is a 24 kHz (Kokoro's rate) mono 16-bit sine tone, 60 ms per character
divided by the speed, so a client can tell that the text and speed arrived; it makes
``wav`` and ``pcm`` only. Tests steer it through the ``SpeechStandIn`` object and read what
it recorded::

    python -m tests.support.speech_standin --port 8880
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import struct
import wave
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.support.loopback import in_thread, serving, start_standin

RATE = 24_000
TONE_HZ = 220.0
SECONDS_PER_CHAR = 0.06
MAX_INPUT = 4096
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")


def tone(seconds: float, rate: int = RATE, hz: float = TONE_HZ) -> bytes:
    """``seconds`` of a sine at half scale as 16-bit little-endian PCM."""
    count = max(1, round(seconds * rate))
    step = 2 * math.pi * hz / rate
    return struct.pack(f"<{count}h", *(round(16000 * math.sin(i * step)) for i in range(count)))


def wav(pcm: bytes, rate: int = RATE) -> bytes:
    """16-bit mono PCM in a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(pcm)
    return out.getvalue()


@dataclass
class SpeechStandIn:
    """The stand-in's behaviour and what it has seen; change fields at any time."""

    voices: tuple[str, ...] | None = None  # the voices it knows; None: any name
    delay: float = 0.0  # seconds before answering
    fail_status: int | None = None  # answer every request with this status
    fail_message: str = "the stand-in was told to fail"
    api_key: str | None = None  # when set, require "Authorization: Bearer <api_key>"
    content_type: str | None = None  # send this Content-Type instead of the format's own
    requests: list[Any] = field(default_factory=list)  # each request's JSON body
    headers: list[dict[str, str]] = field(default_factory=list)
    base_url: str = ""  # http://127.0.0.1:<port>/v1 once started

    def app(self) -> web.Application:
        """The aiohttp application serving this stand-in."""
        app = web.Application()
        app.router.add_post("/v1/audio/speech", self._speech)
        return app

    async def _speech(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.headers.append(dict(request.headers))
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        self.requests.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.api_key is not None and request.headers.get("Authorization") != (
            f"Bearer {self.api_key}"
        ):
            return _error(401, "Incorrect API key provided.", "invalid_api_key", None)
        if self.fail_status is not None:
            return _error(self.fail_status, self.fail_message, "standin_failure", None)
        problem = self._problem(body)
        if problem is not None:
            return _error(400, problem[1], "invalid_value", problem[0])
        seconds = len(body["input"]) * SECONDS_PER_CHAR / body.get("speed", 1.0)
        pcm = tone(seconds)
        if body.get("response_format", "mp3") == "pcm":
            return self._audio(pcm, "audio/pcm")
        return self._audio(wav(pcm), "audio/wav")

    def _audio(self, audio: bytes, media_type: str) -> web.Response:
        headers = {"Content-Type": self.content_type or media_type}
        return web.Response(body=audio, headers=headers)

    def _problem(self, body: Any) -> tuple[str | None, str] | None:
        """The parameter at fault and why, as OpenAI words it; None for a good body."""
        if not isinstance(body, dict):
            return None, "We could not parse the JSON body of your request."
        for name in ("model", "input", "voice"):
            if name not in body:
                return name, f"Missing required parameter: '{name}'."
            if not isinstance(body[name], str):
                return name, f"Invalid type for '{name}': expected a string."
        if not body["input"]:
            return "input", "Invalid 'input': empty string."
        if len(body["input"]) > MAX_INPUT:
            return "input", f"Invalid 'input': string too long, at most {MAX_INPUT} characters."
        if self.voices is not None and body["voice"] not in self.voices:
            return "voice", f"Invalid value for 'voice': '{body['voice']}' is not a voice."
        response_format = body.get("response_format", "mp3")
        if response_format not in FORMATS:
            return "response_format", f"Invalid value for 'response_format': {response_format}."
        if response_format not in ("wav", "pcm"):
            return "response_format", "The stand-in makes wav and pcm only."
        speed = body.get("speed", 1.0)
        if isinstance(speed, bool) or not isinstance(speed, int | float):
            return "speed", "Invalid type for 'speed': expected a number."
        if not 0.25 <= speed <= 4.0:
            return "speed", f"Invalid 'speed': {speed} is outside 0.25 to 4.0."
        return None


def _error(status: int, message: str, code: str, param: str | None) -> web.Response:
    data = {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    }
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def serve_speech_standin(
    server: SpeechStandIn | None = None, **options: Any
) -> AbstractAsyncContextManager[SpeechStandIn]:
    """Run a stand-in on a free loopback port in the running event loop."""
    return serving(server or SpeechStandIn(**options), "/v1")


@contextmanager
def run_speech_standin(
    server: SpeechStandIn | None = None, **options: Any
) -> Iterator[SpeechStandIn]:
    """Run a stand-in on a free loopback port in a background thread with its own loop."""
    server = server or SpeechStandIn(**options)
    with in_thread(lambda: serve_speech_standin(server)):
        yield server


def main(argv: list[str] | None = None) -> None:
    """Serve a stand-in until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8880)
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args(argv)
    server = SpeechStandIn(api_key=args.api_key)

    async def serve() -> None:
        await start_standin(server, "/v1", args.host, args.port)
        print(f"Speech stand-in at {server.base_url}", flush=True)  # noqa: T201
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
