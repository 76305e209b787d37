"""The ``comfyui`` backend and its workflows, against the ComfyUI stand-in over loopback."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from afterdark.images.base import (
    ImageBackend,
    ImageCancelledError,
    ImageError,
    ImageResponseError,
    ImageTimeoutError,
    ImageUnavailableError,
    Progress,
    RenderRequest,
)
from afterdark.images.comfyui import ComfyUIBackend
from afterdark.images.settings import ImagesSettings
from afterdark.images.workflow import WorkflowError, available, load
from tests.support.comfyui_standin import (
    ComfyStandIn,
    png,
    run_comfyui_standin,
    serve_comfyui_standin,
)

MakeBackend = Callable[..., ComfyUIBackend]
PROMPT = "a portrait of a woman in a red coat, film photo"
SHIPPED = ("sdxl_basic", "sdxl_instantid", "flux_pulid")
FACE = png(16, 16, (120, 90, 70))


def ask(**fields: Any) -> RenderRequest:
    options: dict[str, Any] = {"prompt": PROMPT, "negative": "blurry", "seed": 7}
    options.update(fields)
    return RenderRequest(**options)


def nodes_of(graph: dict[str, Any], class_type: str) -> list[dict[str, Any]]:
    return [node for node in graph.values() if node["class_type"] == class_type]


def queued_graph(standin: ComfyStandIn) -> dict[str, Any]:
    graph: dict[str, Any] = standin.prompts[-1]["prompt"]
    return graph


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def write(folder: Path, name: str, data: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def tiny_workflow(text: str = "{{prompt}}", **meta: Any) -> dict[str, Any]:
    graph: dict[str, Any] = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "mine.safetensors"}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["1", 1]}},
        "3": {
            "class_type": "KSampler",
            "inputs": {"seed": "{{seed}}", "steps": "{{steps}}", "model": ["1", 0]},
        },
        "4": {"class_type": "SaveImage", "inputs": {"filename_prefix": "mine", "images": ["3", 0]}},
    }
    if meta:
        graph["afterdark"] = meta
    return graph


@pytest.fixture
async def standin() -> AsyncIterator[ComfyStandIn]:
    async with serve_comfyui_standin() as running:
        yield running


@pytest.fixture
async def make_backend(standin: ComfyStandIn) -> AsyncIterator[MakeBackend]:
    """Build ``comfyui`` backends aimed at the stand-in; all are closed afterwards."""
    made: list[ComfyUIBackend] = []

    def make(**overrides: Any) -> ComfyUIBackend:
        options: dict[str, Any] = {
            "backend": "comfyui",
            "base_url": standin.base_url,
            "workflow": "sdxl_basic",
        }
        options.update(overrides)
        backend = ComfyUIBackend(ImagesSettings(**options))
        backend.poll_interval = 0.02
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.close()


# --- rendering ---


async def test_renders_the_saved_picture(standin: ComfyStandIn, make_backend: MakeBackend) -> None:
    picture = png(32, 48, (10, 200, 30))
    standin.images = [picture]
    backend = make_backend()
    assert isinstance(backend, ImageBackend)
    assert (backend.name, backend.identity) == ("comfyui", "")

    rendered = await backend.render(ask(seed=99))

    assert rendered.data == picture
    assert rendered.media_type == "image/png"
    assert rendered.seed == 99
    assert standin.socket_ids == [standin.prompts[0]["client_id"]]  # socket opened, same id


async def test_cycles_scripted_pictures_and_reports_jpeg(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buffer, format="JPEG")
    standin.images = [buffer.getvalue(), png()]
    backend = make_backend()

    first = await backend.render(ask())
    second = await backend.render(ask())

    assert (first.data, first.media_type) == (buffer.getvalue(), "image/jpeg")
    assert (second.data, second.media_type) == (png(), "image/png")


async def test_default_picture_has_the_requested_size(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    rendered = await make_backend().render(ask(width=96, height=64))

    assert Image.open(io.BytesIO(rendered.data)).size == (96, 64)


async def test_fills_the_graph_with_typed_values(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    request = ask(seed=123456789, width=640, height=960, steps=7, guidance=4.5)

    await make_backend().render(request)

    graph = queued_graph(standin)
    assert "afterdark" not in graph  # our key is stripped before queueing
    sampler = nodes_of(graph, "KSampler")[0]["inputs"]
    assert sampler["seed"] == 123456789
    assert type(sampler["seed"]) is int
    assert sampler["steps"] == 7
    assert type(sampler["steps"]) is int
    assert sampler["cfg"] == 4.5
    assert type(sampler["cfg"]) is float
    latent = nodes_of(graph, "EmptyLatentImage")[0]["inputs"]
    assert (latent["width"], latent["height"]) == (640, 960)
    assert type(latent["width"]) is int
    texts = [node["inputs"]["text"] for node in nodes_of(graph, "CLIPTextEncode")]
    assert texts == [PROMPT, "blurry"]
    assert "{{" not in json.dumps(graph)


async def test_progress_arrives_in_order(standin: ComfyStandIn, make_backend: MakeBackend) -> None:
    seen: list[Progress] = []

    async def record(progress: Progress) -> None:
        seen.append(progress)

    await make_backend().render(ask(steps=5), record)

    assert seen == [
        Progress(0, 0, "queued"),
        *(Progress(step, 5, "rendering") for step in range(1, 6)),
        Progress(5, 5, "decoding"),
    ]


async def test_bearer_key_on_every_request(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    standin.api_key = "s3cret"

    await make_backend(api_key="s3cret").render(ask())

    assert standin.headers
    assert all(h.get("Authorization") == "Bearer s3cret" for h in standin.headers)
    assert standin.socket_ids  # the WebSocket carried it too

    with pytest.raises(ImageResponseError, match="401"):
        await make_backend().render(ask())


# --- the reference face ---


async def test_reference_uploaded_once_and_read_by_load_image(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    backend = make_backend(workflow="sdxl_instantid")
    assert backend.identity == "instantid"
    name = f"afterdark-{hashlib.sha256(FACE).hexdigest()[:16]}.png"

    first = await backend.render(ask(reference=FACE))
    await backend.render(ask(reference=FACE, seed=8))

    assert standin.upload_requests == [{"name": name, "overwrite": "true", "type": "input"}]
    assert standin.uploads == {name: FACE}
    for body in standin.prompts:
        assert nodes_of(body["prompt"], "LoadImage")[0]["inputs"]["image"] == name
    assert first.data == FACE  # the stand-in "renders" the face its LoadImage read

    other = png(16, 16, (1, 1, 1))
    await backend.render(ask(reference=other))
    assert len(standin.upload_requests) == 2
    assert nodes_of(queued_graph(standin), "LoadImage")[0]["inputs"]["image"] != name


async def test_uploads_again_when_the_server_lost_the_reference(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    backend = make_backend(workflow="sdxl_instantid")
    await backend.render(ask(reference=FACE))
    standin.uploads.clear()  # ComfyUI restarted with a fresh input folder

    rendered = await backend.render(ask(reference=FACE))

    assert rendered.data == FACE
    assert len(standin.upload_requests) == 2
    assert len(standin.prompts) == 3  # refused once, queued again after the upload


async def test_without_reference_the_identity_nodes_are_bypassed(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    await make_backend(workflow="sdxl_instantid").render(ask())

    graph = queued_graph(standin)
    assert standin.upload_requests == []
    kinds = {node["class_type"] for node in graph.values()}
    assert kinds.isdisjoint({"ApplyInstantID", "InstantIDModelLoader", "LoadImage"})
    sampler = nodes_of(graph, "KSampler")[0]["inputs"]
    checkpoint = next(
        n for n, node in graph.items() if node["class_type"] == "CheckpointLoaderSimple"
    )
    assert sampler["model"] == [checkpoint, 0]
    assert graph[sampler["positive"][0]]["inputs"]["text"] == PROMPT


async def test_basic_workflow_ignores_the_reference(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    await make_backend().render(ask(reference=FACE))

    assert standin.upload_requests == []


# --- failures ---


async def test_node_error_carries_comfyuis_message(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    standin.node_error = "ckpt_name: 'sd_xl_base_1.0.safetensors' not in []"

    with pytest.raises(ImageResponseError) as caught:
        await make_backend().render(ask())

    message = str(caught.value)
    assert "Prompt outputs failed validation" in message
    assert "CheckpointLoaderSimple (node 4)" in message
    assert "not in []" in message


async def test_execution_error_carries_the_exception(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    standin.execution_error = "Reference Image: No face detected."

    with pytest.raises(ImageResponseError, match="No face detected") as caught:
        await make_backend(workflow="sdxl_instantid").render(ask(reference=FACE))

    assert "KSampler (node 3)" in str(caught.value)


async def test_execution_error_seen_while_polling(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    standin.websocket = False
    standin.execution_error = "CUDA out of memory"

    with pytest.raises(ImageResponseError, match="CUDA out of memory"):
        await make_backend().render(ask())


async def test_interrupt_cancels_the_render(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    standin.hang = True
    backend = make_backend()
    render = asyncio.create_task(backend.render(ask()))
    await wait_for(lambda: standin.running is not None)
    prompt_id = standin.running
    assert prompt_id is not None

    await backend.interrupt()

    with pytest.raises(ImageCancelledError):
        await render
    assert standin.interrupts == [{"prompt_id": prompt_id}]
    assert standin.deletes == [prompt_id]
    await wait_for(lambda: prompt_id in standin.history)
    assert standin.history[prompt_id]["status"]["messages"][-1][0] == "execution_interrupted"


async def test_interrupt_takes_queued_prompts_off_the_queue(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    standin.hang = True
    backend = make_backend()
    renders = [asyncio.create_task(backend.render(ask(seed=s))) for s in (1, 2)]
    await wait_for(lambda: standin.running is not None and len(standin.prompts) == 2)

    await backend.interrupt()

    for render in renders:
        with pytest.raises(ImageCancelledError):
            await render
    assert len(standin.deletes) == 2
    await asyncio.sleep(0.05)
    assert len(standin.history) == 1  # the waiting prompt never ran


async def test_server_side_interrupt_is_a_cancellation(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    standin.hang = True
    render = asyncio.create_task(make_backend().render(ask()))
    await wait_for(lambda: standin.running is not None)

    async with aiohttp.ClientSession() as session:  # Cancel pressed in ComfyUI's own page
        async with session.post(f"{standin.base_url}/interrupt") as response:
            assert response.status == 200

    with pytest.raises(ImageCancelledError, match="stopped on the ComfyUI server"):
        await render


async def test_timeout_stops_the_prompt(standin: ComfyStandIn, make_backend: MakeBackend) -> None:
    standin.hang = True
    started = time.monotonic()

    with pytest.raises(ImageTimeoutError, match="within 0.3 s"):
        await make_backend(timeout=0.3).render(ask())

    assert time.monotonic() - started < 3
    assert len(standin.interrupts) == 1
    assert standin.interrupts[0]["prompt_id"]
    await wait_for(lambda: standin.running is None)


async def test_unreachable_server_names_the_url(make_backend: MakeBackend) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    with pytest.raises(ImageUnavailableError, match=f"Could not reach ComfyUI at {url}"):
        await make_backend(base_url=url).render(ask())


# --- the polling fallback and the threaded stand-in ---


async def test_polls_history_without_a_websocket(
    standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    standin.websocket = False
    standin.images = [png(4, 4)]
    seen: list[Progress] = []

    async def record(progress: Progress) -> None:
        seen.append(progress)

    rendered = await make_backend().render(ask(), record)

    assert rendered.data == png(4, 4)
    assert seen == [Progress(0, 0, "queued")]
    assert standin.socket_ids == []


def test_threaded_standin_serves_a_render() -> None:
    with run_comfyui_standin(images=[png(2, 2)]) as server:

        async def main() -> bytes:
            backend = ComfyUIBackend(
                ImagesSettings(backend="comfyui", base_url=server.base_url, workflow="sdxl_basic")
            )
            try:
                return (await backend.render(ask())).data
            finally:
                await backend.close()

        assert asyncio.run(main()) == png(2, 2)
        assert len(server.prompts) == 1


# --- workflows ---


@pytest.mark.parametrize(
    ("name", "identity"),
    [("sdxl_basic", ""), ("sdxl_instantid", "instantid"), ("flux_pulid", "pulid")],
)
def test_shipped_workflows_load_and_fill(name: str, identity: str) -> None:
    workflow = load(name)
    request = ask(seed=5, width=512, height=768, steps=9, guidance=3.5, reference=FACE)

    graph = workflow.fill(request, "afterdark-face.png")

    assert workflow.identity == identity
    assert workflow.uses_reference == bool(identity)
    assert "{{" not in json.dumps(graph)
    assert "afterdark" not in graph
    values = [v for node in graph.values() for v in node["inputs"].values()]
    assert 5 in values
    assert 512 in values
    assert 768 in values
    assert 9 in values
    assert 3.5 in values
    assert "5" not in values  # numbers stay numbers
    assert nodes_of(graph, "SaveImage")
    assert any(isinstance(v, str) and PROMPT in v for v in values)
    loads = nodes_of(graph, "LoadImage")
    assert [n["inputs"]["image"] for n in loads] == (["afterdark-face.png"] if identity else [])
    if identity:  # and the fallback without a face still makes a whole graph
        bare = workflow.fill(ask(), None)
        assert not nodes_of(bare, "LoadImage")
        assert nodes_of(bare, "SaveImage")
        assert all(
            str(v[0]) in bare
            for node in bare.values()
            for v in node["inputs"].values()
            if isinstance(v, list)
        )


def test_shipped_workflows_are_all_offered() -> None:
    assert set(SHIPPED) <= set(available(None))


async def test_user_workflow_overrides_a_shipped_name(
    tmp_path: Path, standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    write(tmp_path, "sdxl_basic", tiny_workflow(identity="ip-adapter-faceid"))

    backend = make_backend(workflows_dir=tmp_path)
    await backend.render(ask(seed=3))

    assert backend.identity == "ip-adapter-faceid"
    assert nodes_of(queued_graph(standin), "SaveImage")[0]["inputs"]["filename_prefix"] == "mine"


async def test_a_premium_request_queues_the_premium_workflow(
    tmp_path: Path, standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    premium = tiny_workflow()
    premium["1"]["inputs"]["ckpt_name"] = "premium-model.safetensors"
    write(tmp_path, "premium", premium)
    backend = make_backend(workflows_dir=tmp_path, premium_workflow="premium")

    await backend.render(ask(premium=True))
    premium_graph = queued_graph(standin)
    await backend.render(ask())
    usual_graph = queued_graph(standin)

    [loader] = nodes_of(premium_graph, "CheckpointLoaderSimple")
    assert loader["inputs"]["ckpt_name"] == "premium-model.safetensors"
    assert "premium-model.safetensors" not in json.dumps(usual_graph)  # sdxl_basic's own model
    assert nodes_of(usual_graph, "SaveImage")[0]["inputs"]["filename_prefix"] != "mine"


async def test_the_premium_workflow_says_how_it_keeps_the_face(
    make_backend: MakeBackend,
) -> None:
    backend = make_backend(workflow="sdxl_instantid", premium_workflow="flux_pulid")
    assert (backend.identity, backend.premium_identity) == ("instantid", "pulid")

    plain = make_backend(workflow="sdxl_instantid")
    assert plain.premium_identity == "instantid"
    with pytest.raises(ImageUnavailableError, match="PREMIUM_WORKFLOW"):
        await plain.render(ask(premium=True))
    broken = make_backend(premium_workflow="no_such_workflow")
    with pytest.raises(WorkflowError, match="no_such_workflow"):
        await broken.render(ask(premium=True))


async def test_extra_placeholders_are_text(
    tmp_path: Path, standin: ComfyStandIn, make_backend: MakeBackend
) -> None:
    write(tmp_path, "styled", tiny_workflow("{{extra.style}} shot: {{prompt}}, seed {{seed}}"))
    backend = make_backend(workflow="styled", workflows_dir=tmp_path)

    await backend.render(ask(extra={"style": "film"}))
    await backend.render(ask())

    texts = [nodes_of(b["prompt"], "CLIPTextEncode")[0]["inputs"]["text"] for b in standin.prompts]
    assert texts == [f"film shot: {PROMPT}, seed 7", f" shot: {PROMPT}, seed 7"]


async def test_unknown_workflow_names_the_available_ones(
    tmp_path: Path, make_backend: MakeBackend
) -> None:
    write(tmp_path, "mine", tiny_workflow())

    with pytest.raises(WorkflowError) as caught:
        load("nope", tmp_path)

    message = str(caught.value)
    assert "'nope'" in message
    assert all(name in message for name in (*SHIPPED, "mine"))
    backend = make_backend(workflow="nope", workflows_dir=tmp_path)
    assert backend.identity == ""
    with pytest.raises(ImageError, match="available: flux_pulid, mine"):
        await backend.render(ask())


def test_reference_without_fallback_refuses_a_faceless_request(tmp_path: Path) -> None:
    graph = tiny_workflow(identity="instantid")
    graph["5"] = {"class_type": "LoadImage", "inputs": {"image": "{{reference}}"}}
    write(tmp_path, "face", graph)
    workflow = load("face", tmp_path)

    assert workflow.uses_reference
    with pytest.raises(WorkflowError, match="needs a reference face"):
        workflow.fill(ask(), None)


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("[1, 2]", "not a JSON object of nodes"),
        ("{not json", "could not be read"),
        ({"nodes": [], "links": []}, "Save \\(API Format\\)"),
        ({"1": {"inputs": {}}}, "lacks a class_type"),
        (tiny_workflow("{{promt}}"), "unknown placeholder \\{\\{promt\\}\\}"),
        ({"1": {"class_type": "VAEDecode", "inputs": {"samples": ["9", 0]}}}, "does not exist"),
        (tiny_workflow(identiy="pulid"), "only these keys"),
        (
            tiny_workflow(without_reference={"bypass": {"3": {"0": "vae"}}}),
            "cannot bypass node 3",
        ),
    ],
)
def test_malformed_workflows_are_refused(tmp_path: Path, content: Any, complaint: str) -> None:
    write(tmp_path, "broken", content)

    with pytest.raises(WorkflowError, match=complaint):
        load("broken", tmp_path)


def test_workflow_names_cannot_leave_the_folder(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match="not a workflow name"):
        load("../secrets", tmp_path)
