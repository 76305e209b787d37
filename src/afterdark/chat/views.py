"""Render chat domain objects as the public response shapes."""

from __future__ import annotations

from afterdark.characters import service as characters_service
from afterdark.characters.models import Character
from afterdark.chat.models import Conversation, Message
from afterdark.chat.schemas import (
    BranchOrigin,
    CharacterRef,
    ConversationPublic,
    ConversationSummary,
    MessagePublic,
    Turn,
)
from afterdark.chat.service import ConversationState
from afterdark.chat.tree import Tree


def message_public(message: Message, tree: Tree[Message]) -> MessagePublic:
    index, count = tree.swipe_position(message)
    return MessagePublic(
        id=message.id,
        parent_id=message.parent_id,
        role=message.role,
        content=message.content,
        status=message.status,
        error=message.error,
        created_at=message.created_at,
        edited_at=message.edited_at,
        swipe_index=index,
        swipe_count=count,
    )


def character_ref(character: Character) -> CharacterRef:
    return CharacterRef(
        id=character.id, name=character.name, avatar_url=characters_service.avatar_url(character)
    )


def conversation_public(state: ConversationState) -> ConversationPublic:
    conversation = state.conversation
    origin = None
    if conversation.branched_from_conversation_id and conversation.branched_from_message_id:
        origin = BranchOrigin(
            conversation_id=conversation.branched_from_conversation_id,
            message_id=conversation.branched_from_message_id,
        )
    return ConversationPublic(
        id=conversation.id,
        title=conversation.title,
        scene=conversation.scene,
        preset=conversation.preset,
        sampler=state.sampler,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        character=character_ref(state.character),
        branched_from=origin,
        messages=[message_public(m, state.tree) for m in state.path],
        generation_id=state.running_generation_id,
    )


def conversation_summary(conversation: Conversation, character: Character) -> ConversationSummary:
    return ConversationSummary(
        id=conversation.id,
        title=conversation.title,
        character=character_ref(character),
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
    )


def turn(
    state: ConversationState,
    reply: Message,
    generation_id: int,
    user_message: Message | None = None,
) -> Turn:
    return Turn(
        user_message=message_public(user_message, state.tree) if user_message else None,
        reply=message_public(reply, state.tree),
        generation_id=generation_id,
    )
