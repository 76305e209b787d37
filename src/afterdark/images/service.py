"""Pictures: asked for, rendered until the face matches, checked, stored, shown.

``ask`` records a queued picture and holds its price in Sparks in the caller's
transaction; once that commits, ``start`` puts the render on the render queue (one at a
time: a GPU renders one picture well, not several at once). The render runs in its own
short sessions, never holding a transaction while the backend works:

1. the prompt and the user's reference face for the character are read;
2. the backend renders, re-rolled with the next seeds while the face is too far from the
   reference (``reroll``), keeping the closest;
3. the NSFW classifier looks at the result: an explicit picture for a user who has not
   unlocked explicit content is withheld (not stored, not charged);
4. the file is sealed with the user's key, the figures are stored, the hold is settled.

A failed or cancelled render keeps its row with the reason and costs nothing. A premium
picture renders with the backend's premium model, at its own price, needs the
``premium_images`` unlock where a plan offering it is on sale, and a user's first one is
free (``premium.py``): given back, like Sparks, when the picture is not made. How far a
render is (try, step) is kept in memory for ``GET /api/v1/pictures/{id}``; the scale-out
issue moves renders onto a real queue behind the same ``JobRunner``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters import service as characters_service
from afterdark.chat import service as chat_service
from afterdark.chat.models import Conversation, Message
from afterdark.config import Settings
from afterdark.credits import pricing, unlocks
from afterdark.credits.payments.settings import unlock_words
from afterdark.credits.service import Sparks
from afterdark.errors import (
    AfterdarkError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PaymentRequiredError,
)
from afterdark.images import identity, nsfw, premium, reroll, triggers
from afterdark.images.base import (
    ImageBackend,
    ImageCancelledError,
    ImageError,
    Progress,
    RenderRequest,
    identity_of,
)
from afterdark.images.models import Picture, ReferenceFace
from afterdark.images.prompting import picture_words
from afterdark.images.registry import SETUP_HINT, make_backend
from afterdark.memory.jobs import InProcessJobs
from afterdark.safety import content
from afterdark.safety.limits import HardLimits
from afterdark.safety.moderation import screen_prompt
from afterdark.store.engine import Database
from afterdark.store.files import FileStore

log = logging.getLogger(__name__)

MAX_REQUEST = 500
"""Characters a picture request may have."""
FAILED = "The picture could not be made: an internal error. Try again later."


class ImagesOffError(AfterdarkError):
    """No image backend is configured on this instance."""

    status = 503
    code = "images_off"

    def __init__(self) -> None:
        super().__init__(SETUP_HINT)


@dataclass(slots=True)
class Underway:
    """How far a render is: which try, and the backend's step count."""

    try_number: int = 1
    step: int = 0
    total: int = 0
    stage: str = "queued"


class Pictures:
    """The picture service of one instance: its backend, its queue, what is underway."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        files: FileStore,
        sparks: Sparks,
        *,
        backend: ImageBackend | None = None,
        limits: HardLimits | None = None,
    ) -> None:
        self.settings = settings.images
        self.payments = settings.payments
        self.database = database
        self.files = files
        self.sparks = sparks
        self.limits = limits
        self.backend = backend if backend is not None else make_backend(settings.images)
        self.jobs = InProcessJobs(concurrency=1, close_timeout=5.0)
        self.underway: dict[int, Underway] = {}
        self._cancelled: set[int] = set()
        self._rendering: int | None = None

    @property
    def enabled(self) -> bool:
        return self.backend is not None

    def _backend(self) -> ImageBackend:
        if self.backend is None:
            raise ImagesOffError()
        return self.backend

    @property
    def premium_offered(self) -> bool:
        """Whether premium pictures can be asked for: the backend has a premium model set."""
        return self.backend is not None and self.settings.premium_offered

    @property
    def premium_price(self) -> int:
        """What a premium picture costs in Sparks (0 while Sparks are off)."""
        return self.sparks.settings.premium_picture_sparks if self.sparks.enabled else 0

    async def premium_status(self, session: AsyncSession, user: User) -> premium.PremiumStatus:
        offered = self.premium_offered
        return premium.PremiumStatus(
            offered=offered,
            unlocked=offered
            and await unlocks.unlocked(self.database, self.payments, user.id, premium.UNLOCK),
            free_left=await premium.free_left(session, user.id),
            sparks=self.premium_price,
        )

    # -- asking ---------------------------------------------------------------------------

    async def ask(
        self,
        session: AsyncSession,
        user: User,
        character_id: int,
        *,
        request: str,
        conversation_id: int | None = None,
        seed: int | None = None,
        premium_model: bool = False,
    ) -> Picture:
        """A queued picture and its Sparks hold, in the caller's transaction; ``start`` it
        after the commit. ``premium_model``: made with the premium image model (the user's
        first one free, then at its price and with the unlock where it is for sale)."""
        character = await characters_service.get_character(session, user, character_id)
        backend = self._backend()
        if premium_model and not self.premium_offered:
            raise InvalidInputError(
                "There is no premium image model here: an admin sets one up with "
                "images.premium_workflow, premium_forge_model or premium_model_path."
            )
        request = " ".join(request.split())
        if len(request) > MAX_REQUEST:
            raise InvalidInputError(
                f"The request is too long: {len(request)} characters; the limit is {MAX_REQUEST}."
            )
        scene = ""
        anchor = None
        if conversation_id is not None:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None or conversation.user_id != user.id:
                raise NotFoundError(f"Conversation {conversation_id} does not exist.")
            if conversation.character_id != character.id:
                raise InvalidInputError("That conversation is with another character.")
            scene = conversation.scene
            # The picture shows in the chat under the message the path ended on.
            path = (await chat_service.load_state(session, conversation)).path
            anchor = path[-1].id if path else None
        await screen_prompt(
            session, self.limits, request, user_id=user.id, conversation_id=conversation_id
        )
        # Read before anything is written: the unlock is looked up on its own connection.
        allowed = premium_model and await unlocks.unlocked(
            self.database, self.payments, user.id, premium.UNLOCK
        )
        words = picture_words(
            name=character.name,
            age=character.age,
            appearance=character.appearance,
            description=character.description,
            style=character.style,
            scene=scene,
            request=request,
            explicit_allowed=await content.adult_allowed(session, user),
        )
        picture = Picture(
            user_id=user.id,
            character_id=character.id,
            conversation_id=conversation_id,
            message_id=anchor,
            status="queued",
            backend=backend.name,
            identity_method="",
            seed=seed if seed is not None else secrets.randbelow(2**31),
            width=self.settings.width,
            height=self.settings.height,
            premium=premium_model,
        )
        if premium_model:
            picture.free_premium = await premium.take_free(session, user.id)
            if not picture.free_premium and not allowed:
                raise PaymentRequiredError(
                    f"{unlock_words(premium.UNLOCK)} comes with a plan, and your free premium "
                    "picture is used: see the prices page to choose a plan."
                )
        picture.request = request
        picture.prompt = words.prompt
        picture.negative = words.negative
        session.add(picture)
        await session.flush()
        if self.sparks.enabled and not picture.free_premium:
            price = (
                self.sparks.settings.premium_picture_sparks
                if premium_model
                else self.sparks.settings.picture_sparks
            )
            picture.hold_op = await self.sparks.hold_in(
                await session.connection(),
                user.id,
                price,
                op=f"picture:{picture.id}:{uuid.uuid4().hex[:12]}",
                action=pricing.PREMIUM_PICTURE if premium_model else pricing.PICTURE,
                ref=f"picture:{picture.id}",
            )
            picture.sparks = price
        await session.flush()
        return picture

    def start(self, picture_id: int) -> None:
        """Queue the render of a committed picture."""
        self.underway[picture_id] = Underway()
        self.jobs.submit(lambda: self._render(picture_id), key=f"picture:{picture_id}")

    def after_reply(self, user_id: int, conversation_id: int, reply_id: int) -> None:
        """Queue a look at a finished reply: a picture when the user asked for one in words
        or the character cued one (``images/triggers.py``)."""
        if self.backend is None or not self.settings.chat_triggers:
            return
        self.jobs.submit(
            lambda: self._from_chat(user_id, conversation_id, reply_id), key=f"reply:{reply_id}"
        )

    async def _from_chat(self, user_id: int, conversation_id: int, reply_id: int) -> None:
        async with self.database.session() as session:
            reply = await session.get(Message, reply_id)
            user = await session.get(User, user_id)
            conversation = await session.get(Conversation, conversation_id)
            if reply is None or user is None or conversation is None or reply.user_id != user_id:
                return
            shown = select(Picture.id).where(Picture.message_id == reply.id).limit(1)
            if await session.scalar(shown) is not None:  # a continued reply: already made
                return
            request = triggers.picture_cue(reply.content)
            if request is None and reply.parent_id is not None:
                asked = await session.get(Message, reply.parent_id)
                if (
                    asked is None
                    or asked.role != "user"
                    or not triggers.asks_for_picture(asked.content)
                ):
                    return
                # One picture per request: a regenerated reply does not make another.
                replies = select(Message.id).where(Message.parent_id == asked.id)
                made = await session.scalar(
                    select(Picture.id).where(Picture.message_id.in_(replies)).limit(1)
                )
                if made is not None:
                    return
                request = asked.content
            if request is None:
                return
            try:
                picture = await self.ask(
                    session,
                    user,
                    conversation.character_id,
                    request=request[:MAX_REQUEST],
                    conversation_id=conversation.id,
                )
            except AfterdarkError as exc:  # no Sparks left, a hard limit: no picture
                log.info("no picture for reply %s: %s", reply_id, exc.code)
                return
            await session.commit()
        self.start(picture.id)

    async def cancel(self, session: AsyncSession, user: User, picture_id: int) -> Picture:
        """Stop a queued or rendering picture (its hold is released)."""
        picture = await get_picture(session, user, picture_id)
        if picture.status not in ("queued", "rendering"):
            raise ConflictError("This picture is not being made any more.")
        self._cancelled.add(picture.id)
        if self._rendering == picture.id and self.backend is not None:
            await self.backend.interrupt()
        return picture

    # -- rendering ------------------------------------------------------------------------

    async def _render(self, picture_id: int) -> None:
        try:
            await self._render_one(picture_id)
        finally:
            self.underway.pop(picture_id, None)
            self._cancelled.discard(picture_id)
            self._rendering = None

    async def _render_one(self, picture_id: int) -> None:
        backend = self._backend()
        async with self.database.session() as session:
            picture = await session.get(Picture, picture_id)
            if picture is None or picture.status != "queued":
                return
            if picture_id in self._cancelled:
                await self._finish(session, picture, "cancelled", "Cancelled before it began.")
                return
            reference = await reference_of(session, picture.user_id, picture.character_id)
            reference_bytes = encoding = None
            if reference is not None:
                reference_bytes = await self.files.load(
                    session, reference.file_key, owner=reference.user_id
                )
                encoding = identity.decode_encoding(reference.encoding)
            request = RenderRequest(
                prompt=picture.prompt,
                negative=picture.negative,
                seed=picture.seed,
                width=picture.width,
                height=picture.height,
                steps=self.settings.steps,
                guidance=self.settings.guidance,
                reference=reference_bytes,
                premium=picture.premium,
            )
            picture.status = "rendering"
            user_id, hold_op = picture.user_id, picture.hold_op
            await session.commit()

        self._rendering = picture_id
        state = self.underway.setdefault(picture_id, Underway())
        state.stage = "rendering"

        async def progress(step: Progress) -> None:
            state.step, state.total, state.stage = step.step, step.total, step.stage

        def next_try(number: int) -> None:
            state.try_number, state.step, state.total = number, 0, 0

        try:
            result = await asyncio.wait_for(
                reroll.render_until_same(
                    backend,
                    request,
                    encoding,
                    threshold=self.settings.identity_threshold,
                    max_tries=self.settings.max_tries,
                    progress=progress,
                    on_try=next_try,
                ),
                self.settings.timeout * self.settings.max_tries,
            )
            verdict = await nsfw.classify_async(result.chosen.data, self.settings.nsfw_threshold)
        except ImageCancelledError:
            await self._settle(picture_id, "cancelled", "The picture was cancelled.", hold_op)
            return
        except (ImageError, TimeoutError) as exc:
            message = str(exc) or "The picture took too long and was stopped."
            await self._settle(picture_id, "failed", message, hold_op)
            return
        except Exception:
            log.exception("picture %s failed", picture_id)
            await self._settle(picture_id, "failed", FAILED, hold_op)
            return
        if picture_id in self._cancelled:
            await self._settle(picture_id, "cancelled", "The picture was cancelled.", hold_op)
            return

        async with self.database.session() as session:
            picture = await session.get(Picture, picture_id)
            user = await session.get(User, user_id)
            if picture is None or user is None:  # deleted meanwhile
                await self._release(hold_op)
                return
            picture.tries = len(result.attempts)
            picture.seed = result.chosen.seed
            picture.identity_method = (
                identity_of(backend, picture.premium) if reference_bytes else ""
            )
            picture.explicit = verdict.explicit
            best = result.best
            if best is not None:
                picture.faces = best.faces
                picture.distance = best.distance
                picture.similarity = best.similarity
                picture.identity_passed = best.passed
            first = result.first
            picture.first_distance = first.distance if first is not None else None
            picture.attempts = [a.as_json() for a in result.attempts]
            if verdict.explicit and not await content.adult_allowed(session, user):
                await self._finish(
                    session,
                    picture,
                    "withheld",
                    "The picture came out explicit, and explicit content is not open to this "
                    "account (it needs an age check, the switch in Settings, and a plan where "
                    "one offers it): it was not kept, and it cost nothing.",
                )
                await self._release(hold_op)
                return
            picture.file_key = await self.files.save(session, result.chosen.data, owner=user_id)
            picture.media_type = result.chosen.media_type
            picture.status = "done"
            await session.commit()
        if hold_op is not None:
            await self.sparks.settle(hold_op, picture.sparks)

    async def _finish(
        self, session: AsyncSession, picture: Picture, status: str, error: str
    ) -> None:
        """A picture that was not made: why, and its free premium picture given back."""
        picture.status, picture.error = status, error[:500]
        await premium.give_back(session, picture)
        await session.commit()

    async def _settle(self, picture_id: int, status: str, error: str, hold_op: str | None) -> None:
        async with self.database.session() as session:
            picture = await session.get(Picture, picture_id)
            if picture is not None:
                await self._finish(session, picture, status, error)
        await self._release(hold_op)

    async def _release(self, hold_op: str | None) -> None:
        if hold_op is not None:
            await self.sparks.settle(hold_op, 0)

    async def recover(self) -> int:
        """At start: pictures a stop left queued or rendering are marked failed (their
        holds expire on their own); how many."""
        async with self.database.session() as session:
            rows = list(
                await session.scalars(
                    select(Picture).where(Picture.status.in_(("queued", "rendering")))
                )
            )
            for picture in rows:
                picture.status = "failed"
                picture.error = "The server stopped while the picture was being made."
                await premium.give_back(session, picture)
            await session.commit()
        return len(rows)

    async def aclose(self) -> None:
        if self.backend is not None and self._rendering is not None:
            await self.backend.interrupt()
        await self.jobs.aclose()
        if self.backend is not None:
            await self.backend.close()


# -- reading ------------------------------------------------------------------------------


async def get_picture(session: AsyncSession, user: User, picture_id: int) -> Picture:
    picture = await session.get(Picture, picture_id)
    if picture is None or picture.user_id != user.id:
        raise NotFoundError(f"Picture {picture_id} does not exist.")
    return picture


async def gallery(
    session: AsyncSession, user: User, character_id: int, *, limit: int = 60, offset: int = 0
) -> list[Picture]:
    """The user's pictures of a character, newest first (failed ones too, with why)."""
    rows = await session.scalars(
        select(Picture)
        .where(Picture.user_id == user.id, Picture.character_id == character_id)
        .order_by(Picture.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows)


async def of_conversation(session: AsyncSession, user: User, conversation_id: int) -> list[Picture]:
    """The pictures asked for in a chat, oldest first (each shows under its message)."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or conversation.user_id != user.id:
        raise NotFoundError(f"Conversation {conversation_id} does not exist.")
    rows = await session.scalars(
        select(Picture)
        .where(Picture.user_id == user.id, Picture.conversation_id == conversation_id)
        .order_by(Picture.id)
    )
    return list(rows)


async def reference_of(
    session: AsyncSession, user_id: int, character_id: int
) -> ReferenceFace | None:
    found: ReferenceFace | None = await session.scalar(
        select(ReferenceFace).where(
            ReferenceFace.user_id == user_id, ReferenceFace.character_id == character_id
        )
    )
    return found
