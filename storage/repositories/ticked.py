"""Narrowing by one option of a multiple-choice question: those who ticked it, and those
who answered the question without ticking it.

`ResponseFilter.answer` names a single-answer question's option by its code; for a
multiple-choice option it carries the code with a prefix, "ticked:breaks" or
"unticked:breaks" (option codes are lower-case identifiers, so never contain ":"). The
two groups, with those who gave the question no answer (code ""), split the whole
survey, as a single-answer question's options do. The test is on the answer's stored
JSON text ('["family", "breaks"]' contains '"breaks"'), the same on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Text, cast, exists
from sqlalchemy.orm import aliased

from storage.models import Answer, Response

TICKED = "ticked:"
UNTICKED = "unticked:"


def ticked_code(code: str, ticked: bool = True) -> str:
    """The filter's code for those who ticked `code` (or answered without ticking it)."""
    return (TICKED if ticked else UNTICKED) + code


def parse_ticked(code: str) -> tuple[str, bool] | None:
    """(option code, ticked?) for a ticked or unticked code; None for any other code."""
    for prefix, ticked in ((TICKED, True), (UNTICKED, False)):
        if code.startswith(prefix):
            return code.removeprefix(prefix), ticked
    return None


def ticked_condition(question_id: str, code: str, ticked: bool) -> ColumnElement[bool]:
    """The response answered the multiple-choice question and ticked (or did not tick)
    the option `code`."""
    given = aliased(Answer)
    contains = cast(given.value, Text).contains(f'"{code}"', autoescape=True)
    return exists().where(given.response_id == Response.id, given.question_id == question_id,
                          given.kind == "value", contains if ticked else ~contains)
