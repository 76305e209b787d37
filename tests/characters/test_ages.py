from __future__ import annotations

import pytest

from afterdark.characters.ages import UnderageCharacterError, card_age, stated_ages


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("{{char}} is a 27-year-old lighthouse keeper.", 27),
        ("Age: 31\nHeight: tall", 31),
        ('[Character("Vela") Age("19") Job("pilot")]', 19),
        ("She is 45 and tired of dragons.", 45),
        ("A 1200 year old elf who keeps the archive.", 1200),
        ("Aged 22, she already runs the bakery.", 22),
        ("Mira, 24yo, courier.", 24),
    ],
)
def test_stated_age_is_found(text: str, age: int) -> None:
    assert card_age("Vela", [text]) == age


@pytest.mark.parametrize(
    "text",
    [
        "{{char}} is a 16-year-old student.",
        "Age: 15",
        'Age("17")',
        "She is 14.",
        "{{char}} is only 17 years old.",
        "An underage runaway.",
    ],
)
def test_minor_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(UnderageCharacterError) as caught:
        card_age("Vela", ["A kind person.", text])
    message = str(caught.value)
    assert "Vela" in message
    assert "18 or older" in message


@pytest.mark.parametrize(
    "text",
    [
        "She raises her 8-year-old son alone.",
        "{{char}} is 5 feet tall and 30 years old.",
        "He has a 6 year old sister he adores.",
        "She is 170 cm tall.",
        "They met 10 years ago.",
        "Her shift ends at 9 pm.",
    ],
)
def test_other_numbers_are_not_the_characters_age(text: str) -> None:
    ages = [a.years for a in stated_ages([text])]
    assert all(age >= 18 for age in ages), ages


def test_no_stated_age_gives_none() -> None:
    assert card_age("Vela", ["A quiet archivist with ink-stained hands."]) is None


def test_explicit_age_field_wins_over_prose() -> None:
    assert card_age("Vela", ["Age: 26", "She looks about 40 years old."]) == 26
