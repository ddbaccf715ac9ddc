"""Other replies (words that were neither an answer nor a keyword, kept redacted) and
erasure notices (a DELETE YES sent after an SMS opt-out, confirmed on the next START).

Revision ID: 1500
Revises: 1400
Create Date: 2026-12-05 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1500"
down_revision: str | None = "1400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "other_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=True),
        sa.Column("survey_id", sa.String(length=64), nullable=True),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"],
            name=op.f("fk_other_replies_participant_id_participants"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"], ["responses.id"],
            name=op.f("fk_other_replies_response_id_responses"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_other_replies")),
    )
    with op.batch_alter_table("other_replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_other_replies_participant_id"), ["participant_id"])
        batch_op.create_index(batch_op.f("ix_other_replies_response_id"), ["response_id"])
        batch_op.create_index(batch_op.f("ix_other_replies_received_at"), ["received_at"])
    op.create_table(
        "erasure_notices",
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_erasure_notices")),
    )
    with op.batch_alter_table("erasure_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erasure_notices_erased_at"), ["erased_at"])


def downgrade() -> None:
    with op.batch_alter_table("erasure_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasure_notices_erased_at"))
    op.drop_table("erasure_notices")
    with op.batch_alter_table("other_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_other_replies_received_at"))
        batch_op.drop_index(batch_op.f("ix_other_replies_response_id"))
        batch_op.drop_index(batch_op.f("ix_other_replies_participant_id"))
    op.drop_table("other_replies")
