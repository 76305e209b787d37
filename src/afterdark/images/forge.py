"""The ``forge`` backend: Stable Diffusion WebUI Forge or AUTOMATIC1111 over their HTTP API.

``POST /sdapi/v1/txt2img`` renders and answers once the picture is done (base64 images);
meanwhile ``GET /sdapi/v1/progress`` is polled for the sampling step, and
``POST /sdapi/v1/interrupt`` stops the job. The reference face goes to one ControlNet
unit (sd-webui-controlnet's API, built into Forge) with InstantID's preprocessor and model
by default (``forge_face_module``, ``forge_face_model``). A premium request renders with
the ``premium_forge_model`` checkpoint (``override_settings.sd_model_checkpoint``).

The server renders one job at a time and its progress and interrupt are global, so this
backend sends one render at a time as well: the step it reads and the interrupt it sends
then belong to its own render. After an interrupt A1111 still answers with whatever it
had; that answer is dropped and the render counts as cancelled.

``api_key`` of the form ``user:password`` is sent as HTTP Basic (A1111's ``--api-auth``);
anything else as a Bearer token (a reverse proxy in front of the server).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import logging
from typing import Any

import aiohttp
import orjson

from afterdark.images.base import (
    ImageBackend,
    ImageCancelledError,
    ImageResponseError,
    ImageTimeoutError,
    ImageUnavailableError,
    Progress,
    ProgressCallback,
    Rendered,
    RenderRequest,
)
from afterdark.images.settings import ImagesSettings
from afterdark.kit.httperrors import answer_message
from afterdark.kit.httperrors import os_reason as _os_reason

log = logging.getLogger(__name__)

# "DPM++ 2M" with the Karras schedule: A1111 1.9+ and Forge take the schedule separately;
# older servers ignore the unknown field and use plain DPM++ 2M.
SAMPLER = "DPM++ 2M"
SCHEDULER = "Karras"
FACE_WEIGHT = 1.0
POLL_INTERVAL = 0.5
# After an interrupt A1111 answers within a step; past this the answer is not waited for.
_CANCEL_GRACE = 5.0
_CONNECT_TIMEOUT = 10.0
_MAX_ERROR_BODY = 64 * 1024
CANCELLED = "The picture was cancelled."


class ForgeBackend:
    """Renders on a Forge/A1111 server; one render at a time, others wait their turn."""

    name = "forge"
    identity = "instantid"

    def __init__(self, settings: ImagesSettings, *, poll_interval: float = POLL_INTERVAL) -> None:
        self.base_url = settings.base_url.rstrip("/")
        self.poll_interval = poll_interval
        self._model = settings.forge_model
        self._premium_model = settings.premium_forge_model.strip()
        self._face_module = settings.forge_face_module
        self._face_model = settings.forge_face_model
        self._timeout = settings.timeout
        self._headers = {"Content-Type": "application/json"}
        key = settings.api_key.get_secret_value() if settings.api_key is not None else ""
        if ":" in key:
            token = base64.b64encode(key.encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        elif key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._lock = asyncio.Lock()
        self._stopped: asyncio.Event | None = None  # set by interrupt() for the running render
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def request_body(self, request: RenderRequest) -> dict[str, Any]:
        """The JSON body of ``POST /sdapi/v1/txt2img`` for ``request``."""
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": request.negative,
            "seed": request.seed,
            "width": request.width,
            "height": request.height,
            "steps": request.steps,
            "cfg_scale": request.guidance,
            "sampler_name": SAMPLER,
            "scheduler": SCHEDULER,
            # One picture: no grid in front of it (A1111 adds one for several).
            "batch_size": 1,
            "n_iter": 1,
            "send_images": True,
            "save_images": False,
        }
        model = self._model
        if request.premium:
            if not self._premium_model:
                raise ImageUnavailableError(
                    "No premium image model is set up: set AFTERDARK_IMAGES__PREMIUM_FORGE_MODEL."
                )
            model = self._premium_model
        if model:
            body["override_settings"] = {"sd_model_checkpoint": model}
        if request.reference is not None:
            body["alwayson_scripts"] = {
                "controlnet": {"args": [self._face_unit(request.reference)]}
            }
        return body

    def _face_unit(self, reference: bytes) -> dict[str, Any]:
        return {
            "enabled": True,
            "image": base64.b64encode(reference).decode("ascii"),
            "module": self._face_module,
            "model": self._face_model,
            "weight": FACE_WEIGHT,
            "resize_mode": "Crop and Resize",
            "processor_res": -1,  # the preprocessor's own default
            "guidance_start": 0.0,
            "guidance_end": 1.0,
            "control_mode": "Balanced",
            "pixel_perfect": False,
            # The detect map is of no use here; servers that ignore this still send it,
            # after the render (see _picture).
            "save_detected_map": False,
        }

    async def render(
        self, request: RenderRequest, progress: ProgressCallback | None = None
    ) -> Rendered:
        """One picture from the server; ``progress`` hears the sampling steps."""
        payload = orjson.dumps(self.request_body(request))
        if progress is not None and self._lock.locked():
            await progress(Progress(0, 0, "queued"))
        async with self._lock:
            stopped = self._stopped = asyncio.Event()
            try:
                return await self._render(payload, request, stopped, progress)
            finally:
                self._stopped = None

    async def interrupt(self) -> None:
        """Stop the running render (the server's job too); nothing when none runs."""
        stopped = self._stopped
        if stopped is None or stopped.is_set():
            return
        stopped.set()
        await self._send_interrupt()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _render(
        self,
        payload: bytes,
        request: RenderRequest,
        stopped: asyncio.Event,
        progress: ProgressCallback | None,
    ) -> Rendered:
        session = self._client()
        post = asyncio.create_task(self._txt2img(session, payload))
        stop = asyncio.create_task(stopped.wait())
        watch = asyncio.create_task(self._watch(session, progress)) if progress else None
        try:
            try:
                async with asyncio.timeout(self._timeout):
                    await asyncio.wait((post, stop), return_when=asyncio.FIRST_COMPLETED)
            except TimeoutError:
                raise ImageTimeoutError(
                    f"The picture took longer than {self._timeout:g} s and was stopped."
                ) from None
            if stopped.is_set():
                raise ImageCancelledError(CANCELLED)
            return _picture(post.result(), request.seed)
        finally:
            stop.cancel()
            if watch is not None:
                watch.cancel()
            if not post.done():
                if not stopped.is_set():  # a timeout, or the caller gave up
                    await self._send_interrupt()
                await asyncio.wait((post,), timeout=_CANCEL_GRACE)
            if not post.done():
                post.cancel()
            elif not post.cancelled():
                post.exception()  # retrieved: a stopped render's error is not news

    async def _txt2img(self, session: aiohttp.ClientSession, payload: bytes) -> Any:
        url = f"{self.base_url}/sdapi/v1/txt2img"
        try:
            async with session.post(url, data=payload, headers=self._headers) as response:
                if response.status >= 400:
                    raise await _status_error(response)
                raw = await response.read()
        except aiohttp.ClientConnectorError as exc:
            raise ImageUnavailableError(
                f"Could not reach the Forge server at {self.base_url}: "
                f"{_os_reason(exc.os_error)}. Check AFTERDARK_IMAGES__BASE_URL."
            ) from None
        except aiohttp.ClientError as exc:
            raise ImageResponseError(
                f"The Forge server at {self.base_url} broke off the render: {exc or 'no reason'}."
            ) from None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ImageResponseError("The Forge server answered with something not JSON.") from None

    async def _watch(self, session: aiohttp.ClientSession, progress: ProgressCallback) -> None:
        """Report the server's sampling step whenever it changes, until cancelled."""
        url = f"{self.base_url}/sdapi/v1/progress"
        last: tuple[int, int] | None = None
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                async with session.get(
                    url, params={"skip_current_image": "true"}, headers=self._headers
                ) as response:
                    if response.status != 200:
                        continue
                    data = orjson.loads(await response.read())
                state = data["state"]
                if not state.get("job_count"):
                    continue  # idle: the numbers are the last job's
                total = int(state.get("sampling_steps") or 0)
                step = min(int(state.get("sampling_step") or 0), total)
            except (aiohttp.ClientError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # progress is a courtesy; the render itself reports failures
            if total > 0 and (step, total) != last:
                last = (step, total)
                try:
                    await progress(Progress(step, total))
                except Exception:
                    log.exception("A progress callback failed")

    async def _send_interrupt(self) -> None:
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT):
                async with self._client().post(
                    f"{self.base_url}/sdapi/v1/interrupt", headers=self._headers
                ) as response:
                    await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("Could not interrupt the Forge server at %s: %s", self.base_url, exc)

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        # A session belongs to one event loop; tests may run one backend on several.
        if session is None or session.closed or self._session_loop is not loop:
            session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT)
            )
            self._session, self._session_loop = session, loop
        return session


def _picture(data: Any, seed: int) -> Rendered:
    """The render from a txt2img answer.

    The images are the batch_size * n_iter renders (behind a grid when there are several),
    then ControlNet's detect maps; one render is asked for, so it is the first.
    """
    images = data.get("images") if isinstance(data, dict) else None
    if not images or not isinstance(images, list) or not isinstance(images[0], str):
        raise ImageResponseError("The Forge server answered without a picture.")
    encoded = images[0]
    if encoded.startswith("data:"):
        encoded = encoded.partition(",")[2]
    try:
        picture = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ImageResponseError("The Forge server sent a picture that is not base64.") from None
    picture = _png_or_jpeg(picture)
    return Rendered(data=picture, media_type=_media_type(picture), seed=_seed_used(data, seed))


def _seed_used(data: dict[str, Any], asked: int) -> int:
    """The seed A1111 says it used (it picks one for -1), else the one asked for."""
    try:
        seed = orjson.loads(data["info"])["seed"]
    except (KeyError, TypeError, orjson.JSONDecodeError):
        return asked
    return seed if isinstance(seed, int) else asked


def _media_type(picture: bytes) -> str:
    return "image/jpeg" if picture.startswith(b"\xff\xd8") else "image/png"


def _png_or_jpeg(picture: bytes) -> bytes:
    """The picture as PNG unless it already is PNG or JPEG (A1111 may send WebP)."""
    if picture.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8")):
        return picture
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(picture)) as image:
            out = io.BytesIO()
            image.save(out, format="PNG")
    except (UnidentifiedImageError, OSError, ValueError):
        raise ImageResponseError("The Forge server sent a picture that cannot be read.") from None
    return out.getvalue()


async def _status_error(response: aiohttp.ClientResponse) -> ImageResponseError:
    # A1111: {"error": type, "detail", "body", "errors": str(e)}; FastAPI: {"detail"}.
    message = await answer_message(
        response, _MAX_ERROR_BODY, ("detail", "errors", "error"), _error_text
    )
    return ImageResponseError(f"The Forge server answered {response.status}: {message}")


def _error_text(error: object) -> str:
    if isinstance(error, list):  # FastAPI validation errors
        return "; ".join(_error_text(item) for item in error)[:300]
    if isinstance(error, dict):
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        text = str(error.get("msg") or "")
        return f"{where}: {text}" if where and text else text
    return str(error or "").strip()[:300]


def create(settings: ImagesSettings) -> ImageBackend:
    """Factory typed so mypy checks the class against the Protocol."""
    return ForgeBackend(settings)
