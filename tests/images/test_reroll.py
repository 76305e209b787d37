"""The re-roll loop against a scripted backend that returns real photos: it stops at the
first render of the reference's person, keeps the closest when none is, renders once
without a reference, and stops at once on a cancel."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from afterdark.images import identity, reroll
from afterdark.images.base import (
    ImageBackend,
    ImageCancelledError,
    ImageResponseError,
    Progress,
    ProgressCallback,
    Rendered,
    RenderRequest,
)
from afterdark.images.settings import ImagesSettings
from tests.support.photos import photos

THRESHOLD = ImagesSettings().identity_threshold


class ScriptedBackend:
    """Answers each render with the next picture of its script (or raises the error)."""

    name = "scripted"
    identity = ""

    def __init__(self, script: list[bytes | Exception]) -> None:
        self.script = script
        self.requests: list[RenderRequest] = []

    async def render(
        self, request: RenderRequest, progress: ProgressCallback | None = None
    ) -> Rendered:
        self.requests.append(request)
        item = self.script[len(self.requests) - 1]
        if progress is not None:
            await progress(Progress(request.steps, request.steps))
        if isinstance(item, Exception):
            raise item
        return Rendered(item, "image/jpeg", request.seed)

    async def interrupt(self) -> None:
        pass

    async def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def pictures() -> dict[str, bytes]:
    folder: Path = photos()
    return {p.stem: p.read_bytes() for p in folder.glob("*.jpg")}


@pytest.fixture(scope="module")
def obama(pictures: dict[str, bytes]) -> Any:
    return identity.reference_encoding(pictures["obama"])


def no_face() -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((320, 240)).convert("RGB").save(out, "PNG")
    return out.getvalue()


REQUEST = RenderRequest(prompt="a portrait by a window", seed=7, steps=4)


def test_the_scripted_backend_is_an_image_backend() -> None:
    assert isinstance(ScriptedBackend([]), ImageBackend)


async def test_it_rerolls_until_the_face_is_the_same(pictures: dict[str, bytes], obama: Any):
    backend = ScriptedBackend([pictures["biden"], pictures["biden"], pictures["obama2"]])
    tries: list[int] = []
    steps: list[Progress] = []

    async def progress(step: Progress) -> None:
        steps.append(step)

    result = await reroll.render_until_same(
        backend,
        REQUEST,
        obama,
        threshold=THRESHOLD,
        max_tries=3,
        progress=progress,
        on_try=tries.append,
    )
    assert [r.seed for r in backend.requests] == [7, 8, 9]
    assert {r.prompt for r in backend.requests} == {REQUEST.prompt}
    assert tries == [1, 2, 3]
    assert len(steps) == 3
    assert [a.seed for a in result.attempts] == [7, 8, 9]
    assert [a.passed for a in result.attempts] == [False, False, True]
    assert result.chosen.data == pictures["obama2"]
    assert result.chosen.seed == 9
    assert result.passed is True
    assert result.best is result.attempts[2].score
    assert result.first is not None
    assert not result.first.passed
    assert result.first.distance is not None
    assert result.first.distance > THRESHOLD
    stored = result.attempts[2].as_json()
    assert stored.keys() == {"seed", "distance", "faces", "passed"}
    assert (stored["seed"], stored["faces"], stored["passed"]) == (9, 1, True)
    assert stored["distance"] < THRESHOLD


async def test_when_none_passes_the_closest_is_kept(pictures: dict[str, bytes], obama: Any):
    # At 0.3 the other photos of the same man (0.33 and 0.37 away) miss too.
    script: list[bytes | Exception] = [
        pictures["biden"],
        pictures["obama2"],
        pictures["obama3"],
        pictures["obama"],
    ]
    backend = ScriptedBackend(script)
    result = await reroll.render_until_same(backend, REQUEST, obama, threshold=0.3, max_tries=3)
    assert len(backend.requests) == 3
    assert [a.passed for a in result.attempts] == [False, False, False]
    assert result.passed is False
    assert result.chosen.data == pictures["obama3"]
    distances = [a.distance for a in result.attempts]
    assert all(d is not None for d in distances)
    assert result.best is not None
    assert result.best.distance == min(d for d in distances if d is not None)


async def test_a_render_without_a_face_ranks_last(pictures: dict[str, bytes], obama: Any):
    backend = ScriptedBackend([no_face(), pictures["biden"], no_face()])
    result = await reroll.render_until_same(
        backend, REQUEST, obama, threshold=THRESHOLD, max_tries=3
    )
    assert [a.distance is None for a in result.attempts] == [True, False, True]
    assert result.chosen.data == pictures["biden"]
    faceless = ScriptedBackend([no_face(), no_face()])
    result = await reroll.render_until_same(
        faceless, REQUEST, obama, threshold=THRESHOLD, max_tries=2
    )
    assert result.chosen.seed == 7  # the first of equals
    assert result.best is not None
    assert result.best.faces == 0


async def test_a_first_render_that_passes_is_the_only_one(
    pictures: dict[str, bytes], obama: Any
) -> None:
    backend = ScriptedBackend([pictures["obama2"], pictures["biden"]])
    result = await reroll.render_until_same(
        backend, REQUEST, obama, threshold=THRESHOLD, max_tries=3
    )
    assert len(backend.requests) == 1
    assert len(result.attempts) == 1
    assert result.first is result.best
    assert result.passed is True


async def test_without_a_reference_one_render_and_no_score(pictures: dict[str, bytes]) -> None:
    backend = ScriptedBackend([pictures["biden"], pictures["obama"]])
    tries: list[int] = []
    result = await reroll.render_until_same(
        backend, REQUEST, None, threshold=THRESHOLD, max_tries=3, on_try=tries.append
    )
    assert len(backend.requests) == 1
    assert tries == [1]
    assert result.chosen.data == pictures["biden"]
    assert (result.best, result.first, result.passed) == (None, None, None)
    assert result.attempts[0].as_json() == {
        "seed": 7,
        "distance": None,
        "faces": None,
        "passed": None,
    }


async def test_a_cancel_stops_the_loop_at_once(pictures: dict[str, bytes], obama: Any) -> None:
    script: list[bytes | Exception] = [
        pictures["biden"],
        ImageCancelledError("The render was interrupted."),
        pictures["obama"],
    ]
    backend = ScriptedBackend(script)
    with pytest.raises(ImageCancelledError, match="interrupted"):
        await reroll.render_until_same(backend, REQUEST, obama, threshold=THRESHOLD, max_tries=3)
    assert len(backend.requests) == 2


async def test_a_render_that_is_no_picture_is_the_backends_fault(obama: Any) -> None:
    backend = ScriptedBackend([b"<html>502 Bad Gateway</html>", b"never asked"])
    with pytest.raises(ImageResponseError, match="not a readable picture"):
        await reroll.render_until_same(backend, REQUEST, obama, threshold=THRESHOLD, max_tries=2)
    assert len(backend.requests) == 1


async def test_at_least_one_try(obama: Any) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await reroll.render_until_same(
            ScriptedBackend([]), REQUEST, obama, threshold=THRESHOLD, max_tries=0
        )


async def test_the_scorer_can_be_swapped(pictures: dict[str, bytes], obama: Any) -> None:
    seen: list[float] = []

    async def strict(render: bytes, reference: Any, threshold: float) -> identity.IdentityScore:
        seen.append(threshold)
        return identity.IdentityScore(faces=1, distance=0.9, passed=False)

    backend = ScriptedBackend([pictures["obama"], pictures["obama"]])
    result = await reroll.render_until_same(
        backend, REQUEST, obama, threshold=0.45, max_tries=2, score=strict
    )
    assert seen == [0.45, 0.45]
    assert result.passed is False
