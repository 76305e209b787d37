"""Turn detection for live calls: Silero VAD on real speech (espeak-ng and the packaged Piper
voice), fed in the small frames a browser sends."""

from __future__ import annotations

import numpy as np
import pytest

from afterdark.voice.audio import PcmStream
from afterdark.voice.vad import (
    FRAME,
    RATE,
    Ended,
    Event,
    Paused,
    Resumed,
    Started,
    TurnDetector,
    TurnSettings,
)
from tests.support.speech_audio import Pcm, espeak, frames, piper, silence


def run(detector: TurnDetector, pcm: Pcm, rate: int = RATE) -> list[tuple[int, Event]]:
    """Feed ``pcm`` in 20 ms frames; each event with the samples heard when it came."""
    stream = PcmStream(rate)
    heard = 0
    events: list[tuple[int, Event]] = []
    for frame in frames(pcm, rate):
        samples = stream.feed(frame)
        heard += len(samples)
        events.extend((heard, event) for event in detector.feed(samples))
    return events


def kinds(events: list[tuple[int, Event]]) -> list[str]:
    return [type(event).__name__ for _, event in events]


@pytest.mark.parametrize("speaker", [espeak, piper])
def test_one_sentence_is_one_turn(speaker: object) -> None:
    said = speaker("the lighthouse keeper lit the lamp at dusk")  # type: ignore[operator]
    pcm = np.concatenate([silence(0.5), said, silence(1.0)])
    events = run(TurnDetector(), pcm)
    names = kinds(events)
    assert names[0] == "Started", names
    assert names[-1] == "Ended", names
    assert names.count("Started") == 1
    assert names.count("Ended") == 1
    start = events[0][1]
    assert isinstance(start, Started)
    # The speech began after the leading half second, and was noticed within 0.3 s of it.
    assert 0.4 * RATE <= start.sample <= 0.8 * RATE
    assert events[0][0] - start.sample < 0.3 * RATE
    heard_end, ended = events[-1]
    assert isinstance(ended, Ended)
    loud = np.flatnonzero(np.abs(said.astype(np.int32)) > 500)
    speech_end = 0.5 * RATE + loud[-1]  # the synthesisers add quiet of their own at the end
    assert abs(ended.speech_end - speech_end) < 0.25 * RATE
    # The turn ends once the silence has lasted silence_ms (plus a frame or two).
    waited = (heard_end - ended.speech_end) / RATE
    assert 0.45 <= waited <= 0.6, waited
    # The turn's audio: the speech from a little before it began to the pause after it.
    assert len(said) * 0.9 < len(ended.audio) < len(said) + 0.8 * RATE
    paused = [e for _, e in events if isinstance(e, Paused)]
    assert len(paused[-1].audio) == len(ended.audio)  # transcribed ahead: the same audio


def test_silence_and_a_click_are_no_turn() -> None:
    click = np.zeros(RATE, dtype=np.int16)
    click[8000:8080] = 20_000
    noise = (np.random.default_rng(1).normal(0, 300, RATE * 2)).astype(np.int16)
    assert run(TurnDetector(), np.concatenate([silence(1.0), click, noise])) == []


def test_two_sentences_with_a_long_gap_are_two_turns_a_short_gap_one() -> None:
    first, second = espeak("good evening"), espeak("is the ferry running")
    apart = run(TurnDetector(), np.concatenate([first, silence(1.0), second, silence(1.0)]))
    assert kinds(apart).count("Ended") == 2
    close = run(TurnDetector(), np.concatenate([first, silence(0.25), second, silence(1.0)]))
    names = kinds(close)
    assert names.count("Ended") == 1
    assert names.count("Started") == 1
    # The short gap was a pause the transcript was begun at, then more speech came.
    assert names.index("Paused") < names.index("Resumed") < names.index("Ended")
    ended = close[-1][1]
    assert isinstance(ended, Ended)
    assert len(ended.audio) > len(first) + len(second)


def test_a_turn_is_cut_at_the_longest_allowed() -> None:
    talk = np.concatenate([espeak("one two three four five six seven eight nine ten")] * 3)
    events = run(TurnDetector(TurnSettings(max_turn_s=3.0)), talk)
    ended = [e for _, e in events if isinstance(e, Ended)]
    assert ended, kinds(events)
    assert len(ended[0].audio) <= 3.0 * RATE + FRAME


def test_microphone_rates_are_resampled() -> None:
    said = espeak("please bring the blue umbrella", rate=48_000)
    pcm = np.concatenate([silence(0.3, 48_000), said, silence(1.0, 48_000)])
    events = run(TurnDetector(), pcm, rate=48_000)
    assert kinds(events)[0] == "Started"
    assert kinds(events)[-1] == "Ended"
    ended = events[-1][1]
    assert isinstance(ended, Ended)
    # 48 kHz in, 16 kHz out: the turn is about as long as the speech, at a third the samples.
    assert abs(len(ended.audio) - len(said) / 3) < 0.6 * RATE


def test_pcm_stream_keeps_a_split_sample() -> None:
    stream = PcmStream(RATE)
    data = np.array([1000, -2000, 3000], dtype="<i2").tobytes()
    first, second = stream.feed(data[:3]), stream.feed(data[3:])
    joined = np.concatenate([first, second])
    assert np.allclose(joined * 32768, [1000, -2000, 3000])


def test_resumed_only_after_a_pause() -> None:
    said = espeak("hello there")
    events = run(TurnDetector(), np.concatenate([said, silence(1.0)]))
    names = kinds(events)
    for i, name in enumerate(names):
        if name == "Resumed":
            assert "Paused" in names[:i]
    assert all(isinstance(e, Started | Paused | Resumed | Ended) for _, e in events)
