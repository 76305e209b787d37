from afterdark.chat.examples import parse_example_dialogue
from afterdark.llm.base import ChatMessage


def parse(text: str, char: str = "Mira", user: str = "Sam") -> list[list[ChatMessage]]:
    return parse_example_dialogue(text, char=char, user=user)


def test_blocks_split_on_start_lines() -> None:
    text = (
        "<START>\n"
        "{{user}}: Hello?\n"
        "{{char}}: *looks up* Oh. It's you.\n"
        "<start>\n"
        "<USER>: Again.\n"
        "<BOT>: Again.\n"
        "  <Start>  \n"
    )
    assert parse(text) == [
        [ChatMessage("user", "Hello?"), ChatMessage("assistant", "*looks up* Oh. It's you.")],
        [ChatMessage("user", "Again."), ChatMessage("assistant", "Again.")],
    ]


def test_lines_without_prefix_continue_the_previous_turn() -> None:
    text = "<START>\n{{char}}: First line.\nSecond line.\n\nThird line.\n{{user}}: Ok."
    assert parse(text) == [
        [
            ChatMessage("assistant", "First line.\nSecond line.\n\nThird line."),
            ChatMessage("user", "Ok."),
        ]
    ]


def test_plain_name_prefixes_after_expansion() -> None:
    text = "<START>\nSam: hi\nMira: hello {{user}}"
    assert parse(text) == [[ChatMessage("user", "hi"), ChatMessage("assistant", "hello Sam")]]


def test_text_before_first_start_is_a_block() -> None:
    assert parse("{{user}}: hi\n{{char}}: hey\n<START>\n{{char}}: again") == [
        [ChatMessage("user", "hi"), ChatMessage("assistant", "hey")],
        [ChatMessage("assistant", "again")],
    ]


def test_macros_inside_turns_are_expanded_and_comments_span_lines() -> None:
    text = "<START>\n{{char}}: {{reverse:olleh}}{{// note\nstill a note}}\n{{user}}: <BOT>!"
    assert parse(text) == [[ChatMessage("assistant", "hello"), ChatMessage("user", "Mira!")]]


def test_same_name_for_char_and_persona_keeps_macro_speakers() -> None:
    text = "<START>\n{{user}}: one\n{{char}}: two"
    assert parse(text, char="Alex", user="Alex") == [
        [ChatMessage("user", "one"), ChatMessage("assistant", "two")]
    ]


def test_empty_and_blank_input() -> None:
    assert parse("") == []
    assert parse("<START>\n\n<START>\n") == []
    assert parse("{{char}}:   ") == []


def test_narration_before_any_speaker_is_the_characters() -> None:
    assert parse("<START>\nThe rain falls.\n{{user}}: brr") == [
        [ChatMessage("assistant", "The rain falls."), ChatMessage("user", "brr")]
    ]
