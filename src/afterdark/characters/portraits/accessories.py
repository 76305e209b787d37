"""Accessories: scarf, horns, glasses, earrings, circlet, flower, hat and hood."""

from __future__ import annotations

import math

from PIL import ImageChops

from afterdark.characters.portraits.colour import INK, WHITE, darker, lighter, luma, mix
from afterdark.characters.portraits.geometry import Point, bezier, ellipse, mirror, ribbon
from afterdark.characters.portraits.painter import Painter


def scarf(p: Painter) -> None:
    """A scarf wrapped at the throat, one tail hanging down the chest."""
    cx, ty = p.head.cx, p.shoulder_y
    tail_x = cx + (0.06 if p.flip else -0.06)
    centre = bezier(
        (tail_x, ty - 0.01),
        (tail_x + 0.01, ty + 0.08),
        (tail_x + 0.03, 0.92),
        (tail_x + 0.035, 1.02),
        16,
    )
    p.shape(ribbon(centre, 0.07, 0.08), darker(p.accent, 0.12))
    for y in (0.9, 0.95):
        p.c.line([(tail_x - 0.01, y), (tail_x + 0.07, y + 0.006)], lighter(p.accent, 0.5), 0.008)
    p.shape(ellipse(cx, ty - 0.035, 0.115, 0.05), p.accent)
    fold = ellipse(cx, ty - 0.03, 0.09, 0.028, 0.2, math.pi - 0.2, 16)
    p.c.line(fold, darker(p.accent, 0.35), 0.003)


def headwear(p: Painter) -> None:
    """Everything worn on or about the head, in stacking order."""
    if "horns" in p.acc:
        horns(p)
    if "glasses" in p.acc:
        glasses(p)
    if "earrings" in p.acc:
        earrings(p)
    if "circlet" in p.acc:
        circlet(p)
    if "flower" in p.acc:
        flower(p)
    if "hat" in p.acc:
        hat(p)
    if "hood" in p.acc:
        hood_front(p)


def horns(p: Painter) -> None:
    """A pair of ridged horns sweeping up and outwards from the crown."""
    h, c = p.head, p.c
    horn = (236, 224, 200) if luma(p.hair) < 0.45 else (74, 56, 66)
    for s in (-1, 1):
        centre = bezier(
            (h.cx + s * h.rx * 0.55, h.cy - h.ry * 0.78),
            (h.cx + s * h.rx * 0.8, h.cy - h.ry * 1.35),
            (h.cx + s * h.rx * 1.45, h.cy - h.ry * 1.4),
            (h.cx + s * h.rx * 1.55, h.cy - h.ry * 1.0),
            24,
        )
        pts = ribbon(centre, 0.05, 0.004)
        p.shape(pts, horn, w=max(p.lw, 0.0022))
        with c.clip_to(c.mask(pts)):
            for i in range(2, 20, 3):
                x, y = centre[i]
                c.line(
                    [(x - 0.03, y + 0.006 * s), (x + 0.03, y - 0.006 * s)],
                    darker(horn, 0.3),
                    0.002,
                )


def glasses(p: Painter) -> None:
    """Spectacles: a glint on each lens, rims, arms and a bridge."""
    h, c = p.head, p.c
    frame = mix(p.accent, INK, 0.55)
    half_w, y = p.eye_w * 0.78, p.eye_y
    for s in (-1, 1):
        ex = h.cx + s * p.eye_dx
        rim = ellipse(ex, y + 0.003, half_w, max(p.eye_h * 2.1, 0.032), n=64)
        c.paint(c.mask(rim), WHITE, 0.12)
        c.line([(ex - 0.015, y - 0.01), (ex - 0.005, y - 0.02)], WHITE, 0.003)
        c.line(rim, frame, 0.004, closed=True)
        c.line([(ex + s * half_w, y), (h.cx + s * h.edge_x(y), y - 0.004)], frame, 0.004)
    left, right = h.cx - p.eye_dx + half_w, h.cx + p.eye_dx - half_w
    c.line(
        bezier((left, y), (h.cx - 0.01, y - 0.01), (h.cx + 0.01, y - 0.01), (right, y), 10),
        frame,
        0.004,
    )


def earrings(p: Painter) -> None:
    """A hoop with a bead hanging from each ear."""
    h, c = p.head, p.c
    for s in (-1, 1):
        x = h.cx + s * (h.edge_x(p.eye_y + 0.06) + 0.012)
        y = p.eye_y + 0.07
        c.line(ellipse(x, y + 0.012, 0.008, 0.012), p.accent, 0.003, closed=True)
        p.shape(ellipse(x, y + 0.028, 0.006, 0.006), lighter(p.accent, 0.3), w=0)


def circlet(p: Painter) -> None:
    """A metal band across the brow set with an eye-coloured gem."""
    h, c = p.head, p.c
    band = ellipse(
        h.cx, h.cy - h.ry * 0.25, h.rx * 1.01, h.ry * 0.35, math.pi * 1.08, math.pi * 1.92, 24
    )
    c.line(band, darker(p.accent, 0.35), 0.011)
    c.line(band, p.accent, 0.007)
    gx, gy = h.cx, h.cy - h.ry * 0.6
    p.shape(
        [(gx, gy - 0.02), (gx + 0.014, gy), (gx, gy + 0.022), (gx - 0.014, gy)],
        p.eyes,
        w=0.003,
    )
    c.line([(gx - 0.004, gy - 0.006), (gx, gy - 0.012)], WHITE, 0.002)


def flower(p: Painter) -> None:
    """A five-petalled flower tucked above one temple."""
    h = p.head
    s = -1 if p.flip else 1
    fx, fy = h.cx + s * h.rx * 0.95, h.cy - h.ry * 0.55
    for i in range(5):
        a = math.tau * i / 5 - math.pi / 2
        p.shape(
            ellipse(fx + 0.016 * math.cos(a), fy + 0.016 * math.sin(a), 0.013, 0.013, n=24),
            p.accent,
        )
    p.shape(ellipse(fx, fy, 0.008, 0.008, n=16), (250, 214, 110))


def hat(p: Painter) -> None:
    """A brimmed hat with a band."""
    h = p.head
    brim_y = h.cy - h.ry * 0.68
    crown = bezier(
        (h.cx - h.rx * 0.95, brim_y),
        (h.cx - h.rx * 0.95, brim_y - 0.1),
        (h.cx - h.rx * 0.6, brim_y - 0.14),
        (h.cx, brim_y - 0.12),
        16,
    )
    p.shape(ellipse(h.cx, brim_y, h.rx * 1.85, 0.035), darker(p.accent, 0.15))
    p.shape(crown + mirror(crown, h.cx)[::-1], p.accent)
    band = [(h.cx - h.rx * 0.95, brim_y - 0.012), (h.cx + h.rx * 0.95, brim_y - 0.012)]
    band += [(h.cx + h.rx * 0.96, brim_y - 0.035), (h.cx - h.rx * 0.96, brim_y - 0.035)]
    p.shape(band, darker(p.accent, 0.5), w=0)


def hood_outline(p: Painter) -> list[Point]:
    """The hood's outer edge around the head."""
    h = p.head
    return ellipse(h.cx, h.cy - h.ry * 0.02, h.rx * 1.55, h.ry * 1.32)


def hood_back(p: Painter) -> None:
    """The inside of the hood, behind the head and draped to the shoulders."""
    h = p.head
    inside = darker(p.outfit, 0.55)
    p.shape(hood_outline(p), inside, w=0)
    drape = [(h.cx - h.rx * 1.55, h.cy), (h.cx + h.rx * 1.55, h.cy)]
    drape += [(h.cx + 0.2, p.shoulder_y + 0.05), (h.cx - 0.2, p.shoulder_y + 0.05)]
    p.shape(drape, inside, w=0)


def hood_front(p: Painter) -> None:
    """The hood's rim framing the face, with a fold of shadow inside it."""
    h, c = p.head, p.c
    opening = c.mask(ellipse(h.cx, h.cy + h.ry * 0.06, h.rx * 1.22, h.ry * 1.12))
    lower = c.mask([(0.0, h.cy + h.ry * 0.5), (1.0, h.cy + h.ry * 0.5), (1.0, 1.2), (0.0, 1.2)])
    ring = ImageChops.subtract(ImageChops.subtract(c.mask(hood_outline(p)), opening), lower)
    c.paint(ring, p.outfit)
    c.figure.paste(255, (0, 0), ring)
    fold = c.mask(ellipse(h.cx, h.cy + h.ry * 0.1, h.rx * 1.32, h.ry * 1.2))
    p.shade(
        ImageChops.multiply(ImageChops.subtract(fold, opening), ring),
        darker(p.outfit, 0.4),
        0.5,
        0.01,
    )
    if p.lw:
        edge = ellipse(
            h.cx, h.cy - h.ry * 0.02, h.rx * 1.55, h.ry * 1.32, math.pi * 0.83, math.pi * 2.17
        )
        c.line(edge, p.ink(p.outfit), p.lw)
