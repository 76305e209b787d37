"""A streamed reply cut into speakable pieces."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afterdark.voice.speakable import SpeakableChunks
from afterdark.voice.text import spoken_text


def run(deltas: list[str], **options: int) -> list[str]:
    """Every piece of a reply fed as ``deltas``, in order."""
    chunks = SpeakableChunks(**options)
    pieces = [piece for delta in deltas for piece in chunks.feed(delta)]
    return pieces + chunks.finish()


def words(pieces: list[str]) -> str:
    return " ".join(" ".join(pieces).split())


def split(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *sorted(set(cuts)), len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def test_sentences_come_out_as_they_complete() -> None:
    chunks = SpeakableChunks()
    assert chunks.feed("Hello there. How") == ["Hello there."]
    assert chunks.spoken
    assert chunks.feed(" are you?") == []  # "?" may be followed by more punctuation
    assert chunks.finish() == ["How are you?"]


def test_other_sentence_ends_and_newlines_are_boundaries() -> None:
    chunks = SpeakableChunks()
    assert chunks.feed('She said "Go!" So I went… Then') == ['She said "Go!"', "So I went…"]
    assert chunks.feed(" home\nand") == ["Then home"]
    assert chunks.feed(" slept") == []
    assert chunks.finish() == ["and slept"]


def test_only_the_first_piece_may_end_at_a_clause() -> None:
    chunks = SpeakableChunks(first_min_chars=12)
    # "Well," is too short to go alone; the second piece waits for its full stop.
    assert chunks.feed("Well, if you insist, I will come along, of course. Yes") == [
        "Well, if you insist,",
        "I will come along, of course.",
    ]
    assert chunks.finish() == ["Yes"]


@pytest.mark.parametrize("dash", ["—", "-", "–"])
def test_a_spaced_dash_ends_the_first_clause(dash: str) -> None:
    assert SpeakableChunks().feed(f"Oh my goodness {dash} you") == [f"Oh my goodness {dash}"]
    assert SpeakableChunks().feed("A well-kept secret, you") == ["A well-kept secret,"]


def test_abbreviations_initials_and_decimals_do_not_end_a_sentence() -> None:
    chunks = SpeakableChunks()
    text = "I met Mr. Smith and Dr. Jones. J. R. Tolkien wrote 3.5 books etc. and more! Bye"
    assert chunks.feed(text) == [
        "I met Mr. Smith and Dr. Jones.",
        "J. R. Tolkien wrote 3.5 books etc. and more!",
    ]
    assert chunks.finish() == ["Bye"]
    assert run(["Cats, dogs, e.g. mine. Fine i.e. good. So do I. Yes"], first_min_chars=99) == [
        "Cats, dogs, e.g. mine.",
        "Fine i.e. good.",
        "So do I.",
        "Yes",
    ]


def test_narration_across_deltas_is_never_spoken() -> None:
    chunks = SpeakableChunks()
    deltas = ["*She ", "glances away. Then", " smiles.* I missed", " you. *sigh", "s*"]
    fed = [chunks.feed(delta) for delta in deltas]
    assert fed == [[], [], [], ["I missed you."], []]
    assert chunks.finish() == []


def test_narration_is_held_until_it_closes_and_dropped_if_it_never_does() -> None:
    chunks = SpeakableChunks()
    assert chunks.feed("Hi there. *She smi") == ["Hi there."]
    assert chunks.feed("les and waits") == []
    assert chunks.finish() == []
    # Narration does not run over a line.
    assert run(["Come *leans in\nhere. Now"]) == ["Come", "here.", "Now"]


def test_bold_is_read_as_its_words_even_split_mid_marker() -> None:
    assert run(["That is **really** lovely. "]) == ["That is really lovely."]
    assert run(["That is *", "*real", "ly*", "* lovely. "]) == ["That is really lovely."]
    assert run(["*She grins* **Yes**, `now` _please_! # ok"]) == ["Yes, now please!", "ok"]


def test_stray_asterisks_are_dropped_not_taken_for_narration() -> None:
    assert run(["Two things:\n* tea\n* cake"]) == ["Two things:", "tea", "cake"]


def test_a_picture_cue_across_deltas_is_left_out() -> None:
    deltas = ["Here you go. [pic", "ture: me at the beach. Sunny.", "] Do you like it?"]
    chunks = SpeakableChunks()
    assert [chunks.feed(delta) for delta in deltas] == [["Here you go."], [], []]
    assert chunks.finish() == ["Do you like it?"]
    assert run(["Look [SELFIE : smiling]", " at this. [photo: unfinished"]) == ["Look at this."]
    # Brackets that are not a cue are read.
    assert run(["Pick one [pick", "les or jam]."]) == ["Pick one [pickles or jam]."]


def test_a_reply_that_is_all_narration_is_read_at_the_end() -> None:
    chunks = SpeakableChunks()
    assert chunks.feed("*She looks out at the rain.*") == []
    assert chunks.feed(" *smiles*") == []
    assert not chunks.spoken
    assert chunks.finish() == ["She looks out at the rain.", "smiles"]
    assert chunks.spoken
    # Unclosed narration is read too when there is nothing else.
    assert run(["*She smiles"]) == ["She smiles"]
    # Punctuation alone is not speech: the narration is read instead.
    assert run(["*nods* ... *waves*"]) == ["nods ...", "waves"]


def test_a_reply_with_speech_is_not_read_whole() -> None:
    assert run(["*She looks up.* Hi. *She smiles.*"]) == ["Hi."]


def test_a_long_piece_is_cut_at_a_space() -> None:
    chunks = SpeakableChunks(max_chars=20)
    assert chunks.feed("one two three four five six seven") == ["one two three four"]
    assert chunks.finish() == ["five six seven"]
    assert run(["abcdefghijklmnopqrstuvwxyz"], max_chars=10) == [
        "abcdefghij",
        "klmnopqrst",
        "uvwxyz",
    ]
    # A sentence end past the limit does not save the piece from being cut.
    assert run(["aaa bbb ccc ddd. eee"], max_chars=12) == ["aaa bbb ccc", "ddd.", "eee"]


@pytest.mark.parametrize("deltas", [[], [""], ["   ", "\n\t ", ""], ["[picture: a cat]"], ["**"]])
def test_an_empty_reply_gives_no_pieces(deltas: list[str]) -> None:
    chunks = SpeakableChunks()
    assert [piece for delta in deltas for piece in chunks.feed(delta)] == []
    assert chunks.finish() == []
    assert not chunks.spoken


def test_a_typical_reply_reads_as_spoken_text_does() -> None:
    reply = (
        "*She sets down her cup.* Oh, you're back! I was just thinking about you. "
        "**Honestly**, the day felt long.\n\n*She smiles.* Tell me everything — "
        "how did it go? [picture: a cozy kitchen at dusk]"
    )
    pieces = run([reply])
    assert pieces == [
        "Oh, you're back!",
        "I was just thinking about you.",
        "Honestly, the day felt long.",
        "Tell me everything — how did it go?",
    ]
    assert " ".join(pieces) == spoken_text(reply)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        SpeakableChunks(max_chars=0)


# -- the pieces do not depend on how the reply was split -------------------------------------

_FRAGMENTS = [
    "Hello there.",
    "How are you?",
    " ",
    "\n",
    "*",
    "**",
    "***",
    "*smiles*",
    "*She looks away. Then back.*",
    "**really**",
    "[picture: a cat *on* a mat. Cute.]",
    "[pic",
    "[photo :",
    "]",
    "[note]",
    "Mr. Smith",
    "J. Smith",
    "3.5",
    "etc.",
    ", ",
    " — ",
    " - ",
    "…",
    '"Yes."',
    "Wait!",
    "well",
    "a rather long stretch of words without any stop at all",
    "_",
    "`",
    "#",
]
_REPLIES = st.lists(
    st.sampled_from(_FRAGMENTS) | st.text(alphabet="ab .,!?*[]:\n-_\"'PpIc", max_size=6),
    max_size=25,
).map("".join)
_OPTIONS = st.fixed_dictionaries(
    {"first_min_chars": st.integers(0, 30), "max_chars": st.integers(1, 80)}
)


@settings(max_examples=300, deadline=None)
@given(reply=_REPLIES, options=_OPTIONS, data=st.data())
def test_the_pieces_do_not_depend_on_how_the_reply_is_split(
    reply: str, options: dict[str, int], data: st.DataObject
) -> None:
    whole = run([reply], **options)
    cuts = data.draw(st.lists(st.integers(0, len(reply)), max_size=12))
    for deltas in (split(reply, cuts), list(reply)):
        pieces = run(deltas, **options)
        assert words(pieces) == words(whole)
        assert pieces == whole  # the very same pieces, not just the same words


def test_random_splits_of_a_fixed_reply_give_the_same_pieces() -> None:
    reply = (
        "*She tilts her head.* Well, Dr. Lee said 3.5 hours. **Three** and a half! "
        "[selfie: at the door] I'm here now… *laughs softly* Are you ready?\n* one\n* two"
    )
    whole = run([reply])
    assert whole == [
        "Well, Dr. Lee said 3.5 hours.",
        "Three and a half!",
        "I'm here now…",
        "Are you ready?",
        "one",
        "two",
    ]
    rng = random.Random(6)
    for _ in range(200):
        cuts = [rng.randrange(len(reply) + 1) for _ in range(rng.randrange(1, 30))]
        assert run(split(reply, cuts)) == whole


@settings(max_examples=300, deadline=None)
@given(reply=_REPLIES, options=_OPTIONS)
def test_every_piece_is_clean_speech(reply: str, options: dict[str, int]) -> None:
    for piece in run([reply], **options):
        assert piece == " ".join(piece.split())  # stripped, whitespace collapsed, no newline
        assert any(ch.isalnum() for ch in piece)
        assert not set(piece) & set("*_`#>~")
        assert len(piece) <= options["max_chars"]
