"""A ComfyUI stand-in speaking the real HTTP + WebSocket protocol, for the ``comfyui`` backend.

An aiohttp server on a loopback port with ComfyUI's routes: ``POST /upload/image``,
``POST /prompt`` (checked as ComfyUI checks it: every node has a class_type, links point at
nodes, a LoadImage names an uploaded file, there is an output node), ``GET /ws`` (a real
WebSocket; a prompt's events go to the socket of its ``client_id``), ``GET /history/<id>``,
``GET /view``, ``POST /queue`` (delete) and ``POST /interrupt``. Prompts run one at a time,
like ComfyUI's single worker, sending the events ComfyUI sends in the order it sends them,
with binary preview frames between progress steps. No model runs: a prompt "renders" the
scripted images, else the uploaded reference its LoadImage reads, else a plain PNG of the
latent's size. Steer it through the ``ComfyStandIn`` fields; it records what it was sent::

    python -m tests.support.comfyui_standin --port 8188 --step-delay 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import struct
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from PIL import Image

from tests.support.loopback import in_thread, serving, start_standin

SAMPLERS = frozenset({"KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced"})
OUTPUTS = frozenset({"SaveImage", "PreviewImage"})
LATENTS = frozenset({"EmptyLatentImage", "EmptySD3LatentImage"})
_PREVIEW_IMAGE = 1  # ComfyUI's BinaryEventTypes.PREVIEW_IMAGE
_PNG_FORMAT = 2
_Emit = Callable[[str, dict[str, Any]], Awaitable[None]]


def png(width: int = 8, height: int = 8, color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A plain PNG of one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


class _Interrupted(Exception):
    def __init__(self, node_id: str) -> None:
        super().__init__(node_id)
        self.node_id = node_id


@dataclass
class _Queued:
    prompt_id: str
    number: int
    graph: dict[str, Any]
    client_id: str


@dataclass
class ComfyStandIn:
    """The stand-in's behaviour and what it has seen; change fields at any time."""

    images: list[bytes] = field(default_factory=list)  # cycled per prompt; empty: see module
    steps: int | None = None  # progress steps per sampler; None: the sampler's own "steps"
    step_delay: float = 0.0
    node_error: str | None = None  # refuse each prompt: this detail on its first node
    execution_error: str | None = None  # fail each prompt at its sampler with this message
    hang: bool = False  # stall after the first sampler step until interrupted
    websocket: bool = True  # False: /ws answers 404, like a proxy without WebSocket support
    previews: bool = True  # send a binary preview frame after each step
    api_key: str | None = None  # when set, require "Authorization: Bearer <api_key>"
    uploads: dict[str, bytes] = field(default_factory=dict)  # the input folder
    upload_requests: list[dict[str, str]] = field(default_factory=list)
    prompts: list[dict[str, Any]] = field(default_factory=list)  # bodies of POST /prompt
    socket_ids: list[str] = field(default_factory=list)  # clientId of each WebSocket
    interrupts: list[Any] = field(default_factory=list)  # bodies of POST /interrupt
    deletes: list[str] = field(default_factory=list)  # prompt ids deleted from the queue
    headers: list[dict[str, str]] = field(default_factory=list)
    history: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, bytes] = field(default_factory=dict)  # the output folder
    running: str | None = None  # the prompt id being executed
    base_url: str = ""
    _sockets: dict[str, web.WebSocketResponse] = field(default_factory=dict, repr=False)
    _pending: list[_Queued] = field(default_factory=list, repr=False)
    _wake: asyncio.Event | None = field(default=None, repr=False)
    _interrupted: asyncio.Event | None = field(default=None, repr=False)
    _worker: asyncio.Task[None] | None = field(default=None, repr=False)
    _number: int = 0
    _saved: int = 0

    def app(self) -> web.Application:
        """The aiohttp application serving this stand-in."""
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._auth])
        app.router.add_post("/upload/image", self._upload)
        app.router.add_post("/prompt", self._prompt)
        app.router.add_get("/ws", self._socket)
        app.router.add_get("/history/{prompt_id}", self._history)
        app.router.add_get("/view", self._view)
        app.router.add_post("/queue", self._queue)
        app.router.add_post("/interrupt", self._interrupt)
        app.on_startup.append(self._start)
        app.on_shutdown.append(self._shutdown)
        return app

    # --- HTTP ---

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.headers.append(dict(request.headers))
        if self.api_key is not None and request.headers.get("Authorization") != (
            f"Bearer {self.api_key}"
        ):
            return web.Response(status=401, text="401: Unauthorized")
        response: web.StreamResponse = await handler(request)
        return response

    async def _upload(self, request: web.Request) -> web.Response:
        post = await request.post()
        image = post.get("image")
        if not isinstance(image, web.FileField) or not image.filename:
            return web.Response(status=400)
        data = image.file.read()
        overwrite = str(post.get("overwrite", "")) in ("true", "1")
        subfolder = str(post.get("subfolder", ""))
        name = image.filename
        self.upload_requests.append(
            {"name": name, "overwrite": str(post.get("overwrite")), "type": str(post.get("type"))}
        )
        stem, dot, suffix = name.rpartition(".")
        number = 1
        while not overwrite and self.uploads.get(_joined(subfolder, name), data) != data:
            name = f"{stem} ({number}){dot}{suffix}"  # ComfyUI keeps a different file
            number += 1
        self.uploads[_joined(subfolder, name)] = data
        return _json({"name": name, "subfolder": subfolder, "type": post.get("type") or "input"})

    async def _prompt(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.prompts.append(body)
        graph = body.get("prompt") if isinstance(body, dict) else None
        if not isinstance(graph, dict):
            return _json({"error": "no prompt", "node_errors": []}, status=400)
        problem = self._invalid(graph)
        if problem is not None:
            return _json(problem, status=400)
        node_errors = self._node_errors(graph)
        if node_errors:
            error = _error("prompt_outputs_failed_validation", "Prompt outputs failed validation")
            return _json({"error": error, "node_errors": node_errors}, status=400)
        queued = _Queued(str(uuid.uuid4()), self._number, graph, str(body.get("client_id", "")))
        self._number += 1
        self._pending.append(queued)
        if self._wake is not None:
            self._wake.set()
        return _json({"prompt_id": queued.prompt_id, "number": queued.number, "node_errors": {}})

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if not self.websocket:
            return web.Response(status=404)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sid = request.query.get("clientId") or uuid.uuid4().hex
        self.socket_ids.append(sid)
        self._sockets[sid] = ws
        try:
            await self._send(sid, "status", {"status": self._queue_info(), "sid": sid})
            async for _ in ws:
                pass
        finally:
            if self._sockets.get(sid) is ws:
                del self._sockets[sid]
        return ws

    async def _history(self, request: web.Request) -> web.Response:
        prompt_id = request.match_info["prompt_id"]
        entry = self.history.get(prompt_id)
        return _json({prompt_id: entry} if entry is not None else {})

    async def _view(self, request: web.Request) -> web.Response:
        name = _joined(request.query.get("subfolder", ""), request.query.get("filename", ""))
        folder = self.uploads if request.query.get("type") == "input" else self.outputs
        data = folder.get(name)
        if data is None:
            return web.Response(status=404)
        media_type = "image/jpeg" if name.endswith(".jpg") else "image/png"
        return web.Response(body=data, content_type=media_type)

    async def _queue(self, request: web.Request) -> web.Response:
        body = await request.json()
        for prompt_id in body.get("delete", []):
            self.deletes.append(prompt_id)
            self._pending = [q for q in self._pending if q.prompt_id != prompt_id]
        if body.get("clear"):
            self._pending.clear()
        return web.Response(status=200)

    async def _interrupt(self, request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else None
        except ValueError:
            body = None
        self.interrupts.append(body)
        wanted = body.get("prompt_id") if isinstance(body, dict) else None
        # Like ComfyUI since mid-2025: with a prompt id, stop only that prompt.
        if self.running is not None and wanted in (None, self.running) and self._interrupted:
            self._interrupted.set()
        return web.Response(status=200)

    # --- validation, as ComfyUI's execution.validate_prompt reports it ---

    def _invalid(self, graph: dict[str, Any]) -> dict[str, Any] | None:
        for node_id, node in graph.items():
            if not isinstance(node, dict) or "class_type" not in node:
                message = "Cannot execute because a node is missing the class_type property."
                error = _error("invalid_prompt", message, f"Node ID '#{node_id}'")
                return {"error": error, "node_errors": {}}
        if not any(node["class_type"] in OUTPUTS for node in graph.values()):
            return {
                "error": _error("prompt_no_outputs", "Prompt has no outputs"),
                "node_errors": {},
            }
        return None

    def _node_errors(self, graph: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[dict[str, Any]]] = {}
        for node_id, node in graph.items():
            for key, value in node.get("inputs", {}).items():
                if isinstance(value, list) and str(value[0]) not in graph:
                    errors.setdefault(node_id, []).append(
                        _error("required_input_missing", "Required input is missing", key)
                    )
            image = node.get("inputs", {}).get("image")
            if node["class_type"] == "LoadImage" and image not in self.uploads:
                detail = f"image - Invalid image file: {image}"
                errors.setdefault(node_id, []).append(
                    _error("custom_validation_failed", "Custom validation failed for node", detail)
                )
        if self.node_error is not None:
            first = next(iter(graph))
            errors.setdefault(first, []).append(
                _error("value_not_in_list", "Value not in list", self.node_error)
            )
        outputs = [n for n, node in graph.items() if node["class_type"] in OUTPUTS]
        return {
            node_id: {
                "errors": items,
                "dependent_outputs": outputs,
                "class_type": graph[node_id]["class_type"],
            }
            for node_id, items in errors.items()
        }

    # --- the worker ---

    async def _start(self, app: web.Application) -> None:
        self._wake = asyncio.Event()
        self._interrupted = asyncio.Event()
        self._worker = asyncio.create_task(self._work())

    async def _shutdown(self, app: web.Application) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        for ws in list(self._sockets.values()):
            await ws.close()

    async def _work(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._execute(self._pending.pop(0))

    async def _execute(self, queued: _Queued) -> None:
        assert self._interrupted is not None
        pid, graph, sid = queued.prompt_id, queued.graph, queued.client_id
        self.running = pid
        self._interrupted.clear()
        messages: list[list[Any]] = []

        async def event(kind: str, data: dict[str, Any], record: bool = False) -> None:
            data = {**data, "prompt_id": pid}
            if record:
                messages.append([kind, {**data, "timestamp": _now()}])
            await self._send(sid, kind, data)

        outputs: dict[str, Any] = {}
        executed: list[str] = []
        try:
            await event("execution_start", {"timestamp": _now()}, record=True)
            await event("execution_cached", {"nodes": [], "timestamp": _now()}, record=True)
            for node_id in _order(graph):
                node = graph[node_id]
                await event("executing", {"node": node_id, "display_node": node_id})
                if node["class_type"] in SAMPLERS:
                    await self._sample(sid, node_id, node, event)
                    if self.execution_error is not None:
                        data = _failure(node_id, node, executed, self.execution_error)
                        await event("execution_error", data, record=True)
                        self._finish(pid, graph, outputs, messages, "error")
                        await event("executing", {"node": None})
                        return
                if node["class_type"] in OUTPUTS:
                    outputs[node_id] = self._save(graph, node)
                    await event(
                        "executed",
                        {"node": node_id, "display_node": node_id, "output": outputs[node_id]},
                    )
                executed.append(node_id)
        except _Interrupted as stop:
            data = {
                "node_id": stop.node_id,
                "node_type": graph[stop.node_id]["class_type"],
                "executed": executed,
            }
            await event("execution_interrupted", data, record=True)
            self._finish(pid, graph, outputs, messages, "error")
            await event("executing", {"node": None})
            return
        finally:
            self.running = None
        await event("execution_success", {"timestamp": _now()}, record=True)
        await asyncio.sleep(0)  # ComfyUI writes the history after execution_success
        self._finish(pid, graph, outputs, messages, "success")
        await event("executing", {"node": None})

    async def _sample(self, sid: str, node_id: str, node: dict[str, Any], event: _Emit) -> None:
        assert self._interrupted is not None
        own = node["inputs"].get("steps")
        total = self.steps if self.steps is not None else own if isinstance(own, int) else 4
        preview = struct.pack(">II", _PREVIEW_IMAGE, _PNG_FORMAT) + png(4, 4)
        for step in range(1, total + 1):
            if self.step_delay:
                await asyncio.sleep(self.step_delay)
            if self._interrupted.is_set():
                raise _Interrupted(node_id)
            await event("progress", {"value": step, "max": total, "node": node_id})
            if self.previews:
                await self._send_bytes(sid, preview)
            if self.hang:
                await self._interrupted.wait()
                raise _Interrupted(node_id)

    def _save(self, graph: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
        data = self._picture(graph)
        self._saved += 1
        extension = "jpg" if data.startswith(b"\xff\xd8") else "png"
        prefix = str(node["inputs"].get("filename_prefix", "ComfyUI"))
        kind = "output" if node["class_type"] == "SaveImage" else "temp"
        filename = f"{prefix}_{self._saved:05}_.{extension}"
        self.outputs[filename] = data
        return {"images": [{"filename": filename, "subfolder": "", "type": kind}]}

    def _picture(self, graph: dict[str, Any]) -> bytes:
        if self.images:
            return self.images[self._saved % len(self.images)]
        for node in graph.values():
            image = node["inputs"].get("image")
            if node["class_type"] == "LoadImage" and image in self.uploads:
                return self.uploads[image]
        width, height, seed = 64, 64, 0
        for node in graph.values():
            inputs = node["inputs"]
            if node["class_type"] in LATENTS:
                width, height = int(inputs["width"]), int(inputs["height"])
            for key in ("seed", "noise_seed"):
                if isinstance(inputs.get(key), int):
                    seed = inputs[key]
        return png(width, height, (seed % 256, seed // 256 % 256, 128))

    def _finish(
        self,
        pid: str,
        graph: dict[str, Any],
        outputs: dict[str, Any],
        messages: list[list[Any]],
        status: str,
    ) -> None:
        self.history[pid] = {
            "prompt": [0, pid, graph, {}, [n for n in graph if graph[n]["class_type"] in OUTPUTS]],
            "outputs": outputs,
            "status": {
                "status_str": status,
                "completed": status == "success",
                "messages": messages,
            },
            "meta": {},
        }

    # --- the socket ---

    def _queue_info(self) -> dict[str, Any]:
        remaining = len(self._pending) + (self.running is not None)
        return {"exec_info": {"queue_remaining": remaining}}

    async def _send(self, sid: str, kind: str, data: dict[str, Any]) -> None:
        ws = self._sockets.get(sid)
        if ws is not None and not ws.closed:
            with contextlib.suppress(ConnectionError):
                await ws.send_str(orjson.dumps({"type": kind, "data": data}).decode())

    async def _send_bytes(self, sid: str, data: bytes) -> None:
        ws = self._sockets.get(sid)
        if ws is not None and not ws.closed:
            with contextlib.suppress(ConnectionError):
                await ws.send_bytes(data)


def _order(graph: dict[str, Any]) -> list[str]:
    """Node ids with every node after the nodes it reads (ComfyUI's execution order)."""
    done: list[str] = []

    def visit(node_id: str) -> None:
        if node_id in done:
            return
        for value in graph[node_id]["inputs"].values():
            if isinstance(value, list) and str(value[0]) in graph:
                visit(str(value[0]))
        done.append(node_id)

    for node_id in graph:
        visit(node_id)
    return done


def _failure(
    node_id: str, node: dict[str, Any], executed: list[str], message: str
) -> dict[str, Any]:
    return {
        "node_id": node_id,
        "node_type": node["class_type"],
        "executed": executed,
        "exception_message": message,
        "exception_type": "Exception",
        "traceback": ["Traceback (most recent call last):\n", f"Exception: {message}\n"],
        "current_inputs": {},
        "current_outputs": {},
    }


def _error(kind: str, message: str, details: str = "") -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": {}}


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _joined(subfolder: str, name: str) -> str:
    return f"{subfolder}/{name}" if subfolder else name


def _now() -> int:
    return int(time.time() * 1000)


def serve_comfyui_standin(
    server: ComfyStandIn | None = None, **options: Any
) -> AbstractAsyncContextManager[ComfyStandIn]:
    """Run a stand-in on a free loopback port in the running event loop."""
    return serving(server or ComfyStandIn(**options))


@contextmanager
def run_comfyui_standin(
    server: ComfyStandIn | None = None, **options: Any
) -> Iterator[ComfyStandIn]:
    """Run a stand-in on a free loopback port in a background thread with its own loop."""
    server = server or ComfyStandIn(**options)
    with in_thread(lambda: serve_comfyui_standin(server)):
        yield server


def main(argv: list[str] | None = None) -> None:
    """Serve a stand-in until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8188)
    parser.add_argument("--step-delay", type=float, default=0.0, help="seconds per step")
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args(argv)
    server = ComfyStandIn(step_delay=args.step_delay, api_key=args.api_key)

    async def serve() -> None:
        await start_standin(server, "", args.host, args.port)
        print(f"ComfyUI stand-in at {server.base_url}", flush=True)  # noqa: T201
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
