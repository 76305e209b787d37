"""The live call's round trip for ``benchmarks/voice.py``: speech in to first audio out.

A real ``afterdark`` app (uvicorn on loopback, the embedded Piper and Whisper) answers calls
whose chat model is the loopback OpenAI stand-in answering at once, so what is measured is
Afterdark's own path: voice detection, transcription, the chat engine, speech. Questions are
said by the packaged Piper voice and streamed in 20 ms frames at real-time pace, as a
microphone would; each turn's ``latency`` event is collected. The first turn is a warm-up and
is left out.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from afterdark.config import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPLY = "Of course. The boat leaves from the north pier at nine, so bring a coat."
STAGES = ("end_of_speech", "transcript", "first_token", "first_audio", "llm", "without_llm")


async def _calls(server: Any, questions: Sequence[str]) -> list[dict[str, int]]:
    from tests.conftest import live_signup
    from tests.support.call_client import RATE, cookie_headers, open_call
    from tests.support.speech_audio import piper, silence

    http = live_signup(server, "bench@example.com")
    character = http.get("/api/v1/characters").json()[0]["id"]
    conversation = http.post("/api/v1/conversations", json={"character_id": character}).json()["id"]
    headers = cookie_headers(http, server.url)
    said = [np.concatenate([piper(q, RATE), silence(1.0, RATE)]) for q in questions]
    figures: list[dict[str, int]] = []
    async with open_call(server.url, conversation, headers) as call:
        await call.next("ready")
        for n, pcm in enumerate(said):
            mark = len(call.events)
            await call.say(np.concatenate([silence(0.3, RATE), pcm]), pace=1.0)
            latency = await call.next("latency", after=mark, timeout=120)
            await call.send({"type": "played"})
            if n:  # the first is a warm-up
                figures.append(latency["ms"])
        await call.send({"type": "hangup"})
    http.close()
    return figures


def call_round_trip(questions: Sequence[str], threads: int) -> dict[str, Any]:
    """Per-stage p50/p95 (ms from the end of the user's speech) over the questions."""
    from tests.conftest import LiveServer
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
        with LiveServer(settings) as server:
            figures = asyncio.run(_calls(server, questions))
    summary: dict[str, Any] = {"turns": len(figures)}
    for stage in STAGES:
        values = np.asarray([f[stage] for f in figures if f.get(stage) is not None], dtype=float)
        if values.size:
            summary[stage] = (float(np.percentile(values, 50)), float(np.percentile(values, 95)))
    return summary
