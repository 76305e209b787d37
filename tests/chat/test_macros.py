import time

import pytest

from afterdark.chat.macros import expand_macros


def expand(text: str, **kwargs: object) -> str:
    return expand_macros(text, char="Mira", user="Sam", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{char}} waves at {{user}}.", "Mira waves at Sam."),
        ("{{CHAR}} and {{User}}", "Mira and Sam"),
        ("<BOT> greets <user>", "Mira greets Sam"),
        ("{{ char }}", "Mira"),
        ("no macros here", "no macros here"),
        ("a{{// a hidden note}}b", "ab"),
        ("a{{comment: for the author}}b", "ab"),
        ("a{{hidden_key:dragon}}b", "ab"),
        ("{{reverse:abc}}", "cba"),
        ("{{reverse:{{char}}}}", "ariM"),
        ("{{unknown}} and {{unknown:x}}", "{{unknown}} and {{unknown:x}}"),
        ("{{original}}", "{{original}}"),
        ("unbalanced {{ and }} and {{char", "unbalanced {{ and }} and {{char"),
        ("{{{char}}}", "{{{char}}}"),
    ],
)
def test_expands(text: str, expected: str) -> None:
    assert expand(text) == expected


def test_original_only_when_given() -> None:
    assert expand("{{original}}, then more", original="Be kind.") == "Be kind., then more"
    assert expand("[{{original}}]", original="") == "[]"


def test_substituted_values_are_not_expanded_again() -> None:
    out = expand_macros("{{char}} meets {{user}}", char="{{user}}", user="{{random:a,b}}")
    assert out == "{{user}} meets {{random:a,b}}"


def test_random_picks_from_the_list_and_is_deterministic_per_seed() -> None:
    text = " ".join(["{{random:red,green,blue}}"] * 20)
    first = expand(text, rng_seed=7)
    assert set(first.split()) <= {"red", "green", "blue"}
    assert expand(text, rng_seed=7) == first
    outcomes = {expand(text, rng_seed=seed) for seed in range(10)}
    assert len(outcomes) > 1
    # Successive {{random}} in one text are independent draws, not one repeated value.
    assert len(set(first.split())) > 1


def test_random_double_colon_form() -> None:
    assert expand("{{random::only one}}") == "only one"
    assert expand("{{random::a, b::c}}", rng_seed=1) in {"a, b", "c"}


def test_escaped_commas_stay_in_one_item() -> None:
    assert expand("{{random:one\\, two}}") == "one, two"
    assert expand("{{pick:x\\,y}}") == "x,y"


def test_pick_is_stable_for_the_same_prompt() -> None:
    text = "{{pick:a,b,c,d,e,f,g,h}}-{{pick:a,b,c,d,e,f,g,h}}"
    assert expand(text, rng_seed="chat-1") == expand(text, rng_seed="chat-1")
    results = {expand(text, rng_seed=f"chat-{n}") for n in range(20)}
    assert len(results) > 1
    # Text after a pick does not change it.
    alone = expand("{{pick:a,b,c,d}}", rng_seed=3)
    assert expand("{{pick:a,b,c,d}} tail", rng_seed=3) == alone + " tail"


@pytest.mark.parametrize("macro", ["{{roll:6}}", "{{roll:d6}}", "{{roll: D6 }}"])
def test_roll(macro: str) -> None:
    values = {int(expand(macro, rng_seed=seed)) for seed in range(200)}
    assert values == {1, 2, 3, 4, 5, 6}


def test_roll_rejects_nonsense() -> None:
    assert expand("{{roll:0}}") == "{{roll:0}}"
    assert expand("{{roll:abc}}") == "{{roll:abc}}"
    assert expand("{{roll:" + "9" * 5000 + "}}") == "{{roll:" + "9" * 5000 + "}}"


def test_roll_is_deterministic_per_seed() -> None:
    text = "{{roll:1000}} {{roll:1000}}"
    assert expand(text, rng_seed=5) == expand(text, rng_seed=5)


def test_nested_arguments_do_not_crash() -> None:
    assert expand("{{random:{{char}},{{user}}}}", rng_seed=2) in {"Mira", "Sam"}
    deep = "{{reverse:" * 50 + "x" + "}}" * 50
    assert "x" in expand(deep)


@pytest.mark.parametrize(
    "hostile",
    [
        "{{" * 100_000,
        "}}" * 100_000,
        "{{a" * 100_000,
        "{{reverse:a" * 50_000 + "}}" * 50_000,
        "{{random:" + "a\\," * 100_000 + "}}",
        "<bot><user" * 50_000,
        "{{pick:a,b}}" * 20_000,
    ],
)
def test_hostile_input_is_fast(hostile: str) -> None:
    started = time.perf_counter()
    expand(hostile)
    assert time.perf_counter() - started < 1.0


def test_lone_surrogates_do_not_crash() -> None:
    assert expand("\ud800 {{pick:a,b}}") in {"\ud800 a", "\ud800 b"}
