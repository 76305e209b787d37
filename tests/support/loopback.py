"""A loopback stand-in server run in a background thread with its own event loop.

The stand-ins (OpenAI, Stripe, ComfyUI, Forge) each have an async ``serve_*`` context
manager for tests that share their event loop; ``in_thread`` runs one for synchronous tests,
benchmarks and a live app server in another thread. The stand-in's request log and knobs are
read and changed from the test's thread; each is a plain list, dict or value, changed whole
by one handler at a time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, Protocol, TypeVar

from aiohttp import web


@contextmanager
def in_thread(serve: Callable[[], AbstractAsyncContextManager[Any]]) -> Iterator[None]:
    """Enter ``serve()`` in a new thread and loop; leave it when the block ends."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []
    stop = asyncio.Event()

    async def main() -> None:
        try:
            async with serve():
                started.set()
                await stop.wait()
        except BaseException as exc:
            failure.append(exc)
            started.set()
            raise

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the stand-in did not start in 10 s")
    if failure:
        thread.join(5)
        loop.close()
        raise failure[0]
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


async def start_app(
    app: web.Application, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host``:``port`` (0: a free one) in the running loop; the runner to
    clean up, and the port it listens on."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_address=True).start()
    return runner, int(runner.addresses[0][1])


class StandIn(Protocol):
    """What every stand-in has: its aiohttp app, and where it listens once started."""

    base_url: str

    def app(self) -> web.Application: ...


S = TypeVar("S", bound=StandIn)


async def start_standin(
    server: StandIn, suffix: str = "", host: str = "127.0.0.1", port: int = 0
) -> web.AppRunner:
    """Serve the stand-in and set its ``base_url`` (``suffix``: the API's path, e.g. /v1)."""
    runner, bound = await start_app(server.app(), host, port)
    server.base_url = f"http://{host}:{bound}{suffix}"
    return runner


@asynccontextmanager
async def serving(server: S, suffix: str = "") -> AsyncIterator[S]:
    """The stand-in on a free loopback port in the running loop, until the block ends."""
    runner = await start_standin(server, suffix)
    try:
        yield server
    finally:
        await runner.cleanup()
