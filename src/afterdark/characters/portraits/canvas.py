"""The supersampled drawing surface: shapes, masks, gradients, soft blur and clipping."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from afterdark.characters.portraits.colour import RGB
from afterdark.characters.portraits.geometry import Point


class Canvas:
    """A square RGB image with drawing helpers in canvas fractions."""

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

    def clip_to(self, mask: Image.Image) -> Clip:
        return Clip(self, mask)


class Clip:
    """Everything drawn inside the ``with`` block is kept only where ``mask`` is set."""

    def __init__(self, canvas: Canvas, mask: Image.Image) -> None:
        self.canvas = canvas
        self.mask = mask
        self.saved = canvas.img

    def __enter__(self) -> None:
        self.saved = self.canvas.img.copy()

    def __exit__(self, *exc: object) -> None:
        self.canvas.img.paste(self.saved, (0, 0), ImageChops.invert(self.mask))
