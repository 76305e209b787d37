"""Pictures a chat asks for in words, or the character cues with [picture: …]: made once the
reply is finished, shown under it, charged like any picture; one per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from afterdark.app import create_app
from afterdark.config import Settings
from tests.conftest import make_settings
from tests.images.test_pictures_api import PhotoBackend, character
from tests.web.chat_helpers import events_of


@pytest.fixture
def backend() -> PhotoBackend:
    return PhotoBackend()


@pytest.fixture
def settings(tmp_path: Path, standin: Any) -> Settings:
    return make_settings(tmp_path, standin.base_url)


@pytest.fixture
async def app(settings: Settings, backend: PhotoBackend) -> AsyncIterator[Any]:
    application = create_app(settings, image_backend=backend)
    async with application.router.lifespan_context(application):
        yield application


async def say(
    client: httpx.AsyncClient, app: Any, conversation_id: int, text: str
) -> dict[str, Any]:
    sent = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"content": text}
    )
    assert sent.status_code == 201, sent.text
    await events_of(client, sent.json()["generation_id"])
    await app.state.runtime.pictures.jobs.drain()
    return dict(sent.json())


async def test_pictures_asked_for_in_words_or_cued(
    user_client: httpx.AsyncClient, app: Any, backend: PhotoBackend, standin: Any
) -> None:
    cid = await character(user_client)
    chat = (await user_client.post("/api/v1/conversations", json={"character_id": cid})).json()
    pictures = f"/api/v1/conversations/{chat['id']}/pictures"

    standin.reply = "The tide is out and the gulls are loud."
    await say(user_client, app, chat["id"], "I found an old photo of the harbour.")
    assert (await user_client.get(pictures)).json() == []  # a mention, not a request

    standin.reply = "Give me a second."
    turn = await say(user_client, app, chat["id"], "Send me a photo of you on the pier?")
    [made] = (await user_client.get(pictures)).json()
    assert (made["status"], made["request"]) == ("done", "Send me a photo of you on the pier?")
    assert made["message_id"] == turn["reply"]["id"]  # under the character's answer
    assert backend.requests[-1].prompt.startswith("Send me a photo of you on the pier?")

    # A regenerated answer to the same request makes no second picture.
    again = await user_client.post(f"/api/v1/messages/{turn['reply']['id']}/regenerate")
    assert again.status_code == 201, again.text
    await events_of(user_client, again.json()["generation_id"])
    await app.state.runtime.pictures.jobs.drain()
    assert len((await user_client.get(pictures)).json()) == 1

    # The character's own cue.
    standin.reply = "Here, from this morning. [picture: Mara on the quay at dawn, smiling]"
    turn = await say(user_client, app, chat["id"], "What did you do today?")
    cued = (await user_client.get(pictures)).json()[-1]
    assert cued["request"] == "Mara on the quay at dawn, smiling"
    assert cued["message_id"] == turn["reply"]["id"]
    assert len(backend.requests) == 2
