"""The words a picture is rendered from: the character's looks, the scene, the request.

The character is always described as an adult (every character here is one, and the
negative prompt pushes away anything younger); explicit words are kept out of the prompt
and pushed into the negative unless the user may see explicit pictures.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PART = 400
"""Characters of each part (looks, scene, request) that go into the prompt."""

STYLE_WORDS = {
    "anime": "anime illustration, clean line art",
    "illustration": "digital illustration, painterly",
    "realistic": "photograph, natural light, detailed skin, 50mm",
}
DEFAULT_STYLE = "photograph, natural light, detailed, sharp focus"

NEGATIVE = (
    "child, minor, teen, underage, childlike, young-looking, deformed face, extra faces, "
    "blurry face, distorted eyes, text, watermark, signature, low quality"
)
NOT_EXPLICIT = "nudity, nude, nsfw, explicit, sexual"


@dataclass(frozen=True, slots=True)
class PictureWords:
    prompt: str
    negative: str


def _part(text: str | None) -> str:
    text = " ".join((text or "").split())
    if len(text) <= MAX_PART:
        return text
    return text[:MAX_PART].rsplit(" ", 1)[0]


def picture_words(
    *,
    name: str,
    age: int | None,
    appearance: str,
    description: str,
    style: str,
    scene: str,
    request: str,
    explicit_allowed: bool,
) -> PictureWords:
    """The prompt and negative prompt of one picture."""
    looks = _part(appearance) or _part(description)
    who = f"{name}, an adult of {age}" if age else f"{name}, an adult"
    parts = [_part(request) or f"a portrait of {name}", who]
    if looks:
        parts.append(looks)
    if scene.strip():
        parts.append(f"setting: {_part(scene)}")
    parts.append(STYLE_WORDS.get(style, DEFAULT_STYLE))
    negative = NEGATIVE if explicit_allowed else f"{NEGATIVE}, {NOT_EXPLICIT}"
    return PictureWords(", ".join(parts), negative)
