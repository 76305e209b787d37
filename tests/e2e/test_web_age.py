"""Settings in the browser: the age check and the explicit content switch (provider "none"),
and the switch where explicit content comes with a plan (payments on, self-declaration)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from e2e_helpers import api, assert_fits_phone, sign_up
from playwright.sync_api import expect

from conftest import DESKTOP, SCREENSHOTS, _open_page, serve_afterdark
from tests.support.stripe_standin import (
    API_KEY,
    WEBHOOK_SECRET,
    event,
    run_stripe,
    sign,
)

pytestmark = pytest.mark.e2e

PUT_EXPLICIT = """async () => {
    const { put } = await import("/static/js/api.js");
    try {
        await put("/me/content", { explicit: true });
        return { status: 200, message: "" };
    } catch (err) {
        return { status: err.status, message: err.message };
    }
}"""


def open_age(page: Any, path: str = "/settings#age") -> Any:
    page.goto(path)
    panel = page.get_by_test_id("age-panel")
    expect(panel.get_by_test_id("age-loading")).to_be_hidden()
    return panel


def shot(target: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_no_age_check_keeps_explicit_locked(page: Any) -> None:
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))

    panel = open_age(page)
    expect(panel.get_by_role("heading", name="Age check and content")).to_be_visible()
    expect(panel.get_by_test_id("age-state")).to_have_text("Not checked yet")
    expect(panel.get_by_test_id("age-none")).to_be_visible()
    expect(panel.get_by_test_id("age-none")).to_contain_text("no age check set up")
    expect(panel.get_by_test_id("age-none")).to_contain_text("adult content stays locked")
    expect(panel.get_by_test_id("age-start")).to_be_hidden()
    expect(panel.get_by_role("button", name="Start the age check")).to_have_count(0)

    switch = panel.get_by_role("switch", name="Explicit content")
    expect(switch).to_be_disabled()
    expect(switch).not_to_be_checked()
    expect(panel.get_by_test_id("explicit-hint")).to_have_text(
        "Available once you pass an age check."
    )
    shot(panel, "age-none-desktop")

    # The server refuses it too, with a message meant for people.
    refused = page.evaluate(PUT_EXPLICIT)
    assert refused["status"] == 403, refused
    assert refused["message"], refused
    page.reload()
    panel = open_age(page)
    expect(panel.get_by_role("switch", name="Explicit content")).not_to_be_checked()


def test_result_line_after_coming_back(phone_page: Any) -> None:
    page = phone_page
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))

    panel = open_age(page, "/settings?age=failed#age")
    expect(panel.get_by_test_id("age-result")).to_contain_text("didn't pass")
    expect(page).to_have_url(re.compile(r"/settings#age$"))
    expect(panel.get_by_role("switch", name="Explicit content")).to_be_disabled()
    assert_fits_phone(page, "#age .btn")
    shot(panel, "age-none-phone")


# --- explicit content as a plan unlock: a server with payments on (the default plan, which
# unlocks it) and self-declaration, which a single-account install allows --------------------


@pytest.fixture(scope="module")
def plan_server_url(
    server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with run_stripe() as stripe_api:
        env = server_env | {
            "AFTERDARK_DATA_DIR": str(tmp_path_factory.mktemp("afterdark-explicit-plan")),
            "AFTERDARK_AGE__PROVIDER": "self_declaration",
            "AFTERDARK_PAYMENTS__STRIPE_SECRET_KEY": API_KEY,
            "AFTERDARK_PAYMENTS__STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "AFTERDARK_PAYMENTS__API_BASE": stripe_api.base_url,
        }
        with serve_afterdark(env) as url:
            yield url


@pytest.fixture
def plan_page(request: pytest.FixtureRequest, browser: Any, plan_server_url: str) -> Iterator[Any]:
    yield from _open_page(request, browser, plan_server_url, viewport=DESKTOP)


def start_plan(server_url: str, user_id: int) -> None:
    """The default plan starts for the user, as Stripe's signed events report it."""
    meta = {"user_id": str(user_id), "kind": "plan", "item": "plus", "sparks": "3000"}
    sub = {"id": "sub_e2e", "object": "subscription", "customer": "cus_e2e", "metadata": meta}
    sub |= {"status": "active", "cancel_at_period_end": False}
    completed = {"id": "cs_e2e", "object": "checkout.session", "mode": "subscription"}
    completed |= {"customer": "cus_e2e", "subscription": "sub_e2e", "metadata": meta}
    for payload in (
        event("checkout.session.completed", completed, created=1000),
        event("customer.subscription.updated", sub, created=1001),
    ):
        response = httpx.post(
            f"{server_url}/api/v1/payments/stripe/webhook",
            content=payload,
            headers={"stripe-signature": sign(payload), "content-type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 200, response.text


def test_the_switch_says_when_explicit_content_needs_a_plan(
    plan_page: Any, plan_server_url: str
) -> None:
    page = plan_page
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))

    panel = open_age(page)
    panel.get_by_test_id("age-start").click()
    expect(panel.get_by_test_id("age-state")).to_contain_text("Passed")
    switch = panel.get_by_role("switch", name="Explicit content")
    expect(switch).to_be_disabled()
    expect(switch).not_to_be_checked()
    hint = panel.get_by_test_id("explicit-hint")
    expect(hint).to_contain_text("Explicit content comes with a plan here.")
    expect(hint.get_by_test_id("explicit-plan-link")).to_have_attribute("href", "/pricing")
    shot(panel, "explicit-plan-needed-desktop")

    # The server refuses it too: a 402 naming the plan.
    refused = page.evaluate(PUT_EXPLICIT)
    assert refused["status"] == 402, refused
    assert "Afterdark Plus" in refused["message"], refused

    start_plan(plan_server_url, api(page, "GET", "/me")["id"])
    deadline = time.monotonic() + 10
    while api(page, "GET", "/me/content")["plan_needed"]:  # webhooks apply after their answer
        assert time.monotonic() < deadline
        time.sleep(0.1)
    page.reload()
    panel = open_age(page)
    switch = panel.get_by_role("switch", name="Explicit content")
    expect(switch).to_be_enabled()
    expect(panel.get_by_test_id("explicit-hint")).to_contain_text("adult scenes")
    switch.check()
    expect(panel.get_by_test_id("content-status")).to_have_text("Explicit content is on.")
    expect(switch).to_be_checked()
