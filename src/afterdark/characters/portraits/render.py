"""Paints the layers in order and turns the supersampled canvas into a PNG."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from afterdark.characters.portraits.accessories import headwear, hood_back, scarf
from afterdark.characters.portraits.backgrounds import background, motes
from afterdark.characters.portraits.face import ears, face, features
from afterdark.characters.portraits.hair import hair_back, hair_locks
from afterdark.characters.portraits.hair_cap import hair_cap
from afterdark.characters.portraits.light import glow, rim_light
from afterdark.characters.portraits.outfit import body
from afterdark.characters.portraits.painter import Painter
from afterdark.characters.portraits.params import PortraitParams

# Drawn this many times larger, then LANCZOS-downsampled, which anti-aliases every edge.
SUPERSAMPLE = 3
FIGURE_ZOOM = 1.18
MIN_SIZE = 32
MAX_SIZE = 1024


def render_portrait(params: dict[str, Any] | PortraitParams, size: int = 512) -> bytes:
    """Draw the portrait described by ``params`` as a ``size`` x ``size`` PNG.

    Raises pydantic's ``ValidationError`` (a ``ValueError``) naming the bad field.
    """
    spec = params if isinstance(params, PortraitParams) else PortraitParams.model_validate(params)
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels, not {size}")
    image = draw(Painter(spec, size * SUPERSAMPLE))
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def draw(p: Painter) -> Image.Image:
    """Paint every layer, back to front, and return the full-size canvas."""
    background(p)
    p.c.zoom = FIGURE_ZOOM
    p.c.tracking = True
    if "hood" in p.acc:
        hood_back(p)
    hair_back(p)
    body(p)
    if "scarf" in p.acc:
        scarf(p)
    hair_locks(p)
    if "ears_pointed" not in p.acc:
        ears(p)
    face(p)
    features(p)
    hair_cap(p)
    if "ears_pointed" in p.acc:
        ears(p)
    headwear(p)
    p.c.tracking = False
    rim_light(p)
    if "glowing_eyes" in p.acc:
        glow(p)
    p.c.zoom = 1.0
    if p.kind == "fantasy":
        motes(p, foreground=True)
    return p.c.img
