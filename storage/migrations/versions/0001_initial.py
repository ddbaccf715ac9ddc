"""The initial schema.

Written out explicitly (not imported from storage.models) so this migration keeps creating
the same tables however the models change later. Names are wrapped in op.f() so the
naming convention, which Alembic applies here too, leaves them as written. Plain
DateTime(timezone=True) here: UTCDateTime only changes how Python values are converted,
not the column type.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json(*, none_as_null: bool = False) -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=none_as_null).with_variant(
        postgresql.JSONB(none_as_null=none_as_null), "postgresql"
    )


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _participant_fk(table: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["participant_id"],
        ["participants.id"],
        name=op.f(f"fk_{table}_participant_id_participants"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "survey_definitions",
        sa.Column("survey_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        _when("loaded_at"),
        sa.PrimaryKeyConstraint("survey_id", "version", name=op.f("pk_survey_definitions")),
    )

    op.create_table(
        "participants",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        _when("created_at"),
        _when("opted_out_at", nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participants")),
    )

    op.create_table(
        "vault_entries",
        sa.Column("participant_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        _when("created_at"),
        _when("last_seen_at"),
        _when("expires_at", nullable=True),
        _participant_fk("vault_entries"),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_vault_entries")),
    )

    op.create_table(
        "responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(32), nullable=False),
        sa.Column("survey_id", sa.String(64), nullable=False),
        sa.Column("survey_version", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _when("started_at"),
        _when("consented_at", nullable=True),
        _when("completed_at", nullable=True),
        _when("updated_at"),
        sa.CheckConstraint(
            "status IN ('started', 'consented', 'declined', 'completed', 'stopped')",
            name=op.f("ck_responses_status"),
        ),
        _participant_fk("responses"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
    )
    op.create_index(op.f("ix_responses_participant_id"), "responses", ["participant_id"])
    op.create_index(op.f("ix_responses_survey_id_status"), "responses", ["survey_id", "status"])

    op.create_table(
        "conversations",
        sa.Column("participant_id", sa.String(32), nullable=False),
        sa.Column("state", _json(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=True),
        _when("updated_at"),
        _participant_fk("conversations"),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_conversations_response_id_responses"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_conversations")),
    )
    op.create_index(op.f("ix_conversations_response_id"), "conversations", ["response_id"])

    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(32), nullable=False),
        sa.Column("survey_id", sa.String(64), nullable=False),
        sa.Column("question_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", _json(none_as_null=True), nullable=True),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("survey_version", sa.Integer(), nullable=False),
        _when("answered_at"),
        sa.CheckConstraint("kind IN ('value', 'skipped', 'media')", name=op.f("ck_answers_kind")),
        _participant_fk("answers"),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_answers_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.UniqueConstraint(
            "response_id",
            "question_id",
            "kind",
            name=op.f("uq_answers_response_id_question_id_kind"),
        ),
    )
    op.create_index(op.f("ix_answers_participant_id"), "answers", ["participant_id"])
    op.create_index(
        op.f("ix_answers_survey_id_question_id"), "answers", ["survey_id", "question_id"]
    )

    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(32), nullable=False),
        sa.Column("survey_id", sa.String(64), nullable=False),
        sa.Column("consent_version", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        _when("decided_at"),
        sa.CheckConstraint("decision IN ('given', 'declined')", name=op.f("ck_consents_decision")),
        _participant_fk("consents"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index(op.f("ix_consents_participant_id"), "consents", ["participant_id"])

    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("provider_message_id", sa.String(128), nullable=False),
        sa.Column("participant_id", sa.String(32), nullable=True),
        _when("received_at"),
        _participant_fk("inbound_messages", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint(
            "channel",
            "provider_message_id",
            name=op.f("uq_inbound_messages_channel_provider_message_id"),
        ),
    )
    op.create_index(
        op.f("ix_inbound_messages_participant_id"), "inbound_messages", ["participant_id"]
    )

    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at"),
        sa.Column("provider_message_ids", _json(), nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        _when("created_at"),
        _when("sent_at", nullable=True),
        sa.Column("in_reply_to", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'delivered', 'failed', 'dead', 'held')",
            name=op.f("ck_outbox_messages_status"),
        ),
        _participant_fk("outbox_messages"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    op.create_index(
        op.f("ix_outbox_messages_participant_id"), "outbox_messages", ["participant_id"]
    )
    op.create_index(
        op.f("ix_outbox_messages_status_next_attempt_at"),
        "outbox_messages",
        ["status", "next_attempt_at"],
    )

    op.create_table(
        "outbox_provider_ids",
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("provider_message_id", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox_messages.id"],
            name=op.f("fk_outbox_provider_ids_outbox_id_outbox_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "outbox_id", "provider_message_id", name=op.f("pk_outbox_provider_ids")
        ),
    )
    op.create_index(
        op.f("ix_outbox_provider_ids_provider_message_id"),
        "outbox_provider_ids",
        ["provider_message_id"],
    )


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes too.
    for table in (
        "outbox_provider_ids",
        "outbox_messages",
        "inbound_messages",
        "consents",
        "answers",
        "conversations",
        "responses",
        "vault_entries",
        "participants",
        "survey_definitions",
    ):
        op.drop_table(table)
