"""Moderation events: what the hard limits stopped (signals only, never the text)

Revision ID: a6cf00fd118b
Revises: 0dd771eb1579
Create Date: 2026-11-25 17:50:20.074260
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a6cf00fd118b"
down_revision: str | None = "0dd771eb1579"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "moderation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("limit", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_moderation_events_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_events")),
    )
    with op.batch_alter_table("moderation_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_moderation_events_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("moderation_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_moderation_events_user_id"))

    op.drop_table("moderation_events")
