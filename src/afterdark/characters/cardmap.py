"""Between card JSON (V1, V2, V3) and a character's editable fields.

Import reads a card into fields. Export never rebuilds an imported card from scratch: it
starts from the card JSON exactly as imported, converts it only when another version is
asked for, and writes back only the fields edited since, so unknown keys, app extensions,
hybrid root copies, key order and line endings survive.

Fields the card specs lack (age, style, tagline, and the Studio's appearance, backstory and
speaking style) travel in ``data.extensions.afterdark``. Other apps see them folded into
``description`` and ``personality``; on re-import the parts are taken back only when that
folding still matches, i.e. no other app edited the text in between.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from afterdark.characters.ages import card_age
from afterdark.characters.cards import Spec, convert, strip_decorators

EXTENSION = "afterdark"

# Character field -> card key, for the fields every version has.
V1_KEYS = {
    "name": "name",
    "description": "description",
    "personality": "personality",
    "scenario": "scenario",
    "first_message": "first_mes",
    "example_dialogue": "mes_example",
}
V2_KEYS = {
    **V1_KEYS,
    "creator_notes": "creator_notes",
    "system_prompt": "system_prompt",
    "post_history_instructions": "post_history_instructions",
    "alternate_greetings": "alternate_greetings",
    "tags": "tags",
    "creator": "creator",
    "character_version": "character_version",
}
V3_KEYS = {**V2_KEYS, "nickname": "nickname"}
SECTION_FIELDS = ("description", "appearance", "backstory", "personality", "speaking_style")
EDITABLE_FIELDS = (
    "name",
    "nickname",
    "age",
    "style",
    "rating",
    "tagline",
    "description",
    "appearance",
    "backstory",
    "personality",
    "speaking_style",
    "scenario",
    "first_message",
    "alternate_greetings",
    "example_dialogue",
    "system_prompt",
    "post_history_instructions",
    "creator_notes",
    "creator",
    "character_version",
    "tags",
    "book",
)
_OWN_FIELDS = ("age", "style", "rating", "tagline", "appearance", "backstory", "speaking_style")
_EXPLICIT_TAGS = {"nsfw", "explicit", "18+ explicit", "lewd"}


def fold_description(description: str, appearance: str, backstory: str) -> str:
    """The description other apps see: ours plus the Studio's appearance and backstory."""
    if not appearance.strip() and not backstory.strip():
        return description
    parts = [description.strip()]
    if appearance.strip():
        parts.append(f"Appearance: {appearance.strip()}")
    if backstory.strip():
        parts.append(f"Backstory: {backstory.strip()}")
    return "\n\n".join(p for p in parts if p)


def fold_personality(personality: str, speaking_style: str) -> str:
    if not speaking_style.strip():
        return personality
    parts = [personality.strip()]
    if speaking_style.strip():
        parts.append(f"Speaking style: {speaking_style.strip()}")
    return "\n\n".join(p for p in parts if p)


def card_body(card: dict[str, Any], spec: Spec) -> dict[str, Any]:
    """The object holding the card's fields: the root for V1, ``data`` otherwise."""
    if spec == "v1":
        return card
    body = card.get("data")
    return body if isinstance(body, dict) else {}


def _text(body: dict[str, Any], root: dict[str, Any], key: str) -> str:
    for source in (body, root):
        value = source.get(key)
        if isinstance(value, str):
            return value
    return ""


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return []


def fields_from_card(card: dict[str, Any], spec: Spec) -> dict[str, Any]:
    """The character fields a card holds (age checked: a minor raises)."""
    body = card_body(card, spec)
    fields: dict[str, Any] = {key: "" for key in EDITABLE_FIELDS}
    keys = {"v1": V1_KEYS, "v2": V2_KEYS, "v3": V3_KEYS}[spec]
    for field, key in keys.items():
        fields[field] = (
            _text(body, card, key) if field not in {"alternate_greetings", "tags"} else []
        )
    fields["alternate_greetings"] = _strings(body.get("alternate_greetings"))
    fields["tags"] = _strings(body.get("tags"))
    fields["age"] = None
    # Cards rated by their community tags; our own extension, when present, says it exactly.
    explicit = any(tag.casefold() in _EXPLICIT_TAGS for tag in fields["tags"])
    fields["rating"] = "explicit" if explicit else "general"
    book = body.get("character_book") if spec != "v1" else None
    fields["book"] = copy.deepcopy(book) if isinstance(book, dict) else None
    extensions = body.get("extensions") if spec != "v1" else None
    own = extensions.get(EXTENSION) if isinstance(extensions, dict) else None
    if isinstance(own, dict):
        _take_own(fields, own)
    texts = [fields[f] for f in ("description", "personality", "scenario", "first_message")]
    texts += [fields["appearance"], fields["backstory"], *fields["alternate_greetings"]]
    stated = card_age(fields["name"] or "The character", texts)
    if fields["age"] is None:
        fields["age"] = stated
    return fields


def _take_own(fields: dict[str, Any], own: dict[str, Any]) -> None:
    age = own.get("age")
    if isinstance(age, int) and not isinstance(age, bool):
        fields["age"] = age
    for key in ("style", "tagline"):
        if isinstance(own.get(key), str):
            fields[key] = own[key]
    if own.get("rating") in ("general", "mature", "explicit"):
        fields["rating"] = own["rating"]
    sections = own.get("sections")
    if not isinstance(sections, dict):
        return
    parts: dict[str, str] = {}
    for key in SECTION_FIELDS:
        value = sections.get(key)
        parts[key] = value if isinstance(value, str) else ""
    folded_description = fold_description(
        parts["description"], parts["appearance"], parts["backstory"]
    )
    folded_personality = fold_personality(parts["personality"], parts["speaking_style"])
    if folded_description == fields["description"] and folded_personality == fields["personality"]:
        fields.update(parts)


def _own_extension(fields: dict[str, Any]) -> dict[str, Any]:
    own: dict[str, Any] = {
        "age": fields["age"],
        "style": fields["style"],
        "rating": fields["rating"],
        "tagline": fields["tagline"],
    }
    if any(fields[key] for key in ("appearance", "backstory", "speaking_style")):
        own["sections"] = {key: fields[key] for key in SECTION_FIELDS}
    return own


def new_card(spec: Spec) -> dict[str, Any]:
    """An empty card of a version, with every key the spec requires."""
    v1 = {key: "" for key in V1_KEYS.values()}
    if spec == "v1":
        return v1
    card = convert(v1, spec)
    if spec == "v3":
        now = int(time.time())
        card["data"].update(creation_date=now, modification_date=now)
    return card


def export_card(
    fields: dict[str, Any],
    spec: Spec,
    *,
    original: str | None = None,
    original_spec: Spec | None = None,
) -> dict[str, Any]:
    """The card JSON for a character in ``spec``, patched over the imported card if any."""
    if original is not None and original_spec is not None:
        card: dict[str, Any] = json.loads(original)
        base = fields_from_card(card, original_spec)
        changed = {key for key in EDITABLE_FIELDS if fields.get(key) != base.get(key)}
        if spec != original_spec:
            card = convert(card, spec)
    else:
        card = new_card(spec)
        changed = set(EDITABLE_FIELDS)
    _patch(card, spec, fields, changed)
    return card


def _patch(card: dict[str, Any], spec: Spec, fields: dict[str, Any], changed: set[str]) -> None:
    if not changed:
        return
    body = card_body(card, spec)
    values = dict(fields)
    if changed & {"description", "appearance", "backstory"}:
        changed.add("description")
    if changed & {"personality", "speaking_style"}:
        changed.add("personality")
    values["description"] = fold_description(
        fields["description"], fields["appearance"], fields["backstory"]
    )
    values["personality"] = fold_personality(fields["personality"], fields["speaking_style"])
    keys = {"v1": V1_KEYS, "v2": V2_KEYS, "v3": V3_KEYS}[spec]
    for field in changed:
        key = keys.get(field)
        if key is None:
            continue
        value = copy.deepcopy(values[field])
        if field == "nickname" and not value and key not in body:
            continue
        body[key] = value
        # Hybrid cards keep V1 copies at the root; keep them in step.
        if spec != "v1" and key in V1_KEYS.values() and key in card:
            card[key] = copy.deepcopy(value)
    if spec == "v1":
        return
    if "book" in changed:
        book = fields["book"]
        if book is None:
            body.pop("character_book", None)
        else:
            body["character_book"] = book_for_spec(book, spec)
    if changed & (set(_OWN_FIELDS) | {"description", "personality"}):
        extensions = body.setdefault("extensions", {})
        if isinstance(extensions, dict):
            extensions[EXTENSION] = _own_extension(fields)
    if spec == "v3" and "modification_date" in body:
        body["modification_date"] = int(time.time())


def book_for_spec(book: dict[str, Any], spec: Spec) -> dict[str, Any]:
    """A lorebook as a given card version holds it (V2: decorators stripped)."""
    book = copy.deepcopy(book)
    entries = book.get("entries")
    if not isinstance(entries, list):
        book["entries"] = entries = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if spec == "v2" and isinstance(entry.get("content"), str):
            entry["content"] = strip_decorators(entry["content"])
        if spec == "v3":
            entry.setdefault("use_regex", False)
            entry.setdefault("constant", False)
    book.setdefault("extensions", {})
    return book
