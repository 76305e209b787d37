"""Procedural head-and-shoulders portraits for the built-in characters, drawn with Pillow."""

from __future__ import annotations

from afterdark.characters.portraits.params import (
    Accessory,
    HairStyle,
    PortraitParams,
    PortraitStyle,
)
from afterdark.characters.portraits.render import render_portrait

__all__ = ["Accessory", "HairStyle", "PortraitParams", "PortraitStyle", "render_portrait"]
