"""The third-party cards in shared/data/cards: read, write back, read again, nothing lost."""

from __future__ import annotations

import json

import pytest

from afterdark.characters.cards import (
    CardError,
    CharxMember,
    as_book,
    book_to_sillytavern,
    card_field,
    dump_card,
    read_card_file,
    read_charx,
    read_json_card,
    read_lorebook,
    read_png,
    sillytavern_to_book,
    write_charx,
    write_lorebook,
    write_png,
)
from tests.characters.cards.builders import (
    JSON_CARDS,
    PNG_CARDS,
    WORLD_FILE,
    data_file,
    ordered,
    split_chunks,
)

EXPECTED = {
    "st_default_Seraphina.png": ("v2", "Seraphina"),
    "st_default_FluxTheCat.png": ("v2", "Flux the Cat"),
    "llamacpp-chat-memory_Skynet_v1.png": ("v1", "Skynet"),
    "choral_Default-chan_v3.png": ("v3", "Default-chan"),
    "card-architect_test-card_v3.json": ("v3", "Luna Starweaver"),
}


def test_the_data_files_are_there() -> None:
    assert len(PNG_CARDS) + len(JSON_CARDS) == len(EXPECTED) == 5
    for name in [*EXPECTED, WORLD_FILE]:
        assert data_file(name), name


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_card_is_detected(name: str) -> None:
    imported = read_card_file(data_file(name), name)
    spec, card_name = EXPECTED[name]
    assert imported.card.spec == spec
    assert card_field(imported.card, "name") == card_name
    assert imported.container == ("json" if name.endswith(".json") else "png")
    assert imported.image == (data_file(name) if name.endswith(".png") else None)
    assert json.loads(imported.card.text) == imported.card.data


@pytest.mark.parametrize("name", PNG_CARDS)
def test_png_text_round_trip_is_byte_exact(name: str) -> None:
    original = data_file(name)
    png = read_png(original)
    # Every real card has its card chunk as tEXt in standard padded base64, as we write it.
    assert write_png(original, chara=png.chara, ccv3=png.ccv3) == original


@pytest.mark.parametrize("name", PNG_CARDS)
def test_png_rewritten_from_data_keeps_json_and_key_order(name: str) -> None:
    original = data_file(name)
    first = read_png(original)
    text = dump_card(first.card.data)
    slot = {"ccv3": text} if first.ccv3 is not None else {"chara": text}
    rewritten = write_png(original, chara=slot.get("chara"), ccv3=slot.get("ccv3"))
    second = read_png(rewritten)
    assert ordered(second.card.data) == ordered(first.card.data)
    assert (second.card.spec, second.card.spec_version) == (
        first.card.spec,
        first.card.spec_version,
    )
    # Image chunks are untouched and in the same order.
    assert [c for c in split_chunks(rewritten) if c[0] != b"tEXt"] == [
        c for c in split_chunks(original) if c[0] != b"tEXt"
    ]


@pytest.mark.parametrize("name", JSON_CARDS)
def test_json_and_charx_round_trips(name: str) -> None:
    first = read_json_card(data_file(name))
    again = read_json_card(dump_card(first.data).encode())
    assert ordered(again.data) == ordered(first.data)
    packed = read_charx(write_charx(first.text, [CharxMember("assets/x.bin", b"\0\1")]))
    assert packed.card.text == first.text
    assert ordered(packed.card.data) == ordered(first.data)


def test_seraphina_keeps_crlf_hybrid_root_and_book_extensions() -> None:
    card = read_png(data_file("st_default_Seraphina.png")).card.data
    again = read_png(
        write_png(data_file("st_default_Seraphina.png"), chara=dump_card(card), ccv3=None)
    )
    for data in (card, again.card.data):
        assert "\r\n" in data["data"]["description"]
        assert data["description"] == data["data"]["description"]  # V1 copy at the root
        assert data["chat"].startswith("Seraphina - ")
        assert data["data"]["extensions"]["world"] == "Eldoria"
        entry = data["data"]["character_book"]["entries"][0]
        assert entry["extensions"] == {"position": 0, "probability": None, "useProbability": False}


def test_flux_keeps_nbsp_and_the_string_root_tags() -> None:
    card = read_png(data_file("st_default_FluxTheCat.png")).card.data
    assert "\u00a0" in card["data"]["description"]
    assert card["tags"] == ""
    assert card["data"]["tags"] == []
    assert card["data"]["post_history_instructions"].startswith("[System note")
    text = dump_card(card)
    assert "\u00a0" in text  # written as the character, not an escape
    assert ordered(
        read_png(write_png(data_file("st_default_FluxTheCat.png"), chara=text, ccv3=None)).card.data
    ) == ordered(card)


def test_skynet_v1_keeps_its_editor_metadata() -> None:
    png = read_png(data_file("llamacpp-chat-memory_Skynet_v1.png"))
    assert png.card.spec == "v1"
    assert png.card.spec_version == ""
    assert png.card.data["metadata"]["tool"]["name"] == "AI Character Editor"
    assert png.card.data["metadata"]["source"] is None
    chunks = [c[0] for c in split_chunks(data_file("llamacpp-chat-memory_Skynet_v1.png"))]
    assert chunks[:2] == [b"IHDR", b"sRGB"]
    assert chunks[-2:] == [b"tEXt", b"IEND"]


def test_choral_is_v3_with_only_ccv3() -> None:
    png = read_png(data_file("choral_Default-chan_v3.png"))
    assert png.chara is None
    assert png.ccv3 is not None
    assert png.card.spec == "v3"
    assert png.card.spec_version == "3.0"
    assert len(png.card.data["data"]["alternate_greetings"]) == 2


def test_eldoria_is_a_lorebook_not_a_card() -> None:
    with pytest.raises(CardError, match="world-info lorebook, not a character card"):
        read_card_file(data_file(WORLD_FILE), WORLD_FILE)
    doc = read_lorebook(data_file(WORLD_FILE))
    assert doc.kind == "sillytavern"
    assert ordered(read_lorebook(write_lorebook(doc)).data) == ordered(doc.data)


def test_eldoria_world_book_world_is_lossless() -> None:
    world = read_lorebook(data_file(WORLD_FILE)).data
    book = sillytavern_to_book(world)
    assert len(book["entries"]) == 4
    assert ordered(book_to_sillytavern(book)) == ordered(world)
    # Exact text too, in SillyTavern's own 4-space layout.
    text = data_file(WORLD_FILE).decode()
    assert json.dumps(book_to_sillytavern(book), indent=4, ensure_ascii=False) == text.rstrip("\n")


def test_eldoria_maps_like_sillytavern_embedded_it_in_seraphina() -> None:
    """SillyTavern itself embedded this world in Seraphina: our book matches its entries."""
    ours = as_book(read_lorebook(data_file(WORLD_FILE)))["entries"]
    theirs = read_png(data_file("st_default_Seraphina.png")).card.data["data"]["character_book"]
    assert len(ours) == len(theirs["entries"])
    for mine, embedded in zip(ours, theirs["entries"], strict=True):
        assert list(mine) == list(embedded)  # same fields, same order
        for key in mine:
            if key != "extensions":
                assert mine[key] == embedded[key], key
        assert mine["extensions"]["position"] == embedded["extensions"]["position"]
