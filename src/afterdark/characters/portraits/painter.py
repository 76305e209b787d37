"""One portrait's drawing state: canvas, seeded randomness, palette and proportions."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence

from PIL import Image

from afterdark.characters.portraits.canvas import Canvas
from afterdark.characters.portraits.colour import INK, RGB, mix, rgb
from afterdark.characters.portraits.geometry import Head, Point
from afterdark.characters.portraits.params import PortraitParams


class Painter:
    """The parameters resolved into colours and proportions, with the shared drawing helpers."""

    def __init__(self, spec: PortraitParams, px: int) -> None:
        self.spec = spec
        self.c = Canvas(px)
        # The only randomness, seeded from the parameters: the same spec gives the same bytes.
        digest = hashlib.sha256(json.dumps(spec.model_dump(), sort_keys=True).encode()).digest()
        self.rng = random.Random(int.from_bytes(digest[:8], "big"))
        self.flip = self.rng.random() < 0.5
        self.kind = spec.style
        self.acc = set(spec.accessories)
        self.skin = rgb(spec.skin)
        self.hair = rgb(spec.hair)
        self.eyes = rgb(spec.eyes)
        self.outfit = rgb(spec.outfit)
        self.bg = (rgb(spec.background[0]), rgb(spec.background[1]))
        self.accent = rgb(spec.accent) if spec.accent else (222, 184, 98)
        self.soft = self.kind == "realistic"
        self.lw = {"realistic": 0.0, "anime": 0.0042, "fantasy": 0.0026}[self.kind]
        if self.kind == "anime":
            head = Head(0.5, 0.405, 0.152, 0.172, 0.40, 1.3)
            self.eye_y, self.eye_dx, self.eye_w, self.eye_h = 0.447, 0.064, 0.058, 0.030
        elif self.kind == "fantasy":
            head = Head(0.5, 0.40, 0.138, 0.178, 0.36, 1.5)
            self.eye_y, self.eye_dx, self.eye_w, self.eye_h = 0.418, 0.058, 0.050, 0.017
        else:
            head = Head(0.5, 0.40, 0.136, 0.176, 0.30, 1.7)
            self.eye_y, self.eye_dx, self.eye_w, self.eye_h = 0.414, 0.057, 0.047, 0.0145
        self.square = spec.face == "square"
        if spec.face == "angular":
            head = Head(
                head.cx, head.cy, head.rx * 1.04, head.ry, head.taper - 0.06, head.power + 1.4
            )
        elif self.square:
            head = Head(
                head.cx, head.cy, head.rx * 1.07, head.ry, head.taper - 0.1, head.power + 2.2
            )
            self.eye_h *= 0.85
        self.head = head
        self.nose_y = self.eye_y + (0.058 if self.kind == "anime" else 0.072)
        self.mouth_y = self.nose_y + (0.038 if self.kind == "anime" else 0.042)
        self.shoulder_y = 0.655
        self.shoulder_w = {"soft": 0.33, "angular": 0.35, "square": 0.38}[spec.face]
        self.curtains: list[list[Point]] = []

    def skin_shade(self, t: float) -> RGB:
        # Skin darkens warm (blood under the surface), never towards grey.
        r, g, b = self.skin
        return mix(self.skin, (round(r * 0.55), round(g * 0.36), round(b * 0.42)), t)

    def ink(self, colour: RGB) -> RGB:
        return mix(colour, INK, 0.72)

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
