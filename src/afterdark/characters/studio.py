"""The Studio's live prompt preview: what the model would see for a draft character."""

from __future__ import annotations

import random

from afterdark.characters.ages import UnderageCharacterError, card_age, check_character_age
from afterdark.characters.lore import keyed_entry_count
from afterdark.characters.schemas import PreviewRequest, PreviewSection, PromptPreview
from afterdark.chat.examples import parse_example_dialogue
from afterdark.chat.macros import expand_macros
from afterdark.chat.prompt import (
    MESSAGE_OVERHEAD_TOKENS,
    CharacterPrompt,
    HistoryMessage,
    PersonaPrompt,
    PromptInputs,
    PromptTooLongError,
    assemble_prompt,
)
from afterdark.llm.base import Tokenizer
from afterdark.memory.lorebook import ScanInput, activate
from afterdark.safety import content

SAMPLE_USER_MESSAGE = "Hello! It's good to see you."


def preview_prompt(
    draft: PreviewRequest,
    persona: PersonaPrompt,
    *,
    tokenizer: Tokenizer,
    context_size: int,
    reply_tokens: int,
    adult: bool,
) -> PromptPreview:
    """The first turn's prompt for a draft, with token counts and advice; ``adult``: the user
    may see explicit content (``content.adult_allowed``), as their chats would be told."""
    name = draft.nickname.strip() or draft.name.strip() or "Character"
    character = CharacterPrompt(
        name=name,
        description=draft.description,
        appearance=draft.appearance,
        backstory=draft.backstory,
        personality=draft.personality,
        speaking_style=draft.speaking_style,
        scenario=draft.scenario,
        example_dialogue=draft.example_dialogue,
        system_prompt=draft.system_prompt,
        post_history_instructions=draft.post_history_instructions,
    )
    history = []
    if draft.first_message.strip():
        greeting = expand_macros(draft.first_message, char=name, user=persona.name, rng_seed=0)
        history.append(HistoryMessage(id=1, role="assistant", content=greeting))
    history.append(HistoryMessage(id=2, role="user", content=SAMPLE_USER_MESSAGE))
    lore = activate(
        draft.book,
        ScanInput([m.content for m in history], greeting=0, turn=0),
        rng=random.Random(0),
        count_tokens=tokenizer.count,
    )
    inputs = PromptInputs(
        character=character,
        persona=persona,
        history=history,
        lore_before=lore.before,
        lore_after=lore.after,
        lore_at_depth=[(d.depth, d.role, d.text) for d in lore.at_depth],
        content_policy=content.policy(draft.rating, adult=adult),
    )
    warnings = _age_warnings(draft, name) + _advice(draft, name, persona.name)
    try:
        prompt = assemble_prompt(
            inputs, tokenizer=tokenizer, context_size=context_size, reserve_tokens=reply_tokens
        )
    except PromptTooLongError as exc:
        return PromptPreview(
            messages=[],
            total_tokens=0,
            context_size=context_size,
            reply_tokens=reply_tokens,
            examples_included=0,
            warnings=[str(exc), *warnings],
        )
    sections = [
        PreviewSection(
            role=m.role,
            content=m.content,
            tokens=tokenizer.count(m.content) + MESSAGE_OVERHEAD_TOKENS,
        )
        for m in prompt.messages
    ]
    blocks = len(parse_example_dialogue(draft.example_dialogue, char=name, user=persona.name))
    if blocks > prompt.examples_included:
        warnings.append(
            f"Only {prompt.examples_included} of {blocks} example dialogue blocks fit in the "
            f"{context_size}-token context; the rest are left out."
        )
    system_tokens = sections[0].tokens if sections and sections[0].role == "system" else 0
    if system_tokens > (context_size - reply_tokens) // 2:
        warnings.append(
            f"The character's prompt takes {system_tokens} of {context_size} tokens, leaving "
            "little room for the conversation: long chats will forget early messages sooner."
        )
    return PromptPreview(
        messages=sections,
        total_tokens=prompt.prompt_tokens,
        context_size=context_size,
        reply_tokens=reply_tokens,
        examples_included=prompt.examples_included,
        warnings=warnings,
    )


def _age_warnings(draft: PreviewRequest, name: str) -> list[str]:
    texts = [draft.description, draft.appearance, draft.backstory, draft.personality]
    try:
        if draft.age is not None:
            check_character_age(draft.age, name)
        card_age(name, [*texts, draft.scenario, draft.first_message])
    except UnderageCharacterError as exc:
        return [f"This will not save: {exc}"]
    return []


def _advice(draft: PreviewRequest, name: str, user: str) -> list[str]:
    advice = []
    if not draft.first_message.strip():
        advice.append("Add a greeting: it sets the tone and length of the replies.")
    if not (draft.description.strip() or draft.personality.strip()):
        advice.append("Describe the character or their personality: the model knows nothing else.")
    if waiting := keyed_entry_count(draft.book):
        advice.append(
            f"{waiting} lorebook entries wait for their keys: each joins the prompt when the "
            "recent chat mentions one of them (this preview shows those the sample turn "
            "triggers)."
        )
    dialogue = draft.example_dialogue.strip()
    if dialogue and not parse_example_dialogue(dialogue, char=name, user=user):
        advice.append(
            "The example dialogue has no blocks the model can use: start each with <START> and "
            "write lines as '{{user}}: ...' and '{{char}}: ...'."
        )
    return advice
