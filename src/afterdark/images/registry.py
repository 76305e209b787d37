"""The configured image backend, built on demand (each module imports its heavy parts
lazily: torch only for ``diffusers``)."""

from __future__ import annotations

from afterdark.images.base import ImageBackend
from afterdark.images.settings import ImagesSettings

SETUP_HINT = (
    "Pictures are off: no image backend is configured. Set AFTERDARK_IMAGES__BACKEND to "
    "comfyui or forge with AFTERDARK_IMAGES__BASE_URL, or to diffusers with "
    "AFTERDARK_IMAGES__MODEL_PATH (see docs/images.md)."
)


def make_backend(settings: ImagesSettings) -> ImageBackend | None:
    """The backend ``settings`` name, or None when pictures are off."""
    if settings.backend == "comfyui":
        from afterdark.images.comfyui import ComfyUIBackend

        return ComfyUIBackend(settings)
    if settings.backend == "forge":
        from afterdark.images.forge import ForgeBackend

        return ForgeBackend(settings)
    if settings.backend == "diffusers":
        from afterdark.images.local import DiffusersBackend

        return DiffusersBackend(settings)
    return None
