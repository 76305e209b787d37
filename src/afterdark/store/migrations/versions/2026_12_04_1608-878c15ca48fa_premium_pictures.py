"""Premium pictures: a picture's premium model, and each user's one free premium picture

Revision ID: 878c15ca48fa
Revises: 2c7dcf32bc50
Create Date: 2026-12-04 16:08:35.601022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "878c15ca48fa"
down_revision: str | None = "2c7dcf32bc50"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pictures", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("premium", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("free_premium", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    # Every user, old or new, has one free premium picture.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("free_premium_pictures", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("free_premium_pictures")

    with op.batch_alter_table("pictures", schema=None) as batch_op:
        batch_op.drop_column("free_premium")
        batch_op.drop_column("premium")
