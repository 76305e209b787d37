"""The built-in catalogue's content: complete, adult, original, varied, and its art reproducible."""

from __future__ import annotations

import io
import json
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import afterdark.characters
from afterdark.characters.portraits import PortraitParams, render_portrait

CATALOGUE = Path(afterdark.characters.__file__).parent / "catalogue"
FIELDS: dict[str, type] = {
    "name": str,
    "age": int,
    "style": str,
    "tagline": str,
    "description": str,
    "appearance": str,
    "backstory": str,
    "personality": str,
    "speaking_style": str,
    "scenario": str,
    "first_message": str,
    "alternate_greetings": list,
    "example_dialogue": str,
    "system_prompt": str,
    "post_history_instructions": str,
    "creator_notes": str,
    "tags": list,
    "portrait": dict,
}
STYLES = ("realistic", "anime", "fantasy")
# Kept short and clinical: the catalogue is romance-friendly, never explicit, never minors.
BANNED_WORDS = (
    "sex",
    "sexual",
    "sexy",
    "nude",
    "naked",
    "erotic",
    "porn",
    "genitals",
    "orgasm",
    "underage",
    "teen",
    "teenage",
    "teenager",
    "schoolgirl",
    "schoolboy",
)
MAX_PNG_BYTES = 120 * 1024


def load() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(CATALOGUE.glob("*.json"))
    }


CHARACTERS = load()
SLUGS = sorted(CHARACTERS)


def words(text: str) -> int:
    return len(text.split())


QUOTED = re.compile(r"(?<![A-Za-z])'[^']+?'(?![A-Za-z])")
SENTENCE_END = re.compile(r"[.!?][\"')]*(?=\s+[A-Z\"'*{(]|\s*$)")


def sentences(text: str) -> int:
    # A quoted catchphrase counts as one word, keeping only its final punctuation.
    text = QUOTED.sub(lambda m: "Q" + (m[0][-2] if m[0][-2] in ".!?" else ""), text)
    return len(SENTENCE_END.findall(text))


def all_text(character: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in character.items() if k != "portrait"}, ensure_ascii=False)


def test_there_are_at_least_24_characters() -> None:
    assert len(CHARACTERS) >= 24


def test_every_style_is_well_represented() -> None:
    counts = Counter(c["style"] for c in CHARACTERS.values())
    assert set(counts) == set(STYLES)
    assert all(counts[style] >= 6 for style in STYLES), counts


def test_slugs_are_unique_file_names_that_match_the_name() -> None:
    assert len({slug.casefold() for slug in SLUGS}) == len(SLUGS)
    for slug, character in CHARACTERS.items():
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug), slug
        folded = unicodedata.normalize("NFKD", character["name"]).encode("ascii", "ignore")
        surname = folded.decode().split()[-1].casefold()
        assert slug.split("-")[-1] == surname, (slug, character["name"])


def test_names_are_unique() -> None:
    names = [c["name"].casefold() for c in CHARACTERS.values()]
    assert len(set(names)) == len(names)


def test_greetings_are_all_different() -> None:
    greetings = [
        g for c in CHARACTERS.values() for g in [c["first_message"], *c["alternate_greetings"]]
    ]
    assert len(set(greetings)) == len(greetings)
    # Not a template with the names swapped: openings differ too.
    openings = [c["first_message"][:40] for c in CHARACTERS.values()]
    assert len(set(openings)) == len(openings)


@pytest.mark.parametrize("slug", SLUGS)
def test_character_has_exactly_the_catalogue_fields(slug: str) -> None:
    character = CHARACTERS[slug]

    assert list(character) == list(FIELDS)
    for field, kind in FIELDS.items():
        value = character[field]
        assert isinstance(value, kind), (field, value)
        assert not isinstance(value, bool), (field, value)
    assert all(isinstance(g, str) and g.strip() for g in character["alternate_greetings"])
    assert all(isinstance(t, str) for t in character["tags"])
    assert character["system_prompt"] == ""
    assert character["post_history_instructions"] == ""


@pytest.mark.parametrize("slug", SLUGS)
def test_character_is_an_adult_with_the_age_stated(slug: str) -> None:
    character = CHARACTERS[slug]
    age = character["age"]

    assert age >= 18
    assert f"{age}-year-old" in character["description"]


@pytest.mark.parametrize("slug", SLUGS)
def test_character_text_has_the_expected_shape(slug: str) -> None:
    c = CHARACTERS[slug]

    assert c["style"] in STYLES
    assert 0 < len(c["tagline"]) <= 120
    assert "{{char}}" in c["description"]
    assert 2 <= sentences(c["description"]) <= 4
    assert 2 <= sentences(c["appearance"]) <= 3
    assert 3 <= sentences(c["backstory"]) <= 5
    assert 1 <= sentences(c["speaking_style"]) <= 3
    assert 1 <= sentences(c["creator_notes"]) <= 2
    assert c["personality"].strip()
    assert "{{user}}" in c["scenario"]
    assert 60 <= words(c["first_message"]) <= 150
    assert re.search(r"\*[^*]+\*", c["first_message"]), "actions go in asterisks"
    assert len(c["alternate_greetings"]) == 2


@pytest.mark.parametrize("slug", SLUGS)
def test_tags_start_with_the_style(slug: str) -> None:
    tags = CHARACTERS[slug]["tags"]

    assert 3 <= len(tags) <= 6
    assert tags[0] == CHARACTERS[slug]["style"]
    assert all(tag == tag.lower() and tag.strip() == tag and tag for tag in tags)
    assert len(set(tags)) == len(tags)


@pytest.mark.parametrize("slug", SLUGS)
def test_example_dialogue_uses_the_card_format(slug: str) -> None:
    dialogue = CHARACTERS[slug]["example_dialogue"]
    blocks = dialogue.split("<START>")

    assert blocks[0] == ""
    assert 2 <= len(blocks) - 1 <= 3
    for block in blocks[1:]:
        lines = [line for line in block.split("\n") if line]
        assert lines, block
        assert all(line.startswith(("{{user}}: ", "{{char}}: ")) for line in lines), block
        assert any(line.startswith("{{user}}: ") for line in lines)
        assert any(line.startswith("{{char}}: ") for line in lines)


@pytest.mark.parametrize("slug", SLUGS)
def test_no_explicit_words(slug: str) -> None:
    text = all_text(CHARACTERS[slug]).casefold()
    found = [w for w in BANNED_WORDS if re.search(rf"\b{w}\b", text)]
    assert not found, found


@pytest.mark.parametrize("slug", SLUGS)
def test_portrait_is_committed_and_reproducible(slug: str) -> None:
    params = CHARACTERS[slug]["portrait"]
    assert PortraitParams.model_validate(params).style == CHARACTERS[slug]["style"]

    png = CATALOGUE / f"{slug}.png"
    assert png.is_file(), "run: .venv/bin/python scripts/make-portraits"
    data = png.read_bytes()
    assert len(data) <= MAX_PNG_BYTES
    assert Image.open(io.BytesIO(data)).size == (512, 512)
    assert data == render_portrait(params), "stale portrait: run scripts/make-portraits"


def test_portraits_differ_from_each_other() -> None:
    params = [json.dumps(c["portrait"], sort_keys=True) for c in CHARACTERS.values()]
    assert len(set(params)) == len(params)
    files = [(CATALOGUE / f"{slug}.png").read_bytes() for slug in SLUGS]
    assert len(set(files)) == len(files)


def test_no_stray_files_in_the_catalogue() -> None:
    stems = {p.stem for p in CATALOGUE.iterdir() if p.suffix == ".png"}
    assert stems == set(CHARACTERS)
    assert {p.suffix for p in CATALOGUE.iterdir()} <= {".json", ".png"}
