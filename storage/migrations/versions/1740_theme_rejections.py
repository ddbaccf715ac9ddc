"""Suggested themes a reviewer rejected, per answer, so they are not suggested again.

Revision ID: 1740
Revises: 1720
Create Date: 2026-12-05 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1740"
down_revision: str | None = "1720"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "theme_rejections",
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("rejected_by", sa.Integer(), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["answer_id"], ["answers.id"],
                                name=op.f("fk_theme_rejections_answer_id_answers"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rejected_by"], ["users.id"],
                                name=op.f("fk_theme_rejections_rejected_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("answer_id", "name", name=op.f("pk_theme_rejections")),
    )
    op.create_index(op.f("ix_theme_rejections_rejected_by"), "theme_rejections",
                    ["rejected_by"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_theme_rejections_rejected_by"), table_name="theme_rejections")
    op.drop_table("theme_rejections")
