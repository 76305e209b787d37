"""Identity across pictures: how often a backend keeps a character's face, before and after
re-rolling.

For a backend, renders N pictures of a character through the bounded re-roll
(``afterdark.images.reroll``) with the reference face, and reports the mean identity
similarity (``max(0, 1 - distance)``, 0 without a face) and the share of pictures at or
under the threshold, on the first try and after re-rolling, with the mean number of tries,
the scorer's throughput (faces scored/s, ms per render) and the render time. Picture i
starts at seed ``--seed + i * --max-tries``, so no seed is rendered twice.

``--backend photos`` is a CPU stand-in for a diffusion backend: each render answers with
one of face_recognition 1.3.0's test photos (four of the reference's person, one of
another; the reference photo itself left out), chosen at random from the seed. Like a
real backend it is a function of the seed, so re-rolls draw anew and the re-roll
figures mean something without a GPU. The other backends are built from
``ImagesSettings`` by ``images.registry.make_backend``. Figures are printed, never asserted.

    .venv/bin/python benchmarks/identity.py --backend photos
    .venv/bin/python benchmarks/identity.py --backend comfyui --base-url http://127.0.0.1:8188 \\
        --reference face.png --n 50

The last line is ``identity_mean=<x> pass_first=<y> pass_after=<z> scorer_ms_p50=<w>``,
``identity_mean`` being the mean similarity after re-rolling.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from afterdark.images import identity, reroll
from afterdark.images.base import ImageBackend, ProgressCallback, Rendered, RenderRequest
from afterdark.images.identity import Encoding, IdentityScore
from afterdark.images.registry import make_backend
from afterdark.images.settings import ImagesSettings

# tests.support.photos fetches the face photos: make it importable however this is run.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = "portrait photo of the character, soft window light, looking at the camera"


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else 0.0


def photo_folder() -> Path:
    from tests.support.photos import photos

    return photos()


class PhotosBackend:
    """Answers each render with a test photo drawn at random from the request's seed."""

    name = "photos"
    identity = ""

    def __init__(self, pictures: Sequence[bytes]) -> None:
        self.pictures = list(pictures)

    async def render(
        self, request: RenderRequest, progress: ProgressCallback | None = None
    ) -> Rendered:
        picture = random.Random(request.seed).choice(self.pictures)
        return Rendered(picture, "image/jpeg", request.seed)

    async def interrupt(self) -> None:
        pass

    async def close(self) -> None:
        pass


@dataclass
class Timings:
    render_ms: list[float] = field(default_factory=list)
    score_ms: list[float] = field(default_factory=list)
    faces: int = 0


class Timed:
    """The backend, with each render timed."""

    def __init__(self, backend: ImageBackend, timings: Timings) -> None:
        self.backend, self.timings = backend, timings
        self.name, self.identity = backend.name, backend.identity

    async def render(
        self, request: RenderRequest, progress: ProgressCallback | None = None
    ) -> Rendered:
        started = time.perf_counter()
        rendered = await self.backend.render(request, progress)
        self.timings.render_ms.append((time.perf_counter() - started) * 1000)
        return rendered

    async def interrupt(self) -> None:
        await self.backend.interrupt()

    async def close(self) -> None:
        await self.backend.close()


def build_backend(args: argparse.Namespace, reference: bytes) -> ImageBackend:
    if args.backend == "photos":
        folder = photo_folder()
        pool = [p.read_bytes() for p in sorted(folder.glob("*.jpg"))]
        return PhotosBackend([p for p in pool if p != reference])
    settings = ImagesSettings(
        backend=args.backend,
        base_url=args.base_url,
        model_path=args.model_path,
        workflow=args.workflow,
        max_tries=args.max_tries,
        identity_threshold=args.threshold,
    )
    backend = make_backend(settings)
    if backend is None:
        raise SystemExit(f"no backend built for {args.backend}")
    return backend


async def run(args: argparse.Namespace) -> None:
    reference_path = args.reference or photo_folder() / "obama.jpg"
    reference_bytes = reference_path.read_bytes()
    started = time.perf_counter()
    encoding = await identity.reference_encoding_async(reference_bytes)
    print(
        f"reference {reference_path.name}: encoded in {time.perf_counter() - started:.2f} s "
        "(the first call loads dlib's models)",
        flush=True,
    )
    timings = Timings()

    async def timed_score(render: bytes, reference: Encoding, threshold: float) -> IdentityScore:
        began = time.perf_counter()
        scored = await identity.score_async(render, reference, threshold)
        timings.score_ms.append((time.perf_counter() - began) * 1000)
        timings.faces += scored.faces
        return scored

    backend = Timed(build_backend(args, reference_bytes), timings)
    print(
        f"backend {backend.name} (identity: {backend.identity or 'none'}), {args.n} pictures, "
        f"up to {args.max_tries} tries, threshold {args.threshold}",
        flush=True,
    )
    results: list[reroll.RerollResult] = []
    try:
        for i in range(args.n):
            request = RenderRequest(
                prompt=args.prompt, seed=args.seed + i * args.max_tries, reference=reference_bytes
            )
            result = await reroll.render_until_same(
                backend,
                request,
                encoding,
                threshold=args.threshold,
                max_tries=args.max_tries,
                score=timed_score,
            )
            results.append(result)
    finally:
        await backend.close()
    report(args, results, timings)


def report(args: argparse.Namespace, results: list[reroll.RerollResult], timings: Timings) -> None:
    first = [r.first for r in results if r.first is not None]
    after = [r.best for r in results if r.best is not None]
    similarity_first = statistics.fmean(s.similarity for s in first)
    similarity_after = statistics.fmean(s.similarity for s in after)
    pass_first = statistics.fmean(s.passed for s in first)
    pass_after = statistics.fmean(s.passed for s in after)
    tries = statistics.fmean(len(r.attempts) for r in results)
    scored_s = sum(timings.score_ms) / 1000
    print(f"renders: {len(timings.render_ms)} for {len(results)} pictures ({tries:.2f} tries each)")
    print(f"first try:     mean similarity {similarity_first:.3f}, passing {pass_first:.1%}")
    print(f"after re-roll: mean similarity {similarity_after:.3f}, passing {pass_after:.1%}")
    print(
        f"scorer: {timings.faces / scored_s:.2f} faces/s, {len(timings.score_ms) / scored_s:.2f} "
        f"renders/s; per render p50 {percentile(timings.score_ms, 50):.0f} ms, "
        f"p95 {percentile(timings.score_ms, 95):.0f} ms"
    )
    print(
        f"render: p50 {percentile(timings.render_ms, 50):.1f} ms, "
        f"p95 {percentile(timings.render_ms, 95):.1f} ms"
    )
    print(
        f"identity_mean={similarity_after:.3f} pass_first={pass_first:.3f} "
        f"pass_after={pass_after:.3f} scorer_ms_p50={percentile(timings.score_ms, 50):.1f}"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend",
        choices=("comfyui", "forge", "diffusers", "photos"),
        default="photos",
        help="a renderer, or photos: test photos drawn by seed (CPU only)",
    )
    parser.add_argument("--base-url", default="http://127.0.0.1:8188", help="comfyui or forge")
    parser.add_argument("--model-path", type=Path, default=None, help="diffusers: the model")
    parser.add_argument("--workflow", default="sdxl_instantid", help="comfyui: the workflow")
    parser.add_argument(
        "--reference", type=Path, default=None, help="the face (default: obama.jpg, test photos)"
    )
    parser.add_argument("--n", type=int, default=20, help="pictures to make")
    parser.add_argument("--max-tries", type=int, default=3, help="renders per picture at most")
    parser.add_argument("--threshold", type=float, default=0.6, help="face distance that passes")
    parser.add_argument("--seed", type=int, default=1000, help="the first picture's seed")
    parser.add_argument("--prompt", default=PROMPT)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
