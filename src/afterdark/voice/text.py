"""What of a message is read aloud.

Roleplay replies mix speech with narration in asterisks (*she smiles*); reading the stage
directions aloud sounds wrong, so they are left out, as are picture cues and markup. A
message that is all narration is read whole, without the asterisks.
"""

from __future__ import annotations

import re

CUE_KINDS = ("picture", "photo", "selfie", "image")
"""The words that open a picture cue, ``[picture: ...]`` (any case)."""
MARKUP = "*_`#>~"
"""Markup characters, never read aloud."""

_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_ACTION = re.compile(r"\*[^*\n]+\*")
_CUE = re.compile(rf"\[(?:{'|'.join(CUE_KINDS)})\s*:[^\]]*\]", re.IGNORECASE)
_MARKUP = re.compile(f"[{re.escape(MARKUP)}]+")
_SPACE = re.compile(r"\s+")


def spoken_text(content: str) -> str:
    """The words to speak for a message (may be empty)."""
    text = _BOLD.sub(r"\1", _CUE.sub(" ", content))
    speech = _SPACE.sub(" ", _MARKUP.sub("", _ACTION.sub(" ", text))).strip()
    if speech.strip(" .,;:!?-—–\"'"):
        return speech
    return _SPACE.sub(" ", _MARKUP.sub("", text)).strip()
