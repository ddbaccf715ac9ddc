"""PostgreSQL vacuums the answer tallies often, so they stay the size of their rows.

Every answer updates one row of `answer_tallies` and a few of `answer_pair_tallies`
(migration 1770), and each update leaves the old row version behind. By default
autovacuum waits until a fifth of a table is dead rows; on tables this small and this
busy that is soon, but a page that sums them still reads every dead version left
since. Measured at a million answers: written by 200 statements of 5,000 answers, the
tallies took 89 MB and 503 MB on disk against 6 MB and 100 MB for their live rows, and
a page narrowed to a ticked option took 2.0 s against 1.0 s once rewritten. Vacuuming
after 1 % of a table has changed (and at least 200 rows) keeps the space reusable as it
frees, so the tables stay near their live size. SQLite reuses free pages by itself:
nothing changes there.

Revision ID: 1780
Revises: 1770
Create Date: 2026-12-05 18:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "1780"
down_revision: str | None = "1770"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("answer_tallies", "answer_pair_tallies")
SETTINGS = {"autovacuum_vacuum_scale_factor": "0.01", "autovacuum_vacuum_threshold": "200",
            "autovacuum_analyze_scale_factor": "0.02"}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    values = ", ".join(f"{name} = {value}" for name, value in SETTINGS.items())
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET ({values})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET ({', '.join(SETTINGS)})")
