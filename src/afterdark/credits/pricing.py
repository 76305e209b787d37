"""The price list: what each action costs in Sparks, and what a Spark costs in money.

One place computes every charge, so the page a user reads (``/pricing``) and the ledger
agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from afterdark.config import SparksSettings

REPLY = "chat.reply"
ACTIONS = {
    REPLY: "A chat reply, a regeneration, a continuation or an impersonation",
}


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


def money(settings: SparksSettings, sparks: int) -> str:
    """What ``sparks`` cost, e.g. ``5.00 EUR``."""
    cents = Decimal(str(settings.spark_price_cents)) * sparks
    whole = (cents / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{whole} {settings.currency}"


def price_list(settings: SparksSettings) -> list[PriceLine]:
    per = settings.reply_tokens_per_spark
    typical = reply_cost(settings, 250)
    return [
        PriceLine(
            action=REPLY,
            what=ACTIONS[REPLY],
            sparks=f"1 Spark per {per} tokens written (at least 1)",
            example=f"a 250-token reply (about 190 words) costs {typical} "
            f"Spark{'s' if typical != 1 else ''} ({money(settings, typical)})",
        )
    ]
