"""Voice: characters' voices, messages read aloud, and the user's speech turned into text.

A message is spoken once per voice setting and kept (``SpeechClip``, its file sealed with
the user's key), so replaying it is instant and free. Speaking and transcribing cost Sparks
(``credits/pricing.py``): charged after the backend succeeded, so a failure costs nothing,
and checked before it runs, so a user who cannot pay gets a 402 and no work is done. Voice
is premium by default: where a plan that unlocks it is on sale, it needs that plan
(``credits/unlocks.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters import service as characters_service
from afterdark.characters.models import Character
from afterdark.chat.models import Conversation, Message
from afterdark.config import Settings
from afterdark.credits import pricing, unlocks
from afterdark.credits.service import Sparks
from afterdark.errors import AfterdarkError, InvalidInputError, NotFoundError
from afterdark.store.engine import Database
from afterdark.store.files import FileStore
from afterdark.voice.base import (
    Speech,
    SpeechBackend,
    SpeechRequest,
    Transcript,
    TranscriptionBackend,
    VoiceError,
    VoiceInfo,
    VoiceUnavailableError,
)
from afterdark.voice.models import CharacterVoice, SpeechClip
from afterdark.voice.registry import make_speech, make_transcription
from afterdark.voice.text import spoken_text

MIN_SPEED, MAX_SPEED = 0.5, 2.0
MIN_PITCH, MAX_PITCH = -6.0, 6.0
PREVIEW_CHARS = 300


class VoiceOffError(AfterdarkError):
    status = 503
    code = "voice_off"


class VoiceUnreachableError(AfterdarkError):
    """The speech or transcription backend could not be reached or loaded."""

    status = 503
    code = "voice_unavailable"


class VoiceFailedError(AfterdarkError):
    """The backend could not do it: unreadable audio, an unknown voice, a refusal."""

    status = 422
    code = "voice_failed"


@asynccontextmanager
async def _backend_errors() -> AsyncIterator[None]:
    """A backend's failure as an answer for the user (its message is written for them)."""
    try:
        yield
    except VoiceUnavailableError as exc:
        raise VoiceUnreachableError(str(exc)) from exc
    except VoiceError as exc:
        raise VoiceFailedError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class VoiceChoice:
    voice: str
    speed: float
    pitch: float


class Voices:
    """The voice service of one instance: its speech and transcription backends."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        files: FileStore,
        sparks: Sparks,
        *,
        speech: SpeechBackend | None = None,
        transcription: TranscriptionBackend | None = None,
        build: bool = True,
    ) -> None:
        self.settings = settings.voice
        self.payments = settings.payments
        self.database = database
        self.files = files
        self.sparks = sparks
        self.speech = speech if speech is not None or not build else make_speech(settings.voice)
        self.transcription = (
            transcription
            if transcription is not None or not build
            else make_transcription(settings.voice)
        )

    async def warm(self, voice: str = "") -> None:
        """Load the backends' models now, where they load on first use (the embedded ones):
        a call does this as it starts, so its first turn is as quick as the others."""
        jobs = []
        for backend, args in ((self.speech, (voice,)), (self.transcription, ())):
            warm = getattr(backend, "warm", None)
            if warm is not None:
                jobs.append(warm(*args))
        async with _backend_errors():
            await asyncio.gather(*jobs)

    def voices(self) -> list[VoiceInfo]:
        return self.speech.voices() if self.speech is not None else []

    def speech_backend(self) -> SpeechBackend:
        if self.speech is None:
            raise VoiceOffError(
                "Speech is off on this instance: an admin sets AFTERDARK_VOICE__TTS_BACKEND "
                "(embedded or openai)."
            )
        return self.speech

    def transcription_backend(self) -> TranscriptionBackend:
        if self.transcription is None:
            raise VoiceOffError(
                "Speech input is off on this instance: an admin sets "
                "AFTERDARK_VOICE__STT_BACKEND (embedded or openai)."
            )
        return self.transcription

    async def allowed(self, user: User) -> None:
        if self.settings.premium:
            await unlocks.require(self.database, self.payments, user.id, "voice")

    # -- a character's voice ----------------------------------------------------------------

    def check_choice(self, voice: str, speed: float, pitch: float) -> VoiceChoice:
        known = [v.id for v in self.voices()]
        if voice and voice not in known:
            raise InvalidInputError(
                f"There is no voice {voice!r} here; the voices are: {', '.join(known) or 'none'}."
            )
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise InvalidInputError(f"The speed is {MIN_SPEED} to {MAX_SPEED}.")
        if not MIN_PITCH <= pitch <= MAX_PITCH:
            raise InvalidInputError(f"The pitch is {MIN_PITCH:g} to {MAX_PITCH:g} semitones.")
        return VoiceChoice(voice, round(speed, 2), round(pitch, 1))

    async def voice_of(self, session: AsyncSession, character: Character) -> VoiceChoice:
        """The character's voice, or the backend's default."""
        row = await session.get(CharacterVoice, character.id)
        voices = self.voices()
        default = voices[0].id if voices else ""
        if row is None or (row.voice and row.voice not in {v.id for v in voices}):
            return VoiceChoice(default, row.speed if row else 1.0, row.pitch if row else 0.0)
        return VoiceChoice(row.voice or default, row.speed, row.pitch)

    async def set_voice(
        self,
        session: AsyncSession,
        user: User,
        character_id: int,
        *,
        voice: str,
        speed: float,
        pitch: float,
    ) -> VoiceChoice:
        """Set an own character's voice (the Studio)."""
        character = await characters_service.get_owned(session, user, character_id)
        choice = self.check_choice(voice, speed, pitch)
        row = await session.get(CharacterVoice, character.id)
        if row is None:
            row = CharacterVoice(character_id=character.id, voice=choice.voice)
            session.add(row)
        row.voice, row.speed, row.pitch = choice.voice, choice.speed, choice.pitch
        await session.flush()
        return choice

    # -- speaking ---------------------------------------------------------------------------

    async def preview(self, user: User, choice: VoiceChoice, text: str) -> Speech:
        """A short sample of a voice, for the Studio (free, not kept)."""
        await self.allowed(user)
        text = " ".join(text.split())[:PREVIEW_CHARS] or "Hello. This is how I sound."
        backend = self.speech_backend()
        async with _backend_errors():
            return await backend.speak(
                SpeechRequest(text, choice.voice, choice.speed, choice.pitch)
            )

    async def speak_message(
        self, session: AsyncSession, user: User, message_id: int
    ) -> tuple[Speech, SpeechClip]:
        """A message in its character's voice: the kept clip, or spoken now and kept."""
        message = await session.get(Message, message_id)
        if message is None or message.user_id != user.id:
            raise NotFoundError(f"Message {message_id} does not exist.")
        conversation = await session.get(Conversation, message.conversation_id)
        assert conversation is not None
        character = await characters_service.get_character(session, user, conversation.character_id)
        backend = self.speech_backend()
        await self.allowed(user)
        text = spoken_text(message.content)
        if not text:
            raise InvalidInputError("There is nothing to read aloud in this message.")
        if len(text) > self.settings.max_speech_chars:
            text = text[: self.settings.max_speech_chars]
        choice = await self.voice_of(session, character)
        key = hashlib.sha256(
            f"{backend.name}|{choice.voice}|{choice.speed}|{choice.pitch}|{text}".encode()
        ).hexdigest()
        kept = await session.scalar(
            select(SpeechClip).where(SpeechClip.message_id == message.id, SpeechClip.key == key)
        )
        if kept is not None:
            audio = await self.files.load(session, kept.file_key, owner=user.id)
            return Speech(audio, kept.media_type, kept.seconds), kept
        cost = pricing.speech_cost(self.sparks.settings, len(text)) if self.sparks.enabled else 0
        if cost:
            await self.sparks.check(user.id, cost)
        # End the read before the backend works and the ledger writes: SQLite refuses a write
        # from a transaction whose snapshot another connection's commit has passed.
        await session.commit()
        async with _backend_errors():
            speech = await backend.speak(
                SpeechRequest(text, choice.voice, choice.speed, choice.pitch)
            )
        if cost:
            await self.sparks.spend(
                user.id,
                cost,
                op=f"speech:{message.id}:{uuid.uuid4().hex[:12]}",
                action=pricing.SPEECH,
                ref=f"message:{message.id}",
            )
        clip = SpeechClip(
            user_id=user.id,
            message_id=message.id,
            key=key,
            file_key=await self.files.save(session, speech.audio, owner=user.id),
            media_type=speech.media_type,
            seconds=speech.seconds,
            sparks=cost,
        )
        session.add(clip)
        await session.flush()
        return speech, clip

    # -- listening --------------------------------------------------------------------------

    async def transcribe(self, user: User, audio: bytes, media_type: str) -> Transcript:
        """What the user said (push-to-talk), charged by its length."""
        backend = self.transcription_backend()
        await self.allowed(user)
        if not audio:
            raise InvalidInputError("The recording is empty.")
        per_minute = self.sparks.settings.transcription_sparks_per_minute
        charging = self.sparks.enabled and per_minute > 0
        if charging:
            await self.sparks.check(user.id, per_minute)
        async with _backend_errors():
            transcript = await backend.transcribe(audio, media_type)
        if charging:
            await self.sparks.spend(
                user.id,
                pricing.transcription_cost(self.sparks.settings, transcript.seconds),
                op=f"transcription:{user.id}:{uuid.uuid4().hex[:12]}",
                action=pricing.TRANSCRIPTION,
            )
        return transcript

    async def aclose(self) -> None:
        if self.speech is not None:
            await self.speech.close()
        if self.transcription is not None:
            await self.transcription.close()
