"""A streamed reply cut into pieces that can be spoken as soon as each is complete.

In a call the character's reply arrives token by token; waiting for the whole of it before
speaking would leave seconds of silence, so it is cut at sentence ends (and newlines) and
each piece goes to text-to-speech at once. The first piece may end at a comma or a dash, so
the first audio starts sooner; a piece with no sentence end is cut at a space once it grows
long, so no one synthesis runs long. What is read aloud follows ``spoken_text``: narration
in asterisks and picture cues are left out (held back while still open, since they can span
tokens), bold is read as its words, markup is dropped, and a reply that was all narration
is read whole at the end rather than answered with silence.

The pieces depend only on the text, never on where the tokens split it: each decision waits
until the characters it depends on have arrived.
"""

from __future__ import annotations

import re
from enum import Enum

from afterdark.voice.text import CUE_KINDS, MARKUP, spoken_text

_STARS = re.compile(r"\*+")
_LETTERS = re.compile(r"[A-Za-z]*")
_BLANKS = re.compile(r"\s*")
_SPECIAL = re.compile(rf"[{re.escape(MARKUP)}\[]")
_NARRATION_END = re.compile(r"[*\n]")
_GAP = re.compile(r"\s+")
_BOUNDARY = re.compile(
    r"(?P<newline>\n)"
    r"|(?P<stop>[.!?…]+)[\"'”’)\]»]*(?=\s)"
    r"|(?P<clause>[,;:—]|\s[-–])(?=\s)"
)
_OPENERS = "\"'“‘([«"
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e"})


class _Mode(Enum):
    SPEECH = "speech"
    NARRATION = "narration"  # inside *...*: left out
    CUE = "cue"  # inside [picture: ...]: left out


class SpeakableChunks:
    """Cuts a streamed reply into pieces to speak as soon as each is complete."""

    def __init__(self, *, first_min_chars: int = 12, max_chars: int = 220) -> None:
        if max_chars < 1:
            raise ValueError("max_chars must be at least 1")
        self._first_min = first_min_chars
        self._max = max_chars
        self._mode = _Mode.SPEECH
        self._unread = ""  # raw text waiting for what follows it (an open "*" run or "[pic")
        self._pending = ""  # speech read but not yet given out: whitespace collapsed
        self._reply: list[str] = []  # the raw reply, kept until something is spoken
        self._spoken = False

    @property
    def spoken(self) -> bool:
        """Whether any piece has been produced so far."""
        return self._spoken

    def feed(self, delta: str) -> list[str]:
        """Take the next part of the reply; the pieces it completed (possibly none)."""
        if not delta:
            return []
        if not self._spoken:
            self._reply.append(delta)
        self._read(self._unread + delta, final=False)
        return self._cut(final=False)

    def finish(self) -> list[str]:
        """The rest, at the end of the reply (unclosed narration and cues are dropped)."""
        self._read(self._unread, final=True)
        self._mode = _Mode.SPEECH
        pieces = self._cut(final=True)
        if not self._spoken and self._reply:
            # Nothing was said: read the reply whole, narration included.
            self._pending = spoken_text("".join(self._reply))
            pieces = self._cut(final=True)
        self._reply = []
        return pieces

    # -- reading: raw text to speech ---------------------------------------------------------

    def _read(self, text: str, *, final: bool) -> None:
        """Turn raw text into speech, appended to the pending text, as far as it is decided."""
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            if self._mode is _Mode.CUE:
                close = text.find("]", i)
                if close < 0:
                    i = n
                    break
                self._mode, i = _Mode.SPEECH, close + 1
            elif self._mode is _Mode.NARRATION:
                found = _NARRATION_END.search(text, i)
                if found is None:
                    i = n
                    break
                at = found.start()
                if found.group() == "\n":  # narration does not span lines: unclosed, dropped
                    self._mode, i = _Mode.SPEECH, at
                    continue
                end = _end_of(_STARS, text, at)
                if end == n and not final:  # the run may go on
                    i = at
                    break
                # An odd run closes it; an even one is bold within the narration.
                if (end - at) % 2:
                    self._mode = _Mode.SPEECH
                i = end
            else:
                found = _SPECIAL.search(text, i)
                if found is None:
                    out.append(text[i:])
                    i = n
                    break
                at = found.start()
                out.append(text[i:at])
                mark = found.group()
                if mark == "*":
                    end = _end_of(_STARS, text, at)
                    if end == n and not final:
                        i = at
                        break
                    # An odd run before a word opens narration; bold markers and stray
                    # asterisks (a list bullet, "2 * 3") are just dropped.
                    if (end - at) % 2 and end < n and not text[end].isspace():
                        out.append(" ")
                        self._mode = _Mode.NARRATION
                    i = end
                elif mark == "[":
                    cue = _cue_opening(text, at, final=final)
                    if cue is None:  # not known yet
                        i = at
                        break
                    if cue < 0:
                        out.append("[")
                        i = at + 1
                    else:
                        out.append(" ")
                        self._mode, i = _Mode.CUE, cue
                else:  # other markup
                    i = at + 1
        self._unread = text[i:]
        if out:
            self._pending = _collapse(self._pending + "".join(out))

    # -- cutting: speech to pieces ----------------------------------------------------------

    def _cut(self, *, final: bool) -> list[str]:
        """Give out the pending pieces that are complete (all of them when ``final``)."""
        pieces: list[str] = []
        text, start = self._pending, 0
        while start < len(text):
            end = self._boundary(text, start)
            if end is None:
                if len(text) - start > self._max:  # too long without a boundary: cut at a space
                    space = text.rfind(" ", start, start + self._max + 1)
                    end = space if space > start else start + self._max
                elif final:
                    end = len(text)
                else:
                    break
            piece = text[start:end].strip()
            start = _end_of(_BLANKS, text, end)
            if any(ch.isalnum() for ch in piece):
                pieces.append(piece)
                self._spoken = True
        self._pending = text[start:]
        return pieces

    def _boundary(self, text: str, start: int) -> int | None:
        """Where the piece starting at ``start`` ends, if it ends within ``max_chars``."""
        # A boundary needs the character after it, so none found ends past max_chars.
        for found in _BOUNDARY.finditer(text, start, start + self._max + 1):
            kind = found.lastgroup
            end = found.start() if kind == "newline" else found.end()
            if kind == "stop":
                if found.group("stop") == "." and _abbreviation(text, start, found.start()):
                    continue
            elif kind == "clause" and (self._spoken or end - start < self._first_min):
                continue
            return end
        return None


def _end_of(pattern: re.Pattern[str], text: str, at: int) -> int:
    """Where ``pattern``, one that always matches at ``at``, ends."""
    found = pattern.match(text, at)
    assert found is not None
    return found.end()


def _cue_opening(text: str, at: int, *, final: bool) -> int | None:
    """Whether the ``[`` at ``at`` opens a picture cue: the index after its colon, -1 if it
    does not, None if that depends on text still to come."""
    after = _end_of(_LETTERS, text, at + 1)
    kind = text[at + 1 : after].lower()
    if after == len(text):
        waiting = not final and any(name.startswith(kind) for name in CUE_KINDS)
        return None if waiting else -1
    if kind not in CUE_KINDS:
        return -1
    colon = _end_of(_BLANKS, text, after)
    if colon == len(text):
        return -1 if final else None
    return colon + 1 if text[colon] == ":" else -1


def _abbreviation(text: str, start: int, dot: int) -> bool:
    """Whether the full stop at ``dot`` ends an abbreviation or an initial, not a sentence."""
    word = text[max(text.rfind(" ", start, dot) + 1, start) : dot].lstrip(_OPENERS)
    if len(word) == 1 and word.isupper() and word != "I":  # "J. Smith", but "so do I."
        return True
    return word.lower() in _ABBREVIATIONS


def _collapse(text: str) -> str:
    """Whitespace runs as one space, or one newline where they hold one; none at the start."""
    return _GAP.sub(lambda gap: "\n" if "\n" in gap.group() else " ", text.lstrip())
