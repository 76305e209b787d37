"""Find the age a character card states, so cards about minors can be refused.

Cards have no age field: ages live in prose ("a 27-year-old librarian"), in attribute lists
(``Age: 27``, ``Age("27")``) or in our own extension. Ages of other people a card mentions
("her 8-year-old son") are not the character's and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from afterdark.errors import AfterdarkError

MIN_CHARACTER_AGE = 18
MAX_CHARACTER_AGE = 100_000


class UnderageCharacterError(AfterdarkError):
    """A character is, or is stated to be, younger than 18."""

    status = 422
    code = "underage_character"


@dataclass(frozen=True)
class StatedAge:
    years: int
    quote: str
    explicit: bool  # from an "Age: N" attribute rather than prose


_UNITS = (
    r"(?:feet|foot|ft|cm|m|kg|lbs?|pounds|inches|in|%|percent|times|hours?|minutes?|days?|"
    r"weeks?|months?|am|pm|o'clock)"
)
_RELATION_WORDS = {
    *"son sons daughter daughters child children kid kids sister brother sibling".split(),
    *"siblings niece nephew cousin boy girl".split(),
}
_FIELD = re.compile(
    r"(?:\bage\b\s*(?:[:=(\"'\[]\s*)+|\baged\s+)[\"']?\s*(\d{1,6})\b", re.IGNORECASE
)
_PROSE = re.compile(
    r"(?P<before>\b\w+\s+)?(?:a|an)?\s*\b(?P<n>\d{1,6})\s*(?:-|\s)\s*(?:years?|yrs?|yr)"
    r"(?:\s*-\s*|\s+)old\b(?P<after>\s+\w+)?",
    re.IGNORECASE,
)
_SHORT = re.compile(r"\b(?P<n>\d{1,3})\s*(?:yo|y/o|y\.o\.)(?!\w)", re.IGNORECASE)
_IS = re.compile(
    r"(?:\{\{char\}\}|<bot>|\bshe|\bhe|\bi|\bthey)\s+(?:is|am|are|'s|’s)\s+(?:only\s+|just\s+|"
    r"barely\s+|now\s+)?(?P<n>\d{1,3})\b(?!\s*" + _UNITS + r"\b)(?![.,]\d)",
    re.IGNORECASE,
)
_POSSESSIVE = {"her", "his", "their", "my", "your", "its", "our", "whose"}
_MINOR_WORDS = re.compile(r"\b(?:underage|under-age|is a minor|a minor,)\b", re.IGNORECASE)


def stated_ages(texts: Iterable[str]) -> list[StatedAge]:
    """Every age the texts state for their character, in order of appearance."""
    found: list[StatedAge] = []
    for text in texts:
        for match in _FIELD.finditer(text):
            found.append(StatedAge(int(match.group(1)), match.group(0).strip(), True))
        for match in _PROSE.finditer(text):
            before = (match.group("before") or "").strip().casefold()
            after = (match.group("after") or "").strip().casefold()
            if before in _POSSESSIVE or after in _RELATION_WORDS:
                continue
            found.append(StatedAge(int(match.group("n")), match.group(0).strip(), False))
        for pattern in (_SHORT, _IS):
            for match in pattern.finditer(text):
                found.append(StatedAge(int(match.group("n")), match.group(0).strip(), False))
    return found


def card_age(name: str, texts: Iterable[str]) -> int | None:
    """The character's stated age (None when the card states none); refuses minors."""
    texts = list(texts)
    for text in texts:
        if match := _MINOR_WORDS.search(text):
            raise UnderageCharacterError(
                f"The card describes {name} as a minor ({match.group(0)!r}). Afterdark only "
                f"hosts adult characters, {MIN_CHARACTER_AGE} or older."
            )
    ages = stated_ages(texts)
    for age in ages:
        if age.years < MIN_CHARACTER_AGE:
            raise UnderageCharacterError(
                f"The card states that {name} is {age.years} ({age.quote!r}). Afterdark only "
                f"hosts adult characters, {MIN_CHARACTER_AGE} or older."
            )
    if not ages:
        return None
    explicit = [age for age in ages if age.explicit]
    return min(explicit or ages, key=lambda age: age.years).years


def check_character_age(age: int, name: str = "The character") -> None:
    """Refuse an age below 18 (or an absurd one) with a message saying why."""
    if age < MIN_CHARACTER_AGE:
        raise UnderageCharacterError(
            f"{name} must be an adult: the age given is {age}, the minimum is "
            f"{MIN_CHARACTER_AGE}. Every character on Afterdark is {MIN_CHARACTER_AGE} or older."
        )
    if age > MAX_CHARACTER_AGE:
        raise UnderageCharacterError(
            f"The age must be a number of years up to {MAX_CHARACTER_AGE}."
        )
