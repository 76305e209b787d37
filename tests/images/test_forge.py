"""The ``forge`` backend against the A1111/Forge stand-in, over a real loopback socket."""

from __future__ import annotations

import asyncio
import base64
import io
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from PIL import Image

from afterdark.images.base import (
    ImageBackend,
    ImageCancelledError,
    ImageResponseError,
    ImageTimeoutError,
    ImageUnavailableError,
    Progress,
    RenderRequest,
)
from afterdark.images.forge import ForgeBackend
from afterdark.images.settings import ImagesSettings
from tests.support.forge_standin import DETECT_MAP, ForgeStandIn, png, run_forge_standin

MakeBackend = Callable[..., ForgeBackend]
REFERENCE = png(48, 48, (30, 120, 200))


@pytest.fixture
def server() -> Iterator[ForgeStandIn]:
    with run_forge_standin() as running:
        yield running


@pytest.fixture
async def make_backend(server: ForgeStandIn) -> AsyncIterator[MakeBackend]:
    """Build ``forge`` backends aimed at the stand-in; all are closed afterwards."""
    made: list[ForgeBackend] = []

    def make(**overrides: Any) -> ForgeBackend:
        options: dict[str, Any] = {"backend": "forge", "base_url": server.base_url}
        options.update(overrides)
        backend = ForgeBackend(ImagesSettings(**options), poll_interval=0.02)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.close()


def ask(**fields: Any) -> RenderRequest:
    options: dict[str, Any] = {
        "prompt": "a portrait of a woman in a red coat",
        "negative": "blurry",
        "seed": 1234,
        "width": 64,
        "height": 96,
        "steps": 4,
        "guidance": 5.5,
    }
    options.update(fields)
    return RenderRequest(**options)


async def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


async def test_renders_a_png_of_the_requested_size(
    server: ForgeStandIn, make_backend: MakeBackend
) -> None:
    backend = make_backend()
    assert isinstance(backend, ImageBackend)
    assert backend.name == "forge"

    rendered = await backend.render(ask())

    assert rendered.media_type == "image/png"
    assert rendered.data.startswith(b"\x89PNG")
    assert size_of(rendered.data) == (64, 96)
    assert rendered.seed == 1234


async def test_sends_the_txt2img_fields_with_their_types(
    server: ForgeStandIn, make_backend: MakeBackend
) -> None:
    await make_backend().render(ask())

    body = server.requests[-1]
    assert body["prompt"] == "a portrait of a woman in a red coat"
    assert body["negative_prompt"] == "blurry"
    expected = {"seed": 1234, "width": 64, "height": 96, "steps": 4, "batch_size": 1, "n_iter": 1}
    for name, value in expected.items():
        assert body[name] == value
        assert type(body[name]) is int, name
    assert body["cfg_scale"] == 5.5
    assert isinstance(body["sampler_name"], str)
    assert body["sampler_name"]
    assert "override_settings" not in body
    assert "alwayson_scripts" not in body  # no reference, no ControlNet unit
    assert "Authorization" not in server.headers[-1]


async def test_names_the_checkpoint_when_one_is_set(
    server: ForgeStandIn, make_backend: MakeBackend
) -> None:
    await make_backend(forge_model="sdxl-base-1.0.safetensors").render(ask())

    body = server.requests[-1]
    assert body["override_settings"] == {"sd_model_checkpoint": "sdxl-base-1.0.safetensors"}


async def test_a_premium_request_names_the_premium_checkpoint(
    server: ForgeStandIn, make_backend: MakeBackend
) -> None:
    backend = make_backend(
        forge_model="everyday.safetensors", premium_forge_model="premium-xl.safetensors"
    )

    await backend.render(ask(premium=True))
    premium = server.requests[-1]
    await backend.render(ask())
    usual = server.requests[-1]

    assert premium["override_settings"] == {"sd_model_checkpoint": "premium-xl.safetensors"}
    assert usual["override_settings"] == {"sd_model_checkpoint": "everyday.safetensors"}
    with pytest.raises(ImageUnavailableError, match="PREMIUM_FORGE_MODEL"):
        await make_backend().render(ask(premium=True))
    assert len(server.requests) == 2  # refused before anything was sent


async def test_the_reference_reaches_the_controlnet_unit_as_base64(
    server: ForgeStandIn, make_backend: MakeBackend
) -> None:
    backend = make_backend(forge_face_module="InsightFace (InstantID)")
    assert backend.identity == "instantid"

    await backend.render(ask(reference=REFERENCE))

    args = server.requests[-1]["alwayson_scripts"]["controlnet"]["args"]
    assert len(args) == 1
    unit = args[0]
    assert unit["enabled"] is True
    assert base64.b64decode(unit["image"], validate=True) == REFERENCE
    assert unit["module"] == "InsightFace (InstantID)"
    assert unit["model"] == "ip-adapter_instant_id_sdxl"
    assert isinstance(unit["weight"], float)
    assert 0 < unit["weight"] <= 2
    assert 0 <= unit["guidance_start"] < unit["guidance_end"] <= 1


@pytest.mark.parametrize("detect_maps", [None, True], ids=["as-asked", "always"])
async def test_returns_the_render_not_the_detect_map(
    server: ForgeStandIn, make_backend: MakeBackend, detect_maps: bool | None
) -> None:
    # "always": an extension too old to honour save_detected_map appends the map anyway.
    server.detect_maps = detect_maps
    server.images = [png(64, 96, (10, 200, 10))]

    rendered = await make_backend().render(ask(reference=REFERENCE))

    assert rendered.data == server.images[0]
    assert rendered.data != DETECT_MAP


async def test_reports_the_sampling_steps(server: ForgeStandIn, make_backend: MakeBackend) -> None:
    server.step_delay = 0.08
    seen: list[Progress] = []

    async def progress(step: Progress) -> None:
        seen.append(step)

    await make_backend().render(ask(steps=6), progress)

    assert seen, "no progress was reported"
    assert all(p.total == 6 and p.stage == "rendering" for p in seen)
    steps = [p.step for p in seen]
    assert steps == sorted(set(steps))  # each step once, in order
    assert len(steps) >= 2
    assert server.progress_queries[-1] == {"skip_current_image": "true"}


async def test_a_second_render_waits_its_turn_and_says_so(
    server: ForgeStandIn, make_backend: MakeBackend
) -> None:
    server.step_delay = 0.03
    backend = make_backend()
    seen: list[Progress] = []

    async def progress(step: Progress) -> None:
        seen.append(step)

    first = asyncio.create_task(backend.render(ask(seed=1)))
    await wait_for(lambda: server.job_count > 0)
    second = await backend.render(ask(seed=2), progress)
    await first

    assert seen[0] == Progress(0, 0, "queued")
    assert second.seed == 2


@pytest.mark.parametrize(
    ("key", "header"),
    [
        ("s3cret-token", "Bearer s3cret-token"),
        ("ada:hunter2", "Basic " + base64.b64encode(b"ada:hunter2").decode()),
    ],
    ids=["bearer", "basic"],
)
async def test_authenticates_every_call(
    server: ForgeStandIn, make_backend: MakeBackend, key: str, header: str
) -> None:
    server.authorization = header
    server.step_delay = 0.03
    backend = make_backend(api_key=key)

    async def progress(step: Progress) -> None:
        pass

    await backend.render(ask(), progress)

    assert server.headers[-1]["Authorization"] == header
    assert server.progress_queries, "progress was not polled"


async def test_a_refused_key_is_a_response_error(
    server: ForgeStandIn, make_backend: MakeBackend
) -> None:
    server.authorization = "Bearer right"

    with pytest.raises(ImageResponseError, match="401: Incorrect username or password"):
        await make_backend(api_key="wrong").render(ask())


async def test_an_a1111_error_body_becomes_the_message(
    server: ForgeStandIn, make_backend: MakeBackend
) -> None:
    server.fail_status = 500
    server.fail_detail = "CUDA out of memory"

    with pytest.raises(ImageResponseError) as caught:
        await make_backend().render(ask())

    assert str(caught.value) == "The Forge server answered 500: CUDA out of memory"


async def test_a_validation_error_names_the_field(make_backend: MakeBackend) -> None:
    with pytest.raises(ImageResponseError, match=r"422: steps: value is not valid"):
        await make_backend().render(ask(steps="many"))


async def test_an_answer_without_pictures_is_a_response_error(
    server: ForgeStandIn, make_backend: MakeBackend
) -> None:
    server.send_images = False

    with pytest.raises(ImageResponseError, match="without a picture"):
        await make_backend().render(ask())


async def test_interrupt_cancels_the_render_and_the_servers_job(
    server: ForgeStandIn, make_backend: MakeBackend
) -> None:
    server.hang = True
    backend = make_backend()
    task = asyncio.create_task(backend.render(ask()))
    await wait_for(lambda: server.job_count > 0)

    await backend.interrupt()

    with pytest.raises(ImageCancelledError):
        await asyncio.wait_for(task, 3)
    assert server.interrupts == 1
    await wait_for(lambda: server.job_count == 0)
    assert server.completed == 0


async def test_interrupt_with_nothing_running_leaves_the_server_alone(
    server: ForgeStandIn, make_backend: MakeBackend
) -> None:
    await make_backend().interrupt()

    assert server.interrupts == 0


async def test_a_render_past_the_timeout_is_stopped(
    server: ForgeStandIn, make_backend: MakeBackend
) -> None:
    server.hang = True
    started = time.monotonic()

    with pytest.raises(ImageTimeoutError, match="longer than 0.3 s"):
        await make_backend(timeout=0.3).render(ask())

    assert time.monotonic() - started < 3
    assert server.interrupts == 1


async def test_cancelling_the_caller_interrupts_the_server(
    server: ForgeStandIn, make_backend: MakeBackend
) -> None:
    server.hang = True
    task = asyncio.create_task(make_backend().render(ask()))
    await wait_for(lambda: server.job_count > 0)

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert server.interrupts == 1


async def test_an_unreachable_server_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    backend = ForgeBackend(ImagesSettings(backend="forge", base_url=url))
    try:
        with pytest.raises(ImageUnavailableError) as caught:
            await backend.render(ask())
    finally:
        await backend.close()

    assert url in str(caught.value)
    assert "AFTERDARK_IMAGES__BASE_URL" in str(caught.value)
