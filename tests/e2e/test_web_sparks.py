"""Sparks in the browser: the public price list, the balance and statement after a chat,
and a send refused for want of Sparks, explained in the chat with a link to the prices.
Then payments: a second server with Stripe keys, against the Stripe stand-in (in its own
thread): Buy goes to Checkout, the plan shows on /sparks, cancels in one click, and the
billing portal opens; the way back from Checkout says what happened.

The test servers run with the default Sparks settings: 200 free a day (at most 400),
1 Spark per 100 tokens written, 0.5 cents of EUR a Spark; and the default packs (500 Sparks
for 2.99 EUR, 2,000 for 9.99 EUR) and plan (Afterdark Plus, 3,000 Sparks a month, 9.99 EUR)."""

from __future__ import annotations

import calendar
import re
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from e2e_helpers import (
    PASSWORD,
    api,
    assert_fits_phone,
    log_in,
    new_email,
    other_browser,
    sign_up,
)
from playwright.sync_api import expect

from conftest import DESKTOP, PHONE, _afterdark_bin, _open_page, serve_afterdark
from tests.support.stripe_standin import (
    API_KEY,
    WEBHOOK_SECRET,
    StripeStandIn,
    event,
    run_stripe,
    sign,
)

pytestmark = pytest.mark.e2e


def create_admin(server_env: dict[str, str]) -> str:
    """An admin account made with the real CLI, against the running server's data."""
    email = new_email()
    command = [_afterdark_bin(), "users", "create", email, "--birthdate", "1990-01-01"]
    done = subprocess.run(
        [*command, "--password-stdin", "--admin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=server_env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return email


def open_chat(page: Any) -> int:
    """A new chat with the first character, open in the page; its id."""
    character = api(page, "GET", "/characters")[0]
    conversation = api(page, "POST", "/conversations", {"character_id": character["id"]})
    page.goto(f"/chat/{conversation['id']}")
    expect(page.get_by_test_id("messages")).to_have_attribute("aria-busy", "false")
    return int(conversation["id"])


def send(page: Any, text: str) -> None:
    box = page.get_by_test_id("composer-input")
    box.fill(text)
    box.press("Enter")


def test_the_price_list_reads_without_logging_in(page: Any) -> None:
    logged: list[str] = []
    page.on("console", lambda msg: logged.append(msg.text) if msg.type == "error" else None)
    page.goto("/pricing")
    # Replies, pictures, speech and transcription, each in plain figures.
    expect(page.get_by_test_id("price-row")).to_have_count(4)
    picture = page.locator('[data-testid="price-row"][data-action="image.picture"]')
    expect(picture).to_contain_text("20 Sparks a picture")
    row = page.locator('[data-testid="price-row"][data-action="chat.reply"]')
    expect(row).to_contain_text("A chat reply")
    expect(row).to_contain_text("1 Spark per 100 tokens written (at least 1)")
    expect(row).to_contain_text("a 250-token reply (about 190 words) costs 3 Sparks")
    expect(page.get_by_test_id("pricing-free")).to_contain_text("200 Sparks free each day")
    expect(page.get_by_test_id("pricing-cap")).to_contain_text("never takes them past 400 Sparks")
    expect(page.get_by_test_id("pricing-money")).to_have_text(
        "100 Sparks cost 0.50 EUR (0.5 cents of EUR each)."
    )
    expect(page.get_by_test_id("payments-note")).to_have_text(
        "Payments are not set up on this instance yet; an admin can grant Sparks."
    )
    # A visitor: no balance asked for, no link to a statement they do not have.
    expect(page.get_by_test_id("nav-sparks")).to_be_hidden()
    expect(page.get_by_test_id("pricing-mine")).to_be_hidden()
    # Payments are off here: nothing on sale, no button, no login prompt to buy.
    expect(page.get_by_test_id("pricing-packs")).to_be_hidden()
    expect(page.get_by_test_id("pricing-plans")).to_be_hidden()
    expect(page.get_by_test_id("buy-login")).to_be_hidden()
    assert logged == [], logged


def test_the_sparks_page_shows_the_balance_and_a_charged_reply(page: Any, standin: Any) -> None:
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    expect(page.get_by_test_id("nav-sparks-balance")).to_have_text("200")
    open_chat(page)
    standin.reply = "*She nods.* Good evening."  # a few tokens: 1 Spark
    send(page, "Good evening.")
    expect(page.get_by_test_id("message").last).to_contain_text("Good evening.", timeout=15_000)
    expect(page.get_by_test_id("send")).to_be_visible()

    page.goto("/sparks")
    expect(page.get_by_test_id("sparks-available")).to_have_text("199")
    expect(page.get_by_test_id("sparks-held")).to_have_text("0")
    expect(page.get_by_test_id("nav-sparks-balance")).to_have_text("199")
    expect(page.get_by_test_id("sparks-allowance")).to_contain_text("200 free Sparks")
    rows = page.get_by_test_id("history-row")
    expect(rows).to_have_count(2)
    reply = rows.first
    expect(reply.get_by_test_id("history-what")).to_contain_text("A chat reply")
    expect(reply.get_by_test_id("history-amount")).to_have_text("\u22121")
    expect(reply.get_by_test_id("history-status")).to_have_text("Charged")
    daily = rows.last
    expect(daily.get_by_test_id("history-what")).to_have_text("Free daily Sparks")
    expect(daily.get_by_test_id("history-amount")).to_have_text("+200")
    expect(page.get_by_test_id("history-more")).to_be_hidden()
    expect(page.get_by_test_id("sparks-plan")).to_be_hidden()  # no plan, no Stripe customer
    page.get_by_test_id("sparks-pricing-link").click()
    expect(page).to_have_url(re.compile(r"/pricing$"))
    expect(page.get_by_test_id("pricing-mine")).to_be_visible()
    # Logged in, but payments are off: the plain note and no Buy or Subscribe button.
    expect(page.get_by_test_id("payments-note")).to_have_text(
        "Payments are not set up on this instance yet; an admin can grant Sparks."
    )
    expect(page.get_by_role("button", name=re.compile("Buy|Subscribe"))).to_have_count(0)
    expect(page.get_by_test_id("pricing-packs")).to_be_hidden()


def test_a_send_without_sparks_says_why_and_links_the_prices(
    page: Any, browser: Any, server_url: str, server_env: dict[str, str]
) -> None:
    admin_email = create_admin(server_env)
    email = sign_up(page)
    expect(page.get_by_test_id("nav-sparks-balance")).to_have_text("200")
    chat = open_chat(page)
    with other_browser(browser, server_url) as admin:
        log_in(admin, admin_email)
        admin.goto("/admin")
        account = admin.get_by_test_id("account-item").filter(has_text=email)
        account.get_by_test_id("admin-sparks-open").click()
        summary = account.get_by_test_id("admin-sparks-summary")
        expect(summary).to_have_text("200 available (200 free, 0 other), 0 set aside")
        account.get_by_test_id("admin-sparks-action").select_option("revoke")
        account.get_by_test_id("admin-sparks-amount").fill("200")
        account.get_by_test_id("admin-sparks-reason").fill("Testing an empty balance")
        account.get_by_test_id("admin-sparks-submit").click()
        expect(summary).to_have_text("0 available (0 free, 0 other), 0 set aside")
        account.get_by_test_id("admin-sparks-amount").fill("1")
        account.get_by_test_id("admin-sparks-reason").fill("One more")
        account.get_by_test_id("admin-sparks-submit").click()
        expect(account.get_by_test_id("admin-sparks-error")).to_contain_text(
            "needs 1 and you have 0"
        )

    send(page, "Are you there?")
    toast = page.get_by_test_id("toast-error")
    expect(toast).to_contain_text("Not enough Sparks: this needs 3 and you have 0.")
    link = toast.get_by_test_id("pricing-link")
    expect(link).to_have_attribute("href", "/pricing")
    expect(page.get_by_test_id("composer-input")).to_have_value("Are you there?")
    kept = api(page, "GET", f"/conversations/{chat}")["messages"]
    assert [m["role"] for m in kept] == ["assistant"]  # the greeting only: nothing was sent
    link.click()
    expect(page).to_have_url(re.compile(r"/pricing$"))
    expect(page.locator('[data-testid="price-row"][data-action="chat.reply"]')).to_contain_text(
        "1 Spark per 100 tokens"
    )
    page.goto("/sparks")
    taken = page.get_by_test_id("history-row").first
    expect(taken).to_contain_text("Sparks taken back by an admin")
    expect(taken).to_contain_text("Testing an empty balance")
    expect(taken.get_by_test_id("history-amount")).to_have_text("\u2212200")


def test_the_sparks_pages_fit_a_phone(phone_page: Any) -> None:
    page = phone_page
    sign_up(page)
    expect(page.get_by_test_id("nav-sparks")).to_have_attribute(
        "aria-label", "Sparks: 200 available"
    )
    page.goto("/sparks")
    expect(page.get_by_test_id("history-row")).to_have_count(1)
    assert_fits_phone(page, "#main button, #main a, .topnav a")
    page.goto("/pricing")
    expect(page.get_by_test_id("price-row")).to_have_count(4)
    assert_fits_phone(page, "#main button, #main a, .topnav a")


# --- payments: a second server with Stripe keys, against the Stripe stand-in -------------

WEBHOOK = "/api/v1/payments/stripe/webhook"
THANKS = "Thank you \u2014 your Sparks arrive as soon as Stripe confirms the payment."


@pytest.fixture(scope="module")
def stripe_api() -> Iterator[StripeStandIn]:
    """The Stripe stand-in, served in a thread of its own: the server under test (another
    process) and the browser reach it over loopback."""
    with run_stripe() as server:
        yield server


@pytest.fixture(scope="module")
def paid_server_url(
    server_env: dict[str, str],
    stripe_api: StripeStandIn,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """``afterdark serve`` with payments configured (its own data folder)."""
    data_dir = tmp_path_factory.mktemp("afterdark-paid")
    env = server_env | {
        "AFTERDARK_DATA_DIR": str(data_dir),
        "AFTERDARK_PAYMENTS__STRIPE_SECRET_KEY": API_KEY,
        "AFTERDARK_PAYMENTS__STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "AFTERDARK_PAYMENTS__API_BASE": stripe_api.base_url,
    }
    with serve_afterdark(env) as url:
        yield url


@pytest.fixture
def paid_page(request: pytest.FixtureRequest, browser: Any, paid_server_url: str) -> Iterator[Any]:
    yield from _open_page(request, browser, paid_server_url, viewport=DESKTOP)


@pytest.fixture
def paid_phone_page(
    request: pytest.FixtureRequest, browser: Any, paid_server_url: str
) -> Iterator[Any]:
    yield from _open_page(
        request,
        browser,
        paid_server_url,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )


def test_buy_on_the_price_list_goes_to_stripe_checkout(
    paid_page: Any, stripe_api: StripeStandIn
) -> None:
    page = paid_page
    page.goto("/pricing")
    packs = page.get_by_test_id("pack-row")
    expect(packs).to_have_count(2)
    expect(page.get_by_test_id("pack-price")).to_have_text(["2.99 EUR", "9.99 EUR"])
    expect(page.get_by_test_id("pack-unit")).to_have_text(["0.60 EUR", "0.50 EUR"])
    plan = page.get_by_test_id("plan-row")
    expect(plan).to_have_count(1)
    expect(plan.get_by_test_id("plan-price")).to_have_text("9.99 EUR")
    expect(plan.get_by_test_id("plan-unlocks")).to_contain_text("The premium image model")
    expect(page.get_by_test_id("payments-note")).to_contain_text("Afterdark never sees your card")
    # A visitor sees the prices and a way to log in, but no button.
    expect(page.get_by_test_id("buy-login")).to_be_visible()
    expect(page.get_by_test_id("buy-pack")).to_have_count(0)
    # The free allowance comes first, above anything on sale.
    free = page.get_by_test_id("pricing-free-panel").bounding_box()
    on_sale = page.get_by_test_id("pricing-packs").bounding_box()
    assert free is not None
    assert on_sale is not None
    assert free["y"] < on_sale["y"]

    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    page.goto("/pricing")
    buy = page.get_by_test_id("buy-pack")
    expect(buy).to_have_count(2)
    expect(page.get_by_test_id("subscribe-plan")).to_have_count(1)
    expect(page.get_by_test_id("buy-login")).to_be_hidden()
    before = len(stripe_api.calls("/v1/checkout/sessions"))
    packs.filter(has_text="2.99 EUR").get_by_role("button", name="Buy").click()
    pay = re.compile(rf"^{re.escape(stripe_api.base_url)}/pay/cs_test_\d+$")
    expect(page).to_have_url(pay)
    sessions = stripe_api.calls("/v1/checkout/sessions")
    assert len(sessions) == before + 1
    form = sessions[-1]["form"]
    assert (form["mode"], form["metadata"]["item"], form["metadata"]["sparks"]) == (
        "payment",
        "small",
        "500",
    )
    assert form["success_url"].endswith("/sparks?checkout=done")
    assert page.url == stripe_api.objects[page.url.rsplit("/", 1)[1]]["url"]


def _deliver(server_url: str, payload: bytes) -> None:
    response = httpx.post(
        server_url + WEBHOOK,
        content=payload,
        headers={"stripe-signature": sign(payload), "content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def _wait_for_plan(page: Any, **want: Any) -> None:
    """Webhooks apply just after their answer: wait until the statement shows it."""
    deadline = time.monotonic() + 10
    while True:
        plan = api(page, "GET", "/me/sparks")["plan"]
        if plan is not None and all(plan[k] == v for k, v in want.items()):
            return
        assert time.monotonic() < deadline, plan
        time.sleep(0.1)


def test_the_sparks_page_shows_the_plan_cancels_it_and_opens_billing(
    paid_page: Any, paid_server_url: str, stripe_api: StripeStandIn
) -> None:
    page = paid_page
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    page.goto("/sparks")
    expect(page.get_by_test_id("sparks-available")).to_have_text("200")
    expect(page.get_by_test_id("sparks-plan")).to_be_hidden()
    expect(page.get_by_test_id("checkout-note")).to_be_hidden()

    me = api(page, "GET", "/me")["id"]
    customer, sub_id = f"cus_e2e_{me}", f"sub_e2e_{me}"
    meta = {"user_id": str(me), "kind": "plan", "item": "plus", "sparks": "3000"}
    completed = {
        "id": f"cs_e2e_{me}",
        "object": "checkout.session",
        "mode": "subscription",
        "payment_status": "paid",
        "client_reference_id": str(me),
        "customer": customer,
        "subscription": sub_id,
        "metadata": meta,
    }
    end = calendar.timegm((2027, 1, 15, 12, 0, 0))
    sub = {"id": sub_id, "object": "subscription", "customer": customer, "metadata": meta}
    sub |= {"status": "active", "cancel_at_period_end": False, "current_period_end": end}
    _deliver(paid_server_url, event("checkout.session.completed", completed))
    _deliver(paid_server_url, event("customer.subscription.updated", sub))
    _wait_for_plan(page, status="active")
    stripe_api.add_subscription(sub_id, customer)

    page.goto("/sparks")
    line = page.get_by_test_id("plan-line")
    expect(line).to_contain_text("Afterdark Plus: on, renews on")
    expect(line).to_contain_text("2027")
    expect(page.get_by_test_id("plan-unlocks")).to_contain_text("Voice")
    cancel = page.get_by_test_id("plan-cancel")
    expect(cancel).to_be_visible()
    expect(page.get_by_test_id("billing-manage")).to_be_visible()

    cancel.click()  # one click, no dialog
    done = page.get_by_test_id("plan-cancelled")
    expect(done).to_contain_text("Your plan is cancelled. It stays on until")
    expect(done).to_contain_text("2027 and will not renew")
    expect(cancel).to_be_hidden()
    [update] = stripe_api.calls(f"/v1/subscriptions/{sub_id}")
    assert update["form"] == {"cancel_at_period_end": "true"}

    # Stripe's event follows; the page then says so itself.
    _deliver(
        paid_server_url,
        event("customer.subscription.updated", sub | {"cancel_at_period_end": True}),
    )
    _wait_for_plan(page, cancel_at_period_end=True)
    page.goto("/sparks")
    expect(line).to_contain_text("Afterdark Plus: cancelled. It stays on until")
    expect(cancel).to_be_hidden()

    page.get_by_test_id("billing-manage").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(stripe_api.base_url)}/portal/bps_\d+$"))
    [portal] = [
        c
        for c in stripe_api.calls("/v1/billing_portal/sessions")
        if c["form"]["customer"] == customer
    ]
    assert portal["form"]["return_url"].endswith("/sparks")


def test_the_way_back_from_checkout_says_what_happened(paid_page: Any) -> None:
    page = paid_page
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    note = page.get_by_test_id("checkout-note")
    page.goto("/sparks?checkout=done")
    expect(note).to_have_text(THANKS)
    page.goto("/sparks?checkout=cancelled")
    expect(note).to_have_text("Checkout was cancelled: nothing was charged.")
    page.goto("/sparks?checkout=anything-else")
    expect(page.get_by_test_id("sparks-available")).to_have_text("200")
    expect(note).to_be_hidden()


def test_the_shop_fits_a_phone(paid_phone_page: Any) -> None:
    page = paid_phone_page
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    page.goto("/pricing")
    expect(page.get_by_test_id("buy-pack")).to_have_count(2)
    expect(page.get_by_test_id("subscribe-plan")).to_have_count(1)
    assert_fits_phone(page, "#main button, #main a, .topnav a")
