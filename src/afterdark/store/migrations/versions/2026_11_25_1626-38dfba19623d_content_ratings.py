"""Content ratings per character and the explicit-content opt-in

Revision ID: 38dfba19623d
Revises: d2fc08ab1dcd
Create Date: 2026-11-25 16:26:12.155947
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "38dfba19623d"
down_revision: str | None = "d2fc08ab1dcd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("characters", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rating", sa.String(length=10), nullable=False, server_default="general")
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("explicit_opt_in", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("explicit_opt_in")

    with op.batch_alter_table("characters", schema=None) as batch_op:
        batch_op.drop_column("rating")
