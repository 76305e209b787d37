"""The face: skin and shading, ears, nose, mouth, freckles, beard and scar."""

from __future__ import annotations

import math

from PIL import ImageChops

from afterdark.characters.portraits.colour import INK, ROSE, WHITE, darker, lighter, mix
from afterdark.characters.portraits.eyes import brow, eye
from afterdark.characters.portraits.geometry import bezier, ellipse, mirror, ribbon
from afterdark.characters.portraits.hair_cap import cap_points
from afterdark.characters.portraits.painter import Painter


def ears(p: Painter) -> None:
    """Both ears: rounded, or long and pointed."""
    h = p.head
    ey = p.eye_y + 0.03
    for s in (-1, 1):
        edge = h.cx + s * (h.edge_x(ey) - 0.006)
        if "ears_pointed" in p.acc:
            top = bezier(
                (edge, ey - 0.03),
                (edge + s * 0.03, ey - 0.05),
                (edge + s * 0.06, ey - 0.08),
                (edge + s * 0.1, ey - 0.1),
                16,
            )
            low = bezier(
                (edge + s * 0.1, ey - 0.1),
                (edge + s * 0.07, ey - 0.02),
                (edge + s * 0.04, ey + 0.05),
                (edge - s * 0.002, ey + 0.04),
                16,
            )
            p.shape(top + low, p.skin)
            inner = bezier(
                (edge + s * 0.012, ey - 0.018),
                (edge + s * 0.045, ey - 0.05),
                (edge + s * 0.07, ey - 0.07),
                (edge + s * 0.085, ey - 0.085),
                12,
            )
            p.c.line(inner, p.skin_shade(0.3), 0.004)
        else:
            p.shape(ellipse(edge + s * 0.012, ey, 0.022, 0.038), p.skin)
            a0 = -math.pi / 2 if s > 0 else math.pi / 2
            fold = ellipse(edge + s * 0.014, ey, 0.011, 0.024, a0, a0 + math.pi, 12)
            p.c.line(fold, p.skin_shade(0.3), 0.003)


def face(p: Painter) -> None:
    """The face shape with its gradient, cheek and fringe shadows, and blush."""
    h, c = p.head, p.c
    pts = h.outline()
    p.shape(pts, p.skin)
    face = c.mask(pts)
    if p.kind != "anime":
        c.paint_image(face, c.gradient(lighter(p.skin, 0.1), p.skin_shade(0.12), -25))
    # The far cheek turns away from the light.
    away = ImageChops.subtract(face, c.mask([(x - 0.03, y) for x, y in pts]))
    p.shade(away, p.skin_shade(0.4), 0.35 if p.soft else 0.25, blur=0.02)
    # The hair casts a shadow across the brow.
    fringe = c.mask([(x, y + 0.022) for x, y in cap_points(p)])
    p.shade(ImageChops.multiply(fringe, face), p.skin_shade(0.45), 0.4, blur=0.012)
    blush = mix(p.skin, ROSE, 0.6)
    for s in () if p.square else (-1, 1):
        x, y = h.cx + s * (p.eye_dx + 0.012), p.eye_y + 0.048
        if p.kind == "anime":
            c.paint(c.mask(ellipse(x, y, 0.03, 0.012)), blush, 0.45)
            for i in range(3):
                lx = x - 0.014 + i * 0.012
                c.line(
                    [(lx + 0.004, y - 0.007), (lx - 0.004, y + 0.007)],
                    darker(blush, 0.2),
                    0.002,
                )
        else:
            c.paint(c.soften(c.mask(ellipse(x, y + 0.01, 0.03, 0.022)), 0.015), blush, 0.3)


def features(p: Painter) -> None:
    """Freckles, nose, beard, mouth, eyes, brows and scar, in stacking order."""
    if "freckles" in p.acc:
        freckles(p)
    nose(p)
    if "beard" in p.acc or "stubble" in p.acc:
        beard(p)
    mouth(p)
    for s in (-1, 1):
        eye(p, s)
        brow(p, s)
    if "scar" in p.acc:
        scar(p)


def freckles(p: Painter) -> None:
    """A scatter of freckles over each cheek."""
    colour = mix(p.skin, (150, 80, 50), 0.3)
    for s in (-1, 1):
        for _ in range(11):
            a, r = p.rng.uniform(0, math.tau), p.rng.uniform(0, 1) ** 0.6
            x = p.head.cx + s * (p.eye_dx * 0.75) + math.cos(a) * r * 0.038
            y = p.nose_y - 0.02 + math.sin(a) * r * 0.018
            d = p.rng.uniform(0.0012, 0.0022)
            p.c.draw.ellipse(p.c.xy([(x - d, y - d), (x + d, y + d)]), fill=colour)


def nose(p: Painter) -> None:
    """The nose: a hooked line for anime, shaded bridge and nostrils otherwise."""
    cx, y, c = p.head.cx, p.nose_y, p.c
    dark = p.skin_shade(0.45)
    if p.kind == "anime":
        c.line(
            [(cx + 0.004, y - 0.014), (cx - 0.003, y), (cx + 0.004, y + 0.002)],
            p.ink(p.skin),
            0.0028,
        )
        return
    bridge = bezier(
        (cx + 0.012, p.eye_y + 0.01),
        (cx + 0.012, y - 0.03),
        (cx + 0.016, y - 0.01),
        (cx + 0.018, y),
        12,
    )
    p.shade(c.mask(ribbon(bridge, 0.008, 0.014)), dark, 0.35, blur=0.008)
    p.shade(c.mask(ellipse(cx, y + 0.01, 0.022, 0.008)), dark, 0.4, blur=0.006)
    for s in (-1, 1):
        c.paint(
            c.mask(ellipse(cx + s * 0.009, y + 0.004, 0.006, 0.0035)),
            p.skin_shade(0.55),
            0.55,
        )
    c.paint(c.soften(c.mask(ellipse(cx - 0.002, y - 0.006, 0.007, 0.006)), 0.004), WHITE, 0.25)
    if p.kind == "fantasy":
        base = bezier(
            (cx - 0.012, y + 0.001),
            (cx - 0.006, y + 0.008),
            (cx + 0.006, y + 0.008),
            (cx + 0.012, y + 0.001),
            8,
        )
        c.line(base, p.ink(p.skin), 0.0022)


def mouth(p: Painter) -> None:
    """The mouth, shaped by the expression."""
    cx, y, c = p.head.cx, p.mouth_y, p.c
    expr = p.spec.expression
    lift = {"smile": 0.008, "neutral": 0.001, "smirk": 0.0}[expr]
    lift_l, lift_r = (lift, lift) if expr != "smirk" else (0.0, 0.01)
    if expr == "smirk" and p.flip:
        lift_l, lift_r = lift_r, lift_l
    hw = 0.022 if p.kind == "anime" else 0.028
    seam = bezier(
        (cx - hw, y - lift_l),
        (cx - hw * 0.4, y + 0.004 + lift * 0.3),
        (cx + hw * 0.4, y + 0.004 + lift * 0.3),
        (cx + hw, y - lift_r),
        16,
    )
    if p.kind == "anime":
        if expr == "smile" and not p.square:
            opening = bezier(
                (cx - hw * 0.8, y - 0.003),
                (cx - hw * 0.5, y + 0.02),
                (cx + hw * 0.5, y + 0.02),
                (cx + hw * 0.8, y - 0.003),
                16,
            )
            p.shape(opening, mix(ROSE, INK, 0.35), w=0.0022)
            c.shape(
                ellipse(cx, y + 0.011, hw * 0.35, 0.005, 0, math.pi, 12),
                mix(ROSE, WHITE, 0.25),
            )
        else:
            c.line(seam, p.ink(p.skin), 0.003)
        return
    lip = mix(p.skin, ROSE, 0.12 if p.square else 0.4)
    upper = seam + [(cx + hw * 0.45, y - 0.008), (cx + 0.004, y - 0.005), (cx, y - 0.004)]
    upper += [(cx - 0.004, y - 0.005), (cx - hw * 0.45, y - 0.008)]
    lower = seam + bezier(
        (cx + hw * 0.9, y - lift_r + 0.003),
        (cx + hw * 0.5, y + 0.019),
        (cx - hw * 0.5, y + 0.019),
        (cx - hw * 0.9, y - lift_l + 0.003),
        16,
    )
    p.shape(lower, lighter(lip, 0.05), w=0)
    p.shape(upper, darker(lip, 0.12), w=0)
    c.paint(c.soften(c.mask(ellipse(cx, y + 0.01, hw * 0.45, 0.004)), 0.003), WHITE, 0.3)
    c.line(seam, darker(mix(p.skin, ROSE, 0.5), 0.55), 0.0028)
    chin = c.mask(ellipse(cx, y + 0.027, hw * 0.6, 0.006))
    p.shade(chin, p.skin_shade(0.4), 0.3, blur=0.006)


def scar(p: Painter) -> None:
    """A scar across one eye."""
    s = 1 if p.flip else -1
    ex, y = p.head.cx + s * p.eye_dx, p.eye_y
    a, b, d = (ex + s * 0.012, y - 0.07), (ex + s * 0.02, y - 0.035), (ex + s * 0.03, y + 0.05)
    cut = bezier(a, b, b, d, 12)
    p.c.line(cut, p.skin_shade(0.25), 0.007)
    p.c.line(cut, mix(lighter(p.skin, 0.2), ROSE, 0.15), 0.0035)


def beard(p: Painter) -> None:
    """A full beard, or stubble shaded onto the jaw."""
    h, c = p.head, p.c
    outer = [
        (
            h.cx + h.rx * 1.05 * math.cos(a) * (1 - h.taper * max(math.sin(a), 0) ** h.power),
            h.cy + h.ry * 1.05 * math.sin(a),
        )
        for a in (math.pi * i / 40 for i in range(41))
    ]
    y0 = p.nose_y - 0.01
    right_in = (h.cx + h.edge_x(y0) * 0.8, y0)
    inner = bezier(
        right_in,
        (h.cx + 0.05, p.mouth_y - 0.02),
        (h.cx + 0.03, p.nose_y + 0.01),
        (h.cx, p.nose_y + 0.014),
        12,
    )
    pts = [(h.cx + h.rx * 1.02, h.cy - 0.01), *outer, (h.cx - h.rx * 1.02, h.cy - 0.01)]
    pts += [*mirror(inner, h.cx), *inner[::-1]]
    if "beard" in p.acc:
        p.shape(pts, darker(p.hair, 0.1))
        with c.clip_to(c.mask(pts)):
            for _ in range(70):
                x = h.cx + p.rng.uniform(-h.rx, h.rx)
                y = p.rng.uniform(p.nose_y, h.cy + h.ry * 1.05)
                tip = (x + p.rng.uniform(-0.004, 0.004), y + 0.012)
                c.line([(x, y), tip], lighter(p.hair, 0.18), 0.0018)
    else:
        stubble = mix(p.skin, darker(p.hair, 0.4), 0.6)
        # Stubble stays on the skin: clip the jaw area to the face.
        area = ImageChops.multiply(c.mask(pts), c.mask(h.outline()))
        c.paint(c.soften(area, 0.006), stubble, 0.3 if p.kind == "anime" else 0.4)
        if p.kind != "anime":
            with c.clip_to(area):
                for _ in range(700):
                    x = h.cx + p.rng.uniform(-1.05, 1.05) * h.rx
                    y = p.rng.uniform(p.nose_y, h.cy + h.ry * 1.05)
                    d = 0.0009
                    c.draw.ellipse(c.xy([(x - d, y - d), (x + d, y + d)]), fill=stubble)
