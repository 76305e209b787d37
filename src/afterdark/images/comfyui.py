"""The ``comfyui`` backend: queues a workflow on a ComfyUI server and fetches the picture.

It speaks ComfyUI's own HTTP and WebSocket API (tested against the protocol stand-in in
``tests/support``), in this order so that no event of ours can be missed:

1. ``GET /ws?clientId=<uuid>``: the socket ComfyUI sends this client's events to;
2. ``POST /upload/image``: the reference face, when the workflow reads one, under a name
   made from its SHA-256, so an upload is idempotent and done once per backend (again only
   when ComfyUI no longer has it: a restarted server with a fresh input folder);
3. ``POST /prompt`` with the filled graph and the same client id;
4. ``progress`` events drive the progress callback; ``executing`` with no node (or
   ``execution_success``) ends the wait, ``execution_error`` and ``execution_interrupted``
   fail it;
5. ``GET /history/<prompt id>`` names the saved picture and ``GET /view`` fetches it.

A premium request (``RenderRequest.premium``) queues ``premium_workflow`` instead of
``workflow``; everything else is the same.

A server behind a proxy that refuses WebSocket upgrades still works: the backend then polls
``/history/<prompt id>`` (progress then only says "queued"). Stopping a render (``interrupt``,
the ``timeout`` running out, the caller cancelling) deletes the prompt from the queue and
posts ``/interrupt`` with its id; ComfyUI since mid-2025 stops only that prompt, older
servers whatever is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import orjson

from afterdark.images.base import (
    ImageCancelledError,
    ImageError,
    ImageResponseError,
    ImageTimeoutError,
    ImageUnavailableError,
    Progress,
    ProgressCallback,
    Rendered,
    RenderRequest,
)
from afterdark.images.settings import ImagesSettings
from afterdark.images.workflow import Graph, Workflow, WorkflowError, load
from afterdark.kit.httperrors import os_reason as _os_reason

log = logging.getLogger(__name__)
T = TypeVar("T")

_DECODERS = frozenset({"VAEDecode", "VAEDecodeTiled"})
_STOP_SECONDS = 5.0
_FIRST_HISTORY_RETRY = 0.05
_MAX_TEXT = 300
_MAX_SOCKET_MESSAGE = 64 * 1024 * 1024  # previews arrive as binary frames
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png", ".png"), (b"\xff\xd8\xff", "image/jpeg", ".jpg"))


@dataclass(eq=False)
class _Job:
    """One render in flight: what ``interrupt`` needs to find and stop it."""

    client_id: str
    prompt_id: str | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    stopped: bool = False


class ComfyUIBackend:
    """Renders with a ComfyUI server and the configured workflow."""

    name = "comfyui"
    poll_interval = 0.5  # seconds between /history polls when there is no WebSocket

    def __init__(self, settings: ImagesSettings) -> None:
        self.base_url = settings.base_url.rstrip("/")
        self._timeout = settings.timeout
        self._headers: dict[str, str] = {}
        if settings.api_key is not None and settings.api_key.get_secret_value():
            self._headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        # A bad workflow setting turns pictures into a clear error, not a failed start-up.
        self._workflow: Workflow | WorkflowError
        try:
            self._workflow = load(settings.workflow, settings.workflows_dir)
        except WorkflowError as exc:
            log.warning("%s", exc)
            self._workflow = exc
        self.identity = "" if isinstance(self._workflow, WorkflowError) else self._workflow.identity
        # The premium image model's workflow, when one is set.
        self._premium: Workflow | WorkflowError | None = None
        if settings.premium_workflow.strip():
            try:
                self._premium = load(settings.premium_workflow.strip(), settings.workflows_dir)
            except WorkflowError as exc:
                log.warning("premium: %s", exc)
                self._premium = exc
        self.premium_identity = (
            self._premium.identity if isinstance(self._premium, Workflow) else self.identity
        )
        self._uploaded: dict[str, str] = {}  # sha256 prefix -> the name LoadImage reads
        self._jobs: set[_Job] = set()
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    async def render(
        self, request: RenderRequest, progress: ProgressCallback | None = None
    ) -> Rendered:
        """One picture. Raises ``ImageError``; ``progress`` is awaited as steps complete."""
        workflow = self._workflow_for(request)
        job = _Job(uuid.uuid4().hex)
        self._jobs.add(job)
        try:
            async with asyncio.timeout(self._timeout):
                data, media_type = await self._render(job, workflow, request, progress)
        except aiohttp.ClientConnectorError as exc:
            raise ImageUnavailableError(
                f"Could not reach ComfyUI at {self.base_url}: {_os_reason(exc.os_error)}."
            ) from None
        except aiohttp.ClientError as exc:
            raise ImageUnavailableError(
                f"The connection to ComfyUI at {self.base_url} failed: {exc or type(exc).__name__}."
            ) from None
        except TimeoutError:
            await self._stop(job)
            raise ImageTimeoutError(
                f"ComfyUI at {self.base_url} did not finish the picture within "
                f"{self._timeout:g} s; it was asked to stop."
            ) from None
        except asyncio.CancelledError:
            await self._stop(job)
            raise
        finally:
            self._jobs.discard(job)
        return Rendered(data=data, media_type=media_type, seed=request.seed)

    def _workflow_for(self, request: RenderRequest) -> Workflow:
        """The premium workflow for a premium request, else the usual one."""
        if request.premium:
            if self._premium is None:
                raise ImageUnavailableError(
                    "No premium image model is set up: set AFTERDARK_IMAGES__PREMIUM_WORKFLOW."
                )
            workflow = self._premium
        else:
            workflow = self._workflow
        if isinstance(workflow, WorkflowError):
            raise workflow
        return workflow

    async def interrupt(self) -> None:
        """Stop the renders in progress; each awaiting ``render`` raises ``ImageCancelledError``."""
        jobs = list(self._jobs)
        for job in jobs:
            job.cancelled.set()  # a job not queued yet stops itself once it is
        await self._stop(*jobs)

    async def close(self) -> None:
        """Close the HTTP session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _render(
        self,
        job: _Job,
        workflow: Workflow,
        request: RenderRequest,
        progress: ProgressCallback | None,
    ) -> tuple[bytes, str]:
        session = self._client()
        events = await self._open_socket(session, job.client_id)
        try:
            prompt_id, graph = await self._queue(session, workflow, request, job.client_id)
            job.prompt_id = prompt_id
            if job.cancelled.is_set():
                await self._stop(job)  # interrupted while uploading or queueing
            if progress is not None:
                await progress(Progress(0, 0, "queued"))
            if events is not None:
                await self._unless_cancelled(job, self._follow(events, job, graph, progress))
            entry = await self._unless_cancelled(job, self._history(prompt_id, events is None))
        finally:
            if events is not None:
                await events.close()
        return await self._view(session, _pick_image(entry, graph))

    async def _open_socket(
        self, session: aiohttp.ClientSession, client_id: str
    ) -> aiohttp.ClientWebSocketResponse | None:
        try:
            return await session.ws_connect(
                f"{self.base_url}/ws",
                params={"clientId": client_id},
                max_msg_size=_MAX_SOCKET_MESSAGE,
            )
        except aiohttp.WSServerHandshakeError as exc:
            log.info(
                "ComfyUI at %s refused a WebSocket (%s); polling /history instead.",
                self.base_url,
                exc.status,
            )
            return None

    async def _queue(
        self,
        session: aiohttp.ClientSession,
        workflow: Workflow,
        request: RenderRequest,
        client_id: str,
    ) -> tuple[str, Graph]:
        """Upload the reference if the workflow reads it, fill the graph and queue it."""
        reference = None
        if request.reference is not None and workflow.uses_reference:
            reference = await self._upload(session, request.reference)
        graph = workflow.fill(request, reference)
        status, body = await self._call(
            session, "POST", "/prompt", json={"prompt": graph, "client_id": client_id}
        )
        if status == 400 and request.reference is not None and _refuses(body, graph, reference):
            # ComfyUI lost our earlier upload (a restart with a fresh input folder).
            reference = await self._upload(session, request.reference, again=True)
            graph = workflow.fill(request, reference)
            status, body = await self._call(
                session, "POST", "/prompt", json={"prompt": graph, "client_id": client_id}
            )
        if status == 400:
            raise _prompt_error(body)
        if status > 400:
            raise self._status_error(status, "POST", "/prompt", body)
        prompt_id = body.get("prompt_id") if isinstance(body, dict) else None
        if not isinstance(prompt_id, str) or not prompt_id:
            raise ImageResponseError("ComfyUI accepted the workflow but sent no prompt id.")
        return prompt_id, graph

    async def _upload(
        self, session: aiohttp.ClientSession, data: bytes, *, again: bool = False
    ) -> str:
        digest = hashlib.sha256(data).hexdigest()[:16]
        if not again and digest in self._uploaded:
            return self._uploaded[digest]
        media_type, extension = _sniff(data) or ("image/png", ".png")
        form = aiohttp.FormData()
        form.add_field(
            "image", data, filename=f"afterdark-{digest}{extension}", content_type=media_type
        )
        form.add_field("overwrite", "true")
        form.add_field("type", "input")
        body = await self._request(session, "POST", "/upload/image", data=form)
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise ImageResponseError("ComfyUI took the reference face but did not name it.")
        subfolder = body.get("subfolder") or ""
        self._uploaded[digest] = f"{subfolder}/{name}" if subfolder else name
        return self._uploaded[digest]

    async def _follow(
        self,
        events: aiohttp.ClientWebSocketResponse,
        job: _Job,
        graph: Graph,
        progress: ProgressCallback | None,
    ) -> None:
        """Read our prompt's events until it ends; raise if it failed."""
        last = Progress(0, 0, "queued")
        async for message in events:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue  # binary frames are previews
            kind, data = _event(message.data)
            if data.get("prompt_id", job.prompt_id) != job.prompt_id:
                continue
            if kind == "progress":
                last = Progress(_int(data.get("value")), _int(data.get("max")), "rendering")
                if progress is not None:
                    await progress(last)
            elif kind == "executing" and data.get("node") is None:
                return
            elif kind == "executing":
                decoding = graph.get(str(data["node"]), {}).get("class_type") in _DECODERS
                if decoding and progress is not None:
                    await progress(Progress(last.step, last.total, "decoding"))
            elif kind == "execution_success":
                return
            elif kind == "execution_error":
                raise ImageResponseError(_execution_error(data))
            elif kind == "execution_interrupted":
                raise ImageCancelledError("The picture was stopped on the ComfyUI server.")
        log.info("ComfyUI's WebSocket closed mid-render; polling /history instead.")

    async def _history(self, prompt_id: str, polling: bool) -> dict[str, Any]:
        """The prompt's history entry, polled until ComfyUI has written it."""
        session = self._client()
        delay = self.poll_interval if polling else _FIRST_HISTORY_RETRY
        while True:
            body = await self._request(session, "GET", f"/history/{prompt_id}")
            entry = body.get(prompt_id) if isinstance(body, dict) else None
            if isinstance(entry, dict):
                status = entry.get("status")
                status = status if isinstance(status, dict) else {}
                if status.get("status_str") == "error":
                    raise _history_error(status.get("messages"))
                if status.get("completed", True):
                    return entry
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.poll_interval)

    async def _view(
        self, session: aiohttp.ClientSession, image: dict[str, Any]
    ) -> tuple[bytes, str]:
        params = {
            "filename": str(image["filename"]),
            "subfolder": str(image.get("subfolder") or ""),
            "type": str(image.get("type") or "output"),
        }
        async with session.get(f"{self.base_url}/view", params=params) as response:
            data = await response.read()
            if response.status != 200:
                raise ImageResponseError(
                    f"ComfyUI could not send the picture {params['filename']} ({response.status})."
                )
            declared = response.content_type
        sniffed = _sniff(data)
        if sniffed is not None:
            return data, sniffed[0]
        if declared.startswith("image/"):
            return data, declared
        raise ImageResponseError("ComfyUI sent something that is not a picture.")

    async def _unless_cancelled(self, job: _Job, work: Coroutine[Any, Any, T]) -> T:
        """Await ``work``, or raise ``ImageCancelledError`` as soon as ``interrupt`` is called."""
        task = asyncio.ensure_future(work)
        cancelled = asyncio.ensure_future(job.cancelled.wait())
        try:
            await asyncio.wait({task, cancelled}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cancelled.cancel()
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(task, cancelled, return_exceptions=True)
        if task.cancelled():
            raise ImageCancelledError("The picture was cancelled.")
        return task.result()

    async def _stop(self, *jobs: _Job) -> None:
        """Take the prompts off the queue, then stop the running one; failures are logged."""
        ids = [job.prompt_id for job in jobs if job.prompt_id is not None and not job.stopped]
        for job in jobs:
            job.stopped = job.stopped or job.prompt_id is not None
        if not ids:
            return
        session = self._client()
        try:
            async with asyncio.timeout(_STOP_SECONDS):
                # Deleting every waiting one first keeps the worker from starting one of them.
                await self._request(session, "POST", "/queue", json={"delete": ids})
                for prompt_id in ids:
                    await self._request(
                        session, "POST", "/interrupt", json={"prompt_id": prompt_id}
                    )
        except (ImageError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("Could not stop ComfyUI prompts %s at %s: %s", ids, self.base_url, exc)

    async def _call(
        self, session: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
    ) -> tuple[int, Any]:
        """Status and decoded body (JSON, else text) of one request."""
        async with session.request(method, f"{self.base_url}{path}", **kwargs) as response:
            raw = await response.read()
            status = response.status
        try:
            return status, orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return status, raw.decode(errors="replace").strip()

    async def _request(
        self, session: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
    ) -> Any:
        status, body = await self._call(session, method, path, **kwargs)
        if status >= 400:
            raise self._status_error(status, method, path, body)
        return body

    def _status_error(self, status: int, method: str, path: str, body: Any) -> ImageResponseError:
        return ImageResponseError(
            f"ComfyUI at {self.base_url} answered {status} to {method} {path}: "
            f"{_clip(str(body or 'no reason'))}"
        )

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        # A session belongs to one event loop; tests may run one backend on several.
        if session is None or session.closed or self._session_loop is not loop:
            session = aiohttp.ClientSession(
                headers=self._headers, timeout=aiohttp.ClientTimeout(total=None)
            )
            self._session, self._session_loop = session, loop
        return session


def _event(text: str) -> tuple[str, dict[str, Any]]:
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError:
        return "", {}
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        return "", {}
    return str(event.get("type")), event["data"]


def _pick_image(entry: dict[str, Any], graph: Graph) -> dict[str, Any]:
    """The first picture a SaveImage node saved, else the first picture of any kind."""
    found: list[tuple[tuple[bool, bool], dict[str, Any]]] = []
    outputs = entry.get("outputs")
    for node_id, output in (outputs if isinstance(outputs, dict) else {}).items():
        images = output.get("images") if isinstance(output, dict) else None
        for image in images if isinstance(images, list) else []:
            if isinstance(image, dict) and isinstance(image.get("filename"), str):
                saved = graph.get(node_id, {}).get("class_type") == "SaveImage"
                found.append(((not saved, image.get("type") != "output"), image))
    if not found:
        raise ImageResponseError(
            "ComfyUI ran the workflow but it saved no picture; it should end in a SaveImage node."
        )
    return min(found, key=lambda item: item[0])[1]


def _refuses(body: Any, graph: Graph, reference: str | None) -> bool:
    """Whether ComfyUI refused the prompt because a node could not find the reference."""
    errors = body.get("node_errors") if isinstance(body, dict) else None
    return reference is not None and any(
        reference in graph.get(str(node_id), {}).get("inputs", {}).values()
        for node_id in (errors if isinstance(errors, dict) else {})
    )


def _prompt_error(body: Any) -> ImageResponseError:
    parts: list[str] = []
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            parts.append(_detail(error.get("message"), error.get("details")))
        elif error:
            parts.append(str(error))
        node_errors = body.get("node_errors")
        for node_id, info in (node_errors if isinstance(node_errors, dict) else {}).items():
            info = info if isinstance(info, dict) else {}
            for item in info.get("errors") or []:
                if isinstance(item, dict):
                    detail = _detail(item.get("message"), item.get("details"))
                    parts.append(f"{info.get('class_type', 'node')} (node {node_id}): {detail}")
    elif body:
        parts.append(_clip(str(body)))
    message = "; ".join(p for p in parts if p) or "no reason given"
    return ImageResponseError(f"ComfyUI refused the workflow: {message}")


def _execution_error(data: dict[str, Any]) -> str:
    where = f"{data.get('node_type') or 'a node'} (node {data.get('node_id')})"
    reason = _clip(str(data.get("exception_message") or data.get("exception_type") or "")).strip()
    return f"ComfyUI failed while running {where}: {reason or 'no reason given'}"


def _history_error(messages: Any) -> ImageError:
    for item in messages if isinstance(messages, list) else []:
        if isinstance(item, list) and len(item) == 2 and isinstance(item[1], dict):
            if item[0] == "execution_interrupted":
                return ImageCancelledError("The picture was stopped on the ComfyUI server.")
            if item[0] == "execution_error":
                return ImageResponseError(_execution_error(item[1]))
    return ImageResponseError("ComfyUI reported that the workflow failed.")


def _detail(message: Any, details: Any) -> str:
    text = str(message or "").strip()
    if details:
        text = f"{text}: {_clip(str(details))}" if text else _clip(str(details))
    return text


def _sniff(data: bytes) -> tuple[str, str] | None:
    """Media type and file extension of PNG, JPEG or WebP bytes."""
    for signature, media_type, extension in _SIGNATURES:
        if data.startswith(signature):
            return media_type, extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"
