"""Likeness: real photos (from the face_recognition package) of two people, a picture with
no face, one with two faces, and partial faces; the protected list, the attestation an
upload with a face needs, and card imports checked against the list."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from afterdark.characters.cards import write_png
from afterdark.config import LikenessSettings, Settings
from afterdark.safety import faces
from afterdark.safety.likeness import LikenessGuard
from afterdark.safety.models import LikenessAttestation
from tests.conftest import make_settings, signup
from tests.support.photos import photo, photos, side_by_side

THRESHOLD = LikenessSettings().threshold


@pytest.fixture(scope="module")
def photo_dir() -> Path:
    return photos()


def as_png(jpeg: bytes) -> bytes:
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    image.thumbnail((800, 800))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def no_face() -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((640, 480)).convert("RGB").save(out, "PNG")
    return out.getvalue()


def test_same_person_is_close_and_another_is_far(photo_dir: Path) -> None:
    [reference] = faces.find_faces(photo(photo_dir, "obama.jpg"))
    for name in ("obama2.jpg", "obama3.jpg"):
        [other] = faces.find_faces(photo(photo_dir, name))
        assert faces.distance(reference.encoding, other.encoding) < THRESHOLD, name
    [stranger] = faces.find_faces(photo(photo_dir, "biden.jpg"))
    assert faces.distance(reference.encoding, stranger.encoding) > THRESHOLD + 0.1


def test_no_face_several_faces_and_partial_faces(photo_dir: Path) -> None:
    assert faces.find_faces(no_face()) == []
    pair = side_by_side(photo(photo_dir, "obama.jpg"), photo(photo_dir, "biden.jpg"))
    assert len(faces.find_faces(pair)) == 2
    guard = LikenessGuard(LikenessSettings(protected_dir=None))
    for name in ("obama_partial_face.jpg", "obama_partial_face2.jpg"):
        assert guard.judge(photo(photo_dir, name)).faces == 1, name


def test_the_protected_list_matches_the_person_not_the_photo(
    photo_dir: Path, tmp_path: Path
) -> None:
    protected = tmp_path / "protected"
    (protected / "person-a").mkdir(parents=True)
    (protected / "person-a" / "one.jpg").write_bytes(photo(photo_dir, "obama.jpg"))
    guard = LikenessGuard(LikenessSettings(protected_dir=protected))
    assert [p.name for p in guard.load_people()] == ["person-a"]
    for name in ("obama2.jpg", "obama3.jpg", "obama_partial_face.jpg"):
        verdict = guard.judge(photo(photo_dir, name))
        assert verdict.match == "person-a", name
        assert verdict.distance is not None
        assert verdict.distance <= THRESHOLD
    assert guard.judge(photo(photo_dir, "biden.jpg")).match is None
    pair = side_by_side(photo(photo_dir, "biden.jpg"), photo(photo_dir, "obama2.jpg"))
    assert guard.judge(pair).match == "person-a"  # one protected face among others is enough
    assert guard.judge(no_face()).match is None


def test_a_protected_photo_must_show_one_face(tmp_path: Path) -> None:
    (tmp_path / "blank.png").write_bytes(no_face())
    guard = LikenessGuard(LikenessSettings(protected_dir=tmp_path))
    with pytest.raises(ValueError, match=r"blank\.png shows 0 faces"):
        guard.load_people()


def test_the_setting_names_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a folder"):
        LikenessSettings(protected_dir=tmp_path / "missing")


# --- through the API ------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, standin: Any, photo_dir: Path) -> Settings:
    protected = tmp_path / "protected"
    protected.mkdir()
    (protected / "person-b.jpg").write_bytes(photo(photo_dir, "biden.jpg"))
    return make_settings(tmp_path, standin.base_url, likeness={"protected_dir": protected})


async def put_picture(
    http: httpx.AsyncClient, cid: int, data: bytes, likeness: str | None = None
) -> httpx.Response:
    form = {"likeness": likeness} if likeness else None
    return await http.put(
        f"/api/v1/characters/{cid}/avatar",
        files={"image": ("p.jpg", data, "image/jpeg")},
        data=form,
    )


async def test_uploads_need_an_attestation_and_never_a_protected_face(
    app: Any, client: httpx.AsyncClient, photo_dir: Path
) -> None:
    await signup(client)
    made = await client.post("/api/v1/characters", json={"name": "Ines", "age": 34})
    cid = made.json()["id"]

    plain = await put_picture(client, cid, no_face())
    assert plain.status_code == 200, plain.text

    face = photo(photo_dir, "obama2.jpg")
    missing = await put_picture(client, cid, face)
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "likeness_attestation_required"
    wrong = await put_picture(client, cid, face, "trust me")
    assert wrong.status_code == 422
    agreed = await put_picture(client, cid, face, "consent")
    assert agreed.status_code == 200, agreed.text

    for attestation in ("consent", "fictional"):
        refused = await put_picture(client, cid, photo(photo_dir, "biden.jpg"), attestation)
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "protected_likeness"

    async with app.state.runtime.database.session() as session:
        rows = list(await session.scalars(select(LikenessAttestation)))
    assert [(r.character_id, r.kind, r.faces) for r in rows] == [(cid, "consent", 1)]
    assert "agreed" in rows[0].statement
    exported = await client.get("/api/v1/me/export")
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        manifest = json.loads(archive.read("afterdark-export.json"))
    assert [(a["character_id"], a["kind"]) for a in manifest["likeness_attestations"]] == [
        (cid, "consent")
    ]


async def test_a_card_showing_a_protected_face_is_not_imported(
    client: httpx.AsyncClient, photo_dir: Path
) -> None:
    await signup(client)
    card = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {"name": "Lookalike", "description": "A 40-year-old sailor.", "tags": []},
    }
    data = write_png(as_png(photo(photo_dir, "biden.jpg")), chara=json.dumps(card), ccv3=None)
    other = write_png(as_png(photo(photo_dir, "obama.jpg")), chara=json.dumps(card), ccv3=None)
    result = await client.post(
        "/api/v1/characters/import",
        files=[("files", ("a.png", data, "image/png")), ("files", ("b.png", other, "image/png"))],
    )
    assert result.status_code == 200, result.text
    [refused, kept] = result.json()
    assert refused["character"] is None
    assert "protects" in refused["error"]
    assert kept["character"]["name"] == "Lookalike"
