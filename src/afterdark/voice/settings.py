"""Voice settings: which speech and transcription backends run, and where.

Wired into ``afterdark.config.Settings`` as its ``voice`` section
(``AFTERDARK_VOICE__TTS_BACKEND`` and so on). The defaults run offline on the CPU: Piper's
en_US "joe" voice and Whisper tiny.en, both shipped in packages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VoiceSettings(_Section):
    tts_backend: Literal["embedded", "openai", "none"] = Field(
        default="embedded",
        description="Speech: embedded (Piper, the packaged voice plus any in piper_voices_dir), "
        "openai (an OpenAI-compatible /v1/audio/speech server: Kokoro-FastAPI, "
        "openedai-speech, hosted APIs) or none.",
    )
    tts_base_url: str = Field(
        default="http://127.0.0.1:8880/v1", description="openai speech: the API base URL."
    )
    tts_api_key: SecretStr | None = Field(default=None, description="openai speech: bearer token.")
    tts_model: str = Field(default="tts-1", description="openai speech: the model name sent.")
    tts_voices: list[str] = Field(
        default_factory=lambda: ["alloy", "echo", "fable", "nova", "onyx", "shimmer"],
        description="openai speech: the voice names the server offers.",
    )
    piper_voices_dir: Path | None = Field(
        default=None,
        description="embedded speech: a folder of Piper voices you installed "
        "(<name>.onnx with <name>.onnx.json beside it).",
    )
    stt_backend: Literal["embedded", "openai", "none"] = Field(
        default="embedded",
        description="Transcription: embedded (Whisper tiny.en through faster-whisper), openai "
        "(an OpenAI-compatible /v1/audio/transcriptions server) or none.",
    )
    stt_base_url: str = Field(
        default="http://127.0.0.1:8000/v1", description="openai transcription: the API base URL."
    )
    stt_api_key: SecretStr | None = Field(
        default=None, description="openai transcription: bearer token."
    )
    stt_model: str = Field(
        default="whisper-1", description="openai transcription: the model name sent."
    )
    stt_model_path: Path | None = Field(
        default=None,
        description="embedded transcription: a CTranslate2 Whisper model folder to use "
        "instead of the packaged tiny.en (e.g. a multilingual one).",
    )
    premium: bool = Field(
        default=True,
        description="Voice needs a plan that unlocks it, where such a plan is on sale "
        "(payments on and a plan listing 'voice'); otherwise everyone has it.",
    )
    threads: int = Field(
        default=2, ge=1, le=64, description="CPU threads for the embedded speech and transcription."
    )
    max_speech_chars: int = Field(
        default=4000, ge=100, le=100_000, description="Longest text one request may speak."
    )
    max_audio_seconds: int = Field(
        default=120, ge=5, le=3600, description="Longest recording one request may transcribe."
    )
    timeout: float = Field(default=60.0, gt=0, description="Seconds a remote backend may take.")
    call_silence_ms: int = Field(
        default=480,
        ge=160,
        le=3000,
        description="Live calls: the silence that ends the user's turn (shorter answers "
        "sooner, but cuts people off mid-thought).",
    )
    call_pause_ms: int = Field(
        default=96,
        ge=32,
        le=1000,
        description="Live calls: the silence after which the words so far are transcribed "
        "ahead, so the transcript is ready when the turn ends.",
    )
    call_start_ms: int = Field(
        default=160,
        ge=32,
        le=2000,
        description="Live calls: speech needed before it counts as the user talking (and "
        "interrupts the character).",
    )
    call_vad_threshold: float = Field(
        default=0.5, gt=0.1, lt=1.0, description="Live calls: Silero speech probability for speech."
    )
    call_max_turn_seconds: float = Field(
        default=30.0, ge=3, le=120, description="Live calls: the longest turn heard as one."
    )
    call_max_minutes: int = Field(
        default=60, ge=1, le=1440, description="Live calls: a call ends after this long."
    )
