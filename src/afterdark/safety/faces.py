"""Faces in a picture: where they are and who they look like.

dlib's HOG face detector and its ResNet face encoder (128 numbers per face), through the
``face_recognition`` package; the models ship in ``face-recognition-models``. Pictures are
scaled down to ``max_side`` pixels first: detection time grows with the area (about 0.1 s at
0.3 MP on one core, over 2 s at 3 MP) and a face small enough to vanish at 1024 px is too
small to identify. Everything here is blocking: call it from a worker thread.

dlib's detector is one shared object that releases the GIL: two threads detecting at once
can crash the process, so every detection in the process (likeness checks, identity
scoring) takes ``DLIB_LOCK``.
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from afterdark.errors import InvalidInputError

Encoding = Any  # a numpy array of 128 floats
DLIB_LOCK = threading.Lock()


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # top, right, bottom, left in the scaled picture
    encoding: Encoding


def _library() -> Any:
    with warnings.catch_warnings():
        # face_recognition_models finds its files through pkg_resources, which warns.
        warnings.simplefilter("ignore", UserWarning)
        import face_recognition

    return face_recognition


def pixels(data: bytes, max_side: int) -> Any:
    """The picture as an RGB array, upright and no larger than ``max_side``."""
    import numpy as np

    try:
        with Image.open(io.BytesIO(data)) as opened:
            image = ImageOps.exif_transpose(opened)
            if image.mode in ("I", "I;16", "I;16B", "I;16L"):
                # 16-bit grey: scale to 8 bits first (a plain RGB conversion clips it white).
                image = image.convert("I").point(lambda v: v * (1 / 257)).convert("L")
            image = image.convert("RGB")
            image.thumbnail((max_side, max_side))
            return np.asarray(image)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InvalidInputError(f"The picture cannot be read: {exc}") from None


def find_faces(data: bytes, max_side: int = 1024) -> list[Face]:
    """Every face the detector finds, with its encoding."""
    library = _library()
    image = pixels(data, max_side)
    with DLIB_LOCK:
        boxes = library.face_locations(image, number_of_times_to_upsample=1, model="hog")
        encodings = library.face_encodings(image, boxes)
    return [Face(tuple(box), enc) for box, enc in zip(boxes, encodings, strict=True)]


def distance(a: Encoding, b: Encoding) -> float:
    """Euclidean distance between two encodings: about 0.6 or less is the same person."""
    import numpy as np

    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))
