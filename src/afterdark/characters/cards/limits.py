"""Size, depth and archive limits that bound the work any card file can cause."""

from __future__ import annotations

from dataclasses import dataclass

from afterdark.characters.cards.errors import CardError, human_size


@dataclass(frozen=True)
class CardLimits:
    max_file_bytes: int = 32 * 2**20
    max_text_chunk_bytes: int = 16 * 2**20
    max_json_depth: int = 100
    # Objects plus arrays in one card: a parsed "{}" costs ~64 bytes for 3 bytes of text.
    max_json_containers: int = 500_000
    max_image_side: int = 8192
    max_image_pixels: int = 40_000_000
    max_zip_members: int = 2000
    max_zip_total_bytes: int = 256 * 2**20
    max_zip_member_bytes: int = 64 * 2**20
    # Uncompressed/compressed size ratio allowed for members larger than 1 MiB.
    max_zip_ratio: int = 200
    # Chunks in one PNG: 32 MiB of empty chunks would otherwise be ~2.8 million of them.
    max_png_chunks: int = 100_000


DEFAULT_LIMITS = CardLimits()


def check_file_size(data: bytes, limits: CardLimits) -> None:
    """Refuse a file larger than ``limits.max_file_bytes``."""
    if len(data) > limits.max_file_bytes:
        raise CardError(
            f"file is {len(data)} bytes; the limit is {human_size(limits.max_file_bytes)}"
        )
