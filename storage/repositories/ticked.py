"""Narrowing by one option of a multiple-choice question: those who ticked it, and those
who answered the question without ticking it.

`ResponseFilter.answer` names a single-answer question's option by its code; for a
multiple-choice option it carries the code with a prefix, "ticked:breaks" or
"unticked:breaks" (option codes are lower-case identifiers, so never contain ":"). The
two groups, with those who gave the question no answer (code ""), split the whole
survey, as a single-answer question's options do.

The test (`Ticks`) is the answer's stored JSON text containing the option's ('["family",
"breaks"]' contains '"breaks"') on SQLite, and JSONB containment (`value @> '["breaks"]'`)
on PostgreSQL: the planner estimates the text match as matching almost nothing, and so
read every answer of the question to list a page of 50 written answers (0.28 s at a
million answers), where containment lets it walk the newest answers and stop (2 ms).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Text, cast, exists, literal
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
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
    contains = Ticks(given.value, code)
    return exists().where(given.response_id == Response.id, given.question_id == question_id,
                          given.kind == "value", contains if ticked else ~contains)


class Ticks(ColumnElement[bool]):
    """A stored multiple-choice answer (a JSON array of codes) has `code` ticked."""

    # Compiled afresh each time (its parameter is made while compiling): a statement
    # holding it is never taken from SQLAlchemy's cache, so one code's SQL is never
    # reused for another's.
    inherit_cache = False
    type = Boolean()

    def __init__(self, value: Any, code: str) -> None:
        self.value = value
        self.code = code


@compiles(Ticks)
def _ticks_as_text(element: Ticks, compiler: Any, **kw: Any) -> str:
    contains = cast(element.value, Text).contains(f'"{element.code}"', autoescape=True)
    return str(compiler.process(contains, **kw))


@compiles(Ticks, "postgresql")
def _ticks_in_jsonb(element: Ticks, compiler: Any, **kw: Any) -> str:
    wanted = cast(literal(json.dumps([element.code])), JSONB)
    return str(compiler.process(element.value.op("@>")(wanted), **kw))
