"""The answers of groups narrowed by one option of a multiple-choice question (ticked it,
answered without ticking it, gave no answer: `storage.repositories.ticked`), counted
from the answers themselves.

The tallies kept beside the answers (`AnswerTally`, `AnswerPairTally`) group by facets of
the response and by single-answer replies; whether a response's multiple-choice answer
includes one option is neither, so these groups are counted from the answer rows: one
GROUP BY of the coded answers, skips and media, with a `count(*) FILTER (WHERE ...)`
column per group, and one of the free-text rows. Slower than the tallies (it reads
every answer of the survey); only this filter uses it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from storage.models import Answer, Response
from storage.repositories.dashboard import AnswerSummary, ResponseFilter, _add_to_summary

K = TypeVar("K", bound=Hashable)
_S = TypeVar("_S", bound=Select)


def summaries_from_answers(session: Session, survey_id: str, coded: Sequence[str],
                           free: Sequence[str], rows: Mapping[K, ResponseFilter]
                           ) -> dict[K, AnswerSummary]:
    """`DashboardRepository.answer_summary` for each of `rows` (which may narrow by any
    answer), read from the answers: two GROUP BYs however many rows."""
    if not rows:
        return {}
    keys = list(rows)
    filters = list(rows.values())
    every = all(f.without_test for f in filters)
    common: list[ColumnElement[bool]] = [Response.is_test.is_(False)] if every else []
    own = [and_(*(replace(f, without_test=False) if every else f).conditions())
           for f in filters]
    counts = [func.count().filter(c) for c in own]

    def narrowed(stmt: _S) -> _S:
        return stmt.join(Response, Response.id == Answer.response_id).where(*common)

    wanted: ColumnElement[bool] = Answer.kind.in_(("skipped", "media"))
    if coded:
        wanted = or_(wanted, and_(Answer.kind == "value", Answer.question_id.in_(list(coded))))
    summaries = {key: AnswerSummary({}, {}, {qid: {} for qid in coded}) for key in keys}
    for qid, kind, value, *found in session.execute(narrowed(
        select(Answer.question_id, Answer.kind, Answer.value, *counts)
        .where(Answer.survey_id == survey_id, wanted)
        .group_by(Answer.question_id, Answer.kind, Answer.value)
    )):
        if kind == "value" and isinstance(value, list):
            value = tuple(str(v) for v in value)
        for key, count in zip(keys, found, strict=True):
            if count:
                _add_to_summary(summaries[key], qid, kind,
                                value if kind == "value" else None, count)
    if free:
        for qid, *found in session.execute(narrowed(
            select(Answer.question_id, *counts)
            .where(Answer.survey_id == survey_id, Answer.question_id.in_(list(free)))
            .group_by(Answer.question_id)
        )):
            for key, count in zip(keys, found, strict=True):
                summary = summaries[key]
                if count:
                    summary.answered[qid] = (count - summary.skipped.get(qid, 0)
                                             - summary.media.get(qid, 0))
    return summaries
