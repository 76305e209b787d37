"""Premium capabilities a plan unlocks (voice, the premium image model, explicit content).

A capability is premium only where it can be bought: while payments are off, or while no
configured plan offers it, everyone has it (a self-hosted instance is not paywalled by
default). Otherwise the user needs an active plan that includes it.
"""

from __future__ import annotations

from afterdark.credits.payments.plans import billing_of
from afterdark.credits.payments.settings import PaymentsSettings, unlock_words
from afterdark.errors import PaymentRequiredError
from afterdark.store.engine import Database


def for_sale(payments: PaymentsSettings, unlock: str) -> bool:
    """Whether some plan on sale here offers ``unlock``."""
    return payments.configured and any(unlock in plan.unlocks for plan in payments.plans)


async def unlocked(
    database: Database, payments: PaymentsSettings, user_id: int, unlock: str
) -> bool:
    if not for_sale(payments, unlock):
        return True
    billing = await billing_of(database, payments, user_id)
    return billing.plan is not None and unlock in billing.plan.unlocks


async def require(
    database: Database, payments: PaymentsSettings, user_id: int, unlock: str
) -> None:
    """402 unless the user has ``unlock``."""
    if not await unlocked(database, payments, user_id, unlock):
        raise PaymentRequiredError(
            f"{unlock_words(unlock)} comes with a plan: see the prices page to choose one."
        )
