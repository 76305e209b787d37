"""Prompt assembly: character card, persona, scene, memory and history into chat messages.

Layout, in order:

1. one system message: the system prompt (the card's, else the global one), then
   lore placed before the character, description, appearance, backstory, personality,
   speaking style, scenario, lore placed
   after the character, the persona, the scene, remembered facts, and the example
   dialogue;
2. the history, oldest first;
3. the card's post-history instructions, as a system message;
4. in *impersonate* mode, an instruction to write the user's next message.

In *continue* mode the last history message (the character's) becomes ``prefill``.
When the budget (context size minus the tokens reserved for the reply) is short,
example dialogue goes first, first block first, then the oldest history; the newest
user message and the prefill are never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from afterdark.chat.examples import parse_example_dialogue
from afterdark.chat.macros import expand_macros
from afterdark.errors import AfterdarkError, InvalidInputError
from afterdark.llm.base import ChatMessage, Role, Tokenizer

MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens a chat template adds around each message (role markers, separators)."""

DEFAULT_SYSTEM_PROMPT = (
    "You are {{char}} in an ongoing fictional roleplay with {{user}}. Stay in character, "
    "write only {{char}}'s next reply, and never speak or act for {{user}}. Keep the story "
    "moving, stay consistent with what has happened, and match the tone of the scene."
)

IMPERSONATE_INSTRUCTION = (
    "Write {{user}}'s next message in the first person, as {{user}} would write it. "
    "Reply with that message only: nothing from {{char}}, no notes."
)

# Examples go inside the system message rather than as user/assistant turns: strict chat
# templates (Mistral, Llama 2, Gemma) reject turns that do not alternate, which example
# blocks next to the greeting would break, and small models mistake example turns for
# things that happened in this chat.
_EXAMPLES_INTRO = (
    "Examples of how {{char}} writes. They show style only and are not part of this chat:"
)

Mode = Literal["reply", "continue", "impersonate"]


class PromptTooLongError(AfterdarkError):
    """The parts of the prompt that are never cut do not fit the context."""

    status = 422
    code = "prompt_too_long"


@dataclass
class CharacterPrompt:
    name: str
    description: str = ""
    appearance: str = ""
    backstory: str = ""
    personality: str = ""
    speaking_style: str = ""
    scenario: str = ""
    example_dialogue: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""


@dataclass
class PersonaPrompt:
    name: str
    description: str = ""


@dataclass
class HistoryMessage:
    id: int
    role: Literal["user", "assistant"]
    content: str


@dataclass
class PromptInputs:
    character: CharacterPrompt
    persona: PersonaPrompt
    history: list[HistoryMessage]
    scene: str = ""
    memory: list[str] = field(default_factory=list)
    lore_before: list[str] = field(default_factory=list)
    lore_after: list[str] = field(default_factory=list)
    # Lorebook texts placed among the chat messages: (depth from the end, role, text).
    lore_at_depth: list[tuple[int, Role, str]] = field(default_factory=list)
    global_system_prompt: str = DEFAULT_SYSTEM_PROMPT
    mode: Mode = "reply"
    # The content rules for this character and user (safety/content.py), last in the system
    # prompt so no card text comes after them.
    content_policy: str = ""


@dataclass
class AssembledPrompt:
    """The prompt to send; each history message is included, dropped, or the prefill."""

    messages: list[ChatMessage]
    prefill: str | None
    prompt_tokens: int
    history_included: int
    examples_included: int
    dropped_message_ids: list[int]


def assemble_prompt(
    inputs: PromptInputs,
    *,
    tokenizer: Tokenizer,
    context_size: int,
    reserve_tokens: int,
    rng_seed: int | str = 0,
) -> AssembledPrompt:
    """Build the chat messages for one generation, cut to fit the context budget."""
    budget = context_size - reserve_tokens
    char, user = inputs.character.name, inputs.persona.name

    def expand(text: str, *, original: str | None = None, seed: int | str = rng_seed) -> str:
        return expand_macros(text, char=char, user=user, rng_seed=seed, original=original)

    def cost(text: str) -> int:
        return tokenizer.count(text) + MESSAGE_OVERHEAD_TOKENS

    history = inputs.history
    prefill: str | None = None
    if inputs.mode == "continue":
        if not history or history[-1].role != "assistant":
            raise InvalidInputError("Only a reply from the character can be continued.")
        prefill = expand(history[-1].content, seed=history[-1].id)
        history = history[:-1]

    system_text = _system_text(inputs, expand)
    tail = _tail_messages(inputs, expand)
    at_depth = [(depth, role, expand(text)) for depth, role, text in inputs.lore_at_depth]
    fixed = cost(system_text) + sum(cost(message.content) for message in tail)
    fixed += sum(cost(text) for _, _, text in at_depth)
    if prefill is not None:
        fixed += cost(prefill)
    if fixed > budget:
        raise PromptTooLongError(
            f"The character's prompt needs {fixed} tokens but only {budget} are available "
            f"({context_size} in the context, {reserve_tokens} kept for the reply). Shorten the "
            "character, persona, scene or memory, or use a model with a larger context."
        )

    kept, used = _fit_history(history, budget - fixed, cost, expand)
    dropped = [message.id for message in history[: len(history) - len(kept)]]
    used += fixed

    examples: list[str] = []
    if not dropped and inputs.character.example_dialogue.strip():
        blocks = _example_blocks(inputs, rng_seed)
        examples = _fit_examples(blocks, budget - used, tokenizer)
    system_cost = cost(system_text)
    while True:
        full_system = _with_examples(system_text, examples, expand)
        full_cost = cost(full_system) if examples else system_cost
        if not examples or used - system_cost + full_cost <= budget:
            break
        examples = examples[1:]

    messages = [ChatMessage("system", full_system)] if full_system else []
    messages.extend(_with_depth_inserts(list(reversed(kept)), at_depth))
    messages.extend(tail)
    return AssembledPrompt(
        messages=messages,
        prefill=prefill,
        prompt_tokens=used - system_cost + full_cost,
        history_included=len(kept),
        examples_included=len(examples),
        dropped_message_ids=dropped,
    )


def _system_text(inputs: PromptInputs, expand: Callable[..., str]) -> str:
    card = inputs.character
    global_prompt = expand(inputs.global_system_prompt)
    if card.system_prompt.strip():
        header = expand(card.system_prompt, original=global_prompt)
    else:
        header = global_prompt
    sections = [
        header,
        *(expand(entry) for entry in inputs.lore_before),
        expand(card.description),
        _labelled("{{char}}'s appearance: ", card.appearance, expand),
        _labelled("{{char}}'s backstory: ", card.backstory, expand),
        _labelled("{{char}}'s personality: ", card.personality, expand),
        _labelled("How {{char}} speaks: ", card.speaking_style, expand),
        _labelled("Scenario: ", card.scenario, expand),
        *(expand(entry) for entry in inputs.lore_after),
        _labelled("About {{user}}: ", inputs.persona.description, expand),
        _labelled("Scene: ", inputs.scene, expand),
    ]
    memory = [expand(item).strip() for item in inputs.memory]
    if any(memory):
        sections.append("Things you remember:\n" + "\n".join(f"- {m}" for m in memory if m))
    sections.append(expand(inputs.content_policy))
    return "\n\n".join(section.strip() for section in sections if section.strip())


def _labelled(label: str, text: str, expand: Callable[..., str]) -> str:
    body = expand(text).strip()
    return expand(label) + body if body else ""


def _tail_messages(inputs: PromptInputs, expand: Callable[..., str]) -> list[ChatMessage]:
    tail: list[ChatMessage] = []
    post = expand(inputs.character.post_history_instructions, original="").strip()
    if post:
        tail.append(ChatMessage("system", post))
    if inputs.mode == "impersonate":
        tail.append(ChatMessage("system", expand(IMPERSONATE_INSTRUCTION)))
    return tail


def _with_depth_inserts(
    chat: list[ChatMessage], inserts: list[tuple[int, Role, str]]
) -> list[ChatMessage]:
    """The chat with lorebook texts placed ``depth`` messages from its end (0: after it)."""
    for depth, role, text in sorted(inserts, key=lambda item: -item[0]):
        chat.insert(max(len(chat) - depth, 0), ChatMessage(role, text))
    return chat


def _fit_history(
    history: list[HistoryMessage],
    budget: int,
    cost: Callable[[str], int],
    expand: Callable[..., str],
) -> tuple[list[ChatMessage], int]:
    """Messages that fit, newest first, and the tokens they take."""
    must_keep = next(
        (i for i in range(len(history) - 1, -1, -1) if history[i].role == "user"), len(history)
    )
    kept: list[ChatMessage] = []
    used = 0
    for index in range(len(history) - 1, -1, -1):
        message = history[index]
        # Seeded by message id so a past message's random pick does not change between turns.
        content = expand(message.content, seed=message.id)
        needed = cost(content)
        if used + needed > budget and index < must_keep:
            break
        used += needed
        kept.append(ChatMessage(message.role, content))
    if used > budget:
        raise PromptTooLongError(
            "The newest message is too long for this model's context. Shorten it, or trim "
            "the character's prompt."
        )
    return kept, used


def _example_blocks(inputs: PromptInputs, rng_seed: int | str) -> list[str]:
    parsed = parse_example_dialogue(
        inputs.character.example_dialogue,
        char=inputs.character.name,
        user=inputs.persona.name,
        rng_seed=rng_seed,
    )
    names = {"user": inputs.persona.name, "assistant": inputs.character.name}
    return [
        "[Example chat]\n" + "\n".join(f"{names[turn.role]}: {turn.content}" for turn in block)
        for block in parsed
    ]


def _fit_examples(blocks: list[str], budget: int, tokenizer: Tokenizer) -> list[str]:
    """The last blocks that fit; the first block is the first to go."""
    # Estimated per piece (+1 for the blank line joining it); the caller checks the sum exactly.
    used = tokenizer.count(_EXAMPLES_INTRO) + 1
    start = len(blocks)
    while start > 0:
        needed = tokenizer.count(blocks[start - 1]) + 1
        if used + needed > budget:
            break
        used += needed
        start -= 1
    return blocks[start:]


def _with_examples(system_text: str, examples: list[str], expand: Callable[..., str]) -> str:
    if not examples:
        return system_text
    return "\n\n".join(part for part in (system_text, expand(_EXAMPLES_INTRO), *examples) if part)
