"""Statistics split by the answer to one question, each in one grouped query.

A view narrowed to "those who said unpaid carer", and a cross-tab of two questions, need
the same counts as the whole survey for every group of another question's answers at
once: the suppression works over all the groups together (`surveys.suppression`). Asking
once per group would read every answer once per group; instead each query here joins the
grouping question's answer (by the unique (response_id, question_id, kind) index) and adds
it to the GROUP BY, so the whole split costs about what the unsplit figures cost.

Groups are keyed by option code; "" holds everyone who gave the grouping question no
answer (skipped it, sent media, stopped before it, or did not agree to take part), and
also any code the survey no longer has, so the groups always add up to the whole survey.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from storage.models import Answer, Response
from storage.repositories.dashboard import (
    STOPPED_BEFORE_ANY,
    AnswerSummary,
    DashboardRepository,
    ResponseFilter,
    answer_texts,
)
from storage.repositories.ticked import parse_ticked
from storage.repositories.timeline import responses_by_day

K = TypeVar("K", bound=Hashable)
_S = TypeVar("_S", bound=Select)

#: The group of those who gave the grouping question no answer.
NO_ANSWER = ""


def group_code(raw: str | None, codes: Sequence[str]) -> str:
    """The group a stored answer (as JSON text) belongs to: its code, or `NO_ANSWER`."""
    if raw is None:
        return NO_ANSWER
    value = json.loads(raw)
    code = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return code if code in codes else NO_ANSWER


def _where(stmt: _S, where: ResponseFilter) -> _S:
    if not where.active:
        return stmt
    return stmt.join(Response, Response.id == Answer.response_id).where(*where.conditions())


def summaries_by(repo: DashboardRepository, survey_id: str, coded: Sequence[str],
                 free: Sequence[str], by: str, codes: Sequence[str],
                 where: ResponseFilter) -> dict[str, AnswerSummary]:
    """`DashboardRepository.answer_summary` for each group of `by`'s answers (two
    grouped queries in all). `where` must not itself narrow by an answer.

    As `answer_summaries` does, each group is a `count(*) FILTER (WHERE ...)` column and
    the rows are grouped by (question, kind, value) alone, which SQLite reads in order
    from its index instead of sorting every answer; those in no group (`NO_ANSWER`) are
    the rest of the count."""
    assert where.answer is None
    session = repo.session
    grouping = aliased(Answer)
    group = cast(grouping.value, Text)
    joined = and_(grouping.response_id == Answer.response_id, grouping.question_id == by,
                  grouping.kind == "value")
    columns: list[ColumnElement[int]] = [
        func.count().filter(group.in_(answer_texts(code))) for code in codes]
    columns.append(func.count())
    wanted: ColumnElement[bool] = Answer.kind.in_(("skipped", "media"))
    if coded:
        wanted = or_(wanted, and_(Answer.kind == "value", Answer.question_id.in_(list(coded))))
    stmt = (
        select(Answer.question_id, Answer.kind, Answer.value, *columns)
        .select_from(Answer).outerjoin(grouping, joined)
        .where(Answer.survey_id == survey_id, wanted)
        .group_by(Answer.question_id, Answer.kind, Answer.value)
    )
    groups = [*codes, NO_ANSWER]
    found = {code: AnswerSummary({}, {}, {qid: {} for qid in coded}) for code in groups}
    for qid, kind, value, *counts in session.execute(_where(stmt, where)):
        counts[-1] -= sum(counts[:-1])
        if kind == "value" and isinstance(value, list):
            value = tuple(str(v) for v in value)
        for code, count in zip(groups, counts, strict=True):
            if not count:
                continue
            summary = found[code]
            if kind == "skipped":
                summary.skipped[qid] = summary.skipped.get(qid, 0) + count
            elif kind == "media":
                summary.media[qid] = summary.media.get(qid, 0) + count
            else:
                summary.answered[qid] = summary.answered.get(qid, 0) + count
                if value is not None and qid in summary.values:
                    values = summary.values[qid]
                    values[value] = values.get(value, 0) + count
    if free:
        rows = session.execute(_where(
            select(Answer.question_id, *columns)
            .select_from(Answer).outerjoin(grouping, joined)
            .where(Answer.survey_id == survey_id, Answer.question_id.in_(list(free)))
            .group_by(Answer.question_id), where))
        for qid, *counts in rows:
            counts[-1] -= sum(counts[:-1])
            for code, count in zip(groups, counts, strict=True):
                if count:
                    summary = found[code]
                    summary.answered[qid] = (count - summary.skipped.get(qid, 0)
                                             - summary.media.get(qid, 0))
    return found


def funnels_by(repo: DashboardRepository, survey_id: str, question_ids: Sequence[str],
               by: str, codes: Sequence[str], where: ResponseFilter
               ) -> dict[str, dict[str, int]]:
    """`DashboardRepository.funnel` for each group of `by`'s answers (two grouped
    queries in all)."""
    assert where.answer is None
    session = repo.session
    grouping = aliased(Answer)
    group = cast(grouping.value, Text).label("g")
    joined = and_(grouping.response_id == Response.id, grouping.question_id == by,
                  grouping.kind == "value")
    consented = Response.consented_at.is_not(None)
    completed = Response.status == "completed"
    found: dict[str, dict[str, int]] = {}
    for code in [*codes, NO_ANSWER]:
        cells = {"not_consented": 0, STOPPED_BEFORE_ANY: 0}
        cells.update({qid: 0 for qid in question_ids})
        cells["completed"] = 0
        found[code] = cells
    unfinished = dict.fromkeys(found, 0)
    rows = session.execute(
        select(group, consented, completed, func.count())
        .select_from(Response).outerjoin(grouping, joined)
        .where(Response.survey_id == survey_id, *where.conditions())
        .group_by(literal_column("g"), consented, completed)
    )
    for raw_group, has_consented, is_completed, count in rows:
        cells = found[group_code(raw_group, codes)]
        if is_completed:
            cells["completed"] += count
        elif has_consented:
            unfinished[group_code(raw_group, codes)] += count
        else:
            cells["not_consented"] += count
    if any(unfinished.values()) and question_ids:
        position = case({qid: i for i, qid in enumerate(question_ids, start=1)},
                        value=Answer.question_id, else_=None)
        last = (
            select(group, func.max(position).label("last"))
            .select_from(Response).outerjoin(grouping, joined)
            .outerjoin(Answer, (Answer.response_id == Response.id)
                       & Answer.kind.in_(("value", "skipped")))
            .where(Response.survey_id == survey_id, consented, ~completed,
                   *where.conditions())
            .group_by(Response.id, literal_column("g"))
            .subquery()
        )
        counted = dict.fromkeys(found, 0)
        for raw_group, last_position, count in session.execute(
                select(last.c.g, last.c.last, func.count()).group_by(last.c.g, last.c.last)):
            code = group_code(raw_group, codes)
            if last_position:
                found[code][question_ids[int(last_position) - 1]] += count
                counted[code] += count
        for code in found:
            found[code][STOPPED_BEFORE_ANY] = unfinished[code] - counted[code]
    else:
        for code in found:
            found[code][STOPPED_BEFORE_ANY] = unfinished[code]
    return found


def days_by(session: Session, survey_id: str, by: str, codes: Sequence[str],
            where: ResponseFilter) -> dict[str, dict[date, int]]:
    """`storage.repositories.timeline.responses_by_day` for each group of `by`'s answers,
    in one grouped query."""
    assert where.answer is None
    grouping = aliased(Answer)
    group = cast(grouping.value, Text).label("g")
    day: ColumnElement[Any]
    if session.get_bind().dialect.name == "postgresql":
        day = cast(func.timezone("UTC", Response.started_at), Date)
    else:  # SQLite keeps UTC wall-clock text, "YYYY-MM-DD HH:MM:SS…"
        day = func.substr(cast(Response.started_at, String), 1, 10)
    agreed = or_(Response.consented_at.is_not(None), Response.status == "completed")
    rows = session.execute(
        select(group, day.label("day"), func.count())
        .select_from(Response)
        .outerjoin(grouping, and_(grouping.response_id == Response.id,
                                  grouping.question_id == by, grouping.kind == "value"))
        .where(Response.survey_id == survey_id, agreed, *where.conditions())
        .group_by(literal_column("g"), literal_column("day"))
    )
    found: dict[str, dict[date, int]] = {code: {} for code in [*codes, NO_ANSWER]}
    for raw_group, value, count in rows:
        when = value if isinstance(value, date) else date.fromisoformat(str(value))
        days = found[group_code(raw_group, codes)]
        days[when] = days.get(when, 0) + int(count)
    return found


def _split(rows: Mapping[K, ResponseFilter]) -> tuple[
        list[K], dict[tuple[ResponseFilter, str], list[tuple[K, str]]]]:
    """The rows that narrow by no answer, and the others by (filter without the answer,
    question): those each take one grouped query. The rows of a partition name every
    code of the question (and "" for no answer), so the codes come from them."""
    plain: list[K] = []
    grouped: dict[tuple[ResponseFilter, str], list[tuple[K, str]]] = {}
    # A multiple-choice option's ticked / unticked groups (and those who gave that
    # question no answer) are no grouping query's: each is counted as a filter of its own
    # (`storage.repositories.ticked`).
    ticked = {where.answer[0] for where in rows.values()
              if where.answer is not None and parse_ticked(where.answer[1]) is not None}
    for key, where in rows.items():
        if where.answer is None or where.answer[0] in ticked:
            plain.append(key)
        else:
            qid, code = where.answer
            grouped.setdefault((replace(where, answer=None), qid), []).append((key, code))
    return plain, grouped


def _codes(members: list[tuple[K, str]]) -> list[str]:
    return list(dict.fromkeys(code for _key, code in members if code))


def summaries_for(repo: DashboardRepository, survey_id: str, coded: Sequence[str],
                  free: Sequence[str], rows: Mapping[K, ResponseFilter]
                  ) -> dict[K, AnswerSummary]:
    """`answer_summary` for every row of a view's partition; rows that differ only by
    the answer to one question share one grouped query, and the others are counted
    together (`DashboardRepository.answer_summaries`)."""
    plain, grouped = _split(rows)
    found = repo.answer_summaries(survey_id, coded, free, {key: rows[key] for key in plain})
    for (base, qid), members in grouped.items():
        groups = summaries_by(repo, survey_id, coded, free, qid, _codes(members), base)
        for key, code in members:
            found[key] = groups[code]
    return found


def funnels_for(repo: DashboardRepository, survey_id: str, question_ids: Sequence[str],
                rows: Mapping[K, ResponseFilter]) -> dict[K, dict[str, int]]:
    """`funnel` for every row of a view's partition, as `summaries_for`."""
    plain, grouped = _split(rows)
    found = repo.funnels(survey_id, question_ids, {key: rows[key] for key in plain})
    for (base, qid), members in grouped.items():
        groups = funnels_by(repo, survey_id, question_ids, qid, _codes(members), base)
        for key, code in members:
            found[key] = groups[code]
    return found


def days_for(session: Session, survey_id: str, rows: Mapping[K, ResponseFilter]
             ) -> dict[K, dict[date, int]]:
    """`responses_by_day` for every row of a view's partition, as `summaries_for`."""
    plain, grouped = _split(rows)
    found = {key: responses_by_day(session, survey_id, rows[key]) for key in plain}
    for (base, qid), members in grouped.items():
        groups = days_by(session, survey_id, qid, _codes(members), base)
        for key, code in members:
            found[key] = groups[code]
    return found
