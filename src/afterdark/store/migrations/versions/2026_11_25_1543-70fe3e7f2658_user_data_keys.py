"""Users' data keys, wrapped by the key-encryption key

Revision ID: 70fe3e7f2658
Revises: 73bae6047bb8
Create Date: 2026-11-25 15:43:19.771013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "70fe3e7f2658"
down_revision: str | None = "73bae6047bb8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("kek_id", sa.String(length=100), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_keys")),
        sa.UniqueConstraint("user_id", "version", name=op.f("uq_user_keys_user_id")),
    )
    with op.batch_alter_table("user_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_keys_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_keys_user_id"))

    op.drop_table("user_keys")
