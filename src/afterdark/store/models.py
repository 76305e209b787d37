"""Every model, imported in one place so metadata is complete for migrations."""

from afterdark.accounts.models import ApiToken, AuthSession, PasswordReset, Persona, User
from afterdark.characters.models import Character, CharacterAsset, CharacterVersion
from afterdark.chat.models import Conversation, Generation, Message
from afterdark.credits.models import SparkAccount, SparkTransfer
from afterdark.credits.payments.models import (
    StripeCustomer,
    StripeCustomerDeletion,
    StripeEvent,
    StripePayment,
)
from afterdark.images.models import Picture, ReferenceFace
from afterdark.memory.models import Memory, MemorySource, ReplyTrace, WorldBook, WorldBookLink
from afterdark.privacy.models import UserKey
from afterdark.safety.models import (
    AgeCheck,
    LikenessAttestation,
    ModerationEvent,
    WellbeingSettings,
)
from afterdark.store.base import Base
from afterdark.voice.models import CharacterVoice, SpeechClip

__all__ = [
    "AgeCheck",
    "ApiToken",
    "AuthSession",
    "Base",
    "Character",
    "CharacterVoice",
    "CharacterAsset",
    "CharacterVersion",
    "Conversation",
    "Generation",
    "LikenessAttestation",
    "Message",
    "ModerationEvent",
    "PasswordReset",
    "Persona",
    "Picture",
    "ReferenceFace",
    "Memory",
    "MemorySource",
    "ReplyTrace",
    "SparkAccount",
    "SpeechClip",
    "SparkTransfer",
    "StripeCustomer",
    "StripeCustomerDeletion",
    "StripeEvent",
    "StripePayment",
    "User",
    "UserKey",
    "WellbeingSettings",
    "WorldBook",
    "WorldBookLink",
]
