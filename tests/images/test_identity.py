"""Identity scoring on real photos (from the face_recognition package): the same person
passes, another does not, a reference needs exactly one face, encodings survive storage."""

from __future__ import annotations

import asyncio
import base64
import io
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from afterdark.errors import InvalidInputError
from afterdark.images import identity
from afterdark.images.settings import ImagesSettings
from afterdark.safety import faces
from tests.support.photos import photo, photos, side_by_side

THRESHOLD = ImagesSettings().identity_threshold


@pytest.fixture(scope="module")
def photo_dir() -> Path:
    return photos()


@pytest.fixture(scope="module")
def reference(photo_dir: Path) -> Any:
    return identity.reference_encoding(photo(photo_dir, "obama.jpg"))


def no_face() -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((640, 480)).convert("RGB").save(out, "PNG")
    return out.getvalue()


def test_the_same_person_passes_and_another_does_not(photo_dir: Path, reference: Any) -> None:
    for name in ("obama2.jpg", "obama3.jpg"):
        same = identity.score(photo(photo_dir, name), reference, THRESHOLD)
        assert same.faces == 1, name
        assert same.distance is not None
        assert same.distance < THRESHOLD, name
        assert same.passed, name
        assert same.similarity == pytest.approx(1 - same.distance)
    other = identity.score(photo(photo_dir, "biden.jpg"), reference, THRESHOLD)
    assert other.faces == 1
    assert other.distance is not None
    assert other.distance > THRESHOLD + 0.1
    assert not other.passed
    assert other.similarity < 1 - THRESHOLD


def test_the_threshold_includes_its_own_distance(photo_dir: Path, reference: Any) -> None:
    picture = photo(photo_dir, "obama2.jpg")
    gap = identity.score(picture, reference, THRESHOLD).distance
    assert gap is not None
    assert identity.score(picture, reference, gap).passed
    assert not identity.score(picture, reference, gap - 1e-6).passed


def test_a_reference_needs_exactly_one_readable_face(photo_dir: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"^No face was found in the picture: choose"):
        identity.reference_encoding(no_face())
    pair = side_by_side(photo(photo_dir, "obama.jpg"), photo(photo_dir, "biden.jpg"))
    with pytest.raises(InvalidInputError, match=r"several faces \(2\); choose one with a single"):
        identity.reference_encoding(pair)
    with pytest.raises(InvalidInputError, match="cannot be read"):
        identity.reference_encoding(b"not a picture at all")


def test_no_face_fails_and_the_closest_of_several_counts(photo_dir: Path, reference: Any) -> None:
    blank = identity.score(no_face(), reference, THRESHOLD)
    assert (blank.faces, blank.distance, blank.passed, blank.similarity) == (0, None, False, 0.0)
    pair = side_by_side(photo(photo_dir, "biden.jpg"), photo(photo_dir, "obama2.jpg"))
    both = identity.score(pair, reference, THRESHOLD)
    assert both.faces == 2
    assert both.distance is not None
    assert both.distance < THRESHOLD
    assert both.passed


def test_a_partial_face_is_still_the_person(photo_dir: Path, reference: Any) -> None:
    for name in ("obama_partial_face.jpg", "obama_partial_face2.jpg"):
        partial = identity.score(photo(photo_dir, name), reference, THRESHOLD)
        assert partial.faces == 1, name
        assert partial.passed, name
    # A partial face can be a reference too: one face, close to the full one.
    half = identity.reference_encoding(photo(photo_dir, "obama_partial_face.jpg"))
    assert faces.distance(half, reference) < THRESHOLD


def test_an_encoding_survives_storage(reference: Any) -> None:
    text = identity.encode_encoding(reference)
    assert len(text) == 684
    back = identity.decode_encoding(text)
    assert back.shape == (128,)
    assert back.dtype == np.float64
    assert np.allclose(back, reference, rtol=0, atol=1e-6)
    assert not np.array_equal(back, np.zeros(128))
    assert faces.distance(back, reference) < 1e-5
    assert identity.encode_encoding(back) == text
    with pytest.raises(ValueError, match="not base64"):
        identity.decode_encoding("not base64!")
    with pytest.raises(ValueError, match="100 bytes, not 512"):
        identity.decode_encoding(base64.b64encode(bytes(100)).decode())
    with pytest.raises(ValueError, match="128 numbers"):
        identity.encode_encoding(np.zeros(3))


async def test_the_async_wrappers_give_the_same_answers(photo_dir: Path, reference: Any) -> None:
    again = await identity.reference_encoding_async(photo(photo_dir, "obama.jpg"))
    assert faces.distance(again, reference) == 0.0
    scored = await identity.score_async(photo(photo_dir, "biden.jpg"), reference, THRESHOLD)
    assert scored.faces == 1
    assert not scored.passed


async def test_faces_are_found_one_call_at_a_time(
    monkeypatch: pytest.MonkeyPatch, reference: Any, photo_dir: Path
) -> None:
    # face_recognition shares one dlib HOG detector, which releases the GIL: run from two
    # threads at once it returned wrong boxes for 22 of 30 pictures, or crashed the process.
    # safety.faces holds one lock around every detection (identity scoring, likeness checks).
    running, most = 0, 0
    guard = threading.Lock()

    class Library:
        def face_locations(self, image: Any, **_: Any) -> list[tuple[int, int, int, int]]:
            nonlocal running, most
            with guard:
                running += 1
                most = max(most, running)
            time.sleep(0.05)
            with guard:
                running -= 1
            return [(0, 1, 1, 0)]

        def face_encodings(self, image: Any, boxes: Any) -> list[Any]:
            return [reference for _ in boxes]

    monkeypatch.setattr(faces, "_library", Library)
    data = photo(photo_dir, "obama.jpg")
    calls = [identity.score_async(data, reference, THRESHOLD) for _ in range(4)]
    calls += [identity.reference_encoding_async(data) for _ in range(2)]
    results = await asyncio.gather(*calls)
    assert len(results) == 6
    assert most == 1
