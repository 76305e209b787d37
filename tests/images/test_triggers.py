"""The words that ask for a picture in a chat, and the character's cue."""

from __future__ import annotations

import pytest

from afterdark.images.triggers import asks_for_picture, picture_cue


@pytest.mark.parametrize(
    "text",
    [
        "Send me a photo of you on the pier?",
        "could you show me a picture of the garden",
        "Take me a selfie by the window!",
        "send a pic when you get there",
        "Can I see a new photo?",
        "Share another snapshot from the trip",
        "give us a quick pic",
    ],
)
def test_requests_for_a_picture(text: str) -> None:
    assert asks_for_picture(text)


@pytest.mark.parametrize(
    "text",
    [
        "I found an old photo of my grandmother.",
        "The picture on the wall is crooked.",
        "Send me a letter, then. Pictures are for tourists.",
        "She showed me her photography portfolio.",
        "show me the way to the harbour",
        "",
    ],
)
def test_mentions_that_are_not_requests(text: str) -> None:
    assert not asks_for_picture(text)


def test_the_characters_cue() -> None:
    assert picture_cue("Here you go. [picture: me on the pier,\n at dusk] Like it?") == (
        "me on the pier, at dusk"
    )
    assert picture_cue("[Selfie: a wink in the mirror]") == "a wink in the mirror"
    assert picture_cue("No picture here, just [a note].") is None
    assert picture_cue("[picture: ]") is None
