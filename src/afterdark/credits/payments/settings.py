"""Payment settings: Stripe keys, the API base (a loopback stand-in in tests), packs and plans.

To be wired into ``afterdark.config.Settings`` as its ``payments`` section; until then the
code here takes a ``PaymentsSettings`` as a parameter. Payments are off until both Stripe
keys are set.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

Unlock = Literal["premium_images", "voice", "explicit"]
"""What a plan unlocks: the premium image model, voice, explicit content (verified users)."""

UNLOCK_WORDS: dict[str, str] = {
    "premium_images": "The premium image model",
    "voice": "Voice",
    "explicit": "Explicit content (for verified adults who turn it on)",
}
"""Each unlock in plain words, as the price list and the Sparks page say it."""


def unlock_words(key: str) -> str:
    return UNLOCK_WORDS.get(key, key.replace("_", " ").capitalize())


_KEY = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Pack(_Section):
    """A one-off Spark pack."""

    key: str = Field(pattern=_KEY, description="The pack's name in the API, e.g. 'small'.")
    name: str = Field(min_length=1, max_length=80, description="Shown at checkout.")
    sparks: int = Field(ge=1, le=100_000_000, description="Sparks credited when paid.")
    amount_cents: int = Field(ge=50, le=100_000_000, description="Its price in cents.")
    price_id: str | None = Field(
        default=None,
        max_length=255,
        description="A Stripe Price id (price_...); unset: the price is sent inline "
        "(amount_cents in payments.currency).",
    )


class Plan(_Section):
    """A monthly plan: a monthly grant of Sparks and what it unlocks."""

    key: str = Field(pattern=_KEY, description="The plan's name in the API, e.g. 'plus'.")
    name: str = Field(min_length=1, max_length=80, description="Shown at checkout.")
    monthly_sparks: int = Field(ge=0, le=100_000_000, description="Granted on each paid invoice.")
    amount_cents: int = Field(ge=50, le=100_000_000, description="Its monthly price in cents.")
    unlocks: list[Unlock] = Field(default_factory=list, description="What the plan unlocks.")
    price_id: str | None = Field(
        default=None,
        max_length=255,
        description="A recurring Stripe Price id; unset: sent inline as a monthly price.",
    )


def _default_packs() -> list[Pack]:
    return [
        Pack(key="small", name="500 Sparks", sparks=500, amount_cents=299),
        Pack(key="large", name="2,000 Sparks", sparks=2000, amount_cents=999),
    ]


def _default_plans() -> list[Plan]:
    return [
        Plan(
            key="plus",
            name="Afterdark Plus",
            monthly_sparks=3000,
            amount_cents=999,
            unlocks=["premium_images", "voice", "explicit"],
        )
    ]


class PaymentsSettings(_Section):
    stripe_secret_key: SecretStr | None = Field(
        default=None, description="Stripe secret key (sk_...). Unset: payments are off."
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None,
        description="The webhook endpoint's signing secret (whsec_...). Unset: payments are off.",
    )
    api_base: str = Field(
        default="https://api.stripe.com",
        pattern=r"^https?://",
        description="Stripe's API address (a loopback stand-in in tests).",
    )
    webhook_tolerance_seconds: int = Field(
        default=300,
        ge=1,
        le=3600,
        description="A webhook whose signed timestamp is older (or newer) than this is refused.",
    )
    currency: str = Field(
        default="eur", min_length=3, max_length=3, description="ISO 4217 code of inline prices."
    )
    success_path: str = Field(
        default="/sparks?checkout=done",
        pattern=r"^/",
        description="Where Checkout sends the user back after paying (on server.public_url).",
    )
    cancel_path: str = Field(
        default="/sparks?checkout=cancelled",
        pattern=r"^/",
        description="Where Checkout sends the user back when they give up.",
    )
    portal_return_path: str = Field(
        default="/sparks", pattern=r"^/", description="Where the customer portal returns to."
    )
    packs: list[Pack] = Field(default_factory=_default_packs, description="One-off packs.")
    plans: list[Plan] = Field(default_factory=_default_plans, description="Monthly plans.")

    @model_validator(mode="after")
    def _unique_keys(self) -> PaymentsSettings:
        for what, keys in (
            ("pack", [p.key for p in self.packs]),
            ("plan", [p.key for p in self.plans]),
        ):
            if len(set(keys)) != len(keys):
                raise ValueError(f"payments: two {what}s have the same key")
        return self

    @property
    def configured(self) -> bool:
        """Both keys set: checkout, the portal and webhooks are on."""
        return bool(
            self.stripe_secret_key
            and self.stripe_secret_key.get_secret_value()
            and self.stripe_webhook_secret
            and self.stripe_webhook_secret.get_secret_value()
        )

    def pack(self, key: str) -> Pack | None:
        return next((p for p in self.packs if p.key == key), None)

    def plan(self, key: str) -> Plan | None:
        return next((p for p in self.plans if p.key == key), None)

    def plan_for_price(self, price_id: str) -> Plan | None:
        return next((p for p in self.plans if p.price_id and p.price_id == price_id), None)
