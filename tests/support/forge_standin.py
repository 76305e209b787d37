"""A loopback stand-in for a Stable Diffusion WebUI Forge / AUTOMATIC1111 server.

It speaks the parts of the real API the ``forge`` backend uses: ``POST /sdapi/v1/txt2img``
(answering once the "render" is done with base64 PNGs, ControlNet detect maps appended
after the renders as sd-webui-controlnet does), ``GET /sdapi/v1/progress`` (the sampling
step of the running job) and ``POST /sdapi/v1/interrupt`` (stops the job; txt2img still
answers with what it had, as A1111 does). Like A1111 it runs one job at a time. Errors are
A1111's ``{"error", "detail", "body", "errors"}`` bodies; a malformed body gets FastAPI's
422 ``{"detail": [...]}``.

Tests steer it through the ``ForgeStandIn`` object and read what it recorded.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from PIL import Image

from tests.support.loopback import in_thread, serving

# Field -> accepted JSON types, checked the way A1111's pydantic request model would.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "prompt": (str,),
    "negative_prompt": (str,),
    "seed": (int,),
    "width": (int,),
    "height": (int,),
    "steps": (int,),
    "cfg_scale": (int, float),
    "sampler_name": (str,),
    "scheduler": (str,),
    "batch_size": (int,),
    "n_iter": (int,),
    "send_images": (bool,),
    "save_images": (bool,),
    "override_settings": (dict,),
    "alwayson_scripts": (dict,),
}


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A plain PNG of that size and colour."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


DETECT_MAP = png(24, 24, (0, 0, 0))
"""What the stand-in appends for each ControlNet unit: small and black, unlike a render."""


@dataclass
class ForgeStandIn:
    """The stand-in server's behaviour and what it has seen; change fields at any time."""

    # Renders to answer with, cycled across calls; None: the ControlNet unit's image when
    # there is one, else a generated PNG of the requested size.
    images: list[bytes] | None = None
    step_delay: float = 0.0  # seconds per sampling step
    hang: bool = False  # after sampling, wait until interrupted
    fail_status: int | None = None  # answer txt2img with this status and an A1111 error body
    fail_detail: str = "the stand-in was told to fail"
    # None: detect maps as each unit's save_detected_map says (default true, as the real
    # extension); True: always (an extension too old to know the field); False: never.
    detect_maps: bool | None = None
    send_images: bool = True  # False: answer with an empty image list
    authorization: str | None = None  # when set, the exact Authorization header required
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    progress_queries: list[dict[str, str]] = field(default_factory=list)
    interrupts: int = 0
    completed: int = 0  # txt2img jobs that ran to their end
    base_url: str = ""  # http://127.0.0.1:<port> once started
    # The job state /progress reports (A1111's shared.state).
    job_count: int = 0
    sampling_step: int = 0
    sampling_steps: int = 0
    interrupted: bool = False
    _cycle: Iterator[int] = field(default_factory=itertools.count, repr=False)
    _queue: asyncio.Lock | None = field(default=None, repr=False)

    def app(self) -> web.Application:
        """The aiohttp application serving this stand-in."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/sdapi/v1/txt2img", self._txt2img)
        app.router.add_get("/sdapi/v1/progress", self._progress)
        app.router.add_post("/sdapi/v1/interrupt", self._interrupt)
        return app

    def _denied(self, request: web.Request) -> web.Response | None:
        if self.authorization is None:
            return None
        if request.headers.get("Authorization") == self.authorization:
            return None
        return web.json_response({"detail": "Incorrect username or password"}, status=401)

    async def _txt2img(self, request: web.Request) -> web.Response:
        self.headers.append(dict(request.headers))
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _validation_error(["body"], "Expecting value", "value_error.jsondecode")
        self.requests.append(body)
        denied = self._denied(request)
        if denied is not None:
            return denied
        for name, types in _FIELD_TYPES.items():
            value = body.get(name)
            if value is not None and (
                not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
            ):
                return _validation_error(["body", name], "value is not valid", "type_error")
        if self.fail_status is not None:
            return _a1111_error(self.fail_status, self.fail_detail)
        if self._queue is None:
            self._queue = asyncio.Lock()
        async with self._queue:  # A1111's queue_lock: one job at a time
            await self._sample(int(body.get("steps") or 20))
        count = int(body.get("batch_size") or 1) * int(body.get("n_iter") or 1)
        units = _enabled_units(body)
        images = [base64.b64encode(self._render(body, units)).decode() for _ in range(count)]
        for unit in units:
            wanted = unit.get("save_detected_map", True)
            if self.detect_maps or (self.detect_maps is None and wanted):
                images.append(base64.b64encode(DETECT_MAP).decode())
        if not self.send_images:
            images = []
        info = {"prompt": body.get("prompt", ""), "seed": body.get("seed", -1)}
        data = {"images": images, "parameters": body, "info": orjson.dumps(info).decode()}
        return web.Response(body=orjson.dumps(data), content_type="application/json")

    async def _sample(self, steps: int) -> None:
        self.interrupted = False
        self.job_count, self.sampling_step, self.sampling_steps = 1, 0, steps
        try:
            for step in range(1, steps + 1):
                if self.interrupted:
                    return
                if self.step_delay:
                    await asyncio.sleep(self.step_delay)
                self.sampling_step = step
            while self.hang and not self.interrupted:
                await asyncio.sleep(0.01)
            if not self.interrupted:
                self.completed += 1
        finally:
            self.job_count = 0

    def _render(self, body: dict[str, Any], units: list[dict[str, Any]]) -> bytes:
        if self.images:
            return self.images[next(self._cycle) % len(self.images)]
        if units and isinstance(units[0].get("image"), str):
            return base64.b64decode(units[0]["image"])
        return png(int(body.get("width") or 512), int(body.get("height") or 512))

    async def _progress(self, request: web.Request) -> web.Response:
        self.progress_queries.append(dict(request.query))
        denied = self._denied(request)
        if denied is not None:
            return denied
        busy = self.job_count > 0
        data = {
            "progress": self.sampling_step / self.sampling_steps if busy else 0.0,
            "eta_relative": 0.0,
            "state": {
                "skipped": False,
                "interrupted": self.interrupted,
                "stopping_generation": False,
                "job": "txt2img" if busy else "",
                "job_count": self.job_count,
                "job_timestamp": "20260101000000",
                "job_no": 0,
                "sampling_step": self.sampling_step,
                "sampling_steps": self.sampling_steps,
            },
            "current_image": None,
            "textinfo": None,
        }
        return web.Response(body=orjson.dumps(data), content_type="application/json")

    async def _interrupt(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        self.interrupts += 1
        self.interrupted = True
        return web.json_response({})


def _enabled_units(body: dict[str, Any]) -> list[dict[str, Any]]:
    scripts = body.get("alwayson_scripts") or {}
    args = (scripts.get("controlnet") or {}).get("args") or []
    return [unit for unit in args if isinstance(unit, dict) and unit.get("enabled")]


def _a1111_error(status: int, detail: str) -> web.Response:
    data = {"error": "HTTPException", "detail": detail, "body": "", "errors": f"{status}: {detail}"}
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def _validation_error(loc: list[str], msg: str, kind: str) -> web.Response:
    data = {"detail": [{"loc": loc, "msg": msg, "type": kind}]}
    return web.Response(status=422, body=orjson.dumps(data), content_type="application/json")


def serve_forge_standin(
    server: ForgeStandIn | None = None, **options: Any
) -> AbstractAsyncContextManager[ForgeStandIn]:
    """Run a stand-in on a free loopback port in the running event loop."""
    return serving(server or ForgeStandIn(**options))


@contextmanager
def run_forge_standin(server: ForgeStandIn | None = None, **options: Any) -> Iterator[ForgeStandIn]:
    """Run a stand-in on a free loopback port in a background thread with its own loop."""
    server = server or ForgeStandIn(**options)
    with in_thread(lambda: serve_forge_standin(server)):
        yield server
