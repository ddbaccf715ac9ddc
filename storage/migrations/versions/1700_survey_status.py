"""Survey status set in the dashboard or with `withus surveys open|close|archive`: opening
and closing moments that replace the file's, and archiving.

Revision ID: 1700
Revises: 1500
Create Date: 2026-12-05 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1700"
down_revision: str | None = "1500"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "survey_status",
        sa.Column("survey_id", sa.String(length=64), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["changed_by"], ["users.id"],
                                name=op.f("fk_survey_status_changed_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("survey_id", name=op.f("pk_survey_status")),
    )
    with op.batch_alter_table("survey_status", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_status_changed_by"), ["changed_by"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("survey_status", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_status_changed_by"))
    op.drop_table("survey_status")
