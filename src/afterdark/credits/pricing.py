"""The price list: what each action costs in Sparks, and what a Spark costs in money.

One place computes every charge, so the page a user reads (``/pricing``) and the ledger
agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from afterdark.config import SparksSettings

REPLY = "chat.reply"
PICTURE = "image.picture"
PREMIUM_PICTURE = "image.premium_picture"
SPEECH = "voice.speech"
TRANSCRIPTION = "voice.transcription"
ACTIONS = {
    REPLY: "A chat reply, a regeneration, a continuation or an impersonation",
    PICTURE: "A picture of a character (re-rolls to keep the face are included)",
    PREMIUM_PICTURE: "A picture of a character made with the premium image model",
    SPEECH: "A message read aloud in the character's voice (played again for free), or the "
    "character's side of a call (counted over the whole call)",
    TRANSCRIPTION: "Your speech turned into text (push-to-talk, or your side of a call, counted "
    "over the whole call)",
}


def speech_cost(settings: SparksSettings, characters: int) -> int:
    """Sparks for speaking ``characters`` characters: per started 1,000, at least 1."""
    return max(1, -(-max(characters, 0) // 1000) * settings.speech_sparks_per_1000_chars)


def transcription_cost(settings: SparksSettings, seconds: float) -> int:
    """Sparks for transcribing ``seconds`` of speech: per started minute."""
    minutes = max(1, -(-int(max(seconds, 0.0) * 1000) // 60_000))
    return minutes * settings.transcription_sparks_per_minute


@dataclass(frozen=True, slots=True)
class PriceLine:
    action: str
    what: str
    sparks: str  # in plain words: "1 Spark per 100 tokens written (at least 1)"
    example: str


def reply_cost(settings: SparksSettings, tokens: int) -> int:
    """Sparks for a reply of ``tokens`` tokens: 1 per started block, at least 1."""
    per = settings.reply_tokens_per_spark
    return max(1, -(-max(tokens, 0) // per))


def reply_estimate(settings: SparksSettings, max_tokens: int) -> int:
    """What a reply may cost at most: held before it starts, the rest released after."""
    return reply_cost(settings, max_tokens)


PRICE_UNIT = 100
"""The price list quotes money per this many Sparks: one Spark is often under a cent."""
_CENT = Decimal("0.01")


def money(settings: SparksSettings, sparks: int) -> str:
    """What ``sparks`` cost, e.g. ``5.00 EUR``."""
    cents = Decimal(str(settings.spark_price_cents)) * sparks
    return f"{money_of(cents)} {settings.currency}"


def money_of(cents: int | Decimal) -> Decimal:
    """``cents`` as an exact amount of money, e.g. 299 -> 2.99."""
    return (Decimal(cents) / 100).quantize(_CENT, rounding=ROUND_HALF_UP)


def cents_per_spark(cents: int, sparks: int) -> Decimal | None:
    """What one Spark costs in cents, half-up to hundredths of a cent (None for no Sparks)."""
    if sparks <= 0:
        return None
    return (Decimal(cents) / Decimal(sparks)).quantize(_CENT, rounding=ROUND_HALF_UP)


def unit_money(cents: int, sparks: int, currency: str) -> str | None:
    """What ``PRICE_UNIT`` Sparks cost at ``cents`` for ``sparks``, half-up to cents."""
    if sparks <= 0:
        return None
    whole = Decimal(cents) * PRICE_UNIT / Decimal(sparks) / 100
    return f"{whole.quantize(_CENT, rounding=ROUND_HALF_UP)} {currency}"


def price_list(settings: SparksSettings, *, premium_pictures: bool = False) -> list[PriceLine]:
    """Every line of the price list; the premium picture's only where a premium image
    model is set up (``premium_pictures``)."""
    per = settings.reply_tokens_per_spark
    typical = reply_cost(settings, 250)
    return [
        PriceLine(
            action=REPLY,
            what=ACTIONS[REPLY],
            sparks=f"1 Spark per {per} tokens written (at least 1)",
            example=f"a 250-token reply (about 190 words) costs {typical} "
            f"Spark{'s' if typical != 1 else ''} ({money(settings, typical)})",
        ),
        PriceLine(
            action=PICTURE,
            what=ACTIONS[PICTURE],
            sparks=f"{settings.picture_sparks} Sparks a picture; nothing when it fails, is "
            "cancelled or is withheld",
            example=f"one picture costs {settings.picture_sparks} Sparks "
            f"({money(settings, settings.picture_sparks)})",
        ),
        *(
            [
                PriceLine(
                    action=PREMIUM_PICTURE,
                    what=ACTIONS[PREMIUM_PICTURE],
                    sparks=f"{settings.premium_picture_sparks} Sparks a picture; your first "
                    "premium picture is free; nothing when it fails, is cancelled or is withheld",
                    example=f"one premium picture costs {settings.premium_picture_sparks} "
                    f"Sparks ({money(settings, settings.premium_picture_sparks)})",
                )
            ]
            if premium_pictures
            else []
        ),
        PriceLine(
            action=SPEECH,
            what=ACTIONS[SPEECH],
            sparks=f"{settings.speech_sparks_per_1000_chars} Sparks per 1,000 characters "
            "spoken (at least 1)",
            example=f"a 400-character reply read aloud costs {speech_cost(settings, 400)} "
            f"Sparks ({money(settings, speech_cost(settings, 400))})",
        ),
        PriceLine(
            action=TRANSCRIPTION,
            what=ACTIONS[TRANSCRIPTION],
            sparks=f"{settings.transcription_sparks_per_minute} Sparks per started minute",
            example=f"a 20-second message costs {transcription_cost(settings, 20)} Sparks",
        ),
    ]
