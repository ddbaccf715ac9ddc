"""Voice notes and photos as answers: media items (each also its own fetch job) and the
queue of encrypted files to delete from the media store after erasure or retention.

Revision ID: 2000
Revises: 0003
Create Date: 2026-12-04 17:14:07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2000"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_deletions",
        sa.Column("storage_key", sa.String(length=64), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("storage_key", name=op.f("pk_media_deletions")),
    )
    op.create_table(
        "media_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.String(length=64), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.LargeBinary(), nullable=True),
        sa.Column("claimed_type", sa.String(length=100), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("storage_key", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("problem", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("transcript_by", sa.Integer(), nullable=True),
        sa.Column("transcript_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('audio', 'image')", name=op.f("ck_media_items_kind")),
        sa.CheckConstraint(
            "status IN ('pending', 'fetching', 'stored', 'failed', 'expired')",
            name=op.f("ck_media_items_status"),
        ),
        sa.ForeignKeyConstraint(
            ["answer_id"], ["answers.id"], name=op.f("fk_media_items_answer_id_answers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"],
            name=op.f("fk_media_items_participant_id_participants"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["transcript_by"], ["users.id"], name=op.f("fk_media_items_transcript_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_items")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_media_items_storage_key")),
    )
    with op.batch_alter_table("media_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_items_answer_id"), ["answer_id"])
        batch_op.create_index(batch_op.f("ix_media_items_participant_id"), ["participant_id"])
        batch_op.create_index("ix_media_items_status_next_attempt_at",
                              ["status", "next_attempt_at"])
        batch_op.create_index("ix_media_items_survey_id_question_id",
                              ["survey_id", "question_id"])
        batch_op.create_index(batch_op.f("ix_media_items_transcript_by"), ["transcript_by"])


def downgrade() -> None:
    with op.batch_alter_table("media_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_items_transcript_by"))
        batch_op.drop_index("ix_media_items_survey_id_question_id")
        batch_op.drop_index("ix_media_items_status_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_media_items_participant_id"))
        batch_op.drop_index(batch_op.f("ix_media_items_answer_id"))
    op.drop_table("media_items")
    op.drop_table("media_deletions")
