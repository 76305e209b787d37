"""Word error rate: how far a transcript is from what was said, for tests and benchmarks.

Words are compared after normalising away what Whisper varies freely: case, punctuation,
apostrophes ("don't" = "dont") and hyphens ("round-fog" = "round fog"). Numbers stay as
written: "3" and "three" differ, so references should spell what the speaker says.
The distance is Levenshtein over words (substitutions, deletions, insertions).
"""

from __future__ import annotations

import re

# A number keeps its inner separators ("3.5", "1,000"); a word its inner apostrophes.
_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*|[^\W\d_]+(?:'[^\W\d_]+)*")


def words(text: str) -> list[str]:
    """The normalised words of ``text``."""
    text = text.lower().replace("\u2019", "'")
    return [token.replace("'", "") for token in _TOKEN.findall(text)]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edits turning the reference's words into the hypothesis's, words in the reference)."""
    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        current = [i]
        for j, heard in enumerate(hyp, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != heard))
            )
        previous = current
    return previous[-1], len(ref)


def wer(reference: str, hypothesis: str) -> float:
    """Word errors per reference word (0 is perfect; can pass 1 with insertions)."""
    errors, total = word_errors(reference, hypothesis)
    if total == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / total


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    """Errors over all reference words of (reference, hypothesis) pairs, not a mean of rates."""
    errors = total = 0
    for reference, hypothesis in pairs:
        e, t = word_errors(reference, hypothesis)
        errors, total = errors + e, total + t
    return errors / total if total else 0.0
