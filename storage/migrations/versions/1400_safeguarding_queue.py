"""Safeguarding flags for every message: the flagged words (encrypted), where and on which
channel they were said, requests to be contacted, email alerts; and the `lead` role.

A flag may now come from someone's very first message, so survey and question may be
empty. Existing flags keep their link to the answer; they have no words of their own.

Revision ID: 1400
Revises: 0003
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1400"
down_revision: str | None = "2000"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("safeguarding_flags", schema=None) as batch_op:
        batch_op.alter_column("survey_id", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("question_id", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("stage", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("words", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("contact_wanted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("contact_emailed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_role"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_users_role"), "role IN ('organiser', 'reviewer', 'lead')")


def downgrade() -> None:
    op.execute("UPDATE users SET role = 'reviewer' WHERE role = 'lead'")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_role"), type_="check")
        batch_op.create_check_constraint(op.f("ck_users_role"),
                                         "role IN ('organiser', 'reviewer')")
    op.execute("DELETE FROM safeguarding_flags WHERE survey_id IS NULL OR question_id IS NULL")
    with op.batch_alter_table("safeguarding_flags", schema=None) as batch_op:
        batch_op.drop_column("contact_emailed_at")
        batch_op.drop_column("emailed_at")
        batch_op.drop_column("contact_wanted_at")
        batch_op.drop_column("words")
        batch_op.drop_column("language")
        batch_op.drop_column("channel")
        batch_op.drop_column("stage")
        batch_op.alter_column("question_id", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("survey_id", existing_type=sa.String(length=64), nullable=False)
