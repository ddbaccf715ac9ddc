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
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from storage.models import Answer, AnswerPairTally, AnswerTally, Response
from storage.repositories.dashboard import (
    STOPPED_BEFORE_ANY,
    AnswerSummary,
    DashboardRepository,
    ResponseFilter,
    TallyKey,
    summary_of,
    tally_conditions,
)
from storage.repositories.ticked import parse_ticked
from storage.repositories.timeline import (
    responses_by_day,
    responses_by_day_and_group,
    split_by_day,
)

K = TypeVar("K", bound=Hashable)
_S = TypeVar("_S", bound=Select)

#: The group of those who gave the grouping question no answer.
NO_ANSWER = ""


def group_code(raw: str | None, codes: Sequence[str]) -> str:
    """The group a stored answer (as JSON text) belongs to: its code, or `NO_ANSWER`."""
    if raw is None:
        return NO_ANSWER
    value = json.loads(raw)
    if isinstance(value, list):  # multiple choice: ticked or answered without ticking
        chosen = {str(v) for v in value}
        for code in codes:
            option = parse_ticked(code)
            if option is not None and (option[0] in chosen) == option[1]:
                return code
        return NO_ANSWER
    code = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return code if code in codes else NO_ANSWER


def _where(stmt: _S, where: ResponseFilter) -> _S:
    if not where.active:
        return stmt
    return stmt.join(Response, Response.id == Answer.response_id).where(*where.conditions())


def summaries_by(repo: DashboardRepository, survey_id: str, coded: Sequence[str],
                 free: Sequence[str], by: str, codes: Sequence[str],
                 bases: Sequence[ResponseFilter]) -> list[dict[str, AnswerSummary]]:
    """`DashboardRepository.answer_summary` for each group of `by`'s answers within each
    of `bases`, from the pair tallies (`AnswerPairTally`: every answer counted under each
    coded reply in its response, kept by triggers), every base a `FILTER` column; those
    in no group (`NO_ANSWER`) are the rest of the base's tallies. Two small queries,
    however many answers, groups and bases. No base may itself narrow by an answer."""
    assert all(where.answer is None for where in bases)
    questions = [*coded, *free]
    everyone = repo.tallied(survey_id, questions, list(bases))
    groups: list[dict[str, dict[TallyKey, int]]] = [{code: {} for code in codes}
                                                    for _where in bases]
    pairs = AnswerPairTally
    sums = [func.sum(pairs.n).filter(and_(true(), *tally_conditions(where, pairs)))
            for where in bases]
    for by_value, qid, kind, value_key, *counts in repo.session.execute(
        select(pairs.by_value, pairs.question_id, pairs.kind, pairs.value_key, *sums)
        .where(pairs.survey_id == survey_id, pairs.by_question == by,
               or_(pairs.kind != "value", pairs.question_id.in_(questions)))
        .group_by(pairs.by_value, pairs.question_id, pairs.kind, pairs.value_key)
    ):
        code = group_code(by_value, codes)
        if code == NO_ANSWER:
            continue
        key = (qid, kind, value_key)
        for mine, count in zip(groups, counts, strict=True):
            if count:
                mine[code][key] = mine[code].get(key, 0) + int(count)
    found = []
    for total, mine in zip(everyone, groups, strict=True):
        rest = dict(total)
        for in_group in mine.values():
            for key, count in in_group.items():
                rest[key] = rest.get(key, 0) - count
        summaries = {code: summary_of(c, coded, free) for code, c in mine.items()}
        summaries[NO_ANSWER] = summary_of(rest, coded, free)
        found.append(summaries)
    return found


def _on_answer(where: ResponseFilter, answer: Any) -> list[ColumnElement[bool]]:
    """`ResponseFilter.conditions` on the response's facets an answer row carries."""
    found: list[ColumnElement[bool]] = []
    if where.without_test:
        found.append(answer.is_test.is_(False))
    if where.date_from:
        found.append(answer.started_at >= datetime.combine(where.date_from, time(), UTC))
    if where.date_to:
        found.append(answer.started_at
                     < datetime.combine(where.date_to + timedelta(days=1), time(), UTC))
    if where.channel:
        found.append(answer.channel == where.channel)
    if where.language:
        found.append(answer.language == where.language)
    return found


def funnels_by(repo: DashboardRepository, survey_id: str, question_ids: Sequence[str],
               by: str, codes: Sequence[str], bases: Sequence[ResponseFilter]
               ) -> list[dict[str, dict[str, int]]]:
    """`DashboardRepository.funnel` for each group of `by`'s answers, within each of
    `bases` (a channel each, say).

    Each group's size is a sum of the tallies of `by`'s answers (one per response);
    the unfinished responses (the few, not the many who completed) are read with their
    answer to `by` and the furthest question they reached, every base a `FILTER`
    column of the same rows; the completed are the rest of the group, and those in no
    group the rest of each base's whole funnel. Four small queries in all, however many
    bases, groups and answers."""
    assert all(where.answer is None for where in bases)
    session = repo.session
    completed = Response.status == "completed"
    finished = session.execute(
        select(*[func.count().filter(and_(completed, *where.conditions())) for where in bases])
        .where(Response.survey_id == survey_id)).one()
    tally = AnswerTally
    sizes = session.execute(
        select(tally.value_key, *[func.sum(tally.n).filter(and_(true(), *tally_conditions(
            where, tally))) for where in bases])
        .where(tally.survey_id == survey_id, tally.question_id == by, tally.kind == "value")
        .group_by(tally.value_key)).all()
    found: list[dict[str, dict[str, int]]] = []
    for _where in bases:
        groups = {}
        for code in [*codes, NO_ANSWER]:
            cells = {"not_consented": 0, STOPPED_BEFORE_ANY: 0}
            cells.update({qid: 0 for qid in question_ids})
            cells["completed"] = 0
            groups[code] = cells
        found.append(groups)
    for i, count in enumerate(finished):
        found[i][NO_ANSWER]["completed"] = int(count or 0)  # less the groups', below
    for value_key, *counts in sizes:
        code = group_code(value_key or None, codes)
        if code != NO_ANSWER:
            for i, count in enumerate(counts):
                # Everyone in the group, less the unfinished (below), is the completed.
                found[i][code]["completed"] += int(count or 0)
                found[i][NO_ANSWER]["completed"] -= int(count or 0)
    grouping = aliased(Answer)
    position = case({qid: i for i, qid in enumerate(question_ids, start=1)},
                    value=Answer.question_id, else_=None)
    unfinished = (
        select(cast(grouping.value, Text).label("g"),
               Response.consented_at.is_not(None).label("agreed"),
               func.max(position).label("last"),
               *[and_(true(), *where.conditions()).label(f"in_{i}")
                 for i, where in enumerate(bases)])
        .select_from(Response)
        .outerjoin(grouping, (grouping.response_id == Response.id)
                   & (grouping.question_id == by) & (grouping.kind == "value"))
        .outerjoin(Answer, (Answer.response_id == Response.id)
                   & Answer.kind.in_(("value", "skipped")))
        .where(Response.survey_id == survey_id, ~completed)
        .group_by(Response.id, literal_column("g"))
        .subquery()
    )
    for raw_group, agreed, last_position, *counts in session.execute(
            select(unfinished.c.g, unfinished.c.agreed, unfinished.c.last,
                   *[func.count().filter(unfinished.c[f"in_{i}"]) for i in range(len(bases))])
            .group_by(unfinished.c.g, unfinished.c.agreed, unfinished.c.last)):
        code = group_code(raw_group, codes)
        cell = ("not_consented" if not agreed
                else question_ids[int(last_position) - 1] if last_position
                else STOPPED_BEFORE_ANY)
        for i, count in enumerate(counts):
            found[i][code][cell] += count
            if code != NO_ANSWER:  # unfinished, so not among the group's completed
                found[i][code]["completed"] -= count
                found[i][NO_ANSWER]["completed"] += count
    return found


def days_by(session: Session, survey_id: str, by: str, codes: Sequence[str],
            where: ResponseFilter, everyone: Mapping[date, int] | None = None
            ) -> dict[str, dict[date, int]]:
    """`storage.repositories.timeline.responses_by_day` for each group of `by`'s answers:
    the groups from the tallies of `by`'s answers by start day (one answer per response),
    and those in no group the rest of everyone's days."""
    assert where.answer is None
    found: dict[str, dict[date, int]] = {code: {} for code in [*codes, NO_ANSWER]}
    tally = AnswerTally
    for value_key, day, count in session.execute(
        select(tally.value_key, tally.started_on, func.sum(tally.n))
        .where(tally.survey_id == survey_id, tally.question_id == by, tally.kind == "value",
               *tally_conditions(where, tally))
        .group_by(tally.value_key, tally.started_on)
    ):
        code = group_code(value_key or None, codes)
        if code != NO_ANSWER and count:
            found[code][day] = found[code].get(day, 0) + int(count)
    if everyone is None:
        everyone = responses_by_day(session, survey_id, where)
    for day, count in everyone.items():
        rest = count - sum(found[code].get(day, 0) for code in codes)
        if rest:
            found[NO_ANSWER][day] = rest
    return found


def _split(rows: Mapping[K, ResponseFilter]) -> tuple[
        list[K], dict[tuple[ResponseFilter, str], list[tuple[K, str]]]]:
    """The rows that narrow by no answer, and the others by (filter without the answer,
    question): those each take one grouped query. The rows of a partition name every
    code of the question (and "" for no answer), so the codes come from them."""
    plain: list[K] = []
    grouped: dict[tuple[ResponseFilter, str], list[tuple[K, str]]] = {}
    for key, where in rows.items():
        if where.answer is None:
            plain.append(key)
        else:
            qid, code = where.answer
            grouped.setdefault((replace(where, answer=None), qid), []).append((key, code))
    return plain, grouped


def _by_question(grouped: Mapping[tuple[ResponseFilter, str], list[tuple[K, str]]]
                 ) -> dict[str, dict[ResponseFilter, list[tuple[K, str]]]]:
    """`_split`'s grouped rows by question, then by the filter they narrow further."""
    found: dict[str, dict[ResponseFilter, list[tuple[K, str]]]] = {}
    for (base, qid), members in grouped.items():
        found.setdefault(qid, {})[base] = members
    return found


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
    for qid, bases in _by_question(grouped).items():
        codes = list(dict.fromkeys(code for members in bases.values()
                                   for code in _codes(members)))
        per_base = summaries_by(repo, survey_id, coded, free, qid, codes, list(bases))
        for groups, members in zip(per_base, bases.values(), strict=True):
            for key, code in members:
                found[key] = groups[code]
    return found


def funnels_for(repo: DashboardRepository, survey_id: str, question_ids: Sequence[str],
                rows: Mapping[K, ResponseFilter]) -> dict[K, dict[str, int]]:
    """`funnel` for every row of a view's partition, as `summaries_for`."""
    plain, grouped = _split(rows)
    found = repo.funnels(survey_id, question_ids, {key: rows[key] for key in plain})
    for qid, bases in _by_question(grouped).items():
        codes = list(dict.fromkeys(code for members in bases.values()
                                   for code in _codes(members)))
        per_base = funnels_by(repo, survey_id, question_ids, qid, codes, list(bases))
        for groups, members in zip(per_base, bases.values(), strict=True):
            for key, code in members:
                found[key] = groups[code]
    return found


def days_for(session: Session, survey_id: str, rows: Mapping[K, ResponseFilter]
             ) -> dict[K, dict[date, int]]:
    """`responses_by_day` for every row of a view's partition, as `summaries_for`."""
    plain, grouped = _split(rows)
    found = {key: responses_by_day(session, survey_id, rows[key]) for key in plain}
    bases = list(dict.fromkeys(base for base, _qid in grouped))
    everyone: dict[ResponseFilter, dict[date, int]] = {}
    if len({base.without_test for base in bases}) == 1:  # a view's rows: one query for all
        days = responses_by_day_and_group(
            session, survey_id, ResponseFilter(without_test=bases[0].without_test),
            by_channel=any(b.channel for b in bases), by_language=any(b.language for b in bases))
        everyone = {base: split_by_day(days, base) for base in bases}
    for (base, qid), members in grouped.items():
        groups = days_by(session, survey_id, qid, _codes(members), base, everyone.get(base))
        for key, code in members:
            found[key] = groups[code]
    return found
