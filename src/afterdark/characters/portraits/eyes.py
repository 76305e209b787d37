"""The eyes (whites, irises, lids and lashes) and the brows above them."""

from __future__ import annotations

import math

from afterdark.characters.portraits.colour import INK, WHITE, darker, lighter, luma, mix
from afterdark.characters.portraits.geometry import Point, bezier, ellipse, ribbon
from afterdark.characters.portraits.painter import Painter


def eye_curves(p: Painter, s: int) -> tuple[list[Point], list[Point]]:
    """The upper and lower lid lines of eye ``s`` (-1 left, 1 right), inner to outer."""
    ex = p.head.cx + s * p.eye_dx
    w, h, y = p.eye_w, p.eye_h, p.eye_y
    anime = p.kind == "anime"
    up_p, low_p, low_h = (0.45, 0.7, 0.75) if anime else (0.75, 1.1, 0.62)
    upper, lower = [], []
    n = 28
    for i in range(n + 1):
        t = i / n
        x = ex + s * (t - 0.5) * w
        tilt = -(t - 0.5) * (0.006 if anime else 0.0036)
        # The lid peaks a little towards the inner corner, like a real eye.
        bulge = math.sin(math.pi * t ** (0.9 if anime else 1.15)) ** up_p
        upper.append((x, y + tilt - h * bulge))
        lower.append((x, y + tilt + h * low_h * math.sin(math.pi * t) ** low_p))
    return upper, lower


def eye(p: Painter, s: int) -> None:
    """Eye ``s``: white, iris, pupil and catchlights, lid shadow, lashes and crease."""
    c = p.c
    upper, lower = eye_curves(p, s)
    white = c.mask(upper + lower[::-1])
    ex, cy = p.head.cx + s * p.eye_dx, p.eye_y
    c.paint(white, mix(WHITE, p.skin, 0.12))
    with c.clip_to(white):
        if p.kind == "anime":
            rx, ry = p.eye_w * 0.3, p.eye_h * 0.95
            ix, iy = ex + s * 0.002, cy - 0.002
            c.shape(ellipse(ix, iy, rx, ry), darker(p.eyes, 0.55))
            c.shape(ellipse(ix, iy + ry * 0.12, rx * 0.86, ry * 0.84), p.eyes)
            c.shape(ellipse(ix, iy + ry * 0.45, rx * 0.7, ry * 0.38), lighter(p.eyes, 0.35))
            top = ellipse(ix, iy - ry * 0.45, rx * 0.95, ry * 0.5, math.pi, math.tau, 16)
            c.shape(top, darker(p.eyes, 0.3))
            c.shape(ellipse(ix, iy + 0.002, rx * 0.42, ry * 0.46), darker(p.eyes, 0.75))
            c.shape(ellipse(ix - rx * 0.38, iy - ry * 0.38, rx * 0.32, ry * 0.24), WHITE)
            c.shape(ellipse(ix + rx * 0.35, iy + ry * 0.4, rx * 0.14, ry * 0.1), WHITE)
        else:
            r = p.eye_h * (1.12 if p.kind == "fantasy" else 1.02)
            ix, iy = ex + s * 0.001, cy - p.eye_h * 0.1
            c.shape(ellipse(ix, iy, r, r), darker(p.eyes, 0.55))
            c.shape(ellipse(ix, iy, r * 0.84, r * 0.84), p.eyes)
            c.shape(ellipse(ix, iy + r * 0.3, r * 0.6, r * 0.42), lighter(p.eyes, 0.3))
            c.shape(ellipse(ix, iy, r * 0.38, r * 0.38), (24, 18, 22))
            c.shape(ellipse(ix - r * 0.35, iy - r * 0.35, r * 0.2, r * 0.2), WHITE)
        # The upper lid shades the top of the eyeball.
        lid = [(x, y + p.eye_h * 0.5) for x, y in upper]
        lid += [(upper[-1][0], upper[-1][1] - 0.05), (upper[0][0], upper[0][1] - 0.05)]
        p.shade(c.mask(lid), p.skin_shade(0.4), 0.35, blur=0.004)
    lash = darker(mix(p.hair, INK, 0.6), 0.3)
    if p.kind == "anime":
        if p.square:
            c.shape(ribbon(upper[2:], 0.004, 0.006), lash)
        else:
            flick = (upper[-1][0] + s * 0.012, upper[-1][1] - 0.008)
            c.shape(ribbon([*upper[2:], flick], 0.0045, 0.009), lash)
        c.line(lower[len(lower) // 2 :], lash, 0.0025)
        c.line([(x, y - 0.012) for x, y in upper[6:-4]], p.ink(p.skin), 0.002)
    else:
        if p.square:
            c.shape(ribbon(upper, 0.002, 0.0035), lash)
        else:
            flick = (upper[-1][0] + s * 0.005, upper[-1][1] - 0.004)
            c.shape(ribbon([*upper, flick], 0.002, 0.0055), lash)
        c.line(lower[4:], p.skin_shade(0.35), 0.0018)
        crease = [(x, y - p.eye_h * 0.55) for x, y in upper[5:-3]]
        c.line(crease, p.skin_shade(0.3), 0.0022)


def brow(p: Painter, s: int) -> None:
    """The brow over eye ``s``, raised to suit the expression."""
    ex = p.head.cx + s * p.eye_dx
    base = p.eye_y - p.eye_h * (1.5 if p.kind == "anime" else 1.0) - 0.026
    raise_outer, raise_all = 0.004, 0.0
    if p.spec.expression == "smirk" and s == (1 if p.flip else -1):
        raise_all = 0.008
    if p.spec.expression == "neutral":
        raise_outer = -0.001
    inner = (ex - s * p.eye_w * 0.55, base + 0.004 - raise_all)
    outer = (ex + s * p.eye_w * 0.65, base + 0.004 - raise_outer - raise_all)
    arc = bezier(
        inner,
        (inner[0] + s * 0.015, base - 0.01 - raise_all),
        (outer[0] - s * 0.015, base - 0.012 - raise_all),
        outer,
        16,
    )
    w0, w1 = (0.007, 0.0035) if p.kind == "anime" else (0.011, 0.004)
    if p.spec.face != "soft":
        w0, w1 = w0 * (1.3 if p.spec.face == "angular" else 1.5), w1 * 1.4
    colour = darker(p.hair, 0.35) if luma(p.hair) > 0.3 else lighter(p.hair, 0.05)
    p.c.shape(ribbon(arc, w0, w1), colour)
