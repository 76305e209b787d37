"""Hair behind the head and the locks that fall past the face and shoulders."""

from __future__ import annotations

import math
from collections.abc import Sequence

from afterdark.characters.portraits.colour import darker, lighter
from afterdark.characters.portraits.geometry import Point, bezier, ellipse, mirror, oval, ribbon
from afterdark.characters.portraits.painter import Painter


def hair_back(p: Painter) -> None:
    """The hair behind the head and shoulders, shaped by the hair style."""
    h, style = p.head, p.spec.hair_style
    shade = darker(p.hair, 0.3)
    cx, cy, rx, ry = h.cx, h.cy, h.rx, h.ry
    if style in ("long", "wavy"):
        side = bezier(
            (cx - rx * 1.12, cy - ry * 0.2),
            (cx - rx * 1.4, cy + ry * 0.6),
            (cx - rx * 1.45, 0.68),
            (cx - rx * 1.6, 0.8),
            20,
        )
        top = ellipse(cx, cy - ry * 0.05, rx * 1.13, ry * 1.07, math.pi, math.tau, 32)
        p.shape(side[::-1] + top + mirror(side, cx), shade)
    elif style == "bob":
        pts = ellipse(cx, cy - ry * 0.05, rx * 1.17, ry * 1.07, math.pi, math.tau, 32)
        pts += [(cx + rx * 1.22, cy + ry * 0.55), (cx + rx * 1.05, cy + ry * 0.8)]
        pts += [(cx - rx * 1.05, cy + ry * 0.8), (cx - rx * 1.22, cy + ry * 0.55)]
        p.shape(pts, shade)
    elif style == "ponytail":
        s = -1 if p.flip else 1
        centre = bezier(
            (cx + s * rx * 0.35, cy - ry * 0.9),
            (cx + s * rx * 1.3, cy - ry * 1.5),
            (cx + s * rx * 1.95, cy - ry * 0.3),
            (cx + s * rx * 1.5, cy + ry * 1.15),
            28,
        )
        p.shape(ribbon(centre, 0.09, 0.012, bulge=0.03), darker(p.hair, 0.15))
        for k in (-1, 1):
            p0, p1, p2, p3 = (
                (x + k * 0.014 * (1 - i / 3), y) for i, (x, y) in enumerate(centre[8::6][:4])
            )
            strand = bezier(p0, p1, p2, p3, 16)
            p.c.line(strand, darker(p.hair, 0.4), 0.0025)
    elif style == "bun":
        r = rx * 0.5
        p.shape(ellipse(cx, cy - ry * 1.02, r, r * 0.92), p.hair)
        for i in range(3):
            coil = ellipse(
                cx,
                cy - ry * 1.02,
                r * (0.3 + 0.2 * i),
                r * (0.25 + 0.2 * i),
                math.pi * 0.9,
                math.pi * 1.9,
                12,
            )
            p.c.line(coil, shade, 0.003)
    elif style == "curly":
        # A cloud: an ellipse with a bumpy edge, then curls scattered over it.
        mass = []
        for i in range(240):
            a = math.tau * i / 240
            bump = 1 + 0.05 * abs(math.sin(a * 11))
            mass.append(
                (
                    cx + rx * 1.45 * bump * math.cos(a),
                    cy - ry * 0.02 + ry * 1.2 * bump * math.sin(a),
                )
            )
        p.shape(mass, shade)
        curls(p, mass, 60)
    elif style == "spiky":
        pts = []
        for i in range(19):
            a = math.pi * (0.9 + 1.2 * i / 18)
            r = 1.45 if i % 2 else 1.08
            pts.append((cx + rx * r * math.cos(a), cy - ry * 0.05 + ry * r * 0.95 * math.sin(a)))
        p.shape(pts, shade)
    elif style == "braid":
        p.shape(ellipse(cx, cy - ry * 0.05, rx * 1.14, ry * 1.08), shade)


def curls(p: Painter, area: Sequence[Point], count: int) -> None:
    """``count`` random curls, clipped to ``area``."""
    h, c = p.head, p.c
    with c.clip_to(c.mask(area)):
        for _ in range(count):
            x = h.cx + p.rng.uniform(-1.5, 1.5) * h.rx
            y = h.cy + p.rng.uniform(-1.25, 1.2) * h.ry
            r = p.rng.uniform(0.01, 0.018)
            a = p.rng.uniform(0, math.tau)
            colour = lighter(p.hair, 0.25) if p.rng.random() < 0.5 else darker(p.hair, 0.3)
            c.line(ellipse(x, y, r, r, a, a + 4.0, 12), colour, 0.003)


def hair_locks(p: Painter) -> None:
    """Hair that falls in front of the shoulders or frames the face."""
    h, style = p.head, p.spec.hair_style
    cx, cy, rx, ry = h.cx, h.cy, h.rx, h.ry
    if style in ("long", "wavy"):
        for s in (-1, 1):
            centre = bezier(
                (cx + s * rx * 1.04, cy - ry * 0.3),
                (cx + s * rx * 1.32, cy + ry * 0.6),
                (cx + s * rx * 1.15, 0.62),
                (cx + s * rx * 1.5, 0.9),
                28,
            )
            if style == "wavy":
                centre = [
                    (x + s * 0.012 * math.sin(i * 0.55), y) for i, (x, y) in enumerate(centre)
                ]
            lock = ribbon(centre, 0.085, 0.0, bulge=0.035)
            p.shape(lock, p.hair)
            if p.soft:
                p.c.paint_image(
                    p.c.mask(lock),
                    p.c.gradient(lighter(p.hair, 0.1), darker(p.hair, 0.3)),
                )
            for k in (-0.4, 0.1, 0.5):
                strand = [(x + s * k * 0.03 * (1 - i / 40), y) for i, (x, y) in enumerate(centre)]
                p.c.line(strand[3:-5], darker(p.hair, 0.3), 0.0022)
    elif style == "braid":
        s = 1 if p.flip else -1
        x0, y0 = cx + s * rx * 0.95, cy + ry * 0.35
        x = x0
        segments = 10
        step = (0.92 - y0) / segments
        for i in range(segments):
            t = i / segments
            x = x0 + s * (0.03 * t + 0.012 * math.sin(t * 3))
            y = y0 + i * step
            w = 0.05 - 0.018 * t
            # Two lobes leaning inwards, alternating, read as a plait.
            for k, lean in ((-1, 0.6), (1, -0.6)):
                lobe = oval(
                    x + k * w * 0.28,
                    y + (step * 0.5 if k > 0 else 0),
                    w * 0.36,
                    step * 0.95,
                    lean,
                )
                colour = p.hair if (i + (k > 0)) % 2 else darker(p.hair, 0.12)
                p.shape(lobe, colour, w=p.lw or 0.0015)
        tip = 0.93
        p.shape(ellipse(x, tip, 0.014, 0.01), p.accent)
        p.shape(
            [
                (x - 0.015, tip + 0.005),
                (x + 0.015, tip + 0.005),
                (x + 0.01, tip + 0.05),
                (x - 0.01, tip + 0.05),
            ],
            p.hair,
        )
    elif style == "bob":
        for s in (-1, 1):
            y_in = cy + ry * 0.3
            outer = bezier(
                (cx + s * rx * 1.1, cy - ry * 0.3),
                (cx + s * rx * 1.27, cy + ry * 0.1),
                (cx + s * rx * 1.3, cy + ry * 0.6),
                (cx + s * rx * 1.06, cy + ry * 0.84),
                16,
            )
            tuck = bezier(
                (cx + s * rx * 1.06, cy + ry * 0.84),
                (cx + s * rx * 0.96, cy + ry * 0.9),
                (cx + s * rx * 0.8, cy + ry * 0.82),
                (cx + s * rx * 0.78, cy + ry * 0.68),
                10,
            )
            inner = [
                (cx + s * h.edge_x(y_in) * 0.92, y_in),
                (cx + s * rx * 0.85, cy - ry * 0.35),
            ]
            p.curtains.append(outer + tuck[1:] + inner)
