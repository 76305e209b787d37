"""Hard limits no setting unlocks: nothing sexual involving minors, nothing sexual about real
people. Checked on what users send and on what the model writes.

A text breaks a limit when it is sexual **and** it refers to a minor (an age under 18, or
words for children) or names a real person the operator lists. Whether it is sexual comes
from two signals: clinical and explicit terms (rules), or suggestive terms (a kiss, a
bedroom) that the classifier (safety/classifier.py) scores as sexual or offensive. Next to a
stated age under 18, a suggestive term alone is enough. Rules alone decide the minor and
the real-person parts. Everything is case-insensitive and whole-word.

The check errs on the side of refusing: "a 16-year-old" next to "naked" is refused even in
a story about a painting. The limits are about sexual content only; minors and real people
may otherwise be mentioned (a backstory, the news).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from afterdark.safety.classifier import TextClassifier

Limit = Literal["minors", "real_people"]

_UNDER_18 = r"(?:1[0-7]|[1-9])"
_WORD_AGES = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    "fifteen|sixteen|seventeen"
)
_AGE_PATTERNS = [
    rf"\b{_UNDER_18}\s*(?:-|\s)?\s*(?:years?|yrs?)(?:\s*-\s*|\s+)old\b",
    rf"\b{_UNDER_18}\s*-\s*year\s*-\s*old\b",
    rf"\b(?:{_WORD_AGES})(?:\s*-\s*|\s+)years?(?:\s*-\s*|\s+)old\b",
    rf"\bage[ds]?\s+(?:of\s+)?{_UNDER_18}\b",
    rf"\b{_UNDER_18}\s*y\.?\s*o\b",
    # "she is 16", "just turned 15": a bare number after a verb of age.
    rf"\b(?:is|was|am|are|turned|turning|just)\s+(?:only\s+|just\s+)?{_UNDER_18}\b"
    r"(?!\s*(?:%|percent|minutes?|hours?|days?|weeks?|months?|times?|o'clock|am\b|pm\b|[:.,]\d))",
]
_MINOR_TERMS = [
    r"child(?:ren)?",
    r"kids?",
    r"minors",
    r"under\s*-?\s*age(?:d)?",
    r"little (?:girl|boy)s?",
    r"pre\s*-?\s*teens?",
    r"young teens?",
    r"teen(?:age|ager)?s?",
    r"toddlers?",
    r"infants?",
    r"babies",
    r"school\s*(?:girl|boy)s?",
    r"(?:elementary|primary|middle|grade|junior high)\s+school(?:er)?s?",
    r"kindergart(?:en|ner)s?",
    r"(?:[1-8](?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth)\s+grade(?:rs?)?",
    r"loli(?:s|con)?",
    r"shota(?:s|con)?",
]
_SEXUAL_TERMS = [
    r"sex(?:ual(?:ly|ity)?|y)?\s+(?:scene|act|acts|content|play|toy|toys)",
    r"(?:have|has|having|had)\s+sex",
    r"sexual(?:ly|ised|ized)?",
    r"intercourse",
    r"nude|naked|nudity",
    r"undress(?:es|ed|ing)?",
    r"erotic(?:a|ally)?",
    r"orgasm(?:s|ic)?",
    r"arous(?:al|ed|ing)",
    r"genital(?:s|ia)?",
    r"porn(?:o|ography|ographic)?",
    r"nsfw",
    r"lewd",
    r"(?:make|makes|making|made)\s+love",
    r"fondl(?:e|es|ed|ing)",
    r"molest(?:s|ed|ing|ation)?",
    r"explicit\s+(?:scene|content|images?|pictures?|photos?)",
]
# Suggestive on their own, sexual only when the classifier agrees.
_SUGGESTIVE_TERMS = [
    r"kiss(?:es|ed|ing)?",
    r"touch(?:es|ed|ing)?",
    r"caress(?:es|ed|ing)?",
    r"bed(?:room)?",
    r"bod(?:y|ies)",
    r"strip(?:s|ped|ping)?",
    r"intimate(?:ly)?",
    r"seduc(?:e|es|ed|ing|tion|tive)",
    r"lingerie|underwear",
    r"moan(?:s|ed|ing)?",
]
CLASSIFIER_THRESHOLD = 0.9


def _words(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


_AGES = re.compile("|".join(_AGE_PATTERNS), re.IGNORECASE)
_MINORS = _words(_MINOR_TERMS)
_SEXUAL = _words(_SEXUAL_TERMS)
_SUGGESTIVE = _words(_SUGGESTIVE_TERMS)
_SENTENCE = re.compile(r"(?<=[.!?…\n])\s+")


@dataclass(frozen=True)
class Breach:
    limit: Limit
    # What was found, for the moderation log: rule hits and the classifier's score.
    signals: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        if self.limit == "minors":
            return (
                "This is refused: sexual content involving anyone under 18 is never allowed "
                "here, in any setting."
            )
        return (
            "This is refused: sexual content about real people is never allowed here, "
            "in any setting."
        )


class HardLimits:
    """Checks texts against the hard limits."""

    def __init__(self, classifier: TextClassifier, real_people: Iterable[str] = ()) -> None:
        self.classifier = classifier
        names = sorted({n.strip() for n in real_people if n.strip()}, key=len, reverse=True)
        self._people = (
            re.compile(
                r"\b(?:" + "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in names) + r")\b",
                re.IGNORECASE,
            )
            if names
            else None
        )

    def needs_classifier(self, text: str) -> bool:
        """Whether checking ``text`` would ask the classifier (rules alone do not settle it)."""
        if not (_AGES.search(text) or _MINORS.search(text)):
            if self._people is None or not self._people.search(text):
                return False
        return not _SEXUAL.search(text) and _SUGGESTIVE.search(text) is not None

    def check(self, text: str) -> Breach | None:
        """The limit the text breaks, or None."""
        ages = [f"age:{m.group(0)}" for m in _AGES.finditer(text)]
        minors = ages + [f"term:{m.group(0)}" for m in _MINORS.finditer(text)]
        people = [f"name:{m.group(0)}" for m in self._people.finditer(text)] if self._people else []
        if not minors and not people:
            return None
        sexual = self._sexual(text)
        if minors and not sexual and ages:
            # A stated age under 18 with anything romantic is enough: no classifier needed.
            sexual = [f"term:{m.group(0)}" for m in _SUGGESTIVE.finditer(text)]
        if not sexual:
            return None
        if minors:
            return Breach("minors", _lower_unique(minors + sexual))
        return Breach("real_people", _lower_unique(people + sexual))

    def _sexual(self, text: str) -> list[str]:
        found = [f"term:{m.group(0)}" for m in _SEXUAL.finditer(text)]
        if found:
            return found
        sentences = [s for s in _SENTENCE.split(text) if _SUGGESTIVE.search(s)]
        if not sentences:
            return []
        best = max(self.classifier.scores(sentences))
        if best < CLASSIFIER_THRESHOLD:
            return []
        cues = [f"term:{m.group(0)}" for s in sentences for m in _SUGGESTIVE.finditer(s)]
        return [*cues, f"{self.classifier.name}:{best:.2f}"]


def _lower_unique(signals: list[str]) -> list[str]:
    return list(dict.fromkeys(" ".join(s.lower().split()) for s in signals))[:12]
