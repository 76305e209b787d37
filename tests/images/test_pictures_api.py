"""Pictures through the API: asked for, re-rolled until the face is the reference's, stored
sealed, shown in the gallery, paid in Sparks only when made; the reference face from an
upload or a render; cancel, withhold, delete, portrait; and pictures off by default.

The backend here returns real photos in a scripted order (the face_recognition test photos:
several of one person, one of another), so identity scoring and re-rolls run for real;
the ComfyUI path end to end is in test_pictures_comfyui.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from afterdark.app import create_app
from afterdark.config import Settings
from afterdark.images import nsfw
from afterdark.images.base import ImageCancelledError, Progress, Rendered, RenderRequest
from afterdark.images.models import Picture
from tests.conftest import make_settings, signup
from tests.support.photos import photos

SAME = 0.6


class PhotoBackend:
    """Renders by handing out real photos in the order a test sets."""

    name = "photos"
    identity = "test"

    def __init__(self) -> None:
        self.script: list[str] = []
        self.requests: list[RenderRequest] = []
        self.hang = False
        self._stop = asyncio.Event()

    async def render(self, request: RenderRequest, progress: Any = None) -> Rendered:
        self.requests.append(request)
        if progress is not None:
            await progress(Progress(1, 2))
        if self.hang:
            await self._stop.wait()
            raise ImageCancelledError("The picture was cancelled.")
        name = self.script.pop(0) if self.script else "obama.jpg"
        return Rendered((photos() / name).read_bytes(), "image/jpeg", request.seed)

    async def interrupt(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        pass


@pytest.fixture
def backend() -> PhotoBackend:
    return PhotoBackend()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path,
        "http://127.0.0.1:9/v1",
        sparks={"enabled": True},
        images={"max_tries": 3, "identity_threshold": SAME},
    )


@pytest.fixture
async def app(settings: Settings, backend: PhotoBackend) -> AsyncIterator[Any]:
    application = create_app(settings, image_backend=backend)
    async with application.router.lifespan_context(application):
        yield application


async def character(client: httpx.AsyncClient, name: str = "Mara Quill") -> int:
    made = await client.post(
        "/api/v1/characters",
        json={
            "name": name,
            "age": 34,
            "appearance": "short dark hair, a green scarf",
            "first_message": "You made it. Sit, the tea is still warm.",
        },
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def upload_reference(
    client: httpx.AsyncClient, cid: int, name: str, likeness: str | None = "fictional"
) -> httpx.Response:
    data = {"likeness": likeness} if likeness else {}
    return await client.post(
        f"/api/v1/characters/{cid}/reference",
        files={"image": (name, (photos() / name).read_bytes(), "image/jpeg")},
        data=data,
    )


async def finished(client: httpx.AsyncClient, app: Any, picture_id: int) -> dict[str, Any]:
    await app.state.runtime.pictures.jobs.drain()
    got = await client.get(f"/api/v1/pictures/{picture_id}")
    assert got.status_code == 200, got.text
    return dict(got.json())


async def balance(client: httpx.AsyncClient) -> int:
    sparks = (await client.get("/api/v1/me/sparks")).json()
    return int(sparks["free"]) + int(sparks["wallet"])


async def test_a_picture_is_rerolled_until_it_has_the_reference_face(
    user_client: httpx.AsyncClient, app: Any, backend: PhotoBackend
) -> None:
    cid = await character(user_client)
    assert (await user_client.get(f"/api/v1/characters/{cid}/reference")).status_code == 404
    refused = await upload_reference(user_client, cid, "obama.jpg", likeness=None)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "likeness_attestation_required"
    made = await upload_reference(user_client, cid, "obama.jpg")
    assert made.status_code == 200, made.text
    assert (made.json()["source"], made.json()["attestation"]) == ("upload", "fictional")
    before = await balance(user_client)

    backend.script = ["biden.jpg", "obama2.jpg"]
    asked = await user_client.post(
        f"/api/v1/characters/{cid}/pictures", json={"request": "by the window, reading"}
    )
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "queued"
    assert await balance(user_client) == before - 20  # held while it renders
    picture = await finished(user_client, app, asked.json()["id"])
    assert picture["status"] == "done", picture
    assert picture["tries"] == 2
    assert picture["identity_passed"] is True
    assert picture["distance"] <= SAME < picture["first_distance"]
    assert picture["identity_method"] == "test"
    assert picture["sparks"] == 20
    assert await balance(user_client) == before - 20  # charged once, re-roll included

    # The prompt: the request, the character as an adult, her looks; the reference sent.
    first, second = backend.requests
    assert first.prompt.startswith("by the window, reading, Mara Quill, an adult of 34")
    assert "green scarf" in first.prompt
    assert "child" in first.negative
    assert first.reference == (photos() / "obama.jpg").read_bytes()
    assert second.seed == first.seed + 1

    image = await user_client.get(picture["url"])
    assert image.status_code == 200
    assert image.content == (photos() / "obama2.jpg").read_bytes()
    # Stored sealed: the file on disk is not the picture.
    runtime = app.state.runtime
    async with runtime.database.session() as session:
        row = await session.get(Picture, picture["id"])
        assert row is not None
        assert row.file_key
        assert runtime.files.read(row.file_key) != image.content
        assert [a["seed"] for a in row.attempts] == [first.seed, second.seed]
        assert row.negative == first.negative

    gallery = (await user_client.get(f"/api/v1/characters/{cid}/pictures")).json()
    assert [p["id"] for p in gallery] == [picture["id"]]


async def test_no_try_matches_keeps_the_closest_and_says_so(
    user_client: httpx.AsyncClient, app: Any, backend: PhotoBackend
) -> None:
    cid = await character(user_client)
    assert (await upload_reference(user_client, cid, "obama.jpg")).status_code == 200
    backend.script = ["biden.jpg", "biden.jpg", "biden.jpg"]
    asked = await user_client.post(f"/api/v1/characters/{cid}/pictures", json={})
    picture = await finished(user_client, app, asked.json()["id"])
    assert (picture["status"], picture["tries"], picture["identity_passed"]) == ("done", 3, False)
    assert picture["distance"] > SAME
    assert picture["prompt"].startswith("a portrait of Mara Quill")


async def test_a_render_becomes_the_reference_and_the_portrait(
    user_client: httpx.AsyncClient, app: Any, backend: PhotoBackend
) -> None:
    cid = await character(user_client)
    backend.script = ["obama3.jpg"]
    asked = await user_client.post(f"/api/v1/characters/{cid}/pictures", json={})
    picture = await finished(user_client, app, asked.json()["id"])
    # No reference yet: one render, nothing measured.
    assert (picture["tries"], picture["identity_passed"], picture["distance"]) == (1, None, None)

    chosen = await user_client.put(
        f"/api/v1/characters/{cid}/reference", json={"picture_id": picture["id"]}
    )
    assert chosen.status_code == 200, chosen.text
    assert (chosen.json()["source"], chosen.json()["picture_id"]) == ("render", picture["id"])
    face = await user_client.get(chosen.json()["url"])
    assert face.content == (photos() / "obama3.jpg").read_bytes()

    backend.script = ["obama.jpg"]
    again = await user_client.post(f"/api/v1/pictures/{picture['id']}/regenerate")
    assert again.status_code == 202
    redone = await finished(user_client, app, again.json()["id"])
    assert redone["identity_passed"] is True
    assert redone["id"] != picture["id"]
    assert redone["request"] == picture["request"]

    before = (await user_client.get(f"/api/v1/characters/{cid}")).json()["avatar_url"]
    portrait = await user_client.post(f"/api/v1/pictures/{redone['id']}/portrait")
    assert portrait.status_code == 200, portrait.text
    assert portrait.json()["avatar_url"] != before
    avatar = await user_client.get(portrait.json()["avatar_url"])
    assert avatar.status_code == 200
    assert avatar.headers["content-type"].startswith("image/")


async def test_a_picture_asked_for_in_a_chat_shows_under_its_message(
    user_client: httpx.AsyncClient, app: Any, backend: PhotoBackend
) -> None:
    cid = await character(user_client)
    chat = await user_client.post(
        "/api/v1/conversations", json={"character_id": cid, "scene": "a rainy harbour at dusk"}
    )
    assert chat.status_code == 201, chat.text
    conversation = chat.json()
    asked = await user_client.post(
        f"/api/v1/characters/{cid}/pictures",
        json={"request": "waving from the pier", "conversation_id": conversation["id"]},
    )
    assert asked.status_code == 202, asked.text
    picture = await finished(user_client, app, asked.json()["id"])
    assert picture["conversation_id"] == conversation["id"]
    shown = await user_client.get(f"/api/v1/conversations/{conversation['id']}/pictures")
    assert [p["id"] for p in shown.json()] == [picture["id"]]
    messages = conversation["messages"]
    assert picture["message_id"] == messages[-1]["id"]  # the greeting: the path's end
    assert "setting: a rainy harbour at dusk" in backend.requests[-1].prompt

    other = await character(user_client, name="Tamsin Reed")
    wrong = await user_client.post(
        f"/api/v1/characters/{other}/pictures", json={"conversation_id": conversation["id"]}
    )
    assert wrong.status_code == 422
    missing = await user_client.get("/api/v1/conversations/999999/pictures")
    assert missing.status_code == 404


async def test_bad_references_are_refused_with_a_reason(user_client: httpx.AsyncClient) -> None:
    cid = await character(user_client)
    no_face = await user_client.post(
        f"/api/v1/characters/{cid}/reference",
        files={"image": ("plain.png", _plain_png(), "image/png")},
        data={"likeness": "fictional"},
    )
    assert no_face.status_code == 422
    assert "No face" in no_face.json()["error"]["message"]
    not_image = await user_client.post(
        f"/api/v1/characters/{cid}/reference",
        files={"image": ("x.png", b"not a picture", "image/png")},
        data={"likeness": "fictional"},
    )
    assert not_image.status_code == 422
    missing = await user_client.put(f"/api/v1/characters/{cid}/reference", json={"picture_id": 999})
    assert missing.status_code == 404
    huge = await user_client.put(f"/api/v1/characters/{cid}/reference", json={"picture_id": 2**70})
    assert huge.status_code == 422  # a clear refusal, not a database overflow
    far = await user_client.post(
        f"/api/v1/characters/{cid}/pictures", json={"conversation_id": 2**70}
    )
    assert far.status_code == 422
    assert (await user_client.delete(f"/api/v1/characters/{cid}/reference")).status_code == 404


async def test_cancel_and_a_withheld_picture_cost_nothing(
    user_client: httpx.AsyncClient, app: Any, backend: PhotoBackend, monkeypatch: Any
) -> None:
    cid = await character(user_client)
    before = await balance(user_client)
    backend.hang = True
    asked = await user_client.post(f"/api/v1/characters/{cid}/pictures", json={})
    pid = asked.json()["id"]
    for _ in range(100):  # until the render has begun
        if (await user_client.get(f"/api/v1/pictures/{pid}")).json()["status"] == "rendering":
            break
        await asyncio.sleep(0.01)
    progress = (await user_client.get(f"/api/v1/pictures/{pid}")).json()["progress"]
    assert progress == {"try_number": 1, "step": 1, "total": 2, "stage": "rendering"}
    cancelled = await user_client.post(f"/api/v1/pictures/{pid}/cancel")
    assert cancelled.status_code == 200
    picture = await finished(user_client, app, pid)
    assert picture["status"] == "cancelled"
    assert picture["url"] is None
    assert await balance(user_client) == before
    again = await user_client.post(f"/api/v1/pictures/{pid}/cancel")
    assert again.status_code == 409

    # The classifier finds the render explicit; this account has not unlocked that.
    backend.hang = False

    async def explicit(image: bytes, threshold: float) -> nsfw.NsfwResult:
        return nsfw.NsfwResult(detections=(), explicit=True)

    monkeypatch.setattr(nsfw, "classify_async", explicit)
    asked = await user_client.post(f"/api/v1/characters/{cid}/pictures", json={})
    withheld = await finished(user_client, app, asked.json()["id"])
    assert withheld["status"] == "withheld"
    assert "explicit content is not open to this account" in withheld["error"]
    assert withheld["url"] is None
    assert await balance(user_client) == before


async def test_delete_and_other_users(
    user_client: httpx.AsyncClient, app: Any, backend: PhotoBackend
) -> None:
    cid = await character(user_client)
    asked = await user_client.post(f"/api/v1/characters/{cid}/pictures", json={})
    picture = await finished(user_client, app, asked.json()["id"])
    runtime = app.state.runtime
    async with runtime.database.session() as session:
        row = await session.get(Picture, picture["id"])
        assert row is not None
        assert row.file_key
        path = runtime.files.path(row.file_key)
    assert path.exists()

    other = httpx.AsyncClient(transport=user_client._transport, base_url="http://test")
    async with other:
        await signup(other, email="eve@example.com")
        assert (await other.get(f"/api/v1/pictures/{picture['id']}")).status_code == 404
        assert (await other.get(picture["url"])).status_code == 404
        assert (await other.delete(f"/api/v1/pictures/{picture['id']}")).status_code == 404
        asked = await other.post(f"/api/v1/characters/{cid}/pictures", json={})
        assert asked.status_code == 404  # another user's character

    assert (await user_client.delete(f"/api/v1/pictures/{picture['id']}")).status_code == 204
    assert not path.exists()
    assert (await user_client.get(f"/api/v1/pictures/{picture['id']}")).status_code == 404
    long = await user_client.post(f"/api/v1/characters/{cid}/pictures", json={"request": "x" * 501})
    assert long.status_code == 422


def _plain_png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 180, 160)).save(out, "PNG")
    return out.getvalue()


async def test_pictures_are_off_until_a_backend_is_configured(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "http://127.0.0.1:9/v1")
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            await signup(http)
            status = (await http.get("/api/v1/images/status")).json()
            assert (status["enabled"], status["backend"]) == (False, "none")
            assert "AFTERDARK_IMAGES__BACKEND" in status["hint"]
            cid = await character(http)
            refused = await http.post(f"/api/v1/characters/{cid}/pictures", json={})
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "images_off"
            assert "AFTERDARK_IMAGES__BACKEND" in refused.json()["error"]["message"]


async def test_pictures_travel_in_the_export(
    user_client: httpx.AsyncClient, app: Any, backend: PhotoBackend
) -> None:
    from sqlalchemy import select

    from afterdark.accounts.models import User
    from afterdark.images.models import ReferenceFace
    from afterdark.privacy.export import export_user
    from afterdark.privacy.restore import import_user

    cid = await character(user_client)
    assert (await upload_reference(user_client, cid, "obama.jpg")).status_code == 200
    backend.script = ["obama2.jpg"]
    asked = await user_client.post(
        f"/api/v1/characters/{cid}/pictures", json={"request": "at the market"}
    )
    made = await finished(user_client, app, asked.json()["id"])
    runtime = app.state.runtime
    async with runtime.database.session() as session:
        owner = await session.scalar(select(User).where(User.email == "ada@example.com"))
        assert owner is not None
        data = await export_user(session, runtime.files, owner)
        restored = await import_user(
            session, runtime.files, data, password="new password 1", email="kim@example.com"
        )
        await session.commit()
        [picture] = list(
            await session.scalars(select(Picture).where(Picture.user_id == restored.id))
        )
        assert (picture.request, picture.status, picture.tries) == ("at the market", "done", 1)
        assert picture.distance == made["distance"]
        assert picture.character_id != cid  # the restored copy of the character
        assert picture.file_key
        opened = await runtime.files.load(session, picture.file_key, owner=restored.id)
        assert opened == (photos() / "obama2.jpg").read_bytes()
        face = await session.scalar(
            select(ReferenceFace).where(ReferenceFace.user_id == restored.id)
        )
        assert face is not None
        assert (face.character_id, face.attestation) == (picture.character_id, "fictional")
        assert len(face.encoding) > 100
