"""Character cards: lossless card source, assets, versions, Studio fields

Revision ID: 73bae6047bb8
Revises: 3d15d8485f01
Create Date: 2026-11-25 14:36:14.005257
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "73bae6047bb8"
down_revision: str | None = "3d15d8485f01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "character_assets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("character_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_key", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name=op.f("fk_character_assets_character_id_characters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_character_assets")),
    )
    with op.batch_alter_table("character_assets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_character_assets_character_id"), ["character_id"], unique=False
        )

    op.create_table(
        "character_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("character_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name=op.f("fk_character_versions_character_id_characters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_character_versions")),
        sa.UniqueConstraint(
            "character_id", "number", name=op.f("uq_character_versions_character_id")
        ),
    )
    with op.batch_alter_table("character_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_character_versions_character_id"), ["character_id"], unique=False
        )

    with op.batch_alter_table("characters", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("nickname", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("style", sa.String(length=20), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("appearance", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("backstory", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("speaking_style", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("creator", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("character_version", sa.String(length=100), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("book", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("card_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("card_spec", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("card_container", sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.alter_column("age", existing_type=sa.INTEGER(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("characters", schema=None) as batch_op:
        batch_op.alter_column("age", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("version")
        batch_op.drop_column("card_container")
        batch_op.drop_column("card_spec")
        batch_op.drop_column("card_text")
        batch_op.drop_column("book")
        batch_op.drop_column("character_version")
        batch_op.drop_column("creator")
        batch_op.drop_column("speaking_style")
        batch_op.drop_column("backstory")
        batch_op.drop_column("appearance")
        batch_op.drop_column("style")
        batch_op.drop_column("nickname")

    with op.batch_alter_table("character_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_character_versions_character_id"))

    op.drop_table("character_versions")
    with op.batch_alter_table("character_assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_character_assets_character_id"))

    op.drop_table("character_assets")
