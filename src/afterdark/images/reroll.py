"""The bounded re-roll: render until the face is the character's, or keep the closest.

Identity adapters (InstantID, PuLID, IP-Adapter FaceID) hold a face most of the time, not
always; a render that drifted is cheaper to redo than to show. So: render with the
request's seed, score it against the reference, and on a miss render again with the next
seed, up to ``max_tries``. The first render that passes is kept; when none does, the
closest one is (a render with no face counts as the farthest). Without a reference there
is nothing to measure: one render. Backend errors are not caught, so a cancel
(``ImageCancelledError``) stops the loop at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from afterdark.errors import InvalidInputError
from afterdark.images import identity
from afterdark.images.base import (
    ImageBackend,
    ImageResponseError,
    ProgressCallback,
    Rendered,
    RenderRequest,
)
from afterdark.images.identity import Encoding, IdentityScore

Scorer = Callable[[bytes, Encoding, float], Awaitable[IdentityScore]]


@dataclass(frozen=True, slots=True)
class Attempt:
    seed: int
    score: IdentityScore | None  # None without a reference

    @property
    def distance(self) -> float | None:
        return None if self.score is None else self.score.distance

    @property
    def passed(self) -> bool | None:
        return None if self.score is None else self.score.passed

    def as_json(self) -> dict[str, Any]:
        """The try as stored with the picture."""
        faces = None if self.score is None else self.score.faces
        return {"seed": self.seed, "distance": self.distance, "faces": faces, "passed": self.passed}


@dataclass(frozen=True, slots=True)
class RerollResult:
    chosen: Rendered
    attempts: tuple[Attempt, ...]
    best: IdentityScore | None  # the chosen render's score; None without a reference

    @property
    def first(self) -> IdentityScore | None:
        """The first try's score: what the picture would have been without re-rolling."""
        return self.attempts[0].score

    @property
    def passed(self) -> bool | None:
        """Whether the chosen render is the same person; None when nothing was compared."""
        return None if self.best is None else self.best.passed


def _rank(score: IdentityScore) -> float:
    return float("inf") if score.distance is None else score.distance


async def render_until_same(
    backend: ImageBackend,
    request: RenderRequest,
    reference: Encoding | None,
    *,
    threshold: float,
    max_tries: int,
    progress: ProgressCallback | None = None,
    on_try: Callable[[int], None] | None = None,
    score: Scorer = identity.score_async,
) -> RerollResult:
    """Render with seeds ``seed``, ``seed + 1``, ... until one passes; keep the closest.

    ``on_try`` is told each try's number (from 1) before it renders."""
    if max_tries < 1:
        raise ValueError("max_tries must be at least 1")
    tries = 1 if reference is None else max_tries
    attempts: list[Attempt] = []
    best: tuple[Rendered, IdentityScore] | None = None
    for number in range(tries):
        if on_try is not None:
            on_try(number + 1)
        rendered = await backend.render(
            dataclasses.replace(request, seed=request.seed + number), progress
        )
        if reference is None:
            return RerollResult(rendered, (Attempt(rendered.seed, None),), None)
        try:
            scored = await score(rendered.data, reference, threshold)
        except InvalidInputError as exc:
            raise ImageResponseError(
                "The image backend returned something that is not a readable picture."
            ) from exc
        attempts.append(Attempt(rendered.seed, scored))
        if best is None or _rank(scored) < _rank(best[1]):
            best = (rendered, scored)
        if scored.passed:
            break
    assert best is not None  # tries >= 1
    return RerollResult(best[0], tuple(attempts), best[1])
