"""When a chat asks for a picture without the camera button.

Two ways, both checked once a reply is finished (``Pictures.after_reply``), so the picture
shows under the character's answer:

- **the user's own words**, like SillyTavern's interactive mode but stricter: a request to
  *send* or *show me* a *picture/photo/selfie* ("send me a photo of you on the pier"), not
  any sentence that mentions a photo ("I found an old photo"). The whole message is the
  picture's request.
- **the character's cue**: a reply holding ``[picture: what it shows]`` (also ``photo``,
  ``selfie``, ``image``). Models do not write it unprompted: a character's system prompt can
  tell it to ("When you send {{user}} a photo, write [picture: what it shows]").

The ``/pic`` command of the chat page never reaches here: it asks for the picture itself.
"""

from __future__ import annotations

import re

_NOUN = r"(?:pic|picture|photo|photograph|selfie|snapshot|snap|image)s?"
_ASK = re.compile(
    r"\b(?:send|show|give|take|snap|share|text)\s+(?:me|us)\b[^.?!\n]{0,40}?\b"
    + _NOUN
    + r"\b|\b(?:send|share)\b[^.?!\n]{0,15}?\b(?:a|another|one|some)\s+(?:\w+\s+)?"
    + _NOUN
    + r"\b|\bcan\s+i\s+(?:see|have|get)\s+(?:a|another)\s+(?:\w+\s+)?"
    + _NOUN
    + r"\b",
    re.IGNORECASE,
)
_CUE = re.compile(r"\[(?:picture|photo|selfie|image)\s*:\s*([^\]]{1,400})\]", re.IGNORECASE)


def asks_for_picture(text: str) -> bool:
    """Whether a user's message asks the character for a picture."""
    return bool(_ASK.search(text))


def picture_cue(reply: str) -> str | None:
    """What the character's ``[picture: …]`` cue says the picture shows, if it wrote one."""
    found = _CUE.search(reply)
    words = " ".join(found.group(1).split()) if found else ""
    return words or None
