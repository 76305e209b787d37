"""RGB colour helpers and the palette constants shared by every layer."""

from __future__ import annotations

RGB = tuple[int, int, int]


def rgb(hex_colour: str) -> RGB:
    """``#rrggbb`` as an (r, g, b) tuple."""
    value = int(hex_colour[1:], 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """Blend ``a`` towards ``b`` by ``t`` (0..1)."""
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def luma(c: RGB) -> float:
    """Perceived brightness, 0..1."""
    return (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255


WHITE: RGB = (255, 255, 255)
INK: RGB = (38, 24, 36)
ROSE: RGB = (214, 92, 104)


def darker(c: RGB, t: float) -> RGB:
    # Shadows lean towards a cool purple rather than grey, which reads as painted light.
    """Shade ``c`` by ``t`` (0..1)."""
    return mix(c, (48, 30, 62), t)


def lighter(c: RGB, t: float) -> RGB:
    """Light ``c`` by ``t`` (0..1), towards a warm white."""
    return mix(c, (255, 246, 232), t)
