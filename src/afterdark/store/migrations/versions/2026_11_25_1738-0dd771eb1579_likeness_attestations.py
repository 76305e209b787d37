"""Likeness attestations: what an uploader affirmed about a picture with a face

Revision ID: 0dd771eb1579
Revises: 5e1ed7a11b0c
Create Date: 2026-11-25 17:38:03.957493
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0dd771eb1579"
down_revision: str | None = "5e1ed7a11b0c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "likeness_attestations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("character_id", sa.Integer(), nullable=False),
        sa.Column("file_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("statement", sa.String(length=300), nullable=False),
        sa.Column("faces", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name=op.f("fk_likeness_attestations_character_id_characters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_likeness_attestations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_likeness_attestations")),
    )
    with op.batch_alter_table("likeness_attestations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_likeness_attestations_character_id"), ["character_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_likeness_attestations_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("likeness_attestations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_likeness_attestations_user_id"))
        batch_op.drop_index(batch_op.f("ix_likeness_attestations_character_id"))

    op.drop_table("likeness_attestations")
