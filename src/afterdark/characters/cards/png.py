"""Character cards in PNG/APNG files: ``chara`` (V1/V2) and ``ccv3`` (V3) text chunks."""

from __future__ import annotations

from dataclasses import dataclass, field

from afterdark.characters.cards.document import CardDocument, parse_card
from afterdark.characters.cards.errors import CardError, human_size
from afterdark.characters.cards.limits import DEFAULT_LIMITS, CardLimits
from afterdark.characters.cards.pngchunks import PNG_SIGNATURE, Chunk, walk_png
from afterdark.characters.cards.pngtext import card_text, text_chunk


@dataclass
class PngCard:
    card: CardDocument
    chara: str | None  # JSON text of the 'chara' chunk, when present and valid
    ccv3: str | None  # JSON text of the 'ccv3' chunk, when present and valid
    width: int
    height: int
    # Card chunks that were present but unreadable while the other one was fine.
    warnings: list[str] = field(default_factory=list)


def read_png(data: bytes, limits: CardLimits = DEFAULT_LIMITS) -> PngCard:
    """Read the card in a PNG; ``ccv3`` wins over ``chara`` when both are valid."""
    layout = walk_png(data, limits)
    slots: dict[str, Chunk] = {}
    for chunk in layout.chunks:
        if chunk.is_card:
            slots.setdefault("ccv3" if chunk.keyword == "ccv3" else "chara", chunk)
    if not slots:
        raise CardError("PNG has no character card (no 'chara' or 'ccv3' text chunk)")
    texts: dict[str, str] = {}
    docs: dict[str, CardDocument] = {}
    errors: dict[str, CardError] = {}
    for slot in ("ccv3", "chara"):
        if slot not in slots:
            continue
        chunk = slots[slot]
        try:
            text = card_text(chunk.type, data[chunk.data_start : chunk.data_end], limits)
            docs[slot] = parse_card(text, limits)
        except CardError as exc:
            errors[slot] = exc
            continue
        texts[slot] = text
    if not docs:
        raise errors.get("ccv3") or errors["chara"]
    warnings = [f"ignored the '{slot}' chunk: {exc.message}" for slot, exc in errors.items()]
    return PngCard(
        card=docs.get("ccv3") or docs["chara"],
        chara=texts.get("chara"),
        ccv3=texts.get("ccv3"),
        width=layout.width,
        height=layout.height,
        warnings=warnings,
    )


def png_size(data: bytes, limits: CardLimits = DEFAULT_LIMITS) -> tuple[int, int]:
    """Validate a PNG's structure and limits (avatars) and return its width and height."""
    layout = walk_png(data, limits)
    return layout.width, layout.height


def write_png(
    image: bytes,
    *,
    chara: str | None,
    ccv3: str | None,
    limits: CardLimits = DEFAULT_LIMITS,
) -> bytes:
    """``image`` with its card chunks replaced by tEXt ``chara``/``ccv3``; other chunks kept."""
    layout = walk_png(image, limits)
    new = [text_chunk(k, v, limits) for k, v in (("chara", chara), ("ccv3", ccv3)) if v is not None]
    parts = [PNG_SIGNATURE]
    for chunk in layout.chunks:
        if new and (chunk.is_card or chunk.type == "IEND"):
            # The first card chunk's place, else just before IEND.
            parts.extend(new)
            new = []
        if not chunk.is_card:
            parts.append(image[chunk.start : chunk.end])
    out = b"".join(parts)
    if len(out) > limits.max_file_bytes:
        limit = human_size(limits.max_file_bytes)
        raise CardError(f"the card PNG would be {len(out)} bytes; the limit is {limit}")
    return out
