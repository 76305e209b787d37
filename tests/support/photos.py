"""Real photos of faces for the likeness tests, fetched from a package at test time.

The ``face_recognition`` 1.3.0 source distribution on PyPI carries its own test photos
(two public figures; several photos of one, one of the other, two partial faces). They are
downloaded once with pip into ``.cache/face-photos`` (ignored by git) and never committed.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from PIL import Image

from tests.support.shared import REPO

PACKAGE = "face_recognition==1.3.0"
FOLDER = REPO / ".cache" / "face-photos"
NAMES = (
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "obama_partial_face.jpg",
    "obama_partial_face2.jpg",
    "biden.jpg",
)


def photos() -> Path:
    """The folder holding the photos, downloading the package the first time."""
    if all((FOLDER / name).is_file() for name in NAMES):
        return FOLDER
    # One folder per process: two test workers may fetch at once.
    download = FOLDER / f"download-{os.getpid()}"
    download.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    command += ["--no-binary", ":all:", PACKAGE, "--dest", str(download)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    archives = sorted(download.glob("face_recognition-1.3.0.tar.gz"))
    if done.returncode != 0 or not archives:
        raise RuntimeError(f"could not download {PACKAGE} for its test photos: {done.stderr}")
    with tarfile.open(archives[0]) as archive:
        for name in NAMES:
            member = archive.extractfile(f"face_recognition-1.3.0/tests/test_images/{name}")
            if member is None:
                raise RuntimeError(f"{PACKAGE} has no test photo {name}")
            partial = download / name
            partial.write_bytes(member.read())
            os.replace(partial, FOLDER / name)
    shutil.rmtree(download, ignore_errors=True)
    return FOLDER


def photo(folder: Path, name: str) -> bytes:
    return (folder / name).read_bytes()


def side_by_side(*pictures: bytes) -> bytes:
    """Photos pasted next to each other at one height, as one JPEG (a picture of several)."""
    images = [Image.open(io.BytesIO(p)).convert("RGB") for p in pictures]
    height = min(i.height for i in images)
    images = [i.resize((i.width * height // i.height, height)) for i in images]
    canvas = Image.new("RGB", (sum(i.width for i in images), height), "white")
    x = 0
    for image in images:
        canvas.paste(image, (x, 0))
        x += image.width
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=92)
    return out.getvalue()
