"""The backdrop behind the figure: gradients, bokeh, sparkles, motifs and motes."""

from __future__ import annotations

from PIL import ImageChops, ImageDraw

from afterdark.characters.portraits.colour import WHITE, darker, lighter, mix
from afterdark.characters.portraits.geometry import bezier, ellipse, mirror
from afterdark.characters.portraits.painter import Painter


def background(p: Painter) -> None:
    """The backdrop for the style: soft discs and sparkles, a starry motif, or bokeh."""
    c = p.c
    top, bottom = p.bg
    if p.kind == "anime":
        c.img.paste(c.gradient(top, bottom, angle=30))
        for _ in range(5):
            x, y = p.rng.uniform(0.05, 0.95), p.rng.uniform(0.05, 0.7)
            r = p.rng.uniform(0.05, 0.16)
            c.paint(c.mask(ellipse(x, y, r, r)), lighter(top, 0.6), 0.18)
        for _ in range(9):
            sparkle(p, p.rng.uniform(0.04, 0.96), p.rng.uniform(0.04, 0.6))
    elif p.kind == "fantasy":
        c.img.paste(c.radial(lighter(top, 0.25), bottom, 0.5, 0.36, 0.75))
        motif(p)
        for _ in range(30):
            x, y = p.rng.random(), p.rng.uniform(0, 0.75)
            r = p.rng.uniform(0.001, 0.003)
            star = lighter(top, p.rng.uniform(0.4, 0.9))
            c.draw.ellipse(c.xy([(x - r, y - r), (x + r, y + r)]), fill=star)
        motes(p, foreground=False)
    else:
        c.img.paste(c.gradient(top, bottom, angle=-12))
        light = c.mask(ellipse(0.5, 0.34, 0.36, 0.36))
        c.paint(c.soften(light, 0.12), lighter(top, 0.3), 0.5)
        for _ in range(7):
            x, y = p.rng.uniform(0.02, 0.98), p.rng.uniform(0.03, 0.8)
            r = p.rng.uniform(0.025, 0.07)
            bokeh = c.soften(c.mask(ellipse(x, y, r, r)), 0.006)
            c.paint(bokeh, lighter(mix(top, bottom, y), 0.5), p.rng.uniform(0.12, 0.3))


def motif(p: Painter) -> None:
    """Behind a fantasy figure: a halo, a crescent moon or a pointed arch, by seed."""
    c, (top, bottom) = p.c, p.bg
    kind = p.rng.choice(["halo", "moon", "arch"])
    kind = p.spec.motif or kind
    # Hard edges throughout: soft gradients on top of the radial one double the PNG size.
    if kind == "halo":
        halo = c.mask(ellipse(0.5, 0.36, 0.3, 0.3))
        c.paint(halo, lighter(top, 0.45), 0.18)
        ring = ImageChops.subtract(halo, c.mask(ellipse(0.5, 0.36, 0.287, 0.287)))
        c.paint(ring, lighter(top, 0.7), 0.5)
    elif kind == "moon":
        mx = 0.2 if p.flip else 0.8
        disc = c.mask(ellipse(mx, 0.17, 0.1, 0.1))
        bite = c.mask(ellipse(mx + (0.045 if p.flip else -0.045), 0.14, 0.088, 0.088))
        c.paint(c.mask(ellipse(mx, 0.17, 0.13, 0.13)), lighter(top, 0.4), 0.12)
        c.paint(ImageChops.subtract(disc, bite), lighter(top, 0.8), 0.9)
    else:
        side = bezier((0.12, 1.0), (0.12, 0.34), (0.24, 0.1), (0.5, 0.02), 24)
        inner = bezier((0.16, 1.0), (0.16, 0.37), (0.27, 0.15), (0.5, 0.07), 24)
        frame = darker(bottom, 0.3)
        c.paint(c.mask(side + mirror(side)[::-1]), frame, 0.85)
        c.paint(c.mask(inner + mirror(inner)[::-1]), lighter(top, 0.55), 0.4)
        c.line([(0.5, 0.07), (0.5, 1.0)], frame, 0.01)
        c.line([(0.16, 0.42), (0.84, 0.42)], frame, 0.01)


def sparkle(p: Painter, x: float, y: float) -> None:
    """A four-pointed sparkle of random size at (x, y)."""
    r = p.rng.uniform(0.008, 0.02)
    t = r * 0.22
    star = [(x, y - r), (x + t, y - t), (x + r, y), (x + t, y + t)]
    star += [(x, y + r), (x - t, y + t), (x - r, y), (x - t, y - t)]
    p.c.paint(p.c.mask(star), WHITE, 0.75)


def motes(p: Painter, foreground: bool) -> None:
    """Glowing specks of light, behind the figure or at the edges in front of it."""
    c = p.c
    glow, cores = c.blank(), c.blank()
    draw, core_draw = ImageDraw.Draw(glow), ImageDraw.Draw(cores)
    for _ in range(6 if foreground else 14):
        x, y = p.rng.uniform(0.03, 0.97), p.rng.uniform(0.05, 0.95)
        if foreground and 0.25 < x < 0.75:
            x = x + 0.5 if x < 0.5 else x - 0.5
        r = p.rng.uniform(0.004, 0.009)
        draw.ellipse(c.xy([(x - r * 2.5, y - r * 2.5), (x + r * 2.5, y + r * 2.5)]), fill=255)
        core_draw.ellipse(c.xy([(x - r * 0.6, y - r * 0.6), (x + r * 0.6, y + r * 0.6)]), fill=255)
    colour = lighter(p.accent if foreground else p.bg[0], 0.55)
    c.paint(c.soften(glow, 0.012), colour, 0.55)
    c.paint(c.soften(cores, 0.002), lighter(colour, 0.7), 0.9)
