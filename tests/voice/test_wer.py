"""Word error rate: normalisation and the exact edit distance."""

from __future__ import annotations

import pytest

from afterdark.voice.wer import corpus_wer, wer, word_errors, words


def test_words_are_normalised() -> None:
    assert words("Hello, WORLD! Don't—stop… it’s round-fog.") == [
        "hello",
        "world",
        "dont",
        "stop",
        "its",
        "round",
        "fog",
    ]


def test_numbers_stay_as_written() -> None:
    assert words("It costs 3.50, or 1,000 in all, at 10:30.") == [
        "it",
        "costs",
        "3.50",
        "or",
        "1,000",
        "in",
        "all",
        "at",
        "10:30",
    ]
    assert wer("three cats", "3 cats") == 0.5


@pytest.mark.parametrize(
    ("reference", "hypothesis", "errors"),
    [
        ("the cat sat", "The cat sat.", 0),
        ("the cat sat", "the bat sat", 1),  # substitution
        ("the cat sat", "the sat", 1),  # deletion
        ("the cat sat", "the big cat sat", 1),  # insertion
        ("the cat sat on the mat", "cat sat on mat the", 3),
        ("a b c d", "d c b a", 4),
        ("", "", 0),
        ("", "uh", 1),
        ("hello there", "", 2),
    ],
)
def test_edit_distance(reference: str, hypothesis: str, errors: int) -> None:
    assert word_errors(reference, hypothesis)[0] == errors


def test_rates() -> None:
    assert wer("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(1 / 6)
    assert wer("hi", "oh hi there you") == 3.0  # insertions can pass 1
    assert wer("", "") == 0.0
    assert wer("", "something") == 1.0


def test_corpus_rate_weights_by_words() -> None:
    pairs = [("one two three four", "one two three four"), ("five", "six")]
    assert corpus_wer(pairs) == pytest.approx(1 / 5)
    assert corpus_wer([]) == 0.0
