"""Character request and response shapes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_TEXT = 20_000


class CharacterFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tagline: str = Field(default="", max_length=300)
    description: str = Field(default="", max_length=_TEXT)
    personality: str = Field(default="", max_length=_TEXT)
    scenario: str = Field(default="", max_length=_TEXT)
    first_message: str = Field(default="", max_length=_TEXT)
    alternate_greetings: list[str] = Field(default_factory=list, max_length=50)
    example_dialogue: str = Field(default="", max_length=_TEXT)
    system_prompt: str = Field(default="", max_length=_TEXT)
    post_history_instructions: str = Field(default="", max_length=_TEXT)
    creator_notes: str = Field(default="", max_length=_TEXT)
    tags: list[str] = Field(default_factory=list, max_length=50)


class CharacterCreate(CharacterFields):
    name: str = Field(min_length=1, max_length=200)
    age: int = Field(description="Stated age in years; 18 or more.")


class CharacterUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    age: int | None = None
    tagline: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=_TEXT)
    personality: str | None = Field(default=None, max_length=_TEXT)
    scenario: str | None = Field(default=None, max_length=_TEXT)
    first_message: str | None = Field(default=None, max_length=_TEXT)
    alternate_greetings: list[str] | None = Field(default=None, max_length=50)
    example_dialogue: str | None = Field(default=None, max_length=_TEXT)
    system_prompt: str | None = Field(default=None, max_length=_TEXT)
    post_history_instructions: str | None = Field(default=None, max_length=_TEXT)
    creator_notes: str | None = Field(default=None, max_length=_TEXT)
    tags: list[str] | None = Field(default=None, max_length=50)


class CharacterSummary(BaseModel):
    id: int
    name: str
    tagline: str
    tags: list[str]
    avatar_url: str | None
    is_builtin: bool
    is_own: bool


class CharacterPublic(CharacterSummary):
    age: int
    description: str
    personality: str
    scenario: str
    first_message: str
    alternate_greetings: list[str]
    example_dialogue: str
    system_prompt: str
    post_history_instructions: str
    creator_notes: str
