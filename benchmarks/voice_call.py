"""The live call's round trip for ``benchmarks/voice.py``: speech in to first audio out.

A real ``afterdark`` app (uvicorn on loopback, the embedded Piper and Whisper) answers calls
whose chat model is the loopback OpenAI stand-in answering at once, so what is measured is
Afterdark's own path: voice detection, transcription, the chat engine, speech. Questions are
said by the packaged Piper voice and streamed in 20 ms frames at real-time pace, as a
microphone would; each turn's ``latency`` event is collected. The first turn (it loads the
models) is left out.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvicorn

from afterdark.app import create_app
from afterdark.config import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPLY = "Of course. The boat leaves from the north pier at nine, so bring a coat."
STAGES = ("end_of_speech", "transcript", "first_token", "first_audio", "llm", "without_llm")


@contextmanager
def _server(settings: Settings) -> Iterator[str]:
    from tests.conftest import free_port

    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


async def _calls(base: str, questions: Sequence[str], threads: int) -> list[dict[str, int]]:
    from tests.support.call_client import RATE, open_call
    from tests.support.speech_audio import piper, silence

    http = httpx.Client(base_url=base, timeout=60)
    signup = http.post(
        "/api/v1/auth/signup",
        json={
            "email": "bench@example.com",
            "password": "a long benchmark pass",
            "birthdate": "1980-01-01",
        },
    )
    signup.raise_for_status()
    http.headers["X-CSRF-Token"] = http.cookies["afterdark_csrf"]
    character = http.get("/api/v1/characters").json()[0]["id"]
    conversation = http.post("/api/v1/conversations", json={"character_id": character}).json()["id"]
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in http.cookies.items()), "Origin": base}
    said = [np.concatenate([piper(q, RATE), silence(1.0, RATE)]) for q in questions]
    figures: list[dict[str, int]] = []
    async with open_call(base, conversation, headers) as call:
        await call.next("ready")
        for n, pcm in enumerate(said):
            mark = len(call.events)
            await call.say(np.concatenate([silence(0.3, RATE), pcm]), pace=1.0)
            latency = await call.next("latency", after=mark, timeout=120)
            await call.send({"type": "played"})
            if n:  # the first turn loads the models
                figures.append(latency["ms"])
        await call.send({"type": "hangup"})
    http.close()
    return figures


def call_round_trip(questions: Sequence[str], threads: int) -> dict[str, Any]:
    """Per-stage p50/p95 (ms from the end of the user's speech) over the questions."""
    from tests.support.openai_standin import run_standin

    with tempfile.TemporaryDirectory() as data, run_standin(reply=REPLY) as standin:
        settings = Settings(
            environment="test",
            data_dir=Path(data),
            llm={"backend": "openai", "base_url": standin.base_url, "model": "standin"},
            sparks={"enabled": False},
            memory={"enabled": False, "embedder": "fake"},
            safety={"warm_classifier": False},
            voice={"threads": threads},
        )
        with _server(settings) as base:
            figures = asyncio.run(_calls(base, questions, threads))
    summary: dict[str, Any] = {"turns": len(figures)}
    for stage in STAGES:
        values = np.asarray([f[stage] for f in figures if f.get(stage) is not None], dtype=float)
        if values.size:
            summary[stage] = (float(np.percentile(values, 50)), float(np.percentile(values, 95)))
    return summary
