"""The ``diffusers`` backend on a tiny random Stable Diffusion pipeline (see
``tests/support/tiny_pipeline.py``): its pictures are noise, so these tests check the code
paths (loading, seeding, progress, interrupting, identity), never what a picture shows."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from afterdark.images.base import (
    ImageBackend,
    ImageCancelledError,
    ImageTimeoutError,
    ImageUnavailableError,
    Progress,
    RenderRequest,
)
from afterdark.images.local import DiffusersBackend
from afterdark.images.settings import ImagesSettings
from tests.support.tiny_pipeline import tiny_ip_adapter, tiny_pipeline

MakeBackend = Callable[..., DiffusersBackend]


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_pipeline(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def adapter_folder(model_folder: Path) -> Path:
    return tiny_ip_adapter(model_folder.parent)


@pytest.fixture
async def make_backend(model_folder: Path) -> AsyncIterator[MakeBackend]:
    """Build ``diffusers`` backends (the tiny model by default); all are closed afterwards."""
    made: list[DiffusersBackend] = []

    def make(**overrides: Any) -> DiffusersBackend:
        options: dict[str, Any] = {"backend": "diffusers", "model_path": model_folder}
        options.update(overrides)
        backend = DiffusersBackend(ImagesSettings(**options))
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.close()


def ask(**fields: Any) -> RenderRequest:
    options: dict[str, Any] = {
        "prompt": "a portrait of a woman in a red coat",
        "seed": 7,
        "width": 64,
        "height": 64,
        "steps": 2,
    }
    options.update(fields)
    return RenderRequest(**options)


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 40), colour).save(out, format="PNG")
    return out.getvalue()


async def test_renders_a_png_of_the_requested_size(make_backend: MakeBackend) -> None:
    backend = make_backend(device="auto")
    assert isinstance(backend, ImageBackend)
    assert backend.name == "diffusers"
    assert backend.identity == ""

    rendered = await backend.render(ask(width=64, height=48))

    assert rendered.media_type == "image/png"
    assert rendered.seed == 7
    with Image.open(io.BytesIO(rendered.data)) as image:
        assert image.format == "PNG"
        assert image.size == (64, 48)


async def test_the_seed_decides_the_picture(make_backend: MakeBackend) -> None:
    backend = make_backend()

    first = await backend.render(ask(seed=11))
    again = await backend.render(ask(seed=11))
    other = await backend.render(ask(seed=12))

    assert first.data == again.data
    assert first.data != other.data


async def test_reports_every_step(make_backend: MakeBackend) -> None:
    seen: list[Progress] = []

    async def progress(step: Progress) -> None:
        await asyncio.sleep(0)  # a callback that awaits still sees every step, in order
        seen.append(step)

    await make_backend().render(ask(steps=3), progress)

    assert seen == [Progress(1, 3), Progress(2, 3), Progress(3, 3)]


async def test_interrupt_stops_the_render_mid_way(make_backend: MakeBackend) -> None:
    backend = make_backend()
    seen: list[Progress] = []

    async def progress(step: Progress) -> None:
        seen.append(step)
        if step.step == 2:
            await backend.interrupt()

    with pytest.raises(ImageCancelledError):
        await backend.render(ask(steps=40), progress)

    assert seen[-1].step < 20  # stopped long before its 40 steps
    rendered = await backend.render(ask())  # the pipeline is free and usable again
    assert rendered.data.startswith(b"\x89PNG")


async def test_a_render_past_the_timeout_is_stopped(make_backend: MakeBackend) -> None:
    backend = make_backend(timeout=0.5)
    await backend.load()  # loading is not what this test times
    started = time.monotonic()

    with pytest.raises(ImageTimeoutError, match="longer than 0.5 s"):
        await backend.render(ask(steps=500))

    assert time.monotonic() - started < 5


async def test_cancelling_the_caller_stops_the_worker(make_backend: MakeBackend) -> None:
    backend = make_backend()
    stepping = asyncio.Event()

    async def progress(step: Progress) -> None:
        stepping.set()

    task = asyncio.create_task(backend.render(ask(steps=500), progress))
    await asyncio.wait_for(stepping.wait(), 30)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    started = time.monotonic()
    await backend.render(ask())  # not queued behind 500 abandoned steps
    assert time.monotonic() - started < 10


async def test_the_event_loop_keeps_running_during_a_render(make_backend: MakeBackend) -> None:
    backend = make_backend()
    await backend.load()
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    started = time.monotonic()
    await backend.render(ask(steps=4))
    elapsed = time.monotonic() - started
    done.set()
    await ticking

    assert len(gaps) >= 5
    assert max(gaps) < max(0.25, elapsed / 4), (max(gaps), elapsed)


@pytest.mark.parametrize(
    ("model_path", "words"),
    [
        (None, "No local image model is set"),
        ("missing", "does not exist"),
        ("empty-folder", "no model_index.json"),
        ("notes.txt", "neither a model folder nor"),
        ("broken.safetensors", "not a readable checkpoint"),
        ("unknown.safetensors", "Hugging Face cache"),
    ],
)
async def test_a_bad_model_path_is_unavailable_and_names_the_setting(
    make_backend: MakeBackend, tmp_path: Path, model_path: str | None, words: str
) -> None:
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "notes.txt").write_text("not a model")
    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 64)
    _unknown_checkpoint(tmp_path / "unknown.safetensors")
    backend = make_backend(model_path=tmp_path / model_path if model_path else None)

    with pytest.raises(ImageUnavailableError) as caught:
        await backend.render(ask())

    assert words in str(caught.value)
    assert "AFTERDARK_IMAGES__MODEL_PATH" in str(caught.value)


async def test_without_an_adapter_the_reference_is_ignored_and_said_once(
    make_backend: MakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    backend = make_backend()
    caplog.set_level(logging.WARNING, logger="afterdark.images.local")

    plain = await backend.render(ask())
    with_face = await backend.render(ask(reference=png((200, 150, 120))))
    await backend.render(ask(reference=png((200, 150, 120))))

    assert with_face.data == plain.data
    assert backend.identity == ""
    assert sum("reference faces are ignored" in r.message for r in caplog.records) == 1


async def test_an_ip_adapter_carries_the_reference(
    make_backend: MakeBackend, adapter_folder: Path
) -> None:
    backend = make_backend(model_path=adapter_folder)
    assert backend.identity == "ip-adapter"  # known before the model loads

    plain = await backend.render(ask())
    face = await backend.render(ask(reference=png((200, 150, 120))))
    other_face = await backend.render(ask(reference=png((20, 60, 220))))

    assert backend.identity == "ip-adapter"
    for rendered in (plain, face, other_face):
        with Image.open(io.BytesIO(rendered.data)) as image:
            assert image.size == (64, 64)
    assert len({plain.data, face.data, other_face.data}) == 3


async def test_a_premium_request_renders_with_the_premium_model(
    make_backend: MakeBackend, model_folder: Path, adapter_folder: Path
) -> None:
    premium_folder = tiny_pipeline(model_folder.parent, seed=1)
    backend = make_backend(premium_model_path=premium_folder)
    assert (backend.identity, backend.premium_identity) == ("", "")

    usual = await backend.render(ask())
    premium = await backend.render(ask(premium=True))
    usual_again = await backend.render(ask())
    alone = await make_backend(model_path=premium_folder).render(ask())

    assert premium.data == alone.data  # the premium model's picture, loaded beside the other
    assert premium.data != usual.data
    assert usual_again.data == usual.data
    # Each model keeps the face its own way: here only the premium one has an IP-Adapter.
    assert make_backend(premium_model_path=adapter_folder).premium_identity == "ip-adapter"


async def test_a_premium_request_without_a_premium_model_names_the_setting(
    make_backend: MakeBackend, tmp_path: Path
) -> None:
    with pytest.raises(ImageUnavailableError, match="AFTERDARK_IMAGES__PREMIUM_MODEL_PATH"):
        await make_backend().render(ask(premium=True))
    missing = make_backend(premium_model_path=tmp_path / "nowhere")
    with pytest.raises(ImageUnavailableError) as caught:
        await missing.render(ask(premium=True))
    assert "nowhere" in str(caught.value)
    assert "AFTERDARK_IMAGES__PREMIUM_MODEL_PATH" in str(caught.value)


async def test_a_closed_backend_refuses_to_render(make_backend: MakeBackend) -> None:
    backend = make_backend()
    await backend.render(ask())

    await backend.close()

    with pytest.raises(ImageUnavailableError, match="shut down"):
        await backend.render(ask())


def _unknown_checkpoint(path: Path) -> None:
    """A readable checkpoint whose pipeline configuration is not in any local cache."""
    import torch
    from safetensors.torch import save_file

    save_file({"model.diffusion_model.out.2.weight": torch.zeros(4, 4)}, str(path))
