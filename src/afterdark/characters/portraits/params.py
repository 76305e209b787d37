"""The portrait parameters: a strict pydantic model and its vocabularies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

HexColor = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
PortraitStyle = Literal["realistic", "anime", "fantasy"]
HairStyle = Literal[
    "short", "long", "wavy", "bob", "ponytail", "braid", "bun", "curly", "shaved", "spiky"
]
Accessory = Literal[
    "glasses",
    "earrings",
    "scarf",
    "hat",
    "hood",
    "ears_pointed",
    "horns",
    "circlet",
    "freckles",
    "beard",
    "stubble",
    "scar",
    "glowing_eyes",
    "flower",
]
Neckline = Literal["round", "v", "collar", "high", "coat"]


class PortraitParams(BaseModel):
    """What a portrait looks like; colours are ``#rrggbb``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    style: PortraitStyle
    skin: HexColor
    hair: HexColor
    hair_style: HairStyle
    eyes: HexColor
    background: tuple[HexColor, HexColor]
    outfit: HexColor
    accent: HexColor | None = Field(
        default=None, description="Trim, jewellery, hat and scarf colour; derived when absent."
    )
    accessories: list[Accessory] = Field(default_factory=list, max_length=8)
    neckline: Neckline = "round"
    face: Literal["soft", "angular", "square"] = Field(
        default="soft",
        description="soft: rounded; angular: sharp-boned; square: broad jaw and neck.",
    )
    expression: Literal["smile", "neutral", "smirk"] = "smile"
    motif: Literal["halo", "moon", "arch"] | None = Field(
        default=None, description="Fantasy backdrop; chosen from the parameters when absent."
    )

    @field_validator("accessories")
    @classmethod
    def _unique(cls, accessories: list[str]) -> list[str]:
        if len(set(accessories)) != len(accessories):
            raise ValueError("accessories must not repeat")
        return accessories
