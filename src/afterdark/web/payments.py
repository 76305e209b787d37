"""Payment routes: Checkout for a pack or plan, the customer portal, cancelling a plan, and
Stripe's webhook (no login and no CSRF token: it is verified by its signature instead).

Every route answers 503 (``payments_off``) while the Stripe keys are not configured.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, Field

from afterdark.credits.payments import webhooks
from afterdark.credits.payments.checkout import create_checkout
from afterdark.credits.payments.client import require_configured
from afterdark.credits.payments.portal import cancel_plan, create_portal
from afterdark.credits.payments.settings import PaymentsSettings
from afterdark.runtime import Runtime
from afterdark.web.deps import CurrentUser, RuntimeDep

router = APIRouter(tags=["payments"])


class CheckoutRequest(BaseModel):
    pack: str | None = Field(default=None, max_length=40, description="A pack's key.")
    plan: str | None = Field(default=None, max_length=40, description="A plan's key.")


class RedirectPublic(BaseModel):
    url: str


class WebhookAck(BaseModel):
    received: bool
    duplicate: bool


def payments_settings(runtime: Runtime) -> PaymentsSettings:
    """The instance's payment settings (off until the Stripe keys are configured)."""
    return runtime.settings.payments


def _base_url(runtime: Runtime, request: Request) -> str:
    public = str(runtime.settings.server.public_url or "")
    return public or str(request.base_url)


@router.post("/api/v1/me/sparks/checkout")
async def post_checkout(
    data: CheckoutRequest, user: CurrentUser, runtime: RuntimeDep, request: Request
) -> RedirectPublic:
    """A Stripe Checkout page for a Spark pack or a monthly plan: send the user to ``url``."""
    settings = payments_settings(runtime)
    require_configured(settings)
    url = await create_checkout(
        runtime.database,
        settings,
        user.id,
        _base_url(runtime, request),
        pack=data.pack,
        plan=data.plan,
    )
    return RedirectPublic(url=url)


@router.post("/api/v1/me/sparks/portal")
async def post_portal(user: CurrentUser, runtime: RuntimeDep, request: Request) -> RedirectPublic:
    """The Stripe customer portal (invoices, payment method, cancelling the plan)."""
    settings = payments_settings(runtime)
    require_configured(settings)
    url = await create_portal(runtime.database, settings, user.id, _base_url(runtime, request))
    return RedirectPublic(url=url)


@router.post("/api/v1/me/sparks/plan/cancel", status_code=204)
async def post_cancel_plan(user: CurrentUser, runtime: RuntimeDep) -> None:
    """Cancel the plan in one click: it stays on until the end of the paid month."""
    settings = payments_settings(runtime)
    require_configured(settings)
    await cancel_plan(runtime.database, settings, user.id)


@router.post("/api/v1/payments/stripe/webhook")
async def post_stripe_webhook(
    request: Request, runtime: RuntimeDep, background: BackgroundTasks
) -> WebhookAck:
    """Stripe's events: verified over the raw body, recorded once, acknowledged at once and
    applied after the answer (and by the next delivery's sweep, should that fail)."""
    settings = payments_settings(runtime)
    require_configured(settings)
    received = await webhooks.receive(
        runtime.database, settings, await request.body(), request.headers.get("stripe-signature")
    )
    if received.new:
        background.add_task(_apply, runtime, settings, received.id)
    return WebhookAck(received=True, duplicate=not received.new)


async def _apply(runtime: Runtime, settings: PaymentsSettings, event_id: str) -> None:
    await webhooks.process(runtime.database, settings, event_id)
    await webhooks.process_pending(runtime.database, settings)
