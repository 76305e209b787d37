"""Procedural head-and-shoulders portraits for the built-in characters.

Pillow only, no model and no photographs: each portrait is drawn from a handful of
parameters (style, colours, hair style, accessories) on a canvas several times the output
size, then downsampled with LANCZOS, which anti-aliases every edge. The same parameters
always give the same PNG bytes (with the same Pillow and zlib): the only randomness is a
``random.Random`` seeded from a hash of the parameters.

Coordinates below are fractions of the canvas (0..1, y downwards), so the geometry does
not depend on the output size.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from PIL import Image, ImageChops, ImageDraw, ImageFilter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

__all__ = ["Accessory", "HairStyle", "PortraitParams", "PortraitStyle", "render_portrait"]

HexColor = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
PortraitStyle = Literal["realistic", "anime", "fantasy"]
HairStyle = Literal[
    "short", "long", "wavy", "bob", "ponytail", "braid", "bun", "curly", "shaved", "spiky"
]
Accessory = Literal[
    "glasses",
    "earrings",
    "scarf",
    "hat",
    "hood",
    "ears_pointed",
    "horns",
    "circlet",
    "freckles",
    "beard",
    "stubble",
    "scar",
    "glowing_eyes",
    "flower",
]
Neckline = Literal["round", "v", "collar", "high", "coat"]

SUPERSAMPLE = 3
FIGURE_ZOOM = 1.18
MIN_SIZE = 32
MAX_SIZE = 1024

RGB = tuple[int, int, int]
Point = tuple[float, float]


class PortraitParams(BaseModel):
    """What a portrait looks like; colours are ``#rrggbb``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    style: PortraitStyle
    skin: HexColor
    hair: HexColor
    hair_style: HairStyle
    eyes: HexColor
    background: tuple[HexColor, HexColor]
    outfit: HexColor
    accent: HexColor | None = Field(
        default=None, description="Trim, jewellery, hat and scarf colour; derived when absent."
    )
    accessories: list[Accessory] = Field(default_factory=list, max_length=8)
    neckline: Neckline = "round"
    face: Literal["soft", "angular", "square"] = Field(
        default="soft",
        description="soft: rounded; angular: sharp-boned; square: broad jaw and neck.",
    )
    expression: Literal["smile", "neutral", "smirk"] = "smile"
    motif: Literal["halo", "moon", "arch"] | None = Field(
        default=None, description="Fantasy backdrop; chosen from the parameters when absent."
    )

    @field_validator("accessories")
    @classmethod
    def _unique(cls, accessories: list[str]) -> list[str]:
        if len(set(accessories)) != len(accessories):
            raise ValueError("accessories must not repeat")
        return accessories


def render_portrait(params: dict[str, Any] | PortraitParams, size: int = 512) -> bytes:
    """Draw the portrait described by ``params`` as a ``size`` x ``size`` PNG.

    Raises pydantic's ``ValidationError`` (a ``ValueError``) naming the bad field.
    """
    spec = params if isinstance(params, PortraitParams) else PortraitParams.model_validate(params)
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels, not {size}")
    image = _Portrait(spec, size * SUPERSAMPLE).draw()
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# -- colour ---------------------------------------------------------------------------


def _rgb(hex_colour: str) -> RGB:
    value = int(hex_colour[1:], 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _luma(c: RGB) -> float:
    return (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255


WHITE: RGB = (255, 255, 255)
INK: RGB = (38, 24, 36)
ROSE: RGB = (214, 92, 104)


def _darker(c: RGB, t: float) -> RGB:
    # Shadows lean towards a cool purple rather than grey, which reads as painted light.
    return _mix(c, (48, 30, 62), t)


def _lighter(c: RGB, t: float) -> RGB:
    return _mix(c, (255, 246, 232), t)


# -- geometry -------------------------------------------------------------------------


def _ellipse(
    cx: float, cy: float, rx: float, ry: float, a0: float = 0.0, a1: float = math.tau, n: int = 96
) -> list[Point]:
    return [
        (cx + rx * math.cos(a0 + (a1 - a0) * i / n), cy + ry * math.sin(a0 + (a1 - a0) * i / n))
        for i in range(n + 1)
    ]


def _strand_tips(edge: Sequence[Point], depth: float) -> list[Point]:
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


def _oval(cx: float, cy: float, rx: float, ry: float, turn: float, n: int = 32) -> list[Point]:
    """An ellipse rotated by ``turn`` radians."""
    cos, sin = math.cos(turn), math.sin(turn)
    return [
        (cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in _ellipse(0, 0, rx, ry, n=n)
    ]


def _bezier(p0: Point, p1: Point, p2: Point, p3: Point, n: int = 32) -> list[Point]:
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


def _mirror(pts: Iterable[Point], cx: float = 0.5) -> list[Point]:
    return [(2 * cx - x, y) for x, y in pts]


def _ribbon(centre: Sequence[Point], w0: float, w1: float, bulge: float = 0.0) -> list[Point]:
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
class _Head:
    cx: float
    cy: float
    rx: float
    ry: float
    taper: float
    power: float

    def outline(self, grow: float = 1.0, n: int = 160) -> list[Point]:
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


# -- the painter ----------------------------------------------------------------------


class _Canvas:
    def __init__(self, px: int) -> None:
        self.px = px
        self.img = Image.new("RGB", (px, px))
        self.draw = ImageDraw.Draw(self.img)
        # The silhouette of everything drawn while ``tracking``: used for rim light.
        self.figure = Image.new("L", (px, px), 0)
        self.figure_draw = ImageDraw.Draw(self.figure)
        self.tracking = False
        # The figure is drawn in its own frame, scaled about ``anchor`` to fill the canvas.
        self.zoom = 1.0
        self.anchor = (0.5, 0.42)

    def xy(self, pts: Iterable[Point]) -> list[tuple[float, float]]:
        ax, ay, z, px = self.anchor[0], self.anchor[1], self.zoom, self.px
        return [((ax + (x - ax) * z) * px, (ay + (y - ay) * z) * px) for x, y in pts]

    def width(self, w: float) -> int:
        return max(1, round(w * self.zoom * self.px))

    def shape(self, pts: Sequence[Point], fill: RGB, line: RGB | None = None, w: float = 0) -> None:
        coords = self.xy(pts)
        self.draw.polygon(coords, fill=fill)
        if self.tracking:
            self.figure_draw.polygon(coords, fill=255)
        if line is not None and w > 0:
            self.line(pts, line, w, closed=True)

    def line(self, pts: Sequence[Point], colour: RGB, w: float, closed: bool = False) -> None:
        coords = self.xy(pts)
        if closed:
            coords.append(coords[0])
        self.draw.line(coords, fill=colour, width=self.width(w), joint="curve")
        # Round caps: Pillow's wide lines end square.
        if not closed and self.width(w) > 2:
            r = self.width(w) / 2
            for x, y in (coords[0], coords[-1]):
                self.draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)

    def mask(self, pts: Sequence[Point]) -> Image.Image:
        m = Image.new("L", (self.px, self.px), 0)
        ImageDraw.Draw(m).polygon(self.xy(pts), fill=255)
        return m

    def blank(self) -> Image.Image:
        return Image.new("L", (self.px, self.px), 0)

    def paint(self, mask: Image.Image, colour: RGB, opacity: float = 1.0) -> None:
        box = mask.getbbox()
        if box is None:
            return
        region = mask.crop(box)
        if opacity < 1.0:
            region = region.point([round(v * opacity) for v in range(256)])
        self.img.paste(colour, box, region)

    def paint_image(self, mask: Image.Image, layer: Image.Image) -> None:
        box = mask.getbbox()
        if box is not None:
            self.img.paste(layer.crop(box), box, mask.crop(box))

    def soften(self, mask: Image.Image, radius: float) -> Image.Image:
        """Gaussian-blur a mask; done at quarter size because the result is smooth anyway."""
        box = mask.getbbox()
        if box is None:
            return mask
        r = radius * self.zoom * self.px
        pad = math.ceil(r * 3) + 8
        left, top = max(0, box[0] - pad) // 4 * 4, max(0, box[1] - pad) // 4 * 4
        right = min(self.px, math.ceil((box[2] + pad) / 4) * 4)
        bottom = min(self.px, math.ceil((box[3] + pad) / 4) * 4)
        crop = mask.crop((left, top, right, bottom))
        small = crop.reduce(4).filter(ImageFilter.GaussianBlur(r / 4))
        out = self.blank()
        out.paste(small.resize(crop.size, Image.Resampling.BILINEAR), (left, top))
        return out

    def gradient(self, top: RGB, bottom: RGB, angle: float = 0.0) -> Image.Image:
        """A full-canvas linear gradient, rotated by ``angle`` degrees."""
        ramp = Image.linear_gradient("L").resize((256, 256))
        if angle:
            ramp = ramp.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False)
            # Rotation leaves black corners; a centre crop of the ramp avoids them.
            ramp = ramp.crop((48, 48, 208, 208))
        small = Image.composite(
            Image.new("RGB", ramp.size, bottom), Image.new("RGB", ramp.size, top), ramp
        )
        return small.resize((self.px, self.px), Image.Resampling.BILINEAR)

    def radial(self, inner: RGB, outer: RGB, cx: float, cy: float, r: float) -> Image.Image:
        n = 128
        m = Image.new("L", (n, n), 255)
        d = ImageDraw.Draw(m)
        for i in range(64, 0, -1):
            rr = r * n * i / 64
            d.ellipse(
                (cx * n - rr, cy * n - rr, cx * n + rr, cy * n + rr), fill=round(255 * i / 64)
            )
        m = m.filter(ImageFilter.GaussianBlur(2))
        small = Image.composite(Image.new("RGB", (n, n), outer), Image.new("RGB", (n, n), inner), m)
        return small.resize((self.px, self.px), Image.Resampling.BILINEAR)

    def clip_to(self, mask: Image.Image) -> _Clip:
        return _Clip(self, mask)


class _Clip:
    """Everything drawn inside the ``with`` block is kept only where ``mask`` is set."""

    def __init__(self, canvas: _Canvas, mask: Image.Image) -> None:
        self.canvas = canvas
        self.mask = mask
        self.saved = canvas.img

    def __enter__(self) -> None:
        self.saved = self.canvas.img.copy()

    def __exit__(self, *exc: object) -> None:
        self.canvas.img.paste(self.saved, (0, 0), ImageChops.invert(self.mask))


# -- the portrait ---------------------------------------------------------------------

_FRINGE: dict[str, str] = {
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


class _Portrait:
    def __init__(self, spec: PortraitParams, px: int) -> None:
        self.spec = spec
        self.c = _Canvas(px)
        digest = hashlib.sha256(json.dumps(spec.model_dump(), sort_keys=True).encode()).digest()
        self.rng = random.Random(int.from_bytes(digest[:8], "big"))
        self.flip = self.rng.random() < 0.5
        self.kind = spec.style
        self.acc = set(spec.accessories)
        self.skin = _rgb(spec.skin)
        self.hair = _rgb(spec.hair)
        self.eyes = _rgb(spec.eyes)
        self.outfit = _rgb(spec.outfit)
        self.bg = (_rgb(spec.background[0]), _rgb(spec.background[1]))
        self.accent = _rgb(spec.accent) if spec.accent else (222, 184, 98)
        self.soft = self.kind == "realistic"
        self.lw = {"realistic": 0.0, "anime": 0.0042, "fantasy": 0.0026}[self.kind]
        if self.kind == "anime":
            head = _Head(0.5, 0.405, 0.152, 0.172, 0.40, 1.3)
            self.eye_y, self.eye_dx, self.eye_w, self.eye_h = 0.447, 0.064, 0.058, 0.030
        elif self.kind == "fantasy":
            head = _Head(0.5, 0.40, 0.138, 0.178, 0.36, 1.5)
            self.eye_y, self.eye_dx, self.eye_w, self.eye_h = 0.418, 0.058, 0.050, 0.017
        else:
            head = _Head(0.5, 0.40, 0.136, 0.176, 0.30, 1.7)
            self.eye_y, self.eye_dx, self.eye_w, self.eye_h = 0.414, 0.057, 0.047, 0.0145
        self.square = spec.face == "square"
        if spec.face == "angular":
            head = _Head(
                head.cx, head.cy, head.rx * 1.04, head.ry, head.taper - 0.06, head.power + 1.4
            )
        elif self.square:
            head = _Head(
                head.cx, head.cy, head.rx * 1.07, head.ry, head.taper - 0.1, head.power + 2.2
            )
            self.eye_h *= 0.85
        self.head = head
        self.nose_y = self.eye_y + (0.058 if self.kind == "anime" else 0.072)
        self.mouth_y = self.nose_y + (0.038 if self.kind == "anime" else 0.042)
        self.shoulder_y = 0.655
        self.shoulder_w = {"soft": 0.33, "angular": 0.35, "square": 0.38}[spec.face]
        self.curtains: list[list[Point]] = []

    # helpers

    def skin_shade(self, t: float) -> RGB:
        # Skin darkens warm (blood under the surface), never towards grey.
        r, g, b = self.skin
        return _mix(self.skin, (round(r * 0.55), round(g * 0.36), round(b * 0.42)), t)

    def ink(self, colour: RGB) -> RGB:
        return _mix(colour, INK, 0.72)

    def shape(self, pts: Sequence[Point], fill: RGB, w: float | None = None) -> None:
        width = self.lw if w is None else w
        self.c.shape(pts, fill, self.ink(fill) if width else None, width)

    def shade(self, mask: Image.Image, colour: RGB, opacity: float, blur: float = 0.0) -> None:
        """A shadow or light: soft-edged for realistic portraits, crisper cel otherwise."""
        if blur and self.soft:
            mask = self.c.soften(mask, blur)
        elif blur and self.kind == "fantasy":
            mask = self.c.soften(mask, blur * 0.4)
        self.c.paint(mask, colour, opacity)

    def draw(self) -> Image.Image:
        self.background()
        self.c.zoom = FIGURE_ZOOM
        self.c.tracking = True
        if "hood" in self.acc:
            self.hood_back()
        self.hair_back()
        self.body()
        if "scarf" in self.acc:
            self.scarf()
        self.hair_locks()
        if "ears_pointed" not in self.acc:
            self.ears()
        self.face()
        self.features()
        self.hair_cap()
        if "ears_pointed" in self.acc:
            self.ears()
        self.headwear()
        self.c.tracking = False
        self.rim_light()
        if "glowing_eyes" in self.acc:
            self.glow()
        self.c.zoom = 1.0
        if self.kind == "fantasy":
            self.motes(foreground=True)
        return self.c.img

    # background

    def background(self) -> None:
        c = self.c
        top, bottom = self.bg
        if self.kind == "anime":
            c.img.paste(c.gradient(top, bottom, angle=30))
            for _ in range(5):
                x, y = self.rng.uniform(0.05, 0.95), self.rng.uniform(0.05, 0.7)
                r = self.rng.uniform(0.05, 0.16)
                c.paint(c.mask(_ellipse(x, y, r, r)), _lighter(top, 0.6), 0.18)
            for _ in range(9):
                self.sparkle(self.rng.uniform(0.04, 0.96), self.rng.uniform(0.04, 0.6))
        elif self.kind == "fantasy":
            c.img.paste(c.radial(_lighter(top, 0.25), bottom, 0.5, 0.36, 0.75))
            self.motif()
            for _ in range(30):
                x, y = self.rng.random(), self.rng.uniform(0, 0.75)
                r = self.rng.uniform(0.001, 0.003)
                star = _lighter(top, self.rng.uniform(0.4, 0.9))
                c.draw.ellipse(c.xy([(x - r, y - r), (x + r, y + r)]), fill=star)
            self.motes(foreground=False)
        else:
            c.img.paste(c.gradient(top, bottom, angle=-12))
            light = c.mask(_ellipse(0.5, 0.34, 0.36, 0.36))
            c.paint(c.soften(light, 0.12), _lighter(top, 0.3), 0.5)
            for _ in range(7):
                x, y = self.rng.uniform(0.02, 0.98), self.rng.uniform(0.03, 0.8)
                r = self.rng.uniform(0.025, 0.07)
                bokeh = c.soften(c.mask(_ellipse(x, y, r, r)), 0.006)
                c.paint(bokeh, _lighter(_mix(top, bottom, y), 0.5), self.rng.uniform(0.12, 0.3))

    def motif(self) -> None:
        """Behind a fantasy figure: a halo, a crescent moon or a pointed arch, by seed."""
        c, (top, bottom) = self.c, self.bg
        kind = self.rng.choice(["halo", "moon", "arch"])
        kind = self.spec.motif or kind
        # Hard edges throughout: soft gradients on top of the radial one double the PNG size.
        if kind == "halo":
            halo = c.mask(_ellipse(0.5, 0.36, 0.3, 0.3))
            c.paint(halo, _lighter(top, 0.45), 0.18)
            ring = ImageChops.subtract(halo, c.mask(_ellipse(0.5, 0.36, 0.287, 0.287)))
            c.paint(ring, _lighter(top, 0.7), 0.5)
        elif kind == "moon":
            mx = 0.2 if self.flip else 0.8
            disc = c.mask(_ellipse(mx, 0.17, 0.1, 0.1))
            bite = c.mask(_ellipse(mx + (0.045 if self.flip else -0.045), 0.14, 0.088, 0.088))
            c.paint(c.mask(_ellipse(mx, 0.17, 0.13, 0.13)), _lighter(top, 0.4), 0.12)
            c.paint(ImageChops.subtract(disc, bite), _lighter(top, 0.8), 0.9)
        else:
            side = _bezier((0.12, 1.0), (0.12, 0.34), (0.24, 0.1), (0.5, 0.02), 24)
            inner = _bezier((0.16, 1.0), (0.16, 0.37), (0.27, 0.15), (0.5, 0.07), 24)
            frame = _darker(bottom, 0.3)
            c.paint(c.mask(side + _mirror(side)[::-1]), frame, 0.85)
            c.paint(c.mask(inner + _mirror(inner)[::-1]), _lighter(top, 0.55), 0.4)
            c.line([(0.5, 0.07), (0.5, 1.0)], frame, 0.01)
            c.line([(0.16, 0.42), (0.84, 0.42)], frame, 0.01)

    def sparkle(self, x: float, y: float) -> None:
        r = self.rng.uniform(0.008, 0.02)
        t = r * 0.22
        star = [(x, y - r), (x + t, y - t), (x + r, y), (x + t, y + t)]
        star += [(x, y + r), (x - t, y + t), (x - r, y), (x - t, y - t)]
        self.c.paint(self.c.mask(star), WHITE, 0.75)

    def motes(self, foreground: bool) -> None:
        c = self.c
        glow, cores = c.blank(), c.blank()
        draw, core_draw = ImageDraw.Draw(glow), ImageDraw.Draw(cores)
        for _ in range(6 if foreground else 14):
            x, y = self.rng.uniform(0.03, 0.97), self.rng.uniform(0.05, 0.95)
            if foreground and 0.25 < x < 0.75:
                x = x + 0.5 if x < 0.5 else x - 0.5
            r = self.rng.uniform(0.004, 0.009)
            draw.ellipse(c.xy([(x - r * 2.5, y - r * 2.5), (x + r * 2.5, y + r * 2.5)]), fill=255)
            core_draw.ellipse(
                c.xy([(x - r * 0.6, y - r * 0.6), (x + r * 0.6, y + r * 0.6)]), fill=255
            )
        colour = _lighter(self.accent if foreground else self.bg[0], 0.55)
        c.paint(c.soften(glow, 0.012), colour, 0.55)
        c.paint(c.soften(cores, 0.002), _lighter(colour, 0.7), 0.9)

    # body

    def neck(self) -> None:
        h = self.head
        nw = {"soft": 0.05, "angular": 0.056, "square": 0.066}[self.spec.face]
        nw *= 0.85 if self.kind == "anime" else 1
        top, bottom = h.cy + h.ry * 0.45, self.shoulder_y - 0.004
        left = _bezier(
            (h.cx - nw, top),
            (h.cx - nw, bottom - 0.05),
            (h.cx - nw * 1.05, bottom - 0.02),
            (h.cx - nw * 1.45, bottom),
            12,
        )
        pts = left + _mirror(left, h.cx)[::-1]
        self.shape(pts, self.skin, w=0)
        if self.lw:
            self.c.line(left, self.ink(self.skin), self.lw)
            self.c.line(_mirror(left, h.cx), self.ink(self.skin), self.lw)
        chin = self.c.mask([(x, y + 0.028) for x, y in h.outline()])
        self.shade(ImageChops.multiply(self.c.mask(pts), chin), self.skin_shade(0.45), 0.45, 0.012)

    def body(self) -> None:
        h, ty, sw, c = self.head, self.shoulder_y, self.shoulder_w, self.c
        cx = h.cx
        arm = _bezier(
            (cx - sw - 0.06, 1.12),
            (cx - sw - 0.04, ty + 0.15),
            (cx - sw - 0.01, ty + 0.06),
            (cx - sw + 0.07, ty + 0.028),
            20,
        )
        slope = _bezier(
            (cx - sw + 0.07, ty + 0.028),
            (cx - sw + 0.14, ty + 0.002),
            (cx - 0.15, ty - 0.006),
            (cx - 0.1, ty - 0.014),
            12,
        )
        left = arm + slope[1:]
        pts = left + _mirror(left, cx)[::-1]
        self.shape(pts, self.outfit, w=0)
        body = c.mask(pts)
        if self.soft:
            c.paint_image(
                body, c.gradient(_lighter(self.outfit, 0.12), _darker(self.outfit, 0.35), -20)
            )
        under = c.mask(_ellipse(cx, ty + 0.01, 0.13, 0.06))
        self.shade(ImageChops.multiply(under, body), _darker(self.outfit, 0.5), 0.4, blur=0.02)
        side = c.mask([(x - 0.045, y + 0.02) for x, y in pts])
        self.shade(ImageChops.subtract(body, side), _darker(self.outfit, 0.45), 0.45, blur=0.02)
        # A fold at each armpit gives the shoulders some form.
        for s in (-1, 1):
            x = cx + s * sw
            fold = _bezier(
                (x - s * 0.06, 1.0),
                (x - s * 0.07, 0.93),
                (x - s * 0.05, 0.88),
                (x - s * 0.02, 0.84),
            )
            c.line(fold, _darker(self.outfit, 0.4), 0.003 if self.soft else 0.004)
        self.neckline()
        if self.lw:
            c.line(left, self.ink(self.outfit), self.lw)
            c.line(_mirror(left, cx), self.ink(self.outfit), self.lw)

    def neckline(self) -> None:
        cx, ty, c = self.head.cx, self.shoulder_y, self.c
        kind = self.spec.neckline
        trim = _darker(self.outfit, 0.35)
        if kind == "high":
            self.neck()
            band = _bezier(
                (cx - 0.075, ty - 0.07),
                (cx - 0.08, ty - 0.01),
                (cx - 0.06, ty + 0.035),
                (cx, ty + 0.035),
                12,
            )
            self.shape(band + _mirror(band, cx)[::-1], _lighter(self.outfit, 0.08))
            for i in range(1, 4):
                y = ty - 0.07 + i * 0.024
                c.line(
                    [(cx - 0.06, y + 0.004), (cx, y + 0.012), (cx + 0.06, y + 0.004)], trim, 0.002
                )
            return
        if kind in ("v", "coat"):
            opening = [(cx - 0.085, ty - 0.012), (cx, ty + 0.12), (cx + 0.085, ty - 0.012)]
        else:
            opening = _ellipse(cx, ty - 0.012, 0.085, 0.065, 0, math.pi, 24)
        if kind == "coat":
            shirt = [(cx - 0.095, ty - 0.014), (cx, ty + 0.2), (cx + 0.095, ty - 0.014)]
            self.shape(shirt, _lighter(self.accent, 0.55))
        self.shape(opening, self.skin, w=0)
        dip = c.mask(_ellipse(cx, ty - 0.01, 0.05, 0.03))
        self.shade(ImageChops.multiply(dip, c.mask(opening)), self.skin_shade(0.4), 0.3, 0.012)
        self.neck()
        c.line(opening, trim, 0.005 if self.lw else 0.004)
        if kind == "collar":
            for s in (-1, 1):
                flap = [
                    (cx + s * 0.09, ty - 0.02),
                    (cx + s * 0.005, ty + 0.07),
                    (cx + s * 0.13, ty + 0.05),
                ]
                self.shape(flap, _lighter(self.outfit, 0.3))
        if kind == "coat":
            for s in (-1, 1):
                lapel = [(cx + s * 0.1, ty - 0.016), (cx + s * 0.03, ty + 0.2)]
                lapel += [(cx + s * 0.085, ty + 0.26), (cx + s * 0.2, ty + 0.01)]
                self.shape(lapel, _darker(self.outfit, 0.25))
            for y in (0.9, 0.97):
                self.shape(_ellipse(cx - 0.015, y, 0.012, 0.012, n=24), self.accent)

    def scarf(self) -> None:
        cx, ty = self.head.cx, self.shoulder_y
        tail_x = cx + (0.06 if self.flip else -0.06)
        centre = _bezier(
            (tail_x, ty - 0.01),
            (tail_x + 0.01, ty + 0.08),
            (tail_x + 0.03, 0.92),
            (tail_x + 0.035, 1.02),
            16,
        )
        self.shape(_ribbon(centre, 0.07, 0.08), _darker(self.accent, 0.12))
        for y in (0.9, 0.95):
            self.c.line(
                [(tail_x - 0.01, y), (tail_x + 0.07, y + 0.006)], _lighter(self.accent, 0.5), 0.008
            )
        self.shape(_ellipse(cx, ty - 0.035, 0.115, 0.05), self.accent)
        fold = _ellipse(cx, ty - 0.03, 0.09, 0.028, 0.2, math.pi - 0.2, 16)
        self.c.line(fold, _darker(self.accent, 0.35), 0.003)

    # head

    def ears(self) -> None:
        h = self.head
        ey = self.eye_y + 0.03
        for s in (-1, 1):
            edge = h.cx + s * (h.edge_x(ey) - 0.006)
            if "ears_pointed" in self.acc:
                top = _bezier(
                    (edge, ey - 0.03),
                    (edge + s * 0.03, ey - 0.05),
                    (edge + s * 0.06, ey - 0.08),
                    (edge + s * 0.1, ey - 0.1),
                    16,
                )
                low = _bezier(
                    (edge + s * 0.1, ey - 0.1),
                    (edge + s * 0.07, ey - 0.02),
                    (edge + s * 0.04, ey + 0.05),
                    (edge - s * 0.002, ey + 0.04),
                    16,
                )
                self.shape(top + low, self.skin)
                inner = _bezier(
                    (edge + s * 0.012, ey - 0.018),
                    (edge + s * 0.045, ey - 0.05),
                    (edge + s * 0.07, ey - 0.07),
                    (edge + s * 0.085, ey - 0.085),
                    12,
                )
                self.c.line(inner, self.skin_shade(0.3), 0.004)
            else:
                self.shape(_ellipse(edge + s * 0.012, ey, 0.022, 0.038), self.skin)
                a0 = -math.pi / 2 if s > 0 else math.pi / 2
                fold = _ellipse(edge + s * 0.014, ey, 0.011, 0.024, a0, a0 + math.pi, 12)
                self.c.line(fold, self.skin_shade(0.3), 0.003)

    def face(self) -> None:
        h, c = self.head, self.c
        pts = h.outline()
        self.shape(pts, self.skin)
        face = c.mask(pts)
        if self.kind != "anime":
            c.paint_image(face, c.gradient(_lighter(self.skin, 0.1), self.skin_shade(0.12), -25))
        # The far cheek turns away from the light.
        away = ImageChops.subtract(face, c.mask([(x - 0.03, y) for x, y in pts]))
        self.shade(away, self.skin_shade(0.4), 0.35 if self.soft else 0.25, blur=0.02)
        # The hair casts a shadow across the brow.
        fringe = c.mask([(x, y + 0.022) for x, y in self.cap_points()])
        self.shade(ImageChops.multiply(fringe, face), self.skin_shade(0.45), 0.4, blur=0.012)
        blush = _mix(self.skin, ROSE, 0.6)
        for s in () if self.square else (-1, 1):
            x, y = h.cx + s * (self.eye_dx + 0.012), self.eye_y + 0.048
            if self.kind == "anime":
                c.paint(c.mask(_ellipse(x, y, 0.03, 0.012)), blush, 0.45)
                for i in range(3):
                    lx = x - 0.014 + i * 0.012
                    c.line(
                        [(lx + 0.004, y - 0.007), (lx - 0.004, y + 0.007)],
                        _darker(blush, 0.2),
                        0.002,
                    )
            else:
                c.paint(c.soften(c.mask(_ellipse(x, y + 0.01, 0.03, 0.022)), 0.015), blush, 0.3)

    def features(self) -> None:
        if "freckles" in self.acc:
            self.freckles()
        self.nose()
        if "beard" in self.acc or "stubble" in self.acc:
            self.beard()
        self.mouth()
        for s in (-1, 1):
            self.eye(s)
            self.brow(s)
        if "scar" in self.acc:
            self.scar()

    def freckles(self) -> None:
        colour = _mix(self.skin, (150, 80, 50), 0.3)
        for s in (-1, 1):
            for _ in range(11):
                a, r = self.rng.uniform(0, math.tau), self.rng.uniform(0, 1) ** 0.6
                x = self.head.cx + s * (self.eye_dx * 0.75) + math.cos(a) * r * 0.038
                y = self.nose_y - 0.02 + math.sin(a) * r * 0.018
                d = self.rng.uniform(0.0012, 0.0022)
                self.c.draw.ellipse(self.c.xy([(x - d, y - d), (x + d, y + d)]), fill=colour)

    def nose(self) -> None:
        cx, y, c = self.head.cx, self.nose_y, self.c
        dark = self.skin_shade(0.45)
        if self.kind == "anime":
            c.line(
                [(cx + 0.004, y - 0.014), (cx - 0.003, y), (cx + 0.004, y + 0.002)],
                self.ink(self.skin),
                0.0028,
            )
            return
        bridge = _bezier(
            (cx + 0.012, self.eye_y + 0.01),
            (cx + 0.012, y - 0.03),
            (cx + 0.016, y - 0.01),
            (cx + 0.018, y),
            12,
        )
        self.shade(c.mask(_ribbon(bridge, 0.008, 0.014)), dark, 0.35, blur=0.008)
        self.shade(c.mask(_ellipse(cx, y + 0.01, 0.022, 0.008)), dark, 0.4, blur=0.006)
        for s in (-1, 1):
            c.paint(
                c.mask(_ellipse(cx + s * 0.009, y + 0.004, 0.006, 0.0035)),
                self.skin_shade(0.55),
                0.55,
            )
        c.paint(c.soften(c.mask(_ellipse(cx - 0.002, y - 0.006, 0.007, 0.006)), 0.004), WHITE, 0.25)
        if self.kind == "fantasy":
            base = _bezier(
                (cx - 0.012, y + 0.001),
                (cx - 0.006, y + 0.008),
                (cx + 0.006, y + 0.008),
                (cx + 0.012, y + 0.001),
                8,
            )
            c.line(base, self.ink(self.skin), 0.0022)

    def mouth(self) -> None:
        cx, y, c = self.head.cx, self.mouth_y, self.c
        expr = self.spec.expression
        lift = {"smile": 0.008, "neutral": 0.001, "smirk": 0.0}[expr]
        lift_l, lift_r = (lift, lift) if expr != "smirk" else (0.0, 0.01)
        if expr == "smirk" and self.flip:
            lift_l, lift_r = lift_r, lift_l
        hw = 0.022 if self.kind == "anime" else 0.028
        seam = _bezier(
            (cx - hw, y - lift_l),
            (cx - hw * 0.4, y + 0.004 + lift * 0.3),
            (cx + hw * 0.4, y + 0.004 + lift * 0.3),
            (cx + hw, y - lift_r),
            16,
        )
        if self.kind == "anime":
            if expr == "smile" and not self.square:
                opening = _bezier(
                    (cx - hw * 0.8, y - 0.003),
                    (cx - hw * 0.5, y + 0.02),
                    (cx + hw * 0.5, y + 0.02),
                    (cx + hw * 0.8, y - 0.003),
                    16,
                )
                self.shape(opening, _mix(ROSE, INK, 0.35), w=0.0022)
                c.shape(
                    _ellipse(cx, y + 0.011, hw * 0.35, 0.005, 0, math.pi, 12),
                    _mix(ROSE, WHITE, 0.25),
                )
            else:
                c.line(seam, self.ink(self.skin), 0.003)
            return
        lip = _mix(self.skin, ROSE, 0.12 if self.square else 0.4)
        upper = seam + [(cx + hw * 0.45, y - 0.008), (cx + 0.004, y - 0.005), (cx, y - 0.004)]
        upper += [(cx - 0.004, y - 0.005), (cx - hw * 0.45, y - 0.008)]
        lower = seam + _bezier(
            (cx + hw * 0.9, y - lift_r + 0.003),
            (cx + hw * 0.5, y + 0.019),
            (cx - hw * 0.5, y + 0.019),
            (cx - hw * 0.9, y - lift_l + 0.003),
            16,
        )
        self.shape(lower, _lighter(lip, 0.05), w=0)
        self.shape(upper, _darker(lip, 0.12), w=0)
        c.paint(c.soften(c.mask(_ellipse(cx, y + 0.01, hw * 0.45, 0.004)), 0.003), WHITE, 0.3)
        c.line(seam, _darker(_mix(self.skin, ROSE, 0.5), 0.55), 0.0028)
        chin = c.mask(_ellipse(cx, y + 0.027, hw * 0.6, 0.006))
        self.shade(chin, self.skin_shade(0.4), 0.3, blur=0.006)

    def eye_curves(self, s: int) -> tuple[list[Point], list[Point]]:
        ex = self.head.cx + s * self.eye_dx
        w, h, y = self.eye_w, self.eye_h, self.eye_y
        anime = self.kind == "anime"
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

    def eye(self, s: int) -> None:
        c = self.c
        upper, lower = self.eye_curves(s)
        white = c.mask(upper + lower[::-1])
        ex, cy = self.head.cx + s * self.eye_dx, self.eye_y
        c.paint(white, _mix(WHITE, self.skin, 0.12))
        with c.clip_to(white):
            if self.kind == "anime":
                rx, ry = self.eye_w * 0.3, self.eye_h * 0.95
                ix, iy = ex + s * 0.002, cy - 0.002
                c.shape(_ellipse(ix, iy, rx, ry), _darker(self.eyes, 0.55))
                c.shape(_ellipse(ix, iy + ry * 0.12, rx * 0.86, ry * 0.84), self.eyes)
                c.shape(
                    _ellipse(ix, iy + ry * 0.45, rx * 0.7, ry * 0.38), _lighter(self.eyes, 0.35)
                )
                top = _ellipse(ix, iy - ry * 0.45, rx * 0.95, ry * 0.5, math.pi, math.tau, 16)
                c.shape(top, _darker(self.eyes, 0.3))
                c.shape(_ellipse(ix, iy + 0.002, rx * 0.42, ry * 0.46), _darker(self.eyes, 0.75))
                c.shape(_ellipse(ix - rx * 0.38, iy - ry * 0.38, rx * 0.32, ry * 0.24), WHITE)
                c.shape(_ellipse(ix + rx * 0.35, iy + ry * 0.4, rx * 0.14, ry * 0.1), WHITE)
            else:
                r = self.eye_h * (1.12 if self.kind == "fantasy" else 1.02)
                ix, iy = ex + s * 0.001, cy - self.eye_h * 0.1
                c.shape(_ellipse(ix, iy, r, r), _darker(self.eyes, 0.55))
                c.shape(_ellipse(ix, iy, r * 0.84, r * 0.84), self.eyes)
                c.shape(_ellipse(ix, iy + r * 0.3, r * 0.6, r * 0.42), _lighter(self.eyes, 0.3))
                c.shape(_ellipse(ix, iy, r * 0.38, r * 0.38), (24, 18, 22))
                c.shape(_ellipse(ix - r * 0.35, iy - r * 0.35, r * 0.2, r * 0.2), WHITE)
            # The upper lid shades the top of the eyeball.
            lid = [(x, y + self.eye_h * 0.5) for x, y in upper]
            lid += [(upper[-1][0], upper[-1][1] - 0.05), (upper[0][0], upper[0][1] - 0.05)]
            self.shade(c.mask(lid), self.skin_shade(0.4), 0.35, blur=0.004)
        lash = _darker(_mix(self.hair, INK, 0.6), 0.3)
        if self.kind == "anime":
            if self.square:
                c.shape(_ribbon(upper[2:], 0.004, 0.006), lash)
            else:
                flick = (upper[-1][0] + s * 0.012, upper[-1][1] - 0.008)
                c.shape(_ribbon([*upper[2:], flick], 0.0045, 0.009), lash)
            c.line(lower[len(lower) // 2 :], lash, 0.0025)
            c.line([(x, y - 0.012) for x, y in upper[6:-4]], self.ink(self.skin), 0.002)
        else:
            if self.square:
                c.shape(_ribbon(upper, 0.002, 0.0035), lash)
            else:
                flick = (upper[-1][0] + s * 0.005, upper[-1][1] - 0.004)
                c.shape(_ribbon([*upper, flick], 0.002, 0.0055), lash)
            c.line(lower[4:], self.skin_shade(0.35), 0.0018)
            crease = [(x, y - self.eye_h * 0.55) for x, y in upper[5:-3]]
            c.line(crease, self.skin_shade(0.3), 0.0022)

    def brow(self, s: int) -> None:
        ex = self.head.cx + s * self.eye_dx
        base = self.eye_y - self.eye_h * (1.5 if self.kind == "anime" else 1.0) - 0.026
        raise_outer, raise_all = 0.004, 0.0
        if self.spec.expression == "smirk" and s == (1 if self.flip else -1):
            raise_all = 0.008
        if self.spec.expression == "neutral":
            raise_outer = -0.001
        inner = (ex - s * self.eye_w * 0.55, base + 0.004 - raise_all)
        outer = (ex + s * self.eye_w * 0.65, base + 0.004 - raise_outer - raise_all)
        arc = _bezier(
            inner,
            (inner[0] + s * 0.015, base - 0.01 - raise_all),
            (outer[0] - s * 0.015, base - 0.012 - raise_all),
            outer,
            16,
        )
        w0, w1 = (0.007, 0.0035) if self.kind == "anime" else (0.011, 0.004)
        if self.spec.face != "soft":
            w0, w1 = w0 * (1.3 if self.spec.face == "angular" else 1.5), w1 * 1.4
        colour = _darker(self.hair, 0.35) if _luma(self.hair) > 0.3 else _lighter(self.hair, 0.05)
        self.c.shape(_ribbon(arc, w0, w1), colour)

    def scar(self) -> None:
        s = 1 if self.flip else -1
        ex, y = self.head.cx + s * self.eye_dx, self.eye_y
        a, b, d = (ex + s * 0.012, y - 0.07), (ex + s * 0.02, y - 0.035), (ex + s * 0.03, y + 0.05)
        cut = _bezier(a, b, b, d, 12)
        self.c.line(cut, self.skin_shade(0.25), 0.007)
        self.c.line(cut, _mix(_lighter(self.skin, 0.2), ROSE, 0.15), 0.0035)

    def beard(self) -> None:
        h, c = self.head, self.c
        outer = [
            (
                h.cx + h.rx * 1.05 * math.cos(a) * (1 - h.taper * max(math.sin(a), 0) ** h.power),
                h.cy + h.ry * 1.05 * math.sin(a),
            )
            for a in (math.pi * i / 40 for i in range(41))
        ]
        y0 = self.nose_y - 0.01
        right_in = (h.cx + h.edge_x(y0) * 0.8, y0)
        inner = _bezier(
            right_in,
            (h.cx + 0.05, self.mouth_y - 0.02),
            (h.cx + 0.03, self.nose_y + 0.01),
            (h.cx, self.nose_y + 0.014),
            12,
        )
        pts = [(h.cx + h.rx * 1.02, h.cy - 0.01), *outer, (h.cx - h.rx * 1.02, h.cy - 0.01)]
        pts += [*_mirror(inner, h.cx), *inner[::-1]]
        if "beard" in self.acc:
            self.shape(pts, _darker(self.hair, 0.1))
            with c.clip_to(c.mask(pts)):
                for _ in range(70):
                    x = h.cx + self.rng.uniform(-h.rx, h.rx)
                    y = self.rng.uniform(self.nose_y, h.cy + h.ry * 1.05)
                    tip = (x + self.rng.uniform(-0.004, 0.004), y + 0.012)
                    c.line([(x, y), tip], _lighter(self.hair, 0.18), 0.0018)
        else:
            stubble = _mix(self.skin, _darker(self.hair, 0.4), 0.6)
            # Stubble stays on the skin: clip the jaw area to the face.
            area = ImageChops.multiply(c.mask(pts), c.mask(h.outline()))
            c.paint(c.soften(area, 0.006), stubble, 0.3 if self.kind == "anime" else 0.4)
            if self.kind != "anime":
                with c.clip_to(area):
                    for _ in range(700):
                        x = h.cx + self.rng.uniform(-1.05, 1.05) * h.rx
                        y = self.rng.uniform(self.nose_y, h.cy + h.ry * 1.05)
                        d = 0.0009
                        c.draw.ellipse(c.xy([(x - d, y - d), (x + d, y + d)]), fill=stubble)

    # hair

    def cap_points(self) -> list[Point]:
        """The hair over the crown and down the temples, ending in the fringe's edge."""
        h = self.head
        fringe = _FRINGE[self.spec.hair_style]
        shaved = self.spec.hair_style == "shaved"
        grow, vol = (1.02, 1.01) if shaved else (1.17, 1.09)
        if self.kind == "anime" and not shaved:
            grow, vol = 1.2, 1.11
        side_y = h.cy + h.ry * (0.05 if fringe != "back" else -0.1)
        outer = _ellipse(
            h.cx, h.cy - h.ry * 0.05, h.rx * grow, h.ry * vol, math.pi - 0.18, math.tau + 0.18, 64
        )
        ty = h.cy - h.ry * (0.42 if fringe != "back" else 0.55)
        right = [(h.cx + h.edge_x(y) * 0.96, y) for y in (side_y, (side_y + ty) / 2, ty)]
        xr, xl = right[-1][0], h.cx - h.edge_x(ty) * 0.96
        top = h.cy - h.ry
        if fringe == "sweep":
            # High at the right temple, falling across the brow to the left (or mirrored).
            part = (h.cx + 0.05, h.cy - h.ry * 0.8)
            edge = _bezier(
                (xr, ty),
                (xr - 0.005, h.cy - h.ry * 0.7),
                (part[0] + 0.03, part[1] - 0.02),
                part,
                12,
            )
            edge += _bezier(
                part,
                (h.cx - 0.01, h.cy - h.ry * 0.5),
                (xl + 0.04, h.cy - h.ry * 0.28),
                (xl, h.cy - h.ry * 0.18),
                20,
            )[1:]
            if self.flip:
                edge = _mirror(edge, h.cx)[::-1]
                edge = [(xr, h.cy - h.ry * 0.18), *edge[1:-1], (xl, ty)]
        elif fringe == "part":
            px = h.cx + (0.025 if self.flip else -0.025)
            edge = _bezier(
                (xr, ty + 0.03),
                (xr - 0.02, top + 0.06),
                (px + 0.02, top + 0.02),
                (px, top + 0.035),
                16,
            )
            edge += _bezier(
                (px, top + 0.035),
                (px - 0.02, top + 0.02),
                (xl + 0.02, top + 0.06),
                (xl, ty + 0.03),
                16,
            )
        elif fringe == "back":
            edge = _ellipse(h.cx, ty + 0.01, xr - h.cx, h.ry * 0.28, 0.0, -math.pi, 24)
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
                    edge.append((mx, low - (0.012 if self.kind == "anime" else 0.004)))
                elif fringe == "spikes":
                    edge.append((mx, low - 0.05))
                else:
                    curl = _ellipse(mx, low - 0.005, abs(xl - xr) / n / 2, 0.018, 0, -math.pi, 8)
                    edge += curl[1:-1]
            edge.append((xl, ty))
        if self.kind == "anime" and fringe in ("sweep", "part"):
            edge = _strand_tips(edge, 0.016)
        left = _mirror(right[::-1], h.cx)
        return outer + right[::-1] + edge + left[1:]

    def hair_back(self) -> None:
        h, style = self.head, self.spec.hair_style
        shade = _darker(self.hair, 0.3)
        cx, cy, rx, ry = h.cx, h.cy, h.rx, h.ry
        if style in ("long", "wavy"):
            side = _bezier(
                (cx - rx * 1.12, cy - ry * 0.2),
                (cx - rx * 1.4, cy + ry * 0.6),
                (cx - rx * 1.45, 0.68),
                (cx - rx * 1.6, 0.8),
                20,
            )
            top = _ellipse(cx, cy - ry * 0.05, rx * 1.13, ry * 1.07, math.pi, math.tau, 32)
            self.shape(side[::-1] + top + _mirror(side, cx), shade)
        elif style == "bob":
            pts = _ellipse(cx, cy - ry * 0.05, rx * 1.17, ry * 1.07, math.pi, math.tau, 32)
            pts += [(cx + rx * 1.22, cy + ry * 0.55), (cx + rx * 1.05, cy + ry * 0.8)]
            pts += [(cx - rx * 1.05, cy + ry * 0.8), (cx - rx * 1.22, cy + ry * 0.55)]
            self.shape(pts, shade)
        elif style == "ponytail":
            s = -1 if self.flip else 1
            centre = _bezier(
                (cx + s * rx * 0.35, cy - ry * 0.9),
                (cx + s * rx * 1.3, cy - ry * 1.5),
                (cx + s * rx * 1.95, cy - ry * 0.3),
                (cx + s * rx * 1.5, cy + ry * 1.15),
                28,
            )
            self.shape(_ribbon(centre, 0.09, 0.012, bulge=0.03), _darker(self.hair, 0.15))
            for k in (-1, 1):
                p0, p1, p2, p3 = (
                    (x + k * 0.014 * (1 - i / 3), y) for i, (x, y) in enumerate(centre[8::6][:4])
                )
                strand = _bezier(p0, p1, p2, p3, 16)
                self.c.line(strand, _darker(self.hair, 0.4), 0.0025)
        elif style == "bun":
            r = rx * 0.5
            self.shape(_ellipse(cx, cy - ry * 1.02, r, r * 0.92), self.hair)
            for i in range(3):
                coil = _ellipse(
                    cx,
                    cy - ry * 1.02,
                    r * (0.3 + 0.2 * i),
                    r * (0.25 + 0.2 * i),
                    math.pi * 0.9,
                    math.pi * 1.9,
                    12,
                )
                self.c.line(coil, shade, 0.003)
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
            self.shape(mass, shade)
            self.curls(mass, 60)
        elif style == "spiky":
            pts = []
            for i in range(19):
                a = math.pi * (0.9 + 1.2 * i / 18)
                r = 1.45 if i % 2 else 1.08
                pts.append(
                    (cx + rx * r * math.cos(a), cy - ry * 0.05 + ry * r * 0.95 * math.sin(a))
                )
            self.shape(pts, shade)
        elif style == "braid":
            self.shape(_ellipse(cx, cy - ry * 0.05, rx * 1.14, ry * 1.08), shade)

    def curls(self, area: Sequence[Point], count: int) -> None:
        h, c = self.head, self.c
        with c.clip_to(c.mask(area)):
            for _ in range(count):
                x = h.cx + self.rng.uniform(-1.5, 1.5) * h.rx
                y = h.cy + self.rng.uniform(-1.25, 1.2) * h.ry
                r = self.rng.uniform(0.01, 0.018)
                a = self.rng.uniform(0, math.tau)
                colour = (
                    _lighter(self.hair, 0.25)
                    if self.rng.random() < 0.5
                    else _darker(self.hair, 0.3)
                )
                c.line(_ellipse(x, y, r, r, a, a + 4.0, 12), colour, 0.003)

    def hair_locks(self) -> None:
        """Hair that falls in front of the shoulders or frames the face."""
        h, style = self.head, self.spec.hair_style
        cx, cy, rx, ry = h.cx, h.cy, h.rx, h.ry
        if style in ("long", "wavy"):
            for s in (-1, 1):
                centre = _bezier(
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
                lock = _ribbon(centre, 0.085, 0.0, bulge=0.035)
                self.shape(lock, self.hair)
                if self.soft:
                    self.c.paint_image(
                        self.c.mask(lock),
                        self.c.gradient(_lighter(self.hair, 0.1), _darker(self.hair, 0.3)),
                    )
                for k in (-0.4, 0.1, 0.5):
                    strand = [
                        (x + s * k * 0.03 * (1 - i / 40), y) for i, (x, y) in enumerate(centre)
                    ]
                    self.c.line(strand[3:-5], _darker(self.hair, 0.3), 0.0022)
        elif style == "braid":
            s = 1 if self.flip else -1
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
                    lobe = _oval(
                        x + k * w * 0.28,
                        y + (step * 0.5 if k > 0 else 0),
                        w * 0.36,
                        step * 0.95,
                        lean,
                    )
                    colour = self.hair if (i + (k > 0)) % 2 else _darker(self.hair, 0.12)
                    self.shape(lobe, colour, w=self.lw or 0.0015)
            tip = 0.93
            self.shape(_ellipse(x, tip, 0.014, 0.01), self.accent)
            self.shape(
                [
                    (x - 0.015, tip + 0.005),
                    (x + 0.015, tip + 0.005),
                    (x + 0.01, tip + 0.05),
                    (x - 0.01, tip + 0.05),
                ],
                self.hair,
            )
        elif style == "bob":
            for s in (-1, 1):
                y_in = cy + ry * 0.3
                outer = _bezier(
                    (cx + s * rx * 1.1, cy - ry * 0.3),
                    (cx + s * rx * 1.27, cy + ry * 0.1),
                    (cx + s * rx * 1.3, cy + ry * 0.6),
                    (cx + s * rx * 1.06, cy + ry * 0.84),
                    16,
                )
                tuck = _bezier(
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
                self.curtains.append(outer + tuck[1:] + inner)

    def strands(self, top: float) -> None:
        """Strands fanning out from the crown."""
        h, c = self.head, self.c
        crown = (h.cx + (0.03 if self.flip else -0.03), top + 0.01)
        strand = _darker(self.hair, 0.35)
        for i in range(11):
            t = (i + 0.5) / 11
            end = (
                h.cx - h.rx * 1.1 + 2.2 * h.rx * t,
                h.cy - h.ry * (0.1 + 0.3 * math.sin(math.pi * t)),
            )
            mid = ((crown[0] + end[0]) / 2 + (end[0] - h.cx) * 0.3, (crown[1] + end[1]) / 2)
            c.line(_bezier(crown, mid, mid, end, 12)[4:], strand, 0.0018 if self.soft else 0.0025)

    def hair_cap(self) -> None:
        c, h = self.c, self.head
        pts = self.cap_points()
        if self.spec.hair_style == "shaved":
            c.paint(c.soften(c.mask(pts), 0.003), _mix(self.hair, self.skin, 0.35), 0.85)
            if self.lw:
                c.line(pts[:65], self.ink(self.hair), self.lw * 0.7)
            return
        for curtain in self.curtains:
            self.shape(curtain, self.hair)
        self.shape(pts, self.hair)
        cap = c.mask(pts)
        top = h.cy - h.ry * 1.07
        if self.kind != "anime":
            c.paint_image(cap, c.gradient(_lighter(self.hair, 0.12), _darker(self.hair, 0.2), -15))
        with c.clip_to(cap):
            if self.spec.hair_style == "curly":
                self.curls(pts, 40)
            else:
                self.strands(top)
            # The sheen: an "angel ring" for anime, a soft glow otherwise.
            if self.kind == "anime":
                # A jagged band across the crown; dark hair gets a cool sheen from the sky.
                sy, srx, sry = h.cy - h.ry * 0.2, h.rx * 0.95, h.ry * 0.62
                upper = _ellipse(h.cx, sy, srx, sry, math.pi * 1.22, math.pi * 1.78, 24)
                lower = []
                for i in range(13):
                    a = math.pi * (1.78 - 0.56 * i / 12)
                    drop = 0.03 if i % 2 else 0.012
                    lower.append((h.cx + srx * 0.97 * math.cos(a), sy + sry * math.sin(a) + drop))
                tint = _lighter(self.bg[0], 0.5) if _luma(self.hair) < 0.25 else WHITE
                c.paint(c.mask(upper + lower), _mix(self.hair, tint, 0.38), 0.8)
            else:
                sheen = c.mask(
                    _ellipse(h.cx - h.rx * 0.35, top + h.ry * 0.35, h.rx * 0.45, h.ry * 0.18)
                )
                c.paint(c.soften(sheen, 0.02), _lighter(self.hair, 0.5), 0.45)
        if self.lw:
            c.line(pts, self.ink(self.hair), self.lw, closed=True)

    # headwear and jewellery

    def headwear(self) -> None:
        if "horns" in self.acc:
            self.horns()
        if "glasses" in self.acc:
            self.glasses()
        if "earrings" in self.acc:
            self.earrings()
        if "circlet" in self.acc:
            self.circlet()
        if "flower" in self.acc:
            self.flower()
        if "hat" in self.acc:
            self.hat()
        if "hood" in self.acc:
            self.hood_front()

    def horns(self) -> None:
        h, c = self.head, self.c
        horn = (236, 224, 200) if _luma(self.hair) < 0.45 else (74, 56, 66)
        for s in (-1, 1):
            centre = _bezier(
                (h.cx + s * h.rx * 0.55, h.cy - h.ry * 0.78),
                (h.cx + s * h.rx * 0.8, h.cy - h.ry * 1.35),
                (h.cx + s * h.rx * 1.45, h.cy - h.ry * 1.4),
                (h.cx + s * h.rx * 1.55, h.cy - h.ry * 1.0),
                24,
            )
            pts = _ribbon(centre, 0.05, 0.004)
            self.shape(pts, horn, w=max(self.lw, 0.0022))
            with c.clip_to(c.mask(pts)):
                for i in range(2, 20, 3):
                    x, y = centre[i]
                    c.line(
                        [(x - 0.03, y + 0.006 * s), (x + 0.03, y - 0.006 * s)],
                        _darker(horn, 0.3),
                        0.002,
                    )

    def glasses(self) -> None:
        h, c = self.head, self.c
        frame = _mix(self.accent, INK, 0.55)
        half_w, y = self.eye_w * 0.78, self.eye_y
        for s in (-1, 1):
            ex = h.cx + s * self.eye_dx
            rim = _ellipse(ex, y + 0.003, half_w, max(self.eye_h * 2.1, 0.032), n=64)
            c.paint(c.mask(rim), WHITE, 0.12)
            c.line([(ex - 0.015, y - 0.01), (ex - 0.005, y - 0.02)], WHITE, 0.003)
            c.line(rim, frame, 0.004, closed=True)
            c.line([(ex + s * half_w, y), (h.cx + s * h.edge_x(y), y - 0.004)], frame, 0.004)
        left, right = h.cx - self.eye_dx + half_w, h.cx + self.eye_dx - half_w
        c.line(
            _bezier((left, y), (h.cx - 0.01, y - 0.01), (h.cx + 0.01, y - 0.01), (right, y), 10),
            frame,
            0.004,
        )

    def earrings(self) -> None:
        h, c = self.head, self.c
        for s in (-1, 1):
            x = h.cx + s * (h.edge_x(self.eye_y + 0.06) + 0.012)
            y = self.eye_y + 0.07
            c.line(_ellipse(x, y + 0.012, 0.008, 0.012), self.accent, 0.003, closed=True)
            self.shape(_ellipse(x, y + 0.028, 0.006, 0.006), _lighter(self.accent, 0.3), w=0)

    def circlet(self) -> None:
        h, c = self.head, self.c
        band = _ellipse(
            h.cx, h.cy - h.ry * 0.25, h.rx * 1.01, h.ry * 0.35, math.pi * 1.08, math.pi * 1.92, 24
        )
        c.line(band, _darker(self.accent, 0.35), 0.011)
        c.line(band, self.accent, 0.007)
        gx, gy = h.cx, h.cy - h.ry * 0.6
        self.shape(
            [(gx, gy - 0.02), (gx + 0.014, gy), (gx, gy + 0.022), (gx - 0.014, gy)],
            self.eyes,
            w=0.003,
        )
        c.line([(gx - 0.004, gy - 0.006), (gx, gy - 0.012)], WHITE, 0.002)

    def flower(self) -> None:
        h = self.head
        s = -1 if self.flip else 1
        fx, fy = h.cx + s * h.rx * 0.95, h.cy - h.ry * 0.55
        for i in range(5):
            a = math.tau * i / 5 - math.pi / 2
            self.shape(
                _ellipse(fx + 0.016 * math.cos(a), fy + 0.016 * math.sin(a), 0.013, 0.013, n=24),
                self.accent,
            )
        self.shape(_ellipse(fx, fy, 0.008, 0.008, n=16), (250, 214, 110))

    def hat(self) -> None:
        h = self.head
        brim_y = h.cy - h.ry * 0.68
        crown = _bezier(
            (h.cx - h.rx * 0.95, brim_y),
            (h.cx - h.rx * 0.95, brim_y - 0.1),
            (h.cx - h.rx * 0.6, brim_y - 0.14),
            (h.cx, brim_y - 0.12),
            16,
        )
        self.shape(_ellipse(h.cx, brim_y, h.rx * 1.85, 0.035), _darker(self.accent, 0.15))
        self.shape(crown + _mirror(crown, h.cx)[::-1], self.accent)
        band = [(h.cx - h.rx * 0.95, brim_y - 0.012), (h.cx + h.rx * 0.95, brim_y - 0.012)]
        band += [(h.cx + h.rx * 0.96, brim_y - 0.035), (h.cx - h.rx * 0.96, brim_y - 0.035)]
        self.shape(band, _darker(self.accent, 0.5), w=0)

    def hood_outline(self) -> list[Point]:
        h = self.head
        return _ellipse(h.cx, h.cy - h.ry * 0.02, h.rx * 1.55, h.ry * 1.32)

    def hood_back(self) -> None:
        h = self.head
        inside = _darker(self.outfit, 0.55)
        self.shape(self.hood_outline(), inside, w=0)
        drape = [(h.cx - h.rx * 1.55, h.cy), (h.cx + h.rx * 1.55, h.cy)]
        drape += [(h.cx + 0.2, self.shoulder_y + 0.05), (h.cx - 0.2, self.shoulder_y + 0.05)]
        self.shape(drape, inside, w=0)

    def hood_front(self) -> None:
        h, c = self.head, self.c
        opening = c.mask(_ellipse(h.cx, h.cy + h.ry * 0.06, h.rx * 1.22, h.ry * 1.12))
        lower = c.mask([(0.0, h.cy + h.ry * 0.5), (1.0, h.cy + h.ry * 0.5), (1.0, 1.2), (0.0, 1.2)])
        ring = ImageChops.subtract(ImageChops.subtract(c.mask(self.hood_outline()), opening), lower)
        c.paint(ring, self.outfit)
        c.figure.paste(255, (0, 0), ring)
        fold = c.mask(_ellipse(h.cx, h.cy + h.ry * 0.1, h.rx * 1.32, h.ry * 1.2))
        self.shade(
            ImageChops.multiply(ImageChops.subtract(fold, opening), ring),
            _darker(self.outfit, 0.4),
            0.5,
            0.01,
        )
        if self.lw:
            edge = _ellipse(
                h.cx, h.cy - h.ry * 0.02, h.rx * 1.55, h.ry * 1.32, math.pi * 0.83, math.pi * 2.17
            )
            c.line(edge, self.ink(self.outfit), self.lw)

    # light

    def rim_light(self) -> None:
        c = self.c
        fig = c.figure
        shift = round(0.012 * c.px)
        rim = ImageChops.subtract(fig, ImageChops.offset(fig, -shift, 0))
        rim = ImageChops.multiply(c.soften(rim, 0.004), fig)
        strength = {"realistic": 0.3, "anime": 0.0, "fantasy": 0.55}[self.kind]
        if strength:
            c.paint(rim, _lighter(self.bg[0], 0.6), strength)

    def glow(self) -> None:
        c = self.c
        glow = c.blank()
        for s in (-1, 1):
            upper, lower = self.eye_curves(s)
            ImageDraw.Draw(glow).polygon(c.xy(upper + lower[::-1]), fill=255)
        bright = _lighter(self.eyes, 0.5)
        c.paint(c.soften(glow, 0.02), bright, 0.6)
        c.paint(c.soften(glow, 0.006), _lighter(bright, 0.5), 0.5)
