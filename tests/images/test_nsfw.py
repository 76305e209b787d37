"""The NSFW check: the real NudeNet detector on face photos (never an explicit picture:
none is kept in the repository), the decision on stand-in detections, and loading once."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from afterdark.errors import InvalidInputError
from afterdark.images import nsfw
from afterdark.images.settings import ImagesSettings
from tests.support.photos import photos

THRESHOLD = ImagesSettings().nsfw_threshold


@pytest.fixture(scope="module")
def photo_dir() -> Path:
    return photos()


def encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def test_face_photos_are_not_explicit_as_jpeg_or_png(photo_dir: Path) -> None:
    for name in ("obama.jpg", "biden.jpg", "obama3.jpg"):
        jpeg = (photo_dir / name).read_bytes()
        with Image.open(io.BytesIO(jpeg)) as opened:
            png = encode(opened.convert("RGB"), "PNG")
        for data in (jpeg, png):
            result = nsfw.classify(data, THRESHOLD)
            # The detector ran: it finds the face (its gender guess is not our concern).
            assert any(label.startswith("FACE_") for label in result.labels), name
            assert not result.explicit, name
            assert not nsfw.EXPLICIT_LABELS & set(result.labels), name
            scores = [d.score for d in result.detections]
            assert scores == sorted(scores, reverse=True)


def sixteen_bit_png(photo_dir: Path) -> bytes:
    with Image.open(photo_dir / "obama.jpg") as opened:
        grey = np.asarray(opened.convert("L")).astype(np.uint16) * 257
    return encode(Image.fromarray(grey), "PNG")


def test_a_16_bit_png_is_not_read_as_noise(photo_dir: Path) -> None:
    # NudeNet's own decoding of these bytes finds over a hundred regions, scores up to 1.0.
    result = nsfw.classify(sixteen_bit_png(photo_dir), THRESHOLD)
    assert len(result.detections) <= 3
    assert not result.explicit


def test_a_16_bit_png_shows_its_face(photo_dir: Path) -> None:
    result = nsfw.classify(sixteen_bit_png(photo_dir), THRESHOLD)
    assert any(label.startswith("FACE_") for label in result.labels)


def test_what_is_not_a_picture_gets_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="The picture cannot be read"):
        nsfw.classify(b"GIF89a, or so it says", THRESHOLD)


def test_the_explicit_labels_are_nudenets_exposed_ones() -> None:
    from nudenet import nudenet as module

    known = set(getattr(module, "__labels"))
    assert nsfw.EXPLICIT_LABELS <= known
    assert all(label.endswith("_EXPOSED") for label in nsfw.EXPLICIT_LABELS)
    assert not any(label.startswith("FACE_") for label in nsfw.EXPLICIT_LABELS)
    assert not any("COVERED" in label for label in nsfw.EXPLICIT_LABELS)
    assert {"FEET_EXPOSED", "BELLY_EXPOSED", "ARMPITS_EXPOSED"}.isdisjoint(nsfw.EXPLICIT_LABELS)
    assert len(nsfw.EXPLICIT_LABELS) == 5


class StandIn:
    """Answers with fixed detections and keeps the array it was given."""

    def __init__(self, found: list[dict[str, Any]]) -> None:
        self.found = found
        self.seen: list[Any] = []

    def detect(self, image: Any) -> list[dict[str, Any]]:
        self.seen.append(image)
        return self.found


def red_square() -> bytes:
    return encode(Image.new("RGB", (64, 48), (255, 0, 0)), "PNG")


def test_explicit_means_an_exposed_region_at_or_above_the_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stand_in = StandIn(
        [
            {"class": "FEET_EXPOSED", "score": 0.95, "box": [0, 0, 1, 1]},
            {"class": "BUTTOCKS_EXPOSED", "score": 0.7, "box": [0, 0, 1, 1]},
            {"class": "FACE_FEMALE", "score": 0.9, "box": [0, 0, 1, 1]},
        ]
    )
    monkeypatch.setattr(nsfw, "_detector", stand_in)
    assert nsfw.classify(red_square(), 0.5).explicit
    assert nsfw.classify(red_square(), 0.7).explicit
    assert not nsfw.classify(red_square(), 0.71).explicit
    assert nsfw.classify(red_square(), 0.5).labels == [
        "FEET_EXPOSED",
        "FACE_FEMALE",
        "BUTTOCKS_EXPOSED",
    ]
    # NudeNet is handed an 8-bit array in OpenCV's order (blue, green, red).
    array = stand_in.seen[0]
    assert array.shape == (48, 64, 3)
    assert array.dtype == np.uint8
    assert array.flags["C_CONTIGUOUS"]
    assert tuple(array[0, 0]) == (0, 0, 255)


def test_the_detector_loads_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import nudenet

    built: list[int] = []

    class SlowToLoad(StandIn):
        def __init__(self) -> None:
            built.append(1)
            time.sleep(0.2)  # long enough for every thread to find nothing loaded yet
            super().__init__([])

    monkeypatch.setattr(nsfw, "_detector", None)
    monkeypatch.setattr(nudenet, "NudeDetector", SlowToLoad)
    results: list[nsfw.NsfwResult] = []
    threads = [
        threading.Thread(target=lambda: results.append(nsfw.classify(red_square(), 0.5)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert built == [1]


async def test_the_async_wrapper(photo_dir: Path) -> None:
    result = await nsfw.classify_async((photo_dir / "biden.jpg").read_bytes(), THRESHOLD)
    assert not result.explicit
    assert result.detections
