"""The official Stripe SDK, asynchronous over aiohttp, pointed at ``payments.api_base``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import stripe

from afterdark.credits.payments.settings import PaymentsSettings
from afterdark.errors import AfterdarkError


class PaymentsOffError(AfterdarkError):
    """Payments are not configured on this instance (no Stripe keys)."""

    status = 503
    code = "payments_off"

    def __init__(self) -> None:
        super().__init__(
            "Payments are not configured on this instance: an admin sets "
            "payments.stripe_secret_key and payments.stripe_webhook_secret. An admin can "
            "still grant Sparks."
        )


class PaymentProviderError(AfterdarkError):
    """Stripe answered with an error or could not be reached."""

    status = 502
    code = "payment_provider_error"


def require_configured(settings: PaymentsSettings) -> None:
    if not settings.configured:
        raise PaymentsOffError()


@asynccontextmanager
async def stripe_client(settings: PaymentsSettings) -> AsyncIterator[stripe.StripeClient]:
    """A client for one piece of work; its HTTP session is closed afterwards."""
    require_configured(settings)
    assert settings.stripe_secret_key is not None
    http = stripe.AIOHTTPClient(timeout=30)
    client = stripe.StripeClient(
        settings.stripe_secret_key.get_secret_value(),
        base_addresses={"api": settings.api_base.rstrip("/")},
        http_client=http,
        max_network_retries=2,
    )
    try:
        yield client
    except stripe.StripeError as exc:
        message = exc.user_message or str(exc) or type(exc).__name__
        raise PaymentProviderError(f"The payment provider refused: {message}") from exc
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]
