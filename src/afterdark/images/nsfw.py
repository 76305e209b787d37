"""Is a render explicit? NudeNet's detector (the bundled 320n ONNX model) looks at it.

A picture is explicit when the detector finds an exposed genital, breast or buttocks
region, or an anus, at or above the threshold (``EXPLICIT_LABELS``). The model loads once,
on first use (about 12 MB; an onnxruntime session may then run from several threads), and
the async wrapper runs it in a worker thread: about 40 ms a picture, plus decoding it.

Pictures are decoded here by ``safety.faces.pixels`` (upright, RGB, at most 1024 px, a
clear error for what is not a picture) and handed over as an array, so no temporary file
is written. NudeNet's own decoding of bytes ignores EXIF orientation and keeps a 16-bit
PNG as 16-bit, then scales it as if 8-bit (measured on a face photo: over a hundred
spurious regions, scores up to 1.0); ``pixels`` still clips such a PNG to white (a strict
xfail test marks it). The array is in OpenCV's BGR order, as ``cv2.imread`` gives it; the
model pads to a square and scales to 320 px, so 1024 px loses nothing.

Licence: nudenet 3.4.2 says MIT in its metadata but ships the AGPL-3.0 as its LICENSE;
Afterdark is AGPL-3.0-or-later, so either way it may be used here.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from afterdark.safety.faces import pixels

MAX_SIDE = 1024

# NudeNet's labels that make a picture explicit. Left out: FACE_*, every *_COVERED, and
# the exposed belly, armpits, feet and MALE_BREAST_EXPOSED (a bare chest, not explicit).
EXPLICIT_LABELS = frozenset(
    {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)

_detector: Any = None
_loading = threading.Lock()


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    score: float


@dataclass(frozen=True, slots=True)
class NsfwResult:
    detections: tuple[Detection, ...]  # every region found, highest score first
    explicit: bool

    @property
    def labels(self) -> list[str]:
        return [d.label for d in self.detections]


def _load() -> Any:
    global _detector
    if _detector is None:
        with _loading:
            if _detector is None:
                from nudenet import NudeDetector  # type: ignore[import-untyped]

                _detector = NudeDetector()
    return _detector


def classify(image: bytes, threshold: float) -> NsfwResult:
    """What NudeNet finds in the picture, and whether any of it is explicit."""
    import numpy as np

    bgr = np.ascontiguousarray(pixels(image, MAX_SIDE)[:, :, ::-1])
    found = _load().detect(bgr)
    detections = tuple(
        sorted(
            (Detection(str(d["class"]), float(d["score"])) for d in found),
            key=lambda d: d.score,
            reverse=True,
        )
    )
    explicit = any(d.label in EXPLICIT_LABELS and d.score >= threshold for d in detections)
    return NsfwResult(detections, explicit)


async def classify_async(image: bytes, threshold: float) -> NsfwResult:
    """``classify`` in a worker thread."""
    return await asyncio.to_thread(classify, image, threshold)
