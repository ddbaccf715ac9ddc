"""The sandbox: messages on a channel with no provider, kept for an organiser to read
and answer as each cohort member would; and test responses, marked so that figures and
exports leave them out.

Revision ID: 1720
Revises: 1700
Create Date: 2026-12-05 03:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "1720"
down_revision: str | None = "1700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_test", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table(
        "sandbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("choices", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                  nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("direction IN ('out', 'in')",
                           name=op.f("ck_sandbox_messages_direction")),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"],
                                name=op.f("fk_sandbox_messages_participant_id_participants"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_messages")),
    )
    op.create_index(op.f("ix_sandbox_messages_participant_id"), "sandbox_messages",
                    ["participant_id"], unique=False)
    op.create_index(op.f("ix_sandbox_messages_outbox_id"), "sandbox_messages",
                    ["outbox_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sandbox_messages_outbox_id"), table_name="sandbox_messages")
    op.drop_index(op.f("ix_sandbox_messages_participant_id"), table_name="sandbox_messages")
    op.drop_table("sandbox_messages")
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("is_test")
