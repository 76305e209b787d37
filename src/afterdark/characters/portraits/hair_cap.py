"""The hair over the crown: its outline down to the fringe, strands and sheen."""

from __future__ import annotations

import math

from afterdark.characters.portraits.colour import WHITE, darker, lighter, luma, mix
from afterdark.characters.portraits.geometry import Point, bezier, ellipse, mirror, strand_tips
from afterdark.characters.portraits.hair import curls
from afterdark.characters.portraits.painter import Painter

FRINGE: dict[str, str] = {
    "short": "sweep",
    "long": "part",
    "wavy": "part",
    "bob": "bangs",
    "ponytail": "sweep",
    "braid": "part",
    "bun": "back",
    "curly": "curls",
    "shaved": "back",
    "spiky": "spikes",
}


def cap_points(p: Painter) -> list[Point]:
    """The hair over the crown and down the temples, ending in the fringe's edge."""
    h = p.head
    fringe = FRINGE[p.spec.hair_style]
    shaved = p.spec.hair_style == "shaved"
    grow, vol = (1.02, 1.01) if shaved else (1.17, 1.09)
    if p.kind == "anime" and not shaved:
        grow, vol = 1.2, 1.11
    side_y = h.cy + h.ry * (0.05 if fringe != "back" else -0.1)
    outer = ellipse(
        h.cx, h.cy - h.ry * 0.05, h.rx * grow, h.ry * vol, math.pi - 0.18, math.tau + 0.18, 64
    )
    ty = h.cy - h.ry * (0.42 if fringe != "back" else 0.55)
    right = [(h.cx + h.edge_x(y) * 0.96, y) for y in (side_y, (side_y + ty) / 2, ty)]
    xr, xl = right[-1][0], h.cx - h.edge_x(ty) * 0.96
    top = h.cy - h.ry
    if fringe == "sweep":
        # High at the right temple, falling across the brow to the left (or mirrored).
        part = (h.cx + 0.05, h.cy - h.ry * 0.8)
        edge = bezier(
            (xr, ty),
            (xr - 0.005, h.cy - h.ry * 0.7),
            (part[0] + 0.03, part[1] - 0.02),
            part,
            12,
        )
        edge += bezier(
            part,
            (h.cx - 0.01, h.cy - h.ry * 0.5),
            (xl + 0.04, h.cy - h.ry * 0.28),
            (xl, h.cy - h.ry * 0.18),
            20,
        )[1:]
        if p.flip:
            edge = mirror(edge, h.cx)[::-1]
            edge = [(xr, h.cy - h.ry * 0.18), *edge[1:-1], (xl, ty)]
    elif fringe == "part":
        px = h.cx + (0.025 if p.flip else -0.025)
        edge = bezier(
            (xr, ty + 0.03),
            (xr - 0.02, top + 0.06),
            (px + 0.02, top + 0.02),
            (px, top + 0.035),
            16,
        )
        edge += bezier(
            (px, top + 0.035),
            (px - 0.02, top + 0.02),
            (xl + 0.02, top + 0.06),
            (xl, ty + 0.03),
            16,
        )
    elif fringe == "back":
        edge = ellipse(h.cx, ty + 0.01, xr - h.cx, h.ry * 0.28, 0.0, -math.pi, 24)
    else:
        n = {"bangs": 9, "spikes": 5, "curls": 7}[fringe]
        low = h.cy - h.ry * (0.22 if fringe != "spikes" else 0.12)
        edge = [(xr, ty)]
        for i in range(n + 1):
            x = xr + (xl - xr) * i / n
            edge.append((x, low + (0.03 if fringe == "spikes" and i % 2 == 0 else 0.0)))
            if i == n:
                break
            mx = xr + (xl - xr) * (i + 0.5) / n
            if fringe == "bangs":
                edge.append((mx, low - (0.012 if p.kind == "anime" else 0.004)))
            elif fringe == "spikes":
                edge.append((mx, low - 0.05))
            else:
                curl = ellipse(mx, low - 0.005, abs(xl - xr) / n / 2, 0.018, 0, -math.pi, 8)
                edge += curl[1:-1]
        edge.append((xl, ty))
    if p.kind == "anime" and fringe in ("sweep", "part"):
        edge = strand_tips(edge, 0.016)
    left = mirror(right[::-1], h.cx)
    return outer + right[::-1] + edge + left[1:]


def strands(p: Painter, top: float) -> None:
    """Strands fanning out from the crown."""
    h, c = p.head, p.c
    crown = (h.cx + (0.03 if p.flip else -0.03), top + 0.01)
    strand = darker(p.hair, 0.35)
    for i in range(11):
        t = (i + 0.5) / 11
        end = (
            h.cx - h.rx * 1.1 + 2.2 * h.rx * t,
            h.cy - h.ry * (0.1 + 0.3 * math.sin(math.pi * t)),
        )
        mid = ((crown[0] + end[0]) / 2 + (end[0] - h.cx) * 0.3, (crown[1] + end[1]) / 2)
        c.line(bezier(crown, mid, mid, end, 12)[4:], strand, 0.0018 if p.soft else 0.0025)


def hair_cap(p: Painter) -> None:
    """The hair over the crown (a shadow if shaved), its strands and sheen, and a bob's sides."""
    c, h = p.c, p.head
    pts = cap_points(p)
    if p.spec.hair_style == "shaved":
        c.paint(c.soften(c.mask(pts), 0.003), mix(p.hair, p.skin, 0.35), 0.85)
        if p.lw:
            c.line(pts[:65], p.ink(p.hair), p.lw * 0.7)
        return
    for curtain in p.curtains:
        p.shape(curtain, p.hair)
    p.shape(pts, p.hair)
    cap = c.mask(pts)
    top = h.cy - h.ry * 1.07
    if p.kind != "anime":
        c.paint_image(cap, c.gradient(lighter(p.hair, 0.12), darker(p.hair, 0.2), -15))
    with c.clip_to(cap):
        if p.spec.hair_style == "curly":
            curls(p, pts, 40)
        else:
            strands(p, top)
        # The sheen: an "angel ring" for anime, a soft glow otherwise.
        if p.kind == "anime":
            # A jagged band across the crown; dark hair gets a cool sheen from the sky.
            sy, srx, sry = h.cy - h.ry * 0.2, h.rx * 0.95, h.ry * 0.62
            upper = ellipse(h.cx, sy, srx, sry, math.pi * 1.22, math.pi * 1.78, 24)
            lower = []
            for i in range(13):
                a = math.pi * (1.78 - 0.56 * i / 12)
                drop = 0.03 if i % 2 else 0.012
                lower.append((h.cx + srx * 0.97 * math.cos(a), sy + sry * math.sin(a) + drop))
            tint = lighter(p.bg[0], 0.5) if luma(p.hair) < 0.25 else WHITE
            c.paint(c.mask(upper + lower), mix(p.hair, tint, 0.38), 0.8)
        else:
            sheen = c.mask(ellipse(h.cx - h.rx * 0.35, top + h.ry * 0.35, h.rx * 0.45, h.ry * 0.18))
            c.paint(c.soften(sheen, 0.02), lighter(p.hair, 0.5), 0.45)
    if p.lw:
        c.line(pts, p.ink(p.hair), p.lw, closed=True)
