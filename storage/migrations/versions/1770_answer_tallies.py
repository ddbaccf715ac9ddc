"""Tallies of the answers, kept by triggers, for the survey page at a million answers.

Every count on a results page is a count of answers by (question, kind, value), narrowed
by the response's channel, language, start day or test flag, and sometimes by the answer
the response gave to another single-answer question. Counting a million answers for each
page took seconds; these two tables hold those counts already summed, so a page sums a
few thousand rows instead:

* `answer_tallies`: answers by (survey, question, kind, value, channel, language, start
  day, test);
* `answer_pair_tallies`: the same, split by each coded reply in the same response
  (`by_question`, `by_value`): every ordered pair of answers in a response whose first
  member is an option, a number or a multiple choice's options (never written words).

Triggers on `answers` keep both in the same transaction as every insert, change and
delete, cascades included, so they cannot drift from the answers: on SQLite row
triggers, on PostgreSQL statement triggers over the transition tables (which see a
multi-row statement whole). The response's facets are copied onto each answer when it
is written, because a cascade may delete the response before its answers.

Revision ID: 1770
Revises: 1730
Create Date: 2026-12-05 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1770"
down_revision: str | None = "1730"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FACETS = "channel, language, started_on, is_test"
TALLY_KEY = f"survey_id, question_id, kind, value_key, {FACETS}"
PAIR_KEY = f"survey_id, by_question, by_value, question_id, kind, value_key, {FACETS}"
TRANSCRIPT_LABEL = "transcript"  # storage/repositories/media.py, as of this revision


def _facets() -> list[sa.Column[object]]:
    return [
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("is_test", sa.Boolean(), nullable=False),
    ]


def _tables() -> None:
    op.create_table(
        "answer_tallies",
        sa.Column("survey_id", sa.String(64), nullable=False),
        sa.Column("question_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value_key", sa.Text(), nullable=False),
        *_facets(),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*TALLY_KEY.split(", "), name="pk_answer_tallies"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "answer_pair_tallies",
        sa.Column("survey_id", sa.String(64), nullable=False),
        sa.Column("by_question", sa.String(64), nullable=False),
        sa.Column("by_value", sa.Text(), nullable=False),
        sa.Column("question_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value_key", sa.Text(), nullable=False),
        *_facets(),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*PAIR_KEY.split(", "), name="pk_answer_pair_tallies"),
        sqlite_with_rowid=False,
    )


# --- SQLite: row triggers, which run as each row is written --------------------------------
#
# After an insert the new row is in the table, with the rows written before it; before a
# delete the row is still there. So "every pair involving this row" is read from the
# table as it stands, and a multi-row statement counts each pair once.

def _sqlite_vk(row: str) -> str:
    return (f"CASE WHEN {row}.kind = 'value' AND NOT {row}.free "
            f"THEN coalesce(CAST({row}.value AS TEXT), '') ELSE '' END")


def _sqlite_single(row: str) -> str:  # coded: the pairs' first member
    return (f"({row}.kind = 'value' AND NOT {row}.free AND {row}.value IS NOT NULL "
            f"AND json_type({row}.value) NOT IN ('object', 'null'))")


def _sqlite_facets(row: str) -> str:
    return (f"{row}.channel, {row}.language, substr({row}.started_at, 1, 10), "
            f"{row}.is_test")


def _sqlite_change(row: str, sign: str) -> str:
    """The statements that add (sign "+") or take away ("-") the row `row` and every
    pair it is part of."""
    return f"""
  INSERT INTO answer_tallies ({TALLY_KEY}, n)
  SELECT {row}.survey_id, {row}.question_id, {row}.kind, {_sqlite_vk(row)},
         {_sqlite_facets(row)}, {sign}1 WHERE true
  ON CONFLICT ({TALLY_KEY}) DO UPDATE SET n = n + excluded.n;
  INSERT INTO answer_pair_tallies ({PAIR_KEY}, n)
  SELECT {row}.survey_id, b.question_id, CAST(b.value AS TEXT), {row}.question_id,
         {row}.kind, {_sqlite_vk(row)}, {_sqlite_facets(row)}, {sign}1
  FROM answers AS b WHERE b.response_id = {row}.response_id AND {_sqlite_single("b")}
  ON CONFLICT ({PAIR_KEY}) DO UPDATE SET n = n + excluded.n;
  INSERT INTO answer_pair_tallies ({PAIR_KEY}, n)
  SELECT {row}.survey_id, {row}.question_id, CAST({row}.value AS TEXT), c.question_id,
         c.kind, {_sqlite_vk("c")}, {_sqlite_facets(row)}, {sign}1
  FROM answers AS c
  WHERE c.response_id = {row}.response_id AND c.id != {row}.id AND {_sqlite_single(row)}
  ON CONFLICT ({PAIR_KEY}) DO UPDATE SET n = n + excluded.n;
"""


def _sqlite_response(sign: str) -> str:
    """Add or take away every answer of the response NEW.id, and every pair, at the
    facets its answers carry."""
    return f"""
  INSERT INTO answer_tallies ({TALLY_KEY}, n)
  SELECT a.survey_id, a.question_id, a.kind, {_sqlite_vk("a")}, {_sqlite_facets("a")},
         {sign}count(*)
  FROM answers AS a WHERE a.response_id = NEW.id GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
  ON CONFLICT ({TALLY_KEY}) DO UPDATE SET n = n + excluded.n;
  INSERT INTO answer_pair_tallies ({PAIR_KEY}, n)
  SELECT a.survey_id, b.question_id, CAST(b.value AS TEXT), a.question_id, a.kind,
         {_sqlite_vk("a")}, {_sqlite_facets("a")}, {sign}count(*)
  FROM answers AS b JOIN answers AS a ON a.response_id = b.response_id
  WHERE b.response_id = NEW.id AND {_sqlite_single("b")}
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
  ON CONFLICT ({PAIR_KEY}) DO UPDATE SET n = n + excluded.n;
"""


RESPONSE_FACETS_CHANGED = ("OLD.channel IS DISTINCT FROM NEW.channel "
                           "OR OLD.language IS DISTINCT FROM NEW.language "
                           "OR OLD.started_at IS DISTINCT FROM NEW.started_at "
                           "OR OLD.is_test IS DISTINCT FROM NEW.is_test")
COPY_FACETS = ("UPDATE answers SET channel = NEW.channel, language = NEW.language, "
               "started_at = NEW.started_at, is_test = NEW.is_test "
               "WHERE response_id = NEW.id;")


def _sqlite_triggers() -> list[str]:
    changed = ("OLD.value IS NOT NEW.value OR OLD.free IS NOT NEW.free "
               "OR OLD.kind IS NOT NEW.kind OR OLD.question_id IS NOT NEW.question_id "
               "OR OLD.response_id IS NOT NEW.response_id")
    # A response's facets never change in the application, but an operator (or a test)
    # may change them: the answers' copies follow, and their counts move with them. The
    # answers' own update triggers leave a change of facets alone (WHEN above).
    return [
        f"CREATE TRIGGER responses_tally_facets AFTER UPDATE ON responses "
        f"WHEN {RESPONSE_FACETS_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} BEGIN"
        f"{_sqlite_response('-')}  {COPY_FACETS}{_sqlite_response('+')}END",
        f"CREATE TRIGGER answers_tally_insert AFTER INSERT ON answers BEGIN"
        f"{_sqlite_change('NEW', '+')}END",
        f"CREATE TRIGGER answers_tally_delete BEFORE DELETE ON answers BEGIN"
        f"{_sqlite_change('OLD', '-')}END",
        f"CREATE TRIGGER answers_tally_update_old BEFORE UPDATE ON answers WHEN {changed} "
        f"BEGIN{_sqlite_change('OLD', '-')}END",
        f"CREATE TRIGGER answers_tally_update_new AFTER UPDATE ON answers WHEN {changed} "
        f"BEGIN{_sqlite_change('NEW', '+')}END",
    ]


# --- PostgreSQL: statement triggers over the transition tables -----------------------------
#
# Row triggers would see a multi-row INSERT's later rows too (AFTER) or fire for the rows
# an upsert turns into updates (BEFORE), so each statement is taken whole. For a set X of
# rows changed within the rows S of their responses, the pairs involving X are (B, A) for
# A in X and B in S, and (A, C) for A in X and C in S but not in X.

def _pg_vk(row: str) -> str:
    return (f"CASE WHEN {row}.kind = 'value' AND NOT {row}.free "
            f"THEN coalesce({row}.value::text, '') ELSE '' END")


def _pg_single(row: str) -> str:
    return (f"({row}.kind = 'value' AND NOT {row}.free AND {row}.value IS NOT NULL "
            f"AND jsonb_typeof({row}.value) IN ('string', 'number', 'boolean', 'array'))")


def _pg_facets(row: str) -> str:
    return (f"{row}.channel, {row}.language, "
            f"({row}.started_at AT TIME ZONE 'UTC')::date, {row}.is_test")


def _pg_change(changed: str, whole: str, sign: str) -> str:
    """Add (sign "") or take away ("-") the rows of relation `changed`, each with every
    pair it makes within `whole` (the rows of their responses, `changed` included)."""
    return f"""
    INSERT INTO answer_tallies AS t ({TALLY_KEY}, n)
    SELECT a.survey_id, a.question_id, a.kind, {_pg_vk("a")}, {_pg_facets("a")},
           {sign}count(*)
    FROM {changed} AS a GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT ({TALLY_KEY}) DO UPDATE SET n = t.n + EXCLUDED.n;
    INSERT INTO answer_pair_tallies AS t ({PAIR_KEY}, n)
    SELECT survey_id, by_question, by_value, question_id, kind, value_key, channel,
           language, started_on, is_test, {sign}count(*)
    FROM (
      SELECT a.survey_id, b.question_id AS by_question, b.value::text AS by_value,
             a.question_id, a.kind, {_pg_vk("a")} AS value_key, {_pg_facets("a")}
      FROM {changed} AS a JOIN {whole} AS b ON b.response_id = a.response_id
      WHERE {_pg_single("b")}
      UNION ALL
      SELECT a.survey_id, a.question_id, a.value::text, c.question_id, c.kind,
             {_pg_vk("c")}, {_pg_facets("a")}
      FROM {changed} AS a JOIN {whole} AS c ON c.response_id = a.response_id
      WHERE {_pg_single("a")} AND NOT EXISTS (SELECT 1 FROM {changed} AS x WHERE x.id = c.id)
    ) AS pairs (survey_id, by_question, by_value, question_id, kind, value_key, channel,
                language, started_on, is_test)
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    ON CONFLICT ({PAIR_KEY}) DO UPDATE SET n = t.n + EXCLUDED.n;
"""


def _pg_triggers() -> list[str]:
    # The rows of the responses a statement touched, as the table now holds them.
    now = "(SELECT s.* FROM answers AS s WHERE s.response_id IN (SELECT response_id FROM {}))"
    # Before an update: the untouched rows as they are, and the changed ones as they were.
    before_update = ("(SELECT s.* FROM answers AS s WHERE s.response_id IN "
                     "(SELECT response_id FROM old_rows) "
                     "AND s.id NOT IN (SELECT id FROM new_rows) "
                     "UNION ALL SELECT * FROM old_rows)")
    before_delete = ("(SELECT s.* FROM answers AS s WHERE s.response_id IN "
                     "(SELECT response_id FROM old_rows) UNION ALL SELECT * FROM old_rows)")
    functions = {
        "insert": _pg_change("new_rows", now.format("new_rows"), ""),
        "delete": _pg_change("old_rows", before_delete, "-"),
        "update": (_pg_change("old_rows", before_update, "-")
                   + _pg_change("new_rows", now.format("new_rows"), "")),
    }
    statements = []
    for name, body in functions.items():
        statements.append(
            f"CREATE FUNCTION answers_tally_{name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN{body}    RETURN NULL;\nEND $$")
    statements += [
        "CREATE TRIGGER answers_tally_insert AFTER INSERT ON answers "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION answers_tally_insert()",
        "CREATE TRIGGER answers_tally_delete AFTER DELETE ON answers "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION answers_tally_delete()",
        "CREATE TRIGGER answers_tally_update AFTER UPDATE ON answers "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION answers_tally_update()",
        # The answers' copies of a response's facets follow it, all in one statement, so
        # the update trigger above moves their counts.
        "CREATE FUNCTION responses_tally_facets() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n    {COPY_FACETS}\n    RETURN NULL;\nEND $$",
        "CREATE TRIGGER responses_tally_facets AFTER UPDATE ON responses FOR EACH ROW "
        f"WHEN ({RESPONSE_FACETS_CHANGED}) EXECUTE FUNCTION responses_tally_facets()",
    ]
    return statements


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("answers", sa.Column("free", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    op.add_column("answers", sa.Column("channel", sa.String(16), nullable=True))
    op.add_column("answers", sa.Column("language", sa.String(8), nullable=True))
    op.add_column("answers", sa.Column("started_at", sa.DateTime(timezone=True),
                                       nullable=True))
    op.add_column("answers", sa.Column("is_test", sa.Boolean(), nullable=True))
    # Written words: free text has no label; a transcript is labelled so.
    op.execute("UPDATE answers SET free = true WHERE kind = 'value' AND "
               f"(label IS NULL OR label = '' OR label = '{TRANSCRIPT_LABEL}')")
    op.execute("UPDATE answers SET (channel, language, started_at, is_test) = "
               "(SELECT r.channel, r.language, r.started_at, r.is_test FROM responses AS r "
               "WHERE r.id = answers.response_id)")
    _tables()
    if dialect == "postgresql":
        triggers, vk, single, facets = _pg_triggers(), _pg_vk, _pg_single, _pg_facets
        as_text = "{}.value::text"
    else:
        triggers, vk, single = _sqlite_triggers(), _sqlite_vk, _sqlite_single
        facets = _sqlite_facets
        as_text = "CAST({}.value AS TEXT)"
    # The answers already there, counted once each; from now on the triggers count.
    op.execute(f"INSERT INTO answer_tallies ({TALLY_KEY}, n) "
               f"SELECT a.survey_id, a.question_id, a.kind, {vk('a')}, {facets('a')}, count(*) "
               f"FROM answers AS a GROUP BY 1, 2, 3, 4, 5, 6, 7, 8")
    op.execute(f"INSERT INTO answer_pair_tallies ({PAIR_KEY}, n) "
               f"SELECT a.survey_id, b.question_id, {as_text.format('b')}, a.question_id, "
               f"a.kind, {vk('a')}, {facets('a')}, count(*) "
               f"FROM answers AS b JOIN answers AS a ON a.response_id = b.response_id "
               f"WHERE {single('b')} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10")
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER responses_tally_facets ON responses")
        op.execute("DROP FUNCTION responses_tally_facets()")
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER answers_tally_{name} ON answers")
            op.execute(f"DROP FUNCTION answers_tally_{name}()")
    else:
        for name in ("responses_tally_facets", "answers_tally_insert", "answers_tally_delete",
                     "answers_tally_update_old", "answers_tally_update_new"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("answer_pair_tallies")
    op.drop_table("answer_tallies")
    with op.batch_alter_table("answers") as batch:
        for column in ("is_test", "started_at", "language", "channel", "free"):
            batch.drop_column(column)
