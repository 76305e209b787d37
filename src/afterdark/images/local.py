"""The ``diffusers`` backend: a Stable Diffusion pipeline run in this process.

The model (``AFTERDARK_IMAGES__MODEL_PATH``) is either a folder in ``save_pretrained``
layout, loaded with ``AutoPipelineForText2Image`` (whatever text-to-image pipeline its
``model_index.json`` names: SD 1.5, SDXL, ...), or one ``.safetensors``/``.ckpt``
checkpoint, loaded as SDXL when its keys hold SDXL's second text encoder
(``conditioner.embedders.1.``) and as SD 1.5 otherwise. Loading is offline
(``local_files_only``, ``HF_HUB_OFFLINE``): a single-file checkpoint needs its pipeline
configuration from the Hugging Face cache, and when that is missing the error says so.
It loads on the first render, in float16 on CUDA and float32 elsewhere.

Identity: when the model folder (for a single file, the folder holding it) has an
``ip_adapter/`` sub-folder with one IP-Adapter weights file (``.safetensors`` or ``.bin``,
e.g. ``ip-adapter-plus-face_sd15.safetensors``) and the CLIP encoder it was trained with
in ``ip_adapter/image_encoder/``, the reference face is fed to it as
``ip_adapter_image`` and ``identity`` is ``"ip-adapter"``. FaceID weights are skipped:
they take InsightFace embeddings, not a picture. Without an adapter ``identity`` is ""
and references are ignored (logged once).

Premium: ``AFTERDARK_IMAGES__PREMIUM_MODEL_PATH`` names a second model, laid out the same
way (with its own ``ip_adapter/``, if any). It is loaded on the first premium render and
kept beside the first, so a GPU then holds both.

One worker thread loads the model and runs every render (a pipeline is not safe to share
between threads, and a GPU renders one picture well at a time); an asyncio lock queues
renders so ``interrupt`` reaches the running one. Each step's progress crosses to the event
loop with ``run_coroutine_threadsafe``; an interrupt or the timeout sets a flag the step
callback reads, which sets the pipeline's own ``_interrupt`` and raises.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import io
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from afterdark.images.base import (
    ImageBackend,
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

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

IP_ADAPTER_FOLDER = "ip_adapter"
IP_ADAPTER_SCALE = 0.7  # the face's pull against the prompt; 1.0 copies the reference's pose
SETTING = "AFTERDARK_IMAGES__MODEL_PATH"
PREMIUM_SETTING = "AFTERDARK_IMAGES__PREMIUM_MODEL_PATH"
CANCELLED = "The picture was cancelled."
_CHECKPOINTS = (".safetensors", ".ckpt")
_SDXL_KEY = "conditioner.embedders.1."


class _Model:
    """One model the backend renders with: where it is and, once loaded, its pipeline."""

    def __init__(self, path: Path | None, setting: str) -> None:
        self.path = path
        self.setting = setting  # the setting that names it, for error messages
        # Touched only on the worker thread.
        self.pipe: Any = None  # a diffusers pipeline (only partly annotated upstream)
        self.adapter = False


class DiffusersBackend:
    """Renders with a local diffusers pipeline; one render at a time, others wait their turn."""

    name = "diffusers"

    def __init__(self, settings: ImagesSettings) -> None:
        self.model_path = settings.model_path
        self._models = {
            False: _Model(settings.model_path, SETTING),
            True: _Model(settings.premium_model_path, PREMIUM_SETTING),
        }
        self._device_setting = settings.device
        self._timeout = settings.timeout
        # Known before loading so callers can say how a picture will hold the face.
        self.identity = "ip-adapter" if _adapter_file(settings.model_path) is not None else ""
        self.premium_identity = (
            "ip-adapter" if _adapter_file(settings.premium_model_path) is not None else ""
        )
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="afterdark-images")
        self._lock = asyncio.Lock()
        self._job: _Job | None = None
        self._closed = False
        # Touched only on the worker thread.
        self._device = "cpu"
        self._warned_no_adapter = False

    async def render(
        self, request: RenderRequest, progress: ProgressCallback | None = None
    ) -> Rendered:
        """One picture; the first call loads the model."""
        if self._closed:
            raise ImageUnavailableError("The local image model has been shut down.")
        if progress is not None and self._lock.locked():
            await progress(Progress(0, 0, "queued"))
        async with self._lock:
            if self._closed:  # closed while this render waited its turn
                raise ImageUnavailableError("The local image model has been shut down.")
            job = self._job = _Job(asyncio.get_running_loop(), progress)
            try:
                data = await self._run(job, request)
            finally:
                self._job = None
                await job.delivered()
        return Rendered(data=data, media_type="image/png", seed=request.seed)

    async def load(self) -> None:
        """Load the model now rather than on the first render (in the worker thread)."""
        if self._closed:
            raise ImageUnavailableError("The local image model has been shut down.")
        async with self._lock:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._loaded, False)

    async def interrupt(self) -> None:
        """Stop the running render at its next step."""
        job = self._job
        if job is not None:
            job.stop.set()

    async def close(self) -> None:
        """Stop any render, free the model (and its GPU memory) and the worker thread."""
        if self._closed:
            return
        self._closed = True
        await self.interrupt()
        async with self._lock:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._unload)
        self._executor.shutdown(wait=False)

    async def _run(self, job: _Job, request: RenderRequest) -> bytes:
        work = asyncio.get_running_loop().run_in_executor(
            self._executor, self._render, request, job
        )
        try:
            async with asyncio.timeout(self._timeout):
                return await asyncio.shield(work)
        except TimeoutError:
            job.stop.set()
            await _settled(work)  # the pipeline stops at its next step
            raise ImageTimeoutError(
                f"The picture took longer than {self._timeout:g} s and was stopped."
            ) from None
        except asyncio.CancelledError:
            job.stop.set()
            await _settled(work)
            raise

    # Everything below runs on the worker thread.

    def _render(self, request: RenderRequest, job: _Job) -> bytes:
        import torch

        model = self._models[request.premium]
        pipe = self._loaded(request.premium)
        if job.stop.is_set():
            raise ImageCancelledError(CANCELLED)

        def on_step(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> Any:
            if job.stop.is_set():
                pipe._interrupt = True
                raise ImageCancelledError(CANCELLED)
            job.report(step + 1, int(getattr(pipe, "num_timesteps", 0) or request.steps))
            return tensors

        options: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": request.negative or None,
            "width": request.width,
            "height": request.height,
            "num_inference_steps": request.steps,
            "guidance_scale": request.guidance,
            "generator": torch.Generator(self._device).manual_seed(request.seed),
            "callback_on_step_end": on_step,
            "output_type": "pil",
        }
        options.update(self._identity_options(model, request.reference))
        try:
            image = pipe(**options).images[0]
        except ImageError:
            raise
        except Exception as exc:
            raise ImageResponseError(f"The local image model failed: {exc}") from exc
        if job.stop.is_set():  # interrupted while the picture was decoded
            raise ImageCancelledError(CANCELLED)
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()

    def _identity_options(self, model: _Model, reference: bytes | None) -> dict[str, Any]:
        pipe = model.pipe
        if not model.adapter:
            if reference is not None and not self._warned_no_adapter:
                self._warned_no_adapter = True
                log.warning(
                    "The local image model has no IP-Adapter in %s/: reference faces are "
                    "ignored, so pictures will not keep the character's face.",
                    IP_ADAPTER_FOLDER,
                )
            return {}
        from PIL import Image

        if reference is None:
            # An adapted UNet wants an image every time: a blank one, switched off.
            pipe.set_ip_adapter_scale(0.0)
            return {"ip_adapter_image": Image.new("RGB", (224, 224))}
        pipe.set_ip_adapter_scale(IP_ADAPTER_SCALE)
        return {"ip_adapter_image": _picture(reference)}

    def _loaded(self, premium: bool) -> Any:
        model = self._models[premium]
        if model.pipe is None:
            model.pipe = self._load(model)
            if premium:
                self.premium_identity = "ip-adapter" if model.adapter else ""
            else:
                self.identity = "ip-adapter" if model.adapter else ""
        return model.pipe

    def _load(self, model: _Model) -> Any:
        path, setting = model.path, model.setting
        if path is None:
            which = "premium " if setting == PREMIUM_SETTING else ""
            raise ImageUnavailableError(
                f"No local {which}image model is set: set {setting} to a model folder "
                "(save_pretrained layout) or a .safetensors/.ckpt checkpoint."
            )
        if not path.exists():
            raise ImageUnavailableError(f"The image model {path} does not exist: check {setting}.")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read when huggingface_hub is imported
        import torch
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging

        # Loading bars do not belong in a server's log.
        diffusers_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            device = torch.device(_device_name(self._device_setting, torch.cuda.is_available()))
        except RuntimeError:
            raise ImageUnavailableError(
                f"{self._device_setting!r} is not a device: set AFTERDARK_IMAGES__DEVICE to "
                "cpu, cuda, cuda:1 or auto."
            ) from None
        dtype = torch.float16 if device.type == "cuda" else torch.float32
        pipe = (
            _from_folder(path, dtype, setting)
            if path.is_dir()
            else _from_file(path, dtype, setting)
        )
        try:
            pipe.to(device)
        except Exception as exc:
            raise ImageUnavailableError(
                f"The image model could not be put on {device}: {exc}. Check "
                "AFTERDARK_IMAGES__DEVICE."
            ) from None
        pipe.set_progress_bar_config(disable=True)
        # A bundled SD safety checker blacks out pictures on its own terms; the service's
        # NSFW check (images/nsfw.py) decides instead, by the user's content setting.
        if getattr(pipe, "safety_checker", None) is not None:
            pipe.safety_checker = None
        self._device = str(device)
        model.adapter = self._load_adapter(pipe, path)
        log.info(
            "Loaded the image model %s on %s (identity: %s)",
            path,
            device,
            "ip-adapter" if model.adapter else "none",
        )
        return pipe

    def _load_adapter(self, pipe: Any, path: Path) -> bool:
        weights = _adapter_file(path)
        if weights is None:
            return False
        if not hasattr(pipe, "load_ip_adapter"):
            log.warning(
                "%s cannot take an IP-Adapter: %s is not used.", type(pipe).__name__, weights
            )
            return False
        try:
            pipe.load_ip_adapter(
                str(weights.parent.parent),
                subfolder=weights.parent.name,
                weight_name=weights.name,
                local_files_only=True,
            )
        except Exception as exc:
            log.warning(
                "Could not load the IP-Adapter %s (faces will not be kept): %s", weights, exc
            )
            return False
        return True

    def _unload(self) -> None:
        if all(model.pipe is None for model in self._models.values()):
            return
        was_cuda = self._device.startswith("cuda")
        for model in self._models.values():
            model.pipe = None
        gc.collect()  # pipelines hold reference cycles; free their tensors now
        if was_cuda:
            import torch

            torch.cuda.empty_cache()


class _Job:
    """One render's link between the event loop and the worker thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, progress: ProgressCallback | None) -> None:
        self.loop = loop
        self.progress = progress
        self.stop = threading.Event()
        self._sent: list[concurrent.futures.Future[None]] = []

    def report(self, step: int, total: int) -> None:
        """Hand one step to the progress callback on the loop (worker thread)."""
        if self.progress is None:
            return
        try:
            sent = asyncio.run_coroutine_threadsafe(
                _deliver(self.progress, Progress(step, total)), self.loop
            )
        except RuntimeError:  # the loop has closed: nobody is listening any more
            self.stop.set()
            return
        self._sent.append(sent)

    async def delivered(self) -> None:
        """Wait until every reported step has reached the callback (event loop)."""
        for sent in self._sent:
            try:
                await asyncio.wrap_future(sent)
            except Exception:
                log.exception("A progress callback failed")


async def _deliver(progress: ProgressCallback, step: Progress) -> None:
    await progress(step)


async def _settled(work: asyncio.Future[bytes]) -> None:
    """Wait for the worker to let go of the pipeline, whatever it ends with."""
    try:
        await asyncio.shield(work)
    except Exception:  # its outcome is superseded by the caller's
        pass


def _device_name(setting: str, cuda: bool) -> str:
    if setting == "auto":
        return "cuda" if cuda else "cpu"
    return setting


def _adapter_file(path: Path | None) -> Path | None:
    """The IP-Adapter weights beside the model at ``path``, if it has any."""
    if path is None:
        return None
    home = path if path.is_dir() else path.parent
    folder = home / IP_ADAPTER_FOLDER
    if not folder.is_dir():
        return None
    found = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix in (".safetensors", ".bin")
    )
    for weights in found:
        if "faceid" in weights.name.lower():
            log.warning("Skipping %s: FaceID adapters need InsightFace embeddings.", weights)
            continue
        return weights
    return None


def _from_folder(path: Path, dtype: Any, setting: str = SETTING) -> Any:
    from diffusers import AutoPipelineForText2Image, DiffusionPipeline

    if not (path / "model_index.json").is_file():
        raise ImageUnavailableError(
            f"{path} is not a diffusers model folder (it has no model_index.json): point "
            f"{setting} at a folder saved with save_pretrained, or at a .safetensors/.ckpt file."
        )
    try:
        try:
            pipe = AutoPipelineForText2Image.from_pretrained(  # type: ignore[no-untyped-call]
                path, dtype=dtype, local_files_only=True
            )
        except ValueError:  # a pipeline class AutoPipeline has no text-to-image twin for
            pipe = DiffusionPipeline.from_pretrained(  # type: ignore[no-untyped-call]
                path, dtype=dtype, local_files_only=True
            )
    except Exception as exc:
        raise ImageUnavailableError(
            f"Could not load the image model in {path}: {_first_line(exc)}. Check {setting}."
        ) from None
    return pipe


def _from_file(path: Path, dtype: Any, setting: str = SETTING) -> Any:
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    if path.suffix.lower() not in _CHECKPOINTS:
        raise ImageUnavailableError(
            f"{path} is neither a model folder nor a .safetensors/.ckpt checkpoint: check "
            f"{setting}."
        )
    from huggingface_hub.errors import LocalEntryNotFoundError

    kind = StableDiffusionXLPipeline if _is_sdxl(path, setting) else StableDiffusionPipeline
    try:
        pipe = kind.from_single_file(str(path), dtype=dtype, local_files_only=True)
    except LocalEntryNotFoundError:
        raise ImageUnavailableError(
            f"The checkpoint {path} needs its {kind.__name__} configuration from the Hugging "
            "Face cache, which does not have it, and models load offline: convert the "
            f"checkpoint once to a model folder (save_pretrained) and set {setting} to it."
        ) from None
    except Exception as exc:
        raise ImageUnavailableError(
            f"Could not load the checkpoint {path} as {kind.__name__}: {_first_line(exc)}. "
            f"Check {setting}."
        ) from None
    return pipe


def _is_sdxl(path: Path, setting: str = SETTING) -> bool:
    """Whether the checkpoint holds SDXL's second text encoder (read from its keys)."""
    if path.suffix.lower() == ".ckpt":
        import torch

        try:
            # mmap: only the index is read, not gigabytes of weights.
            state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
        except Exception:
            return False  # an old pickle: SD 1.5 era; from_single_file has its own say
        state = state.get("state_dict", state) if isinstance(state, dict) else {}
        return any(str(key).startswith(_SDXL_KEY) for key in state)
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as weights:
            keys = list(weights.keys())
    except Exception as exc:
        raise ImageUnavailableError(
            f"{path} is not a readable checkpoint ({_first_line(exc)}): check {setting}."
        ) from None
    return any(key.startswith(_SDXL_KEY) for key in keys)


def _picture(reference: bytes) -> Image:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(reference)) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        raise ImageResponseError("The reference face is not a picture that can be read.") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text else type(exc).__name__


def create(settings: ImagesSettings) -> ImageBackend:
    """Factory typed so mypy checks the class against the Protocol."""
    return DiffusersBackend(settings)
