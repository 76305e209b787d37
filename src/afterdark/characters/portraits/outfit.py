"""The neck, shoulders and clothing, with the chosen neckline."""

from __future__ import annotations

import math

from PIL import ImageChops

from afterdark.characters.portraits.colour import darker, lighter
from afterdark.characters.portraits.geometry import bezier, ellipse, mirror
from afterdark.characters.portraits.painter import Painter


def neck(p: Painter) -> None:
    """The neck, shaded under the chin."""
    h = p.head
    nw = {"soft": 0.05, "angular": 0.056, "square": 0.066}[p.spec.face]
    nw *= 0.85 if p.kind == "anime" else 1
    top, bottom = h.cy + h.ry * 0.45, p.shoulder_y - 0.004
    left = bezier(
        (h.cx - nw, top),
        (h.cx - nw, bottom - 0.05),
        (h.cx - nw * 1.05, bottom - 0.02),
        (h.cx - nw * 1.45, bottom),
        12,
    )
    pts = left + mirror(left, h.cx)[::-1]
    p.shape(pts, p.skin, w=0)
    if p.lw:
        p.c.line(left, p.ink(p.skin), p.lw)
        p.c.line(mirror(left, h.cx), p.ink(p.skin), p.lw)
    chin = p.c.mask([(x, y + 0.028) for x, y in h.outline()])
    p.shade(ImageChops.multiply(p.c.mask(pts), chin), p.skin_shade(0.45), 0.45, 0.012)


def body(p: Painter) -> None:
    """Shoulders and clothing with their shading, then the neckline."""
    h, ty, sw, c = p.head, p.shoulder_y, p.shoulder_w, p.c
    cx = h.cx
    arm = bezier(
        (cx - sw - 0.06, 1.12),
        (cx - sw - 0.04, ty + 0.15),
        (cx - sw - 0.01, ty + 0.06),
        (cx - sw + 0.07, ty + 0.028),
        20,
    )
    slope = bezier(
        (cx - sw + 0.07, ty + 0.028),
        (cx - sw + 0.14, ty + 0.002),
        (cx - 0.15, ty - 0.006),
        (cx - 0.1, ty - 0.014),
        12,
    )
    left = arm + slope[1:]
    pts = left + mirror(left, cx)[::-1]
    p.shape(pts, p.outfit, w=0)
    body = c.mask(pts)
    if p.soft:
        c.paint_image(body, c.gradient(lighter(p.outfit, 0.12), darker(p.outfit, 0.35), -20))
    under = c.mask(ellipse(cx, ty + 0.01, 0.13, 0.06))
    p.shade(ImageChops.multiply(under, body), darker(p.outfit, 0.5), 0.4, blur=0.02)
    side = c.mask([(x - 0.045, y + 0.02) for x, y in pts])
    p.shade(ImageChops.subtract(body, side), darker(p.outfit, 0.45), 0.45, blur=0.02)
    # A fold at each armpit gives the shoulders some form.
    for s in (-1, 1):
        x = cx + s * sw
        fold = bezier(
            (x - s * 0.06, 1.0),
            (x - s * 0.07, 0.93),
            (x - s * 0.05, 0.88),
            (x - s * 0.02, 0.84),
        )
        c.line(fold, darker(p.outfit, 0.4), 0.003 if p.soft else 0.004)
    neckline(p)
    if p.lw:
        c.line(left, p.ink(p.outfit), p.lw)
        c.line(mirror(left, cx), p.ink(p.outfit), p.lw)


def neckline(p: Painter) -> None:
    """The neckline: a high collar, or an opening with collar flaps or coat lapels."""
    cx, ty, c = p.head.cx, p.shoulder_y, p.c
    kind = p.spec.neckline
    trim = darker(p.outfit, 0.35)
    if kind == "high":
        neck(p)
        band = bezier(
            (cx - 0.075, ty - 0.07),
            (cx - 0.08, ty - 0.01),
            (cx - 0.06, ty + 0.035),
            (cx, ty + 0.035),
            12,
        )
        p.shape(band + mirror(band, cx)[::-1], lighter(p.outfit, 0.08))
        for i in range(1, 4):
            y = ty - 0.07 + i * 0.024
            c.line([(cx - 0.06, y + 0.004), (cx, y + 0.012), (cx + 0.06, y + 0.004)], trim, 0.002)
        return
    if kind in ("v", "coat"):
        opening = [(cx - 0.085, ty - 0.012), (cx, ty + 0.12), (cx + 0.085, ty - 0.012)]
    else:
        opening = ellipse(cx, ty - 0.012, 0.085, 0.065, 0, math.pi, 24)
    if kind == "coat":
        shirt = [(cx - 0.095, ty - 0.014), (cx, ty + 0.2), (cx + 0.095, ty - 0.014)]
        p.shape(shirt, lighter(p.accent, 0.55))
    p.shape(opening, p.skin, w=0)
    dip = c.mask(ellipse(cx, ty - 0.01, 0.05, 0.03))
    p.shade(ImageChops.multiply(dip, c.mask(opening)), p.skin_shade(0.4), 0.3, 0.012)
    neck(p)
    c.line(opening, trim, 0.005 if p.lw else 0.004)
    if kind == "collar":
        for s in (-1, 1):
            flap = [
                (cx + s * 0.09, ty - 0.02),
                (cx + s * 0.005, ty + 0.07),
                (cx + s * 0.13, ty + 0.05),
            ]
            p.shape(flap, lighter(p.outfit, 0.3))
    if kind == "coat":
        for s in (-1, 1):
            lapel = [(cx + s * 0.1, ty - 0.016), (cx + s * 0.03, ty + 0.2)]
            lapel += [(cx + s * 0.085, ty + 0.26), (cx + s * 0.2, ty + 0.01)]
            p.shape(lapel, darker(p.outfit, 0.25))
        for y in (0.9, 0.97):
            p.shape(ellipse(cx - 0.015, y, 0.012, 0.012, n=24), p.accent)
