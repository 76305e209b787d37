"""What of a message is spoken."""

from __future__ import annotations

from afterdark.voice.text import spoken_text


def test_narration_in_asterisks_is_not_read() -> None:
    assert spoken_text("*She looks up.* You came back. *smiles* I knew you would.") == (
        "You came back. I knew you would."
    )


def test_a_message_that_is_all_narration_is_read_whole() -> None:
    assert spoken_text("*She looks out at the rain.*") == "She looks out at the rain."


def test_cues_and_markup_are_left_out() -> None:
    assert spoken_text("Here. [picture: me at dawn] **Really** `nice`, _right_?") == (
        "Here. Really nice, right?"
    )
    assert spoken_text("   ") == ""
