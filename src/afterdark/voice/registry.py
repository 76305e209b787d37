"""The configured speech and transcription backends (heavy parts load on first use)."""

from __future__ import annotations

from afterdark.voice.base import SpeechBackend, TranscriptionBackend
from afterdark.voice.settings import VoiceSettings


def make_speech(settings: VoiceSettings) -> SpeechBackend | None:
    if settings.tts_backend == "embedded":
        from afterdark.voice.piper import PiperSpeech

        return PiperSpeech(settings)
    if settings.tts_backend == "openai":
        from afterdark.voice.openai_speech import OpenAISpeech

        return OpenAISpeech(settings)
    return None


def make_transcription(settings: VoiceSettings) -> TranscriptionBackend | None:
    if settings.stt_backend == "embedded":
        from afterdark.voice.whisper import WhisperTranscription

        return WhisperTranscription(settings)
    if settings.stt_backend == "openai":
        from afterdark.voice.openai_transcription import OpenAITranscription

        return OpenAITranscription(settings)
    return None
