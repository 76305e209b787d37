"""Voice routes: the voices, a character's voice, a message read aloud, push-to-talk.
Thin over ``voice/service.py``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from afterdark.characters import service as characters_service
from afterdark.errors import InvalidInputError
from afterdark.voice.service import (
    MAX_PITCH,
    MAX_SPEED,
    MIN_PITCH,
    MIN_SPEED,
    PREVIEW_CHARS,
)
from afterdark.web.deps import CurrentUser, Id, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["voice"])
_MIB = 2**20
MAX_RECORDING = 25 * _MIB
UPLOAD_LIMITS = {r"/api/v1/voice/transcribe": MAX_RECORDING + _MIB}


class VoicePublic(BaseModel):
    id: str
    name: str
    language: str


class VoiceStatus(BaseModel):
    speech: bool
    speech_backend: str
    transcription: bool
    transcription_backend: str
    voices: list[VoicePublic]


class CharacterVoicePublic(BaseModel):
    voice: str = Field(description="A voice id from /voice/status; '' for the default.")
    speed: float = Field(default=1.0, ge=MIN_SPEED, le=MAX_SPEED)
    pitch: float = Field(default=0.0, ge=MIN_PITCH, le=MAX_PITCH, description="Semitones.")


class PreviewRequest(CharacterVoicePublic):
    text: str = Field(default="", max_length=PREVIEW_CHARS)


class TranscriptPublic(BaseModel):
    text: str
    seconds: float
    language: str


def _audio(data: bytes, media_type: str, seconds: float, cost: int = 0) -> Response:
    return Response(
        data,
        media_type=media_type,
        headers={
            "Cache-Control": "private, max-age=86400",
            "X-Audio-Seconds": f"{seconds:.2f}",
            "X-Sparks": str(cost),
        },
    )


@router.get("/voice/status")
async def voice_status(user: CurrentUser, runtime: RuntimeDep) -> VoiceStatus:
    voices = runtime.voices
    return VoiceStatus(
        speech=voices.speech is not None,
        speech_backend=voices.speech.name if voices.speech is not None else "none",
        transcription=voices.transcription is not None,
        transcription_backend=(
            voices.transcription.name if voices.transcription is not None else "none"
        ),
        voices=[VoicePublic(id=v.id, name=v.name, language=v.language) for v in voices.voices()],
    )


@router.get("/characters/{character_id}/voice")
async def get_character_voice(
    character_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> CharacterVoicePublic:
    character = await characters_service.get_character(session, user, character_id)
    choice = await runtime.voices.voice_of(session, character)
    return CharacterVoicePublic(voice=choice.voice, speed=choice.speed, pitch=choice.pitch)


@router.put("/characters/{character_id}/voice")
async def set_character_voice(
    character_id: Id,
    data: CharacterVoicePublic,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> CharacterVoicePublic:
    """Set an own character's voice."""
    choice = await runtime.voices.set_voice(
        session, user, character_id, voice=data.voice, speed=data.speed, pitch=data.pitch
    )
    return CharacterVoicePublic(voice=choice.voice, speed=choice.speed, pitch=choice.pitch)


@router.post("/voice/preview")
async def preview_voice(data: PreviewRequest, user: CurrentUser, runtime: RuntimeDep) -> Response:
    """A short sample of a voice (free; not kept)."""
    choice = runtime.voices.check_choice(data.voice, data.speed, data.pitch)
    speech = await runtime.voices.preview(user, choice, data.text)
    return _audio(speech.audio, speech.media_type, speech.seconds)


@router.get("/messages/{message_id}/speech")
async def message_speech(
    message_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """The message read aloud in its character's voice (kept: a replay is free)."""
    speech, clip = await runtime.voices.speak_message(session, user, message_id)
    return _audio(speech.audio, speech.media_type, speech.seconds, clip.sparks)


@router.post("/voice/transcribe")
async def transcribe(
    audio: Annotated[UploadFile, File(description="A recording: webm/opus, ogg, wav, mp3")],
    user: CurrentUser,
    runtime: RuntimeDep,
) -> TranscriptPublic:
    """What was said in a recording (push-to-talk)."""
    data = await audio.read(MAX_RECORDING + 1)
    if len(data) > MAX_RECORDING:
        raise InvalidInputError(f"The recording is larger than {MAX_RECORDING // _MIB} MiB.")
    transcript = await runtime.voices.transcribe(user, data, audio.content_type or "")
    return TranscriptPublic(
        text=transcript.text, seconds=round(transcript.seconds, 2), language=transcript.language
    )
