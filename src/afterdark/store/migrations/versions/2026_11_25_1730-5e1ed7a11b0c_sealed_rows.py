"""Seal user-written text: each table's private fields move into one sealed column

Revision ID: 5e1ed7a11b0c
Revises: 38dfba19623d
Create Date: 2026-11-25 17:30:00

Existing rows are sealed with their owner's data key on the way (the keyring comes from
the running instance), then the plain-text columns are dropped.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "5e1ed7a11b0c"
down_revision: str | None = "38dfba19623d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_FIELDS: dict[str, list[str]] = {
    "messages": ["content"],
    "generations": ["output"],
    "conversations": ["title", "scene"],
    "personas": ["name", "description"],
    "character_versions": ["note", "fields"],
    "characters": [
        "name",
        "nickname",
        "tagline",
        "description",
        "appearance",
        "backstory",
        "personality",
        "speaking_style",
        "scenario",
        "first_message",
        "alternate_greetings",
        "example_dialogue",
        "system_prompt",
        "post_history_instructions",
        "creator_notes",
        "creator",
        "character_version",
        "tags",
        "book",
        "extra",
        "card_text",
    ],
}
JSON_FIELDS = {"alternate_greetings", "tags", "book", "extra", "fields"}
OWNER = {
    "messages": "user_id",
    "generations": "user_id",
    "conversations": "user_id",
    "personas": "user_id",
    "character_versions": "owner_id",
    "characters": "owner_id",
}


def _old_table(name: str) -> sa.TableClause:
    columns: list[sa.ColumnClause[Any]] = [
        sa.column("id", sa.Integer()),
        sa.column(OWNER[name], sa.Integer()),
    ]
    columns += [
        sa.column(field, sa.JSON() if field in JSON_FIELDS else sa.Text())
        for field in TEXT_FIELDS[name]
    ]
    columns.append(sa.column("sealed", sa.LargeBinary()))
    return sa.table(name, *columns)


def _seal_rows(connection: sa.Connection, keyring: Any) -> None:
    from afterdark.privacy.keyring import Pending
    from afterdark.privacy.sealing import seal_fields

    pending = Pending({}, {})
    for name, fields in TEXT_FIELDS.items():
        table = _old_table(name)
        owner_column = OWNER[name]
        rows = connection.execute(
            sa.select(table.c.id, table.c[owner_column], *[table.c[f] for f in fields])
        ).all()
        for row in rows:
            owner = row._mapping[owner_column]
            if owner is not None and keyring is None:
                raise RuntimeError(
                    "sealing existing rows needs the key-encryption key: "
                    "run `afterdark db upgrade` with the instance's settings"
                )
            values = {f: row._mapping[f] for f in fields}
            blob = seal_fields(
                keyring,
                connection,
                pending,
                table=name,
                row_id=row.id,
                owner=owner,
                fields=values,
            )
            connection.execute(sa.update(table).where(table.c.id == row.id).values(sealed=blob))


def upgrade() -> None:
    for name in TEXT_FIELDS:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("sealed", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("character_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))

    op.execute(
        "UPDATE messages SET user_id = "
        "(SELECT user_id FROM conversations WHERE conversations.id = messages.conversation_id)"
    )
    op.execute(
        "UPDATE generations SET user_id = (SELECT user_id FROM conversations "
        "WHERE conversations.id = generations.conversation_id)"
    )
    op.execute(
        "UPDATE character_versions SET owner_id = (SELECT owner_id FROM characters "
        "WHERE characters.id = character_versions.character_id)"
    )
    config = op.get_context().config
    _seal_rows(op.get_bind(), config.attributes.get("keyring") if config else None)

    for name, fields in TEXT_FIELDS.items():
        with op.batch_alter_table(name, schema=None) as batch_op:
            for field in fields:
                batch_op.drop_column(field)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f("ix_messages_user_id"), ["user_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_messages_user_id_users"),
            "users",
            ["user_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f("ix_generations_user_id"), ["user_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_generations_user_id_users"),
            "users",
            ["user_id"],
            ["id"],
            ondelete="CASCADE",
        )
    with op.batch_alter_table("character_versions", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_character_versions_owner_id_users"),
            "users",
            ["owner_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    raise NotImplementedError(
        "sealed rows cannot be unsealed by a schema downgrade; export the users instead"
    )
