"""Healthy-use settings: limits and reminders users set for themselves

Revision ID: cce1375704d5
Revises: 4ef4748beef2
Create Date: 2026-11-25 15:54:04.009605
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cce1375704d5"
down_revision: str | None = "4ef4748beef2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wellbeing_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("daily_minutes", sa.Integer(), nullable=True),
        sa.Column("daily_messages", sa.Integer(), nullable=True),
        sa.Column("break_minutes", sa.Integer(), nullable=True),
        sa.Column("nudges", sa.Boolean(), nullable=False),
        sa.Column("hard_stop", sa.Boolean(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_wellbeing_settings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wellbeing_settings")),
        sa.UniqueConstraint("user_id", name=op.f("uq_wellbeing_settings_user_id")),
    )


def downgrade() -> None:
    op.drop_table("wellbeing_settings")
