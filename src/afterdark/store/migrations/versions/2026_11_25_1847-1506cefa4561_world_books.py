"""World books: the user's own lorebooks for every chat (name and book sealed)

Revision ID: 1506cefa4561
Revises: a6cf00fd118b
Create Date: 2026-11-25 18:47:26.995479
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1506cefa4561"
down_revision: str | None = "a6cf00fd118b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "world_books",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_world_books_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_world_books")),
    )
    with op.batch_alter_table("world_books", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_world_books_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("world_books", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_world_books_user_id"))

    op.drop_table("world_books")
