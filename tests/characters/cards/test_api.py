"""The package's public surface: exported names, documented functions, the error type."""

from __future__ import annotations

import inspect

from afterdark.characters import cards
from afterdark.characters.cards import CardError, CardLimits
from afterdark.characters.cards.errors import human_size
from afterdark.errors import InvalidInputError


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(cards) if not name.startswith("_")}
    modules = {name for name in public if inspect.ismodule(getattr(cards, name))}
    assert set(cards.__all__) == public - modules - {"annotations"}
    assert sorted(cards.__all__, key=str.lower) == sorted(set(cards.__all__), key=str.lower)


def test_public_functions_have_one_line_docstrings() -> None:
    for name in cards.__all__:
        value = getattr(cards, name)
        if inspect.isfunction(value):
            doc = inspect.getdoc(value)
            assert doc, name
            assert "\n" not in doc, name


def test_card_error_is_a_422_invalid_input() -> None:
    error = CardError("not a PNG file")
    assert isinstance(error, InvalidInputError)
    assert error.status == 422
    assert error.message == "not a PNG file"


def test_default_limits() -> None:
    limits = CardLimits()
    assert cards.DEFAULT_LIMITS == limits
    assert (limits.max_file_bytes, limits.max_text_chunk_bytes) == (32 * 2**20, 16 * 2**20)
    assert (limits.max_json_depth, limits.max_image_side) == (100, 8192)
    assert (limits.max_image_pixels, limits.max_zip_members) == (40_000_000, 2000)
    assert (limits.max_zip_total_bytes, limits.max_zip_member_bytes) == (256 * 2**20, 64 * 2**20)
    assert limits.max_zip_ratio == 200
    assert (limits.max_json_containers, limits.max_png_chunks) == (500_000, 100_000)


def test_human_size() -> None:
    assert [human_size(n) for n in (16 * 2**20, 1024, 1000, 2**30, 1536)] == [
        "16 MiB",
        "1 KiB",
        "1000 bytes",
        "1 GiB",
        "1536 bytes",
    ]
