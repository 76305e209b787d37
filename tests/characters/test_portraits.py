"""The procedural portrait illustrator: valid PNGs, deterministic, and strict about input."""

from __future__ import annotations

import io
from typing import Any, get_args

import pytest
from PIL import Image
from pydantic import ValidationError

from afterdark.characters.portraits import (
    Accessory,
    HairStyle,
    PortraitParams,
    PortraitStyle,
    render_portrait,
)

BASE: dict[str, Any] = {
    "style": "realistic",
    "skin": "#e8b896",
    "hair": "#6a3a20",
    "hair_style": "long",
    "eyes": "#3f7a5a",
    "background": ["#6d8fb0", "#2c3e5a"],
    "outfit": "#5b6770",
}
SMALL = 96  # most checks do not need full-size art; it keeps the suite quick


def with_(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def decode(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


@pytest.mark.parametrize("style", get_args(PortraitStyle))
def test_each_style_renders_a_512_portrait(style: str) -> None:
    image = decode(render_portrait(with_(style=style)))

    assert image.size == (512, 512)
    assert image.mode == "RGB"
    # A drawing, not a flat fill: the figure adds many colours to the background's gradient.
    assert len(image.getcolors(maxcolors=512 * 512) or []) > 2000
    # The face (centre) is skin-toned, unlike the corner's background.
    face = image.getpixel((256, 230))
    corner = image.getpixel((8, 8))
    assert isinstance(face, tuple)
    assert isinstance(corner, tuple)
    assert sum(abs(a - b) for a, b in zip(face, corner, strict=True)) > 60


def test_the_same_parameters_give_identical_bytes() -> None:
    params = with_(style="fantasy", accessories=["freckles", "circlet", "ears_pointed"])

    assert render_portrait(params, SMALL) == render_portrait(dict(params), SMALL)
    assert render_portrait(params, SMALL) == render_portrait(
        PortraitParams.model_validate(params), SMALL
    )


@pytest.mark.parametrize(
    "change",
    [
        {"hair": "#d8c040"},
        {"skin": "#7a4a32"},
        {"eyes": "#8040c0"},
        {"hair_style": "bob"},
        {"style": "anime"},
        {"background": ["#c04040", "#202020"]},
        {"outfit": "#e0e0e0"},
        {"accessories": ["glasses"]},
        {"expression": "neutral"},
        {"face": "square"},
    ],
)
def test_different_parameters_give_different_images(change: dict[str, Any]) -> None:
    before = decode(render_portrait(BASE, SMALL))
    after = decode(render_portrait(with_(**change), SMALL))

    assert before.tobytes() != after.tobytes()


@pytest.mark.parametrize("hair_style", get_args(HairStyle))
def test_every_hair_style_renders(hair_style: str) -> None:
    assert decode(render_portrait(with_(hair_style=hair_style), SMALL)).size == (SMALL, SMALL)


@pytest.mark.parametrize("accessory", get_args(Accessory))
@pytest.mark.parametrize("style", get_args(PortraitStyle))
def test_every_accessory_changes_the_picture(accessory: str, style: str) -> None:
    plain = render_portrait(with_(style=style), SMALL)
    dressed = render_portrait(with_(style=style, accessories=[accessory]), SMALL)

    assert decode(plain).tobytes() != decode(dressed).tobytes()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        (with_(skin="#12345"), "skin"),
        (with_(hair="brown"), "hair"),
        (with_(eyes="#GGGGGG"), "eyes"),
        (with_(hair_style="mohawk"), "hair_style"),
        (with_(style="watercolour"), "style"),
        (with_(background=["#000000"]), "background"),
        (with_(accessories=["monocle"]), "accessories"),
        (with_(accessories=["glasses", "glasses"]), "accessories"),
        (with_(expression="furious"), "expression"),
        (with_(sparkles=True), "sparkles"),
        ({k: v for k, v in BASE.items() if k != "outfit"}, "outfit"),
    ],
)
def test_invalid_parameters_name_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        render_portrait(params)


def test_validation_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="hair_style"):
        render_portrait(with_(hair_style=""))


@pytest.mark.parametrize("size", [0, 16, 100_000])
def test_unreasonable_sizes_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match="size"):
        render_portrait(BASE, size)


def test_other_sizes_render_at_that_size() -> None:
    assert decode(render_portrait(BASE, 200)).size == (200, 200)
