"""World book links: a world book chosen for one character's chats or for one chat

Revision ID: 75a29795e1c9
Revises: 278c9b87c9c7
Create Date: 2026-12-04 13:04:35.258118
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "75a29795e1c9"
down_revision: str | None = "278c9b87c9c7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "world_book_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("book_id", sa.Integer(), nullable=False),
        sa.Column("character_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(character_id IS NULL) <> (conversation_id IS NULL)",
            name=op.f("ck_world_book_links_one_target"),
        ),
        sa.ForeignKeyConstraint(
            ["book_id"],
            ["world_books.id"],
            name=op.f("fk_world_book_links_book_id_world_books"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name=op.f("fk_world_book_links_character_id_characters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_world_book_links_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_world_book_links")),
        sa.UniqueConstraint("book_id", "character_id", name="uq_world_book_links_character"),
        sa.UniqueConstraint("book_id", "conversation_id", name="uq_world_book_links_conversation"),
    )
    with op.batch_alter_table("world_book_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_world_book_links_character_id"), ["character_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_world_book_links_conversation_id"), ["conversation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("world_book_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_world_book_links_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_world_book_links_character_id"))
    op.drop_table("world_book_links")
