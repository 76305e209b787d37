"""Chat request and response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from afterdark.llm.base import SamplerSettings
from afterdark.store.base import MAX_ID


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConversationCreate(_Request):
    character_id: int = Field(ge=1, le=MAX_ID)
    scene: str = Field(default="", max_length=4000)
    preset: str = Field(default="balanced", max_length=40)


class ConversationUpdate(_Request):
    title: str | None = Field(default=None, max_length=200)
    scene: str | None = Field(default=None, max_length=4000)
    preset: str | None = Field(default=None, max_length=40)
    sampler: SamplerSettings | None = None


class MessageCreate(_Request):
    content: str
    parent_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class MessageEdit(_Request):
    content: str


class SwipeRequest(_Request):
    direction: Literal["left", "right"]


class MessagePublic(BaseModel):
    id: int
    parent_id: int | None
    role: str
    content: str
    status: str
    error: str | None
    created_at: datetime
    edited_at: datetime | None
    swipe_index: int
    swipe_count: int


class CharacterRef(BaseModel):
    id: int
    name: str
    avatar_url: str | None


class BranchOrigin(BaseModel):
    conversation_id: int
    message_id: int


class ConversationPublic(BaseModel):
    id: int
    title: str
    scene: str
    preset: str
    sampler: SamplerSettings
    created_at: datetime
    updated_at: datetime
    character: CharacterRef
    branched_from: BranchOrigin | None
    messages: list[MessagePublic]
    generation_id: int | None


class ConversationSummary(BaseModel):
    id: int
    title: str
    character: CharacterRef
    created_at: datetime
    updated_at: datetime


class Turn(BaseModel):
    user_message: MessagePublic | None
    reply: MessagePublic
    generation_id: int


class GenerationStarted(BaseModel):
    generation_id: int


class Stopped(BaseModel):
    stopped: bool


class PresetPublic(BaseModel):
    name: str
    label: str
    sampler: SamplerSettings
