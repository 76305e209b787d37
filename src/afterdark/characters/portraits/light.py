"""Light over the finished figure: the rim light and glowing eyes."""

from __future__ import annotations

from PIL import ImageChops, ImageDraw

from afterdark.characters.portraits.colour import lighter
from afterdark.characters.portraits.eyes import eye_curves
from afterdark.characters.portraits.painter import Painter


def rim_light(p: Painter) -> None:
    """A rim of background light down one edge of the figure's silhouette."""
    c = p.c
    fig = c.figure
    shift = round(0.012 * c.px)
    rim = ImageChops.subtract(fig, ImageChops.offset(fig, -shift, 0))
    rim = ImageChops.multiply(c.soften(rim, 0.004), fig)
    strength = {"realistic": 0.3, "anime": 0.0, "fantasy": 0.55}[p.kind]
    if strength:
        c.paint(rim, lighter(p.bg[0], 0.6), strength)


def glow(p: Painter) -> None:
    """A soft glow over both eyes."""
    c = p.c
    glow = c.blank()
    for s in (-1, 1):
        upper, lower = eye_curves(p, s)
        ImageDraw.Draw(glow).polygon(c.xy(upper + lower[::-1]), fill=255)
    bright = lighter(p.eyes, 0.5)
    c.paint(c.soften(glow, 0.02), bright, 0.6)
    c.paint(c.soften(glow, 0.006), lighter(bright, 0.5), 0.5)
