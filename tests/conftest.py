"""Shared fixtures: settings on a temporary data folder, real SQLite and PostgreSQL,
the app on ASGI and on a real loopback server, and the OpenAI-protocol stand-in."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from afterdark.app import create_app
from afterdark.config import Settings
from afterdark.privacy.keyring import Keyring
from afterdark.privacy.providers import LocalKeyProvider
from afterdark.store.engine import Database
from afterdark.store.migrate import upgrade

os.environ.pop("AFTERDARK_CONFIG_FILE", None)
for _name in list(os.environ):
    if _name.startswith("AFTERDARK_"):
        del os.environ[_name]

PASSWORD = "correct horse battery staple"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Playwright's sync API keeps an event loop running in its thread for the session, which
    # breaks every asyncio test after it in the same process: run the browser tests apart.
    kinds = {"e2e" if "tests/e2e/" in item.nodeid else "other" for item in items}
    if kinds == {"e2e", "other"}:
        raise pytest.UsageError(
            "Run the browser tests on their own: `pytest --ignore=tests/e2e` then "
            "`pytest tests/e2e` (make test does both)."
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- PostgreSQL (pgserver ships the server binaries; one cluster per xdist worker) ---


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()


_pg_counter = iter(range(1, 1_000_000))


@pytest.fixture
def pg_url(pg_cluster: Any) -> str:
    """A new, empty PostgreSQL database for one test."""
    name = f"t{os.getpid()}_{next(_pg_counter)}"
    pg_cluster.psql(f"CREATE DATABASE {name};")
    uri = pg_cluster.get_uri(name)
    return str(uri).replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'afterdark.db'}"
    return str(request.getfixturevalue("pg_url"))


def fresh_keyring() -> Keyring:
    """A keyring under a fresh random key-encryption key."""
    return Keyring(LocalKeyProvider(os.urandom(32)))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated, empty database: SQLite, then PostgreSQL."""
    database = Database(database_url, keyring=fresh_keyring())
    await upgrade(database)
    try:
        yield database
    finally:
        await database.dispose()


# --- the OpenAI-protocol stand-in --------------------------------------------------


@pytest.fixture
def standin() -> Iterator[Any]:
    from tests.support.openai_standin import run_standin

    with run_standin() as server:
        yield server


# --- settings and app --------------------------------------------------------------


def make_settings(tmp_path: Path, base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "data_dir": tmp_path / "data",
        "llm": {
            "backend": "openai",
            "base_url": base_url,
            "model": "standin",
            "first_token_timeout": 5,
            "idle_timeout": 5,
            "connect_timeout": 2,
        },
        "chat": {"flush_interval": 0.05, "generations_per_minute": 10_000},
        # Many tests sign up from the same address; the limits have their own tests.
        "security": {"signups_per_hour": 10_000, "login_attempts": 10_000},
        # Loaded on first use instead: a test app starts in a fraction of a second.
        "safety": {"warm_classifier": False},
        # Memory sends its own requests to the model after each reply; the memory tests
        # switch it on (tests/memory), the rest keep the stand-in's request log to the chat.
        "memory": {"enabled": False, "embedder": "fake"},
        # Replies are free unless a test is about Sparks (tests/credits).
        "sparks": {"enabled": False},
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def llm_base_url() -> str:
    """Where the openai backend points; chat tests override this with the stand-in's URL."""
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.fixture
def settings(tmp_path: Path, llm_base_url: str) -> Settings:
    return make_settings(tmp_path, llm_base_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def signup(
    http: httpx.AsyncClient, email: str = "ada@example.com", birthdate: str = "1990-04-01"
) -> dict[str, Any]:
    """Sign up and keep the CSRF header on the client for later unsafe requests."""
    response = await http.post(
        "/api/v1/auth/signup",
        json={"email": email, "password": PASSWORD, "birthdate": birthdate},
    )
    assert response.status_code == 201, response.text
    http.headers["X-CSRF-Token"] = http.cookies["afterdark_csrf"]
    return dict(response.json())


@pytest.fixture
async def user_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    await signup(client)
    return client


# --- a real server on loopback ----------------------------------------------------


class LiveServer:
    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(settings) as server:
        yield server


def live_signup(server: LiveServer, email: str = "live@example.com") -> httpx.Client:
    """A client of the live server signed up as ``email``, sending the CSRF header."""
    http = httpx.Client(base_url=server.url, timeout=30)
    response = http.post(
        "/api/v1/auth/signup",
        json={"email": email, "password": PASSWORD, "birthdate": "1985-03-03"},
    )
    assert response.status_code == 201, response.text
    http.headers["X-CSRF-Token"] = http.cookies["afterdark_csrf"]
    return http
