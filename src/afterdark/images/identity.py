"""Identity of a character's face: one reference encoding, and how close a render comes.

The reference is a picture with exactly one face; a render is scored by the distance
between its closest face and the reference (dlib 128-d encodings, ``safety.faces``).
``passed`` is the decision (a face at or below the threshold, 0.6 by default); similarity
is only a figure to show, ``max(0, 1 - distance)``: 1 for the same encoding, 0.4 at the
default threshold, 0 at a distance of 1 or more, and 0 when the render shows no face.

dlib's HOG detector is one shared object in ``face_recognition`` and releases the GIL
while it scans: two threads running it at once got wrong boxes (22 of 30 pictures) or
crashed the process (a segfault, most runs). So every call here takes one lock; the async
wrappers run in a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass

import numpy as np

from afterdark.errors import InvalidInputError
from afterdark.safety import faces

Encoding = faces.Encoding  # a numpy array of 128 floats

MAX_SIDE = 1024
DIMENSIONS = 128


@dataclass(frozen=True, slots=True)
class IdentityScore:
    faces: int
    distance: float | None  # the closest face's; None when the render shows no face
    passed: bool

    @property
    def similarity(self) -> float:
        """``max(0, 1 - distance)``, 0 without a face: a figure to show, not the decision."""
        return 0.0 if self.distance is None else max(0.0, 1.0 - self.distance)


def _find(image: bytes, max_side: int) -> list[faces.Face]:
    return faces.find_faces(image, max_side)


def reference_encoding(image: bytes, max_side: int = MAX_SIDE) -> Encoding:
    """The encoding of the one face of a reference picture."""
    found = _find(image, max_side)
    if not found:
        raise InvalidInputError(
            "No face was found in the picture: choose one where the face is clear and large."
        )
    if len(found) > 1:
        raise InvalidInputError(
            f"The picture shows several faces ({len(found)}); choose one with a single face."
        )
    return found[0].encoding


def score(
    render: bytes, reference: Encoding, threshold: float, max_side: int = MAX_SIDE
) -> IdentityScore:
    """How close the render's closest face comes to the reference."""
    found = _find(render, max_side)
    if not found:
        return IdentityScore(faces=0, distance=None, passed=False)
    closest = min(faces.distance(face.encoding, reference) for face in found)
    return IdentityScore(faces=len(found), distance=closest, passed=closest <= threshold)


async def reference_encoding_async(image: bytes, max_side: int = MAX_SIDE) -> Encoding:
    """``reference_encoding`` in a worker thread."""
    return await asyncio.to_thread(reference_encoding, image, max_side)


async def score_async(
    render: bytes, reference: Encoding, threshold: float, max_side: int = MAX_SIDE
) -> IdentityScore:
    """``score`` in a worker thread."""
    return await asyncio.to_thread(score, render, reference, threshold, max_side)


def encode_encoding(encoding: Encoding) -> str:
    """An encoding as text to store: base64 of 128 little-endian float32 (684 characters).

    float32 moves a distance by about 1e-7, far below anything the threshold can see."""
    values = np.asarray(encoding, dtype="<f4")
    if values.shape != (DIMENSIONS,):
        raise ValueError(f"a face encoding has {DIMENSIONS} numbers, not {values.shape}")
    return base64.b64encode(values.tobytes()).decode("ascii")


def decode_encoding(text: str) -> Encoding:
    """The encoding ``encode_encoding`` stored (float64, as dlib gives them)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a stored face encoding is not base64") from None
    if len(raw) != DIMENSIONS * 4:
        raise ValueError(f"a stored face encoding has {len(raw)} bytes, not {DIMENSIONS * 4}")
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)
