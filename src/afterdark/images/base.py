"""The image backend interface.

A backend turns a ``RenderRequest`` into pictures (PNG or JPEG bytes). Built in:
``comfyui`` (a ComfyUI server, workflows with placeholders), ``forge`` (the A1111/Forge
HTTP API) and ``diffusers`` (a local pipeline). The identity reference, when there is one,
is passed as image bytes; how a backend uses it (InstantID, IP-Adapter FaceID, PuLID, or
not at all) is its own affair, and ``identity`` says which. A request may ask for the
premium model (``premium``): the backend's ``premium_*`` setting names it (another ComfyUI
workflow, Forge checkpoint or diffusers model); a backend whose premium model keeps the face
another way says so in ``premium_identity``.

Errors (``str()`` is shown to the user, so messages are plain, actionable sentences):

    ImageError
    ├── ImageUnavailableError   the backend cannot be reached or loaded
    ├── ImageTimeoutError       a render took longer than allowed
    ├── ImageCancelledError     the render was interrupted
    └── ImageResponseError      the backend answered with an error or nothing usable
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class RenderRequest:
    prompt: str
    negative: str = ""
    seed: int = 0
    width: int = 832
    height: int = 1216
    steps: int = 28
    guidance: float = 5.0
    # The character's reference face (image bytes), for backends that preserve identity.
    reference: bytes | None = None
    # Free-form extras a workflow may name as placeholders ({"style": "film"}).
    extra: dict[str, str] = field(default_factory=dict)
    # Render with the premium model (the backend's premium_* setting) instead of the usual.
    premium: bool = False


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a render is: ``step`` of ``total`` (0 of 0 while it waits in a queue)."""

    step: int
    total: int
    stage: str = "rendering"  # queued | rendering | decoding


@dataclass(frozen=True, slots=True)
class Rendered:
    data: bytes
    media_type: str  # image/png or image/jpeg
    seed: int


ProgressCallback = Callable[[Progress], Awaitable[None]]


class ImageError(Exception):
    """Base of every image backend failure; ``str()`` is shown to the user."""


class ImageUnavailableError(ImageError):
    """The backend cannot be reached or loaded."""


class ImageTimeoutError(ImageError):
    """A render took longer than allowed."""


class ImageCancelledError(ImageError):
    """The render was interrupted."""


class ImageResponseError(ImageError):
    """The backend answered with an error or with nothing usable."""


def identity_of(backend: ImageBackend, premium: bool) -> str:
    """How ``backend`` keeps the face, for a premium render or an ordinary one."""
    if premium:
        return str(getattr(backend, "premium_identity", backend.identity))
    return backend.identity


@runtime_checkable
class ImageBackend(Protocol):
    name: str
    # How the reference face is used: "instantid", "pulid", "ip-adapter-faceid", or "" (not).
    identity: str

    async def render(
        self, request: RenderRequest, progress: ProgressCallback | None = None
    ) -> Rendered:
        """One picture. Raises ``ImageError``; ``progress`` is awaited as steps complete."""
        ...

    async def interrupt(self) -> None:
        """Stop the render in progress, if any (the awaiting ``render`` raises
        ``ImageCancelledError``)."""
        ...

    async def close(self) -> None:
        """Release connections or the loaded model."""
        ...
