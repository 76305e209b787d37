"""Curves and outlines in canvas fractions (0..1, y downwards), and the head shape."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Fractions of the canvas keep the geometry independent of the output size.
Point = tuple[float, float]


def ellipse(
    cx: float, cy: float, rx: float, ry: float, a0: float = 0.0, a1: float = math.tau, n: int = 96
) -> list[Point]:
    """Points on an ellipse (or its arc from ``a0`` to ``a1``), ``n`` segments."""
    return [
        (cx + rx * math.cos(a0 + (a1 - a0) * i / n), cy + ry * math.sin(a0 + (a1 - a0) * i / n))
        for i in range(n + 1)
    ]


def strand_tips(edge: Sequence[Point], depth: float) -> list[Point]:
    """Turn a smooth fringe edge into a row of pointed locks, anime fashion."""
    coarse = list(edge[:: max(1, len(edge) // 9)])
    if coarse[-1] != edge[-1]:
        coarse.append(edge[-1])
    out: list[Point] = []
    for a, b in itertools.pairwise(coarse):
        out.append(a)
        out.append(((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + depth))
    out.append(coarse[-1])
    return out


def oval(cx: float, cy: float, rx: float, ry: float, turn: float, n: int = 32) -> list[Point]:
    """An ellipse rotated by ``turn`` radians."""
    cos, sin = math.cos(turn), math.sin(turn)
    return [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in ellipse(0, 0, rx, ry, n=n)]


def bezier(p0: Point, p1: Point, p2: Point, p3: Point, n: int = 32) -> list[Point]:
    """A cubic Bezier curve sampled at ``n`` segments."""
    pts = []
    for i in range(n + 1):
        t = i / n
        u = 1 - t
        pts.append(
            (
                u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
                u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1],
            )
        )
    return pts


def mirror(pts: Iterable[Point], cx: float = 0.5) -> list[Point]:
    """The points reflected about the vertical line x = ``cx``."""
    return [(2 * cx - x, y) for x, y in pts]


def ribbon(centre: Sequence[Point], w0: float, w1: float, bulge: float = 0.0) -> list[Point]:
    """A tapered band along a centre line: width w0 at the start, w1 at the end, plus
    ``bulge`` extra width in the middle."""
    left: list[Point] = []
    right: list[Point] = []
    n = len(centre)
    for i, (x, y) in enumerate(centre):
        a = centre[max(i - 1, 0)]
        b = centre[min(i + 1, n - 1)]
        dx, dy = b[0] - a[0], b[1] - a[1]
        length = math.hypot(dx, dy) or 1.0
        t = i / max(n - 1, 1)
        w = (w0 + (w1 - w0) * t + bulge * math.sin(math.pi * t)) / 2
        nx, ny = -dy / length * w, dx / length * w
        left.append((x + nx, y + ny))
        right.append((x - nx, y - ny))
    return left + right[::-1]


@dataclass(frozen=True)
class Head:
    """The head's outline: an ellipse narrowing towards the chin."""

    cx: float
    cy: float
    rx: float
    ry: float
    taper: float
    power: float

    def outline(self, grow: float = 1.0, n: int = 160) -> list[Point]:
        """The head's outline, scaled by ``grow``."""
        pts = []
        for i in range(n):
            a = math.tau * i / n
            s = math.sin(a)
            narrow = 1 - self.taper * max(s, 0.0) ** self.power
            pts.append(
                (self.cx + self.rx * grow * math.cos(a) * narrow, self.cy + self.ry * grow * s)
            )
        return pts

    def edge_x(self, y: float) -> float:
        """Half-width of the face at height y."""
        s = max(-1.0, min(1.0, (y - self.cy) / self.ry))
        narrow = 1 - self.taper * max(s, 0.0) ** self.power
        return float(self.rx * math.sqrt(max(0.0, 1 - s * s)) * narrow)
