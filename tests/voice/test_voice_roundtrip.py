"""A character's greeting read aloud by the packaged Piper voice and heard back by the packaged
Whisper, through the API: the real embedded voice backends end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from afterdark.config import Settings
from afterdark.voice.wer import wer
from tests.conftest import make_settings

pytestmark = pytest.mark.slow

SAID = "The ferry is late tonight, so we can walk along the harbour."


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, "http://127.0.0.1:9/v1")  # voice: the embedded defaults


async def test_a_greeting_is_spoken_and_heard_back(
    user_client: httpx.AsyncClient, app: Any
) -> None:
    status = (await user_client.get("/api/v1/voice/status")).json()
    assert (status["speech_backend"], status["transcription_backend"]) == ("embedded", "embedded")
    made = await user_client.post(
        "/api/v1/characters",
        json={"name": "Mara Quill", "age": 34, "first_message": f"*She smiles.* {SAID}"},
    )
    chat = (
        await user_client.post("/api/v1/conversations", json={"character_id": made.json()["id"]})
    ).json()
    spoken = await user_client.get(f"/api/v1/messages/{chat['messages'][0]['id']}/speech")
    assert spoken.status_code == 200, spoken.text
    assert spoken.content[:4] == b"RIFF"
    assert 2.0 < float(spoken.headers["x-audio-seconds"]) < 8.0

    heard = await user_client.post(
        "/api/v1/voice/transcribe", files={"audio": ("greeting.wav", spoken.content, "audio/wav")}
    )
    assert heard.status_code == 200, heard.text
    assert wer(SAID, heard.json()["text"]) <= 0.25, heard.json()["text"]
    assert "smiles" not in heard.json()["text"].lower()  # the narration was not read
