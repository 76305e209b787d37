"""Named sampler presets; a conversation starts from one and may customise it."""

from __future__ import annotations

from afterdark.errors import InvalidInputError
from afterdark.llm.base import SamplerSettings

PRESETS: dict[str, tuple[str, SamplerSettings]] = {
    "balanced": (
        "Balanced",
        SamplerSettings(temperature=0.7, top_p=0.9, repetition_penalty=1.1, max_tokens=300),
    ),
    "creative": (
        "Creative",
        SamplerSettings(
            temperature=1.0, top_p=1.0, min_p=0.05, repetition_penalty=1.05, max_tokens=400
        ),
    ),
    "focused": (
        "Focused",
        SamplerSettings(
            temperature=0.5, top_p=0.85, top_k=40, repetition_penalty=1.15, max_tokens=250
        ),
    ),
    "short": (
        "Short replies",
        SamplerSettings(temperature=0.7, top_p=0.9, repetition_penalty=1.1, max_tokens=120),
    ),
}
CUSTOM = "custom"


def preset_sampler(name: str) -> SamplerSettings:
    try:
        return PRESETS[name][1].model_copy(deep=True)
    except KeyError:
        known = ", ".join(PRESETS)
        raise InvalidInputError(f"Unknown preset '{name}'; choose one of: {known}.") from None
