"""A live voice call with a character: the user talks, the character answers aloud.

One ``Call`` per open socket (``web/call.py`` speaks the wire protocol, documented in
``docs/voice.md``). Microphone audio arrives as raw PCM; ``TurnDetector`` finds when the
user starts talking and when the turn is over. The turn's words go through the transcription
backend, then into the chat engine as an ordinary message of the same conversation (same
prompt, memory, lorebooks, Sparks and limits as typing it), and the reply is spoken piece by
piece (``SpeakableChunks``) as it streams, each piece sent as soon as it is synthesised.

Latency is cut where it costs nothing: the utterance is transcribed from the first short
pause (``Paused``), so the transcript is usually ready when the turn is known to be over;
the first piece of a reply may end at a comma. When the user talks over the character
(barge-in), the reply is stopped where it is (kept, marked stopped, like the Stop button),
queued speech is dropped and the client is told to stop playing. Speech that starts while the
previous turn is still being transcribed is taken as the same turn, not as an interruption.

A piece of the reply is spoken only once the chat engine has screened it against the hard
limits: the engine publishes the next token only after screening, so a piece waits for the
event after the one that completed it.

The user's audio is never stored: only the transcript, as their message. Speech and
transcription are charged per the price list, counted over the whole call (per started
minute heard, per started 1,000 characters spoken) and settled after each turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from afterdark.accounts.models import User
from afterdark.chat import replies
from afterdark.chat.service import get_state
from afterdark.credits import pricing
from afterdark.errors import AfterdarkError, AuthenticationError
from afterdark.runtime import Runtime
from afterdark.safety import wellbeing
from afterdark.safety.ratelimit import Rule, enforce
from afterdark.voice.audio import PcmStream, wav_bytes
from afterdark.voice.base import SpeechRequest, VoiceError
from afterdark.voice.service import VoiceChoice, VoiceUnreachableError
from afterdark.voice.speakable import SpeakableChunks
from afterdark.voice.vad import RATE, Ended, Paused, Resumed, Samples, Started, TurnDetector
from afterdark.voice.vad import TurnSettings as TurnSettings

log = logging.getLogger(__name__)
MIN_RATE, MAX_RATE = 8_000, 96_000
# The engine's end states as the call reports them.
_STATUS = {"complete": "done", "stopped": "stopped", "interrupted": "stopped", "error": "error"}


class Transport(Protocol):
    """Where a call's events go (a WebSocket in the app, a list in unit tests)."""

    async def send(self, event: dict[str, Any], audio: bytes | None = None) -> None:
        """Send the event; with ``audio``, the audio right after it, nothing in between."""
        ...

    async def close(self, code: int, reason: str) -> None: ...


@dataclass(slots=True)
class TurnClock:
    """When each stage of a turn happened (monotonic seconds)."""

    speech_end: float
    turn_end: float = 0.0
    transcript: float = 0.0
    sent: float = 0.0
    first_token: float = 0.0
    first_piece: float = 0.0
    first_audio: float = 0.0

    def report(self) -> dict[str, int | None]:
        """Milliseconds from the end of the user's speech to each stage; ``llm`` is the
        model's own time to its first words worth speaking, ``without_llm`` the rest."""

        def since(t: float) -> int | None:
            return round((t - self.speech_end) * 1000) if t else None

        total = since(self.first_audio)
        llm = round((self.first_piece - self.sent) * 1000) if self.first_piece else None
        return {
            "end_of_speech": since(self.turn_end),
            "transcript": since(self.transcript),
            "first_token": since(self.first_token),
            "first_audio": total,
            "llm": llm,
            "total": total,
            "without_llm": total - llm if total is not None and llm is not None else None,
        }


class Meter:
    """The call's speech and transcription, charged per started unit over the whole call."""

    def __init__(self, runtime: Runtime, user_id: int, call_id: str) -> None:
        self.sparks = runtime.sparks
        self.user_id = user_id
        self.call_id = call_id
        self.seconds = 0.0
        self.characters = 0
        self._paid = {pricing.TRANSCRIPTION: 0, pricing.SPEECH: 0}
        self._settles = 0

    def _due(self) -> dict[str, int]:
        settings = self.sparks.settings
        return {
            pricing.TRANSCRIPTION: pricing.transcription_cost(settings, self.seconds)
            if self.seconds
            else 0,
            pricing.SPEECH: pricing.speech_cost(settings, self.characters)
            if self.characters
            else 0,
        }

    async def check(self) -> None:
        """A 402 when the user cannot pay for the next minute heard and 1,000 characters."""
        if not self.sparks.enabled:
            return
        settings = self.sparks.settings
        owed = sum(self._due().values()) - sum(self._paid.values())
        need = (
            owed + settings.transcription_sparks_per_minute + settings.speech_sparks_per_1000_chars
        )
        if need > 0:
            await self.sparks.check(self.user_id, need)

    async def settle(self) -> None:
        if not self.sparks.enabled:
            return
        self._settles += 1
        for action, due in self._due().items():
            owed = due - self._paid[action]
            if owed > 0:
                await self.sparks.spend(
                    self.user_id,
                    owed,
                    op=f"call:{self.call_id}:{action}:{self._settles}",
                    action=action,
                    ref=f"call:{self.call_id}",
                )
                self._paid[action] = due


class Call:
    """One live call of a user with the character of a conversation."""

    def __init__(
        self,
        runtime: Runtime,
        user: User,
        conversation_id: int,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime = runtime
        self.user_id = user.id
        self.conversation_id = conversation_id
        self.transport = transport
        self.clock = clock
        self.id = uuid.uuid4().hex[:16]
        self.meter = Meter(runtime, user.id, self.id)
        settings = runtime.settings.voice
        self.turns = TurnSettings(
            threshold=settings.call_vad_threshold,
            start_ms=settings.call_start_ms,
            pause_ms=settings.call_pause_ms,
            silence_ms=settings.call_silence_ms,
            max_turn_s=settings.call_max_turn_seconds,
        )
        self.voice = VoiceChoice("", 1.0, 0.0)
        self.detector: TurnDetector | None = None
        self.pcm: PcmStream | None = None
        self._received = 0  # 16 kHz samples heard so far
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=4096)
        self._speculation: tuple[int, asyncio.Task[tuple[str, float]]] | None = None
        self._carry: Samples | None = None  # a turn cut short by more speech: said first
        self._turn: asyncio.Task[None] | None = None
        self._turn_audio: Samples | None = None
        self._stage: str | None = None  # "transcribing" | "replying" | None
        self._generation_id: int | None = None
        self._reply_id: int | None = None
        self._barged = False
        self._playing = False
        self._count = 0
        self._closed = False
        self._last_clip: tuple[int, int] | None = None  # (reply, seq) of the last clip sent

    # -- the socket's side ------------------------------------------------------------------

    async def start(self, sample_rate: int) -> dict[str, Any]:
        """Check everything a call needs; the ``ready`` event. Raises ``AfterdarkError``."""
        if not MIN_RATE <= sample_rate <= MAX_RATE:
            raise AfterdarkError(f"The sample rate is {MIN_RATE} to {MAX_RATE} Hz.")
        voices = self.runtime.voices
        voices.speech_backend()
        voices.transcription_backend()
        async with self.runtime.database.session() as session:
            user = await self._user(session)
            state = await get_state(session, user, self.conversation_id)
            await voices.allowed(user)
            self.voice = await voices.voice_of(session, state.character)
            character = state.character.name
        await self.meter.check()
        try:
            self.detector = await asyncio.to_thread(TurnDetector, self.turns)
        except VoiceError as exc:
            raise VoiceUnreachableError(str(exc)) from exc
        self.pcm = PcmStream(sample_rate)
        await voices.warm(self.voice.voice)
        return {
            "type": "ready",
            "conversation_id": self.conversation_id,
            "character": character,
            "silence_ms": self.turns.silence_ms,
        }

    async def hear(self, data: bytes) -> None:
        """Microphone audio: 16-bit little-endian mono PCM at the rate given to ``start``."""
        assert self.detector is not None, "start() first"
        assert self.pcm is not None
        samples = self.pcm.feed(data)
        if not samples.size:
            return
        now = self.clock()
        self._received += len(samples)
        self._arrivals.append((self._received, now))
        for event in self.detector.feed(samples):
            if isinstance(event, Started):
                await self._user_speaks()
            elif isinstance(event, Paused):
                audio = self._with_carry(event.audio)
                task = asyncio.create_task(self._transcribe(audio))
                # One overtaken by more speech is dropped unread: its failure is no news.
                task.add_done_callback(_unread)
                self._speculation = (len(audio), task)
            elif isinstance(event, Resumed):
                self._speculation = None
            elif isinstance(event, Ended):
                clock = TurnClock(speech_end=self._arrival(event.speech_end), turn_end=now)
                audio = self._with_carry(event.audio)
                self._carry = None
                guess = self._speculation
                self._speculation = None
                early = guess[1] if guess is not None and guess[0] == len(audio) else None
                previous = self._turn
                self._turn_audio = audio
                self._turn = asyncio.create_task(self._take_turn(audio, early, clock, previous))

    async def played(self, message_id: object = None, seq: object = None) -> None:
        """The client has played everything it was sent: up to clip ``seq`` of reply
        ``message_id`` (a clip sent after that one is still to be heard)."""
        if message_id is not None and (message_id, seq) != self._last_clip:
            return
        self._playing = False
        if self._stage is None and not (self.detector and self.detector.talking):
            await self._state("listening")

    async def end(self) -> None:
        """Hang up: stop the reply (kept as far as it got), forget the rest, settle."""
        self._closed = True
        if self._generation_id is not None:
            self.runtime.generations.stop(self._generation_id)
        tasks = [t for t in (self._turn, self._speculation and self._speculation[1]) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self.meter.settle()
        except Exception:
            log.exception("settling call %s failed", self.id)

    # -- turns ------------------------------------------------------------------------------

    async def _user_speaks(self) -> None:
        """The user started talking: a barge-in if the character is speaking."""
        if self._stage == "transcribing" and self._turn is not None:
            # Still the same thought: what was heard is said again before the new words.
            self._turn.cancel()
            self._carry = self._turn_audio
            self._turn = None
            self._stage = None
        elif self._stage == "replying" or self._playing:
            self._barged = True
            self._playing = False
            if self._generation_id is not None:
                self.runtime.generations.stop(self._generation_id)
            await self._send({"type": "barge_in", "message_id": self._reply_id})
        await self._state("hearing")

    def _with_carry(self, audio: Samples) -> Samples:
        return np.concatenate([self._carry, audio]) if self._carry is not None else audio

    def _arrival(self, sample: int) -> float:
        """When the audio up to ``sample`` had arrived."""
        for count, at in self._arrivals:
            if count >= sample:
                return at
        return self.clock()

    async def _transcribe(self, audio: Samples) -> tuple[str, float]:
        backend = self.runtime.voices.transcription_backend()
        transcript = await backend.transcribe(wav_bytes(audio, RATE), "audio/wav")
        return transcript.text.strip(), len(audio) / RATE

    async def _take_turn(
        self,
        audio: Samples,
        early: asyncio.Task[tuple[str, float]] | None,
        clock: TurnClock,
        previous: asyncio.Task[None] | None,
    ) -> None:
        if previous is not None:  # a stopped reply finishes saving before the next is asked
            await asyncio.gather(previous, return_exceptions=True)
        self._stage = "transcribing"
        self._barged = False
        await self._state("thinking")
        try:
            text, seconds = await (early if early is not None else self._transcribe(audio))
            clock.transcript = max(self.clock(), clock.turn_end)
            if not text:
                self._stage = None
                await self._state("listening")
                return
            self.meter.seconds += seconds
            await self._reply(text, clock)
        except asyncio.CancelledError:
            raise
        except VoiceError as exc:
            await self._error("voice_failed", str(exc), fatal=False)
        except AfterdarkError as exc:
            fatal = exc.status in (402, 403)
            await self._error(exc.code, exc.message, fatal=fatal)
        except Exception:
            log.exception("call %s: a turn failed", self.id)
            await self._error("internal", "That turn failed because of an internal error.")
        finally:
            if self._turn is asyncio.current_task():
                self._stage = None
                self._generation_id = None

    async def _reply(self, text: str, clock: TurnClock) -> None:
        runtime = self.runtime
        await self.meter.check()
        async with runtime.database.session() as session:
            user = await self._user(session)
            rule = Rule(runtime.settings.chat.generations_per_minute, 60)
            enforce(runtime.limiter, f"generate:{user.id}", rule, "replies started")
            await wellbeing.check_limits(session, user)
            _, said, reply, job = await replies.send(
                session,
                runtime.generations,
                user,
                self.conversation_id,
                text,
                max_chars=runtime.settings.chat.max_message_chars,
            )
        clock.sent = self.clock()
        self._stage = "replying"
        self._generation_id, self._reply_id = job.generation_id, reply.id
        self._count += 1
        turn = self._count
        await self._send({"type": "transcript", "text": text, "message_id": said.id})
        stream = runtime.generations.hub.get(job.generation_id)
        speaker = _Speaker(self, reply.id, clock)
        chunks = SpeakableChunks()
        held: list[str] = []
        done: dict[str, Any] = {}
        if stream is not None:
            async for batch in stream.subscribe(-1):
                for event in batch:
                    if event.name == "token":
                        if not clock.first_token:
                            clock.first_token = self.clock()
                        speaker.say(held)  # screened: the engine went on past them
                        held = chunks.feed(event.data["text"])
                        if not self._barged:
                            await self._send(
                                {
                                    "type": "reply",
                                    "message_id": reply.id,
                                    "text": event.data["text"],
                                }
                            )
                    elif event.name == "done":
                        done = event.data
        if done.get("status") == "complete":
            speaker.say(held + chunks.finish())
        await speaker.finish()
        self._generation_id = None
        await self._send(
            {
                "type": "reply_done",
                "message_id": reply.id,
                "status": _STATUS.get(str(done.get("status")), "error"),
                "error": done.get("error"),
                "content": done.get("content", ""),
            }
        )
        await self._send({"type": "latency", "turn": turn, "ms": clock.report()})
        self._stage = None
        await self.meter.settle()
        if not self._playing and not (self.detector and self.detector.talking):
            await self._state("listening")

    # -- helpers ----------------------------------------------------------------------------

    async def _user(self, session: Any) -> User:
        user = await session.get(User, self.user_id)
        if user is None:
            raise AuthenticationError("This account no longer exists.")
        return user  # type: ignore[no-any-return]

    async def _state(self, state: str) -> None:
        await self._send({"type": "state", "state": state})

    async def _send(self, event: dict[str, Any], audio: bytes | None = None) -> None:
        if self._closed:
            return
        with contextlib.suppress(Exception):  # a socket gone away: the receive loop ends it
            await self.transport.send(event, audio)

    async def _error(self, code: str, message: str, *, fatal: bool = False) -> None:
        await self._send({"type": "error", "code": code, "message": message, "fatal": fatal})
        if fatal:
            await self.transport.close(4402 if code == "payment_required" else 4403, message)
        elif not self._closed and self._stage is None:
            await self._state("listening")


def _unread(task: asyncio.Task[tuple[str, float]]) -> None:
    if not task.cancelled():
        task.exception()  # marks it retrieved; a turn that uses the task raises it itself


class _Speaker:
    """Speaks a reply's pieces in order, one at a time, and sends each as it is ready."""

    def __init__(self, call: Call, message_id: int, clock: TurnClock) -> None:
        self.call = call
        self.message_id = message_id
        self.clock = clock
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._work())
        self.seq = 0

    def say(self, pieces: list[str]) -> None:
        for piece in pieces:
            if not self.clock.first_piece:
                self.clock.first_piece = self.call.clock()
            self.queue.put_nowait(piece)

    async def finish(self) -> None:
        self.queue.put_nowait(None)
        try:
            await self.task
        except asyncio.CancelledError:
            self.task.cancel()
            raise

    async def _work(self) -> None:
        call = self.call
        backend = call.runtime.voices.speech_backend()
        voice = call.voice
        while (piece := await self.queue.get()) is not None:
            if call._barged or call._closed:
                continue
            try:
                speech = await backend.speak(
                    SpeechRequest(piece, voice.voice, voice.speed, voice.pitch)
                )
            except VoiceError as exc:
                await call._error("voice_failed", str(exc))
                continue
            if call._barged or call._closed:
                continue
            call.meter.characters += len(piece)
            if not self.clock.first_audio:
                self.clock.first_audio = call.clock()
                await call._state("speaking")
            call._playing = True
            call._last_clip = (self.message_id, self.seq)
            await call._send(
                {
                    "type": "audio",
                    "seq": self.seq,
                    "message_id": self.message_id,
                    "text": piece,
                    "seconds": round(speech.seconds, 3),
                    "media_type": speech.media_type,
                    "bytes": len(speech.audio),
                },
                speech.audio,
            )
            self.seq += 1
