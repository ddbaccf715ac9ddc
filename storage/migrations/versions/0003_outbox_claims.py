"""Who claimed each outbox message, and when its send began.

A scheduler killed mid-pass left its claimed rows in 'sending' until a time-based cut-off
put them back, minutes later. With the claimer and the start of the send recorded, a new
leader puts back at once every row a dead sender claimed but never began to send, and
settles the few it began (see bot/sender.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("send_started_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("send_started_at")
        batch_op.drop_column("claimed_by")
