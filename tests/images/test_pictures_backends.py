"""A picture asked for in a chat, end to end through the real backends: the ComfyUI protocol
over loopback (its stand-in renders the uploaded reference, or scripted photos) and a local
diffusers pipeline (a tiny random model built offline: its pictures are noise, so they show
no face, which is itself a case the identity check must report honestly).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from afterdark.app import create_app
from afterdark.config import Settings
from tests.conftest import make_settings, signup
from tests.support.comfyui_standin import ComfyStandIn, run_comfyui_standin
from tests.support.photos import photos
from tests.support.tiny_pipeline import tiny_pipeline


@pytest.fixture
def comfy() -> Iterator[ComfyStandIn]:
    with run_comfyui_standin() as server:
        yield server


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            http.app = application  # type: ignore[attr-defined]
            await signup(http)
            yield http


async def _chat_picture(http: httpx.AsyncClient, request: str) -> dict[str, Any]:
    made = await http.post(
        "/api/v1/characters",
        json={"name": "Mara Quill", "age": 34, "first_message": "There you are."},
    )
    cid = made.json()["id"]
    chat = (await http.post("/api/v1/conversations", json={"character_id": cid})).json()
    reference = await http.post(
        f"/api/v1/characters/{cid}/reference",
        files={"image": ("face.jpg", (photos() / "obama.jpg").read_bytes(), "image/jpeg")},
        data={"likeness": "fictional"},
    )
    assert reference.status_code == 200, reference.text
    asked = await http.post(
        f"/api/v1/characters/{cid}/pictures",
        json={"request": request, "conversation_id": chat["id"]},
    )
    assert asked.status_code == 202, asked.text
    await http.app.state.runtime.pictures.jobs.drain()  # type: ignore[attr-defined]
    picture = (await http.get(f"/api/v1/pictures/{asked.json()['id']}")).json()
    shown = (await http.get(f"/api/v1/conversations/{chat['id']}/pictures")).json()
    assert [p["id"] for p in shown] == [picture["id"]]
    return dict(picture)


@pytest.fixture
async def comfy_client(tmp_path: Path, comfy: ComfyStandIn) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        tmp_path,
        "http://127.0.0.1:9/v1",
        images={"backend": "comfyui", "base_url": comfy.base_url, "workflow": "sdxl_instantid"},
    )
    async for http in _client(settings):
        yield http


async def test_a_chat_picture_through_comfyui(
    comfy_client: httpx.AsyncClient, comfy: ComfyStandIn
) -> None:
    # Every render shows another person's face: three tries (the default), none the same.
    comfy.images = [(photos() / "biden.jpg").read_bytes()]
    picture = await _chat_picture(comfy_client, "on the ferry deck")
    assert picture["status"] == "done", picture
    assert (picture["tries"], picture["identity_passed"]) == (3, False)
    assert len(comfy.prompts) == 3
    assert [p["prompt"] for p in comfy.prompts][0] != comfy.prompts[1]["prompt"]  # new seeds

    comfy.images = []  # the stand-in now renders the uploaded reference: the same face
    again = await comfy_client.post(f"/api/v1/pictures/{picture['id']}/regenerate")
    await comfy_client.app.state.runtime.pictures.jobs.drain()  # type: ignore[attr-defined]
    redone = (await comfy_client.get(f"/api/v1/pictures/{again.json()['id']}")).json()
    assert (redone["status"], redone["identity_passed"]) == ("done", True)
    assert redone["distance"] < 0.1
    assert redone["identity_method"] == "instantid"
    image = await comfy_client.get(redone["url"])
    assert image.content == (photos() / "obama.jpg").read_bytes()
    # The real protocol was spoken: the reference uploaded, the graph filled and queued.
    assert comfy.uploads
    graph = comfy.prompts[-1]["prompt"]
    texts = [n["inputs"].get("text") for n in graph.values() if n["class_type"] == "CLIPTextEncode"]
    assert any(t and t.startswith("on the ferry deck, Mara Quill") for t in texts)
    loaded = [n["inputs"]["image"] for n in graph.values() if n["class_type"] == "LoadImage"]
    assert loaded == [next(iter(comfy.uploads))]


async def test_a_failing_comfyui_render_is_stored_as_failed(
    comfy_client: httpx.AsyncClient, comfy: ComfyStandIn
) -> None:
    comfy.execution_error = "CUDA out of memory"
    picture = await _chat_picture(comfy_client, "in the garden")
    assert picture["status"] == "failed"
    assert "CUDA out of memory" in picture["error"]
    assert picture["url"] is None


async def test_a_chat_picture_through_a_local_diffusers_pipeline(tmp_path: Path) -> None:
    model = tiny_pipeline(tmp_path / "models")
    settings = make_settings(
        tmp_path,
        "http://127.0.0.1:9/v1",
        images={
            "backend": "diffusers",
            "model_path": model,
            "device": "cpu",
            "width": 64,
            "height": 64,
            "steps": 2,
            "max_tries": 2,
        },
    )
    async for http in _client(settings):
        picture = await _chat_picture(http, "a quiet portrait")
        assert picture["status"] == "done", picture
        # Noise shows no face: both tries scored, none passed, and the figures say so.
        assert (picture["tries"], picture["faces"], picture["identity_passed"]) == (2, 0, False)
        assert picture["distance"] is None
        image = await http.get(picture["url"])
        assert image.content.startswith(b"\x89PNG")
