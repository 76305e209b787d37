"""Age checks: outcome, method, time and jurisdiction only

Revision ID: d2fc08ab1dcd
Revises: cce1375704d5
Create Date: 2026-11-25 16:23:33.323918
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d2fc08ab1dcd"
down_revision: str | None = "cce1375704d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "age_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("jurisdiction", sa.String(length=16), nullable=False),
        sa.Column("state_digest", sa.String(length=64), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_age_checks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_age_checks")),
        sa.UniqueConstraint("state_digest", name=op.f("uq_age_checks_state_digest")),
    )
    with op.batch_alter_table("age_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_age_checks_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("age_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_age_checks_user_id"))

    op.drop_table("age_checks")
