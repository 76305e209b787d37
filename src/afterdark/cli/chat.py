"""``afterdark chat``: one message, the reply streamed to stdout."""

from __future__ import annotations

import sys

import typer

from afterdark.accounts import service as accounts_service
from afterdark.chat import replies
from afterdark.chat import service as chat_service
from afterdark.chat.schemas import ConversationCreate
from afterdark.cli.common import fail, run, runtime, settings_or_exit


def chat(
    character_id: int = typer.Argument(..., help="Character id (see `afterdark characters list`)."),
    user: str = typer.Option(..., "--user", help="Email of the account that chats."),
    message: str = typer.Option(..., "--message", "-m", help="What to say."),
    conversation: int = typer.Option(None, "--conversation", help="Continue this conversation."),
    scene: str = typer.Option("", help="Opening scene for a new conversation."),
) -> None:
    """Send a message and stream the character's reply."""
    settings = settings_or_exit()

    async def main() -> tuple[str, str | None, int]:
        async with runtime(settings) as rt:
            async with rt.database.session() as session:
                account = await accounts_service.require_user_by_email(session, user)
                if conversation is None:
                    created = await chat_service.create_conversation(
                        session, account, ConversationCreate(character_id=character_id, scene=scene)
                    )
                    conversation_id = created.id
                else:
                    conversation_id = conversation
                    state = await chat_service.get_state(session, account, conversation_id)
                    if state.conversation.character_id != character_id:
                        raise fail(
                            f"conversation {conversation_id} is with character "
                            f"{state.conversation.character_id}, not {character_id}.",
                            2,
                        )
                await session.commit()
                _, _, _, job = await replies.send(
                    session,
                    rt.generations,
                    account,
                    conversation_id,
                    message,
                    max_chars=settings.chat.max_message_chars,
                )
            stream = rt.generations.hub.get(job.generation_id)
            assert stream is not None
            status, error = "complete", None
            async for batch in stream.subscribe():
                for event in batch:
                    if event.name == "token":
                        sys.stdout.write(event.data["text"])
                        sys.stdout.flush()
                    elif event.name == "done":
                        status, error = event.data["status"], event.data["error"]
            sys.stdout.write("\n")
            return status, error, conversation_id

    status, error, conversation_id = run(main)
    typer.echo(f"[conversation {conversation_id}]", err=True)
    if status != "complete":
        raise fail(error or f"the reply ended as '{status}'.")
