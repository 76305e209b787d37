"""Fixtures for browser tests: the real ``afterdark serve`` in a subprocess, talking to the
OpenAI-compatible stand-in, driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 740}
SCREENSHOTS = Path(os.environ.get("AFTERDARK_E2E_SCREENSHOTS", "/tmp/afterdark-e2e"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # In CI (and `make test`, which installs Chromium) a missing browser is a failure, not a skip.
    if CHROMIUM.exists() or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason=f"browser tests need {CHROMIUM} (apt install chromium)")
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _afterdark_bin() -> str:
    here = Path(sys.executable).with_name("afterdark")
    if here.exists():
        return str(here)
    found = shutil.which("afterdark")
    if found is None:
        pytest.fail("the afterdark command is not installed (pip install -e .)")
    return found


@pytest.fixture(scope="session")
def standin() -> Iterator[Any]:
    from tests.support.openai_standin import run_standin

    with run_standin() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_standin(standin: Any) -> None:
    standin.reset()


@pytest.fixture(scope="session")
def server_env(standin: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment the server runs with: CLI commands in it reach the same data."""
    data_dir = tmp_path_factory.mktemp("afterdark-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERDARK_")}
    env.update(
        AFTERDARK_DATA_DIR=str(data_dir),
        AFTERDARK_LLM__BACKEND="openai",
        AFTERDARK_LLM__BASE_URL=standin.base_url,
        AFTERDARK_LLM__MODEL="standin",
        AFTERDARK_ENVIRONMENT="test",
        # Every test signs up from 127.0.0.1 against this one server: lift the per-address cap.
        AFTERDARK_SECURITY__SIGNUPS_PER_HOUR="100000",
    )
    return env


@contextmanager
def serve_afterdark(env: dict[str, str]) -> Iterator[str]:
    """``afterdark serve`` in a process of its own with ``env``; its URL once it answers."""
    data_dir = Path(env["AFTERDARK_DATA_DIR"])
    port = _free_port()
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [_afterdark_bin(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"afterdark serve exited with {proc.returncode}:\n{log_path.read_text()}"
                )
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"afterdark serve did not answer in 60 s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def server_url(server_env: dict[str, str]) -> Iterator[str]:
    with serve_afterdark(server_env) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _open_page(
    request: pytest.FixtureRequest, browser: Any, server_url: str, **options: Any
) -> Iterator[Any]:
    context = browser.new_context(base_url=server_url, **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}-failure.png"), full_page=True)
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Any, server_url: str) -> Iterator[Any]:
    yield from _open_page(request, browser, server_url, viewport=DESKTOP)


@pytest.fixture
def phone_page(request: pytest.FixtureRequest, browser: Any, server_url: str) -> Iterator[Any]:
    yield from _open_page(
        request,
        browser,
        server_url,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
