"""Character request and response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_TEXT = 20_000
_LONG = 100_000

Style = Literal["realistic", "anime", "fantasy", ""]
Rating = Literal["general", "mature", "explicit"]


class CharacterFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nickname: str = Field(default="", max_length=200)
    style: Style = ""
    rating: Rating = "general"
    tagline: str = Field(default="", max_length=300)
    description: str = Field(default="", max_length=_LONG)
    appearance: str = Field(default="", max_length=_TEXT)
    backstory: str = Field(default="", max_length=_LONG)
    personality: str = Field(default="", max_length=_LONG)
    speaking_style: str = Field(default="", max_length=_TEXT)
    scenario: str = Field(default="", max_length=_LONG)
    first_message: str = Field(default="", max_length=_LONG)
    alternate_greetings: list[str] = Field(default_factory=list, max_length=100)
    example_dialogue: str = Field(default="", max_length=_LONG)
    system_prompt: str = Field(default="", max_length=_LONG)
    post_history_instructions: str = Field(default="", max_length=_LONG)
    creator_notes: str = Field(default="", max_length=_LONG)
    creator: str = Field(default="", max_length=200)
    character_version: str = Field(default="", max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=50)
    book: dict[str, Any] | None = Field(
        default=None, description="The lorebook (character_book, V3 shape); unknown keys kept."
    )

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        cleaned = [tag.strip() for tag in tags if tag.strip()]
        if any(len(tag) > 50 for tag in cleaned):
            raise ValueError("a tag may be at most 50 characters")
        return cleaned


class CharacterCreate(CharacterFields):
    name: str = Field(min_length=1, max_length=200)
    age: int = Field(description="Stated age in years; 18 or more.")


class CharacterUpdate(BaseModel):
    """A partial edit: only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    age: int | None = None
    nickname: str | None = Field(default=None, max_length=200)
    style: Style | None = None
    rating: Rating | None = None
    tagline: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=_LONG)
    appearance: str | None = Field(default=None, max_length=_TEXT)
    backstory: str | None = Field(default=None, max_length=_LONG)
    personality: str | None = Field(default=None, max_length=_LONG)
    speaking_style: str | None = Field(default=None, max_length=_TEXT)
    scenario: str | None = Field(default=None, max_length=_LONG)
    first_message: str | None = Field(default=None, max_length=_LONG)
    alternate_greetings: list[str] | None = Field(default=None, max_length=100)
    example_dialogue: str | None = Field(default=None, max_length=_LONG)
    system_prompt: str | None = Field(default=None, max_length=_LONG)
    post_history_instructions: str | None = Field(default=None, max_length=_LONG)
    creator_notes: str | None = Field(default=None, max_length=_LONG)
    creator: str | None = Field(default=None, max_length=200)
    character_version: str | None = Field(default=None, max_length=100)
    tags: list[str] | None = Field(default=None, max_length=50)
    book: dict[str, Any] | None = None
    note: str = Field(default="", max_length=200, description="Saved with the new version.")


class CharacterSummary(BaseModel):
    id: int
    name: str
    age: int | None
    style: str
    rating: str
    tagline: str
    tags: list[str]
    avatar_url: str | None
    is_builtin: bool
    is_own: bool
    source: str | None = Field(description="Where it came from: 'png/v2', 'charx/v3', ... or null.")


class CharacterPublic(CharacterSummary):
    nickname: str
    description: str
    appearance: str
    backstory: str
    personality: str
    speaking_style: str
    scenario: str
    first_message: str
    alternate_greetings: list[str]
    example_dialogue: str
    system_prompt: str
    post_history_instructions: str
    creator_notes: str
    creator: str
    character_version: str
    book: dict[str, Any] | None
    version: int
    assets: list[AssetPublic]
    updated_at: datetime


class AssetPublic(BaseModel):
    role: str
    path: str
    media_type: str
    size: int


class VersionPublic(BaseModel):
    number: int
    note: str
    created_at: datetime
    name: str


class ImportResult(BaseModel):
    filename: str
    character: CharacterSummary | None = None
    error: str | None = None


class PreviewSection(BaseModel):
    role: str
    content: str
    tokens: int


class PromptPreview(BaseModel):
    messages: list[PreviewSection]
    total_tokens: int
    context_size: int
    reply_tokens: int
    examples_included: int
    warnings: list[str]


class PreviewRequest(CharacterFields):
    name: str = Field(default="", max_length=200)
    age: int | None = None


CharacterPublic.model_rebuild()
