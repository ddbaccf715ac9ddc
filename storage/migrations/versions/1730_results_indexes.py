"""Indexes for the survey page at a million answers.

On SQLite, the answers by (survey_id, question_id, kind, value, response_id): the
page's counts read this index in order, with no sort and no table row (SQLite has no
hash aggregation). Not on PostgreSQL, which hashes instead, and whose B-tree index
entries could not hold a long written answer. On both, the responses by (survey_id,
channel, language, is_test, status, consented_at, started_at): the filter choices,
funnel and responses over time read it instead of the table.

Revision ID: 1730
Revises: 1750
Create Date: 2026-12-05 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "1730"
down_revision: str | None = "1750"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANSWERS = "ix_answers_survey_id_question_id_kind_value"
RESPONSES = "ix_responses_survey_id_channel_language"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index(ANSWERS, "answers",
                        ["survey_id", "question_id", "kind", "value", "response_id"])
    op.create_index(RESPONSES, "responses", ["survey_id", "channel", "language", "is_test",
                                             "status", "consented_at", "started_at"])


def downgrade() -> None:
    op.drop_index(RESPONSES, table_name="responses")
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index(ANSWERS, table_name="answers")
