"""Steps shared by the browser tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import re
import subprocess
import uuid
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
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


def mic_recording(path: Path, text: str, *, before: float, after: float, speed: int = 150) -> Path:
    """``text`` said by espeak-ng as Chromium's fake microphone plays it: 16-bit mono 48 kHz
    PCM with ``before`` and ``after`` seconds of quiet around it."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-s", str(speed), "-w", str(raw), text], check=True)
    with wave.open(str(raw), "rb") as src:
        assert src.getsampwidth() == 2
        rate = src.getframerate()
        samples = np.frombuffer(src.readframes(src.getnframes()), dtype=np.int16)
        if src.getnchannels() > 1:
            samples = samples[:: src.getnchannels()]
    target = 48_000
    positions = np.arange(int(len(samples) * target / rate)) * rate / target
    voiced = np.interp(positions, np.arange(len(samples)), samples.astype(np.float64))
    quiet = (np.zeros(int(before * target)), np.zeros(int(after * target)))
    audio = np.concatenate([quiet[0], voiced, quiet[1]]).clip(-32768, 32767).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(target)
        out.writeframes(audio.tobytes())
    return path


def mic_chromium(browser: Any, wav: Path, chromium: Path, args: list[str], *, once: bool) -> Any:
    """A Chromium whose microphone plays ``wav`` (looping, or ``once``), allowed without asking."""
    return browser.browser_type.launch(
        executable_path=str(chromium),
        args=[
            *args,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}{'%noloop' if once else ''}",
        ],
    )
