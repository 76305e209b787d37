"""Stripe customers of deleted accounts, still to be deleted at Stripe

Revision ID: d1dce9f610eb
Revises: 878c15ca48fa
Create Date: 2026-12-04 16:09:28.574702
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d1dce9f610eb"
down_revision: str | None = "878c15ca48fa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stripe_customer_deletions",
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_stripe_customer_deletions")),
    )


def downgrade() -> None:
    op.drop_table("stripe_customer_deletions")
