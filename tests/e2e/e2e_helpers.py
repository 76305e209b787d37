"""Steps shared by the browser tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from playwright.sync_api import expect

PASSWORD = "correct horse battery staple"


def adult_birthdate() -> str:
    today = date.today()
    return today.replace(year=today.year - 30, day=min(today.day, 28)).isoformat()


def new_email() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}@example.test"


def sign_up(page: Any, *, birthdate: str | None = None, name: str = "Robin") -> str:
    """Sign up through the form; returns the email used."""
    email = new_email()
    page.goto("/signup")
    page.get_by_test_id("signup-name").fill(name)
    page.get_by_test_id("signup-email").fill(email)
    page.get_by_test_id("signup-password").fill(PASSWORD)
    page.get_by_test_id("signup-birthdate").fill(birthdate or adult_birthdate())
    page.get_by_test_id("signup-submit").click()
    return email


def api(page: Any, method: str, path: str, body: Any = None) -> Any:
    """Call the JSON API with the page's session cookie (and its CSRF token)."""
    csrf = next((c["value"] for c in page.context.cookies() if c["name"] == "afterdark_csrf"), "")
    response = page.request.fetch(
        f"/api/v1{path}", method=method, data=body, headers={"X-CSRF-Token": csrf}
    )
    assert response.ok, f"{method} {path}: {response.status} {response.text()}"
    return response.json() if response.status != 204 else None


def assert_fits_phone(page: Any, controls: str) -> None:
    """Nothing scrolls sideways, and every visible control matching ``controls`` (a CSS
    selector) is at least 40 px each way: big enough for a thumb."""
    widths = page.evaluate(
        "() => ({doc: document.documentElement.scrollWidth, view: window.innerWidth})"
    )
    assert widths["doc"] <= widths["view"], widths
    small = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
            .filter((el) => el.offsetParent !== null)
            .map((el) => ({id: el.dataset.testid, w: el.getBoundingClientRect().width,
                           h: el.getBoundingClientRect().height}))
            .filter((r) => r.w < 40 || r.h < 40)""",
        controls,
    )
    assert small == [], small


def log_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(re.compile(r"/characters$"))


@contextmanager
def other_browser(browser: Any, server_url: str, user_agent: str | None = None) -> Iterator[Any]:
    """A second browser with its own cookies (and User-Agent), as another person or device."""
    from conftest import DESKTOP

    options: dict[str, Any] = {"base_url": server_url, "viewport": DESKTOP}
    if user_agent:
        options["user_agent"] = user_agent
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"uncaught errors in the other browser: {errors}"
