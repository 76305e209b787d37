"""No real person's likeness without consent.

A picture a user uploads for a character is looked at before it is kept:

- a face that matches someone on the operator's protected list (``likeness.protected_dir``)
  is refused, whatever the user says;
- a picture with a face needs the uploader's attestation: ``fictional`` (no real person:
  drawn, generated, a character) or ``consent`` (a real person, 18 or older, who agreed
  to this use). The attestation is recorded with the picture; the face itself is not.

Imported cards are checked against the protected list too (their pictures are art, so no
attestation is asked), when the operator has one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from afterdark.config import LikenessSettings
from afterdark.errors import InvalidInputError
from afterdark.safety import faces

log = logging.getLogger(__name__)

Attestation = Literal["fictional", "consent"]
ATTESTATIONS: dict[str, str] = {
    "fictional": "This picture shows no real person: it is drawn, generated or fictional.",
    "consent": "This picture shows a real adult who has agreed to their likeness being used "
    "for this character.",
}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


class AttestationRequired(InvalidInputError):
    code = "likeness_attestation_required"


class ProtectedLikeness(InvalidInputError):
    code = "protected_likeness"


@dataclass(frozen=True)
class Person:
    name: str
    encodings: tuple[faces.Encoding, ...]


@dataclass(frozen=True)
class Verdict:
    faces: int
    # The protected person the closest face matched, and how close; None when nobody.
    match: str | None = None
    distance: float | None = None


class LikenessGuard:
    """The operator's protected people, loaded on first use, and the checks against them."""

    def __init__(self, settings: LikenessSettings) -> None:
        self.settings = settings
        self._people: list[Person] | None = None
        self._lock = asyncio.Lock()

    @property
    def has_protected(self) -> bool:
        return self.settings.protected_dir is not None

    def protected_names(self) -> list[str]:
        """The protected people's names (file or folder names, ``-`` and ``_`` as spaces)."""
        folder = self.settings.protected_dir
        if folder is None:
            return []
        names = {
            (path.parent.name if path.parent != folder else path.stem)
            for path in folder.rglob("*")
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
        }
        return sorted(n.replace("-", " ").replace("_", " ") for n in names)

    def load_people(self) -> list[Person]:
        """Read the protected folder: ``name.jpg`` or ``name/*.jpg``, one face per photo."""
        if self._people is not None:
            return self._people
        folder = self.settings.protected_dir
        photos: dict[str, list[Path]] = {}
        if folder is not None:
            for path in sorted(folder.rglob("*")):
                if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                    name = path.parent.name if path.parent != folder else path.stem
                    photos.setdefault(name, []).append(path)
        people = []
        for name, paths in photos.items():
            encodings = []
            for path in paths:
                found = faces.find_faces(path.read_bytes(), self.settings.max_side)
                if len(found) != 1:
                    raise ValueError(
                        f"likeness.protected_dir: {path} shows {len(found)} faces; "
                        "each protected photo must show exactly one"
                    )
                encodings.append(found[0].encoding)
            people.append(Person(name, tuple(encodings)))
        log.info("likeness: %d protected people loaded", len(people))
        self._people = people
        return people

    def judge(self, data: bytes) -> Verdict:
        """How many faces the picture shows and whether one is a protected person's."""
        found = faces.find_faces(data, self.settings.max_side)
        best: tuple[float, str] | None = None
        for person in self.load_people():
            for face in found:
                for known in person.encodings:
                    gap = faces.distance(face.encoding, known)
                    if best is None or gap < best[0]:
                        best = (gap, person.name)
        if best is not None and best[0] <= self.settings.threshold:
            return Verdict(len(found), best[1], round(best[0], 3))
        return Verdict(len(found), None, round(best[0], 3) if best else None)

    async def check_upload(self, data: bytes, attestation: Attestation | None) -> Verdict:
        """Refuse a protected likeness, or a face without an attestation."""
        async with self._lock:  # one detection at a time: each takes a whole core
            verdict = await asyncio.to_thread(self.judge, data)
        if verdict.match is not None:
            raise ProtectedLikeness(
                "This picture shows a person this site protects; it cannot be used."
            )
        if verdict.faces and attestation is None:
            raise AttestationRequired(
                "This picture shows a face. Say whether it shows no real person (drawn, "
                "generated or fictional) or a real adult who has agreed to it, then upload "
                "it again."
            )
        return verdict

    async def check_import(self, data: bytes) -> None:
        """Refuse a card picture that shows a protected person (only with a protected list)."""
        if not self.has_protected:
            return
        async with self._lock:
            verdict = await asyncio.to_thread(self.judge, data)
        if verdict.match is not None:
            raise ProtectedLikeness(
                "This card's picture shows a person this site protects; it cannot be imported."
            )
