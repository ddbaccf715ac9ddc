"""A narrowed view's partition counted in one go gives every group exactly the figures
its own filter gives.

Why: suppression in a narrowed view works over every row of the view's partition (each
channel, each language, the days before, in and after a date range). Counting each row
with its own queries made a filtered survey page at a million answers take 13 s, so
`DashboardRepository.funnels`, `answer_summaries` and `timeline.split_by_day`
count them all at once: the responses grouped by what the rows differ in, the answers
with a column per row. A mistake there would silently move people between groups, so
each is checked against the one-filter queries (and the answers against a count in
Python, row by row), on data with every channel, two languages, four months of start
dates, unfinished and test responses.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from benchmarks.export_benchmark import SURVEY, build
from bot.dashboard.results import answer_codes, view_for
from bot.services.runtime import Runtime
from storage.models import Answer, Response
from storage.repositories.by_answer import days_for, funnels_for, summaries_for
from storage.repositories.dashboard import AnswerSummary, DashboardRepository, ResponseFilter
from storage.repositories.timeline import (
    responses_by_day,
    responses_by_day_and_group,
    split_by_day,
)
from surveys.model import CHOICE_TYPES, QuestionType
from tests.helpers import FakeClock, make_runtime


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    build(database_url, tmp_path, answers=2500, seed=16)
    rt = make_runtime(database_url, tmp_path, clock=FakeClock())
    with rt.sessions() as session:
        # A few rehearsals in the sandbox, and starts spread over four months.
        session.execute(update(Response).where(Response.id % 7 == 0).values(is_test=True))
        ids = session.scalars(select(Response.id)).all()
        start = datetime(2026, 9, 1, 7, tzinfo=UTC)
        session.execute(update(Response), [
            {"id": rid, "started_at": start + timedelta(hours=6 * rid)} for rid in ids])
        session.commit()
    yield rt
    rt.close()


CHANNELS, LANGUAGES = ["sms", "telegram", "whatsapp"], ["cy", "en"]
OCTOBER = {"date_from": date(2026, 10, 1), "date_to": date(2026, 10, 31)}


def partitions() -> list[dict[Hashable, ResponseFilter]]:
    """The partitions the survey page makes, and some groups that overlap."""
    found = []
    for without_test in (False, True):
        for chosen in ({"channel": "sms"}, {"language": "cy"},
                       {"channel": "whatsapp", "language": "en"}, OCTOBER,
                       {"date_from": date(2026, 11, 15)}, {"date_to": date(2026, 9, 20)},
                       {**OCTOBER, "channel": "telegram", "language": "cy"}):
            where = ResponseFilter(**chosen, without_test=without_test)  # type: ignore[arg-type]
            view = view_for(where, CHANNELS, LANGUAGES)
            assert len(view.rows) > 1
            found.append(dict(view.rows))
    found.append({"all": ResponseFilter(), "sms": ResponseFilter(channel="sms"),
                  "october sms": ResponseFilter(**OCTOBER, channel="sms"),  # type: ignore[arg-type]
                  "cy, no tests": ResponseFilter(language="cy", without_test=True),
                  "from 10 October": ResponseFilter(date_from=date(2026, 10, 10)),
                  "nobody": ResponseFilter(channel="web")})
    return found


def test_funnels_match_one_query_per_group(runtime: Runtime) -> None:
    survey = runtime.catalog.get().surveys[SURVEY]
    question_ids = [q.id for q in survey.questions if q.is_answerable]
    with runtime.sessions() as session:
        repo = DashboardRepository(session)
        everyone = repo.funnel(SURVEY, question_ids)
        assert everyone["completed"] and everyone[question_ids[0]] and \
            everyone[question_ids[-2]], "the data has finished and unfinished responses"
        for rows in partitions():
            expected = {key: repo.funnel(SURVEY, question_ids, where)
                        for key, where in rows.items()}
            assert repo.funnels(SURVEY, question_ids, rows) == expected, rows


def counted_in_python(session: Session, coded: list[str], free: list[str],
                      where: ResponseFilter) -> AnswerSummary:
    """What `answer_summary` must return, from every answer row, counted one by one."""
    summary = AnswerSummary({}, {}, {qid: {} for qid in coded})
    given: dict[int, str] = {}  # each response's answer to the question narrowed by
    if where.answer:
        for response_id, value in session.execute(
                select(Answer.response_id, Answer.value)
                .where(Answer.question_id == where.answer[0], Answer.kind == "value")):
            given[response_id] = str(value)
    start = datetime.combine(where.date_from, time(), UTC) if where.date_from else None
    end = (datetime.combine(where.date_to + timedelta(days=1), time(), UTC)
           if where.date_to else None)
    for answer, response in session.execute(
            select(Answer, Response).join(Response, Response.id == Answer.response_id)
            .where(Answer.survey_id == SURVEY)):
        if ((where.channel and response.channel != where.channel)
                or (where.language and response.language != where.language)
                or (where.without_test and response.is_test)
                or (start and response.started_at < start)
                or (end and response.started_at >= end)
                or (where.answer and given.get(response.id, "") != where.answer[1])):
            continue
        qid = answer.question_id
        if answer.kind in ("skipped", "media"):
            bucket = summary.skipped if answer.kind == "skipped" else summary.media
            bucket[qid] = bucket.get(qid, 0) + 1
        elif qid in coded or qid in free:
            summary.answered[qid] = summary.answered.get(qid, 0) + 1
            if qid in coded:
                value = answer.value
                value = tuple(str(v) for v in value) if isinstance(value, list) else value
                summary.values[qid][value] = summary.values[qid].get(value, 0) + 1
    return summary


def test_answer_summaries_match_one_query_per_group(runtime: Runtime) -> None:
    survey = runtime.catalog.get().surveys[SURVEY]
    answerable = [q for q in survey.questions if q.is_answerable]
    coded = [q.id for q in answerable
             if q.type in CHOICE_TYPES or q.type is QuestionType.NUMBER]
    free = [q.id for q in answerable if q.type is QuestionType.FREE_TEXT]
    assert coded and free
    with runtime.sessions() as session:
        repo = DashboardRepository(session)
        for rows in partitions():
            expected = {key: counted_in_python(session, coded, free, where)
                        for key, where in rows.items()}
            got = repo.answer_summaries(SURVEY, coded, free, rows)
            assert got == expected, rows
            for key, where in rows.items():
                assert repo.answer_summary(SURVEY, coded, free, where) == expected[key]
            assert any(s.values[coded[0]] for s in got.values())


def test_answer_splits_match_a_count_in_python(runtime: Runtime) -> None:
    """The rows of a view narrowed by another answer (one FILTER column per answer, the
    rest as "no answer"), alone and crossed with a channel."""
    survey = runtime.catalog.get().surveys[SURVEY]
    answerable = [q for q in survey.questions if q.is_answerable]
    coded = [q.id for q in answerable
             if q.type in CHOICE_TYPES or q.type is QuestionType.NUMBER]
    free = [q.id for q in answerable if q.type is QuestionType.FREE_TEXT]
    codes = answer_codes(survey)
    with runtime.sessions() as session:
        repo = DashboardRepository(session)
        for by in ("hours", "time_for_me", "assessment"):
            for extra in ({}, {"channel": "sms"}, {"without_test": True}):
                where = ResponseFilter(answer=(by, codes[by][0]), **extra)  # type: ignore[arg-type]
                view = view_for(where, CHANNELS, LANGUAGES, codes[by])
                got = summaries_for(repo, SURVEY, coded, free, view.rows)
                for key, row in view.rows.items():
                    assert got[key] == counted_in_python(session, coded, free, row), (key, row)
                assert any(s.values[coded[0]] for s in got.values())


def test_funnels_and_days_split_by_an_answer_match_one_query_per_group(
        runtime: Runtime) -> None:
    """The funnel and the days of a view narrowed by another answer (read from the
    tallies and the unfinished responses) equal each group's own filtered query."""
    survey = runtime.catalog.get().surveys[SURVEY]
    question_ids = [q.id for q in survey.questions if q.is_answerable]
    codes = answer_codes(survey)
    with runtime.sessions() as session:
        # Some stop part-way, some say no, some are still going: every funnel cell.
        ids = session.scalars(select(Response.id).order_by(Response.id)).all()
        session.execute(update(Response).where(Response.id.in_(ids[::11]))
                        .values(status="stopped"))
        said_no = ids[5::13]  # saying no, they gave no answers
        session.execute(delete(Answer).where(Answer.response_id.in_(said_no)))
        session.execute(update(Response).where(Response.id.in_(said_no))
                        .values(status="declined", consented_at=None))
        session.flush()
        repo = DashboardRepository(session)
        for by in ("hours", "assessment"):
            for extra in ({}, {"channel": "sms"}, {"without_test": True}, OCTOBER):
                where = ResponseFilter(answer=(by, codes[by][0]), **extra)  # type: ignore[arg-type]
                view = view_for(where, CHANNELS, LANGUAGES, codes[by])
                funnels = funnels_for(repo, SURVEY, question_ids, view.rows)
                days = days_for(session, SURVEY, view.rows)
                for key, row in view.rows.items():
                    assert funnels[key] == repo.funnel(SURVEY, question_ids, row), (key, row)
                    assert days[key] == responses_by_day(session, SURVEY, row), (key, row)
                for cell in ("completed", "not_consented", question_ids[1]):
                    assert any(f[cell] for f in funnels.values()), cell


def test_responses_by_day_match_one_query_per_group(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        for rows in partitions()[:-1]:  # the view's partitions (one test-response rule)
            filters = list(rows.values())
            groups = responses_by_day_and_group(
                session, SURVEY, ResponseFilter(without_test=filters[0].without_test),
                by_channel=any(f.channel for f in filters),
                by_language=any(f.language for f in filters))
            for where in filters:
                assert split_by_day(groups, where) == responses_by_day(session, SURVEY, where)
            assert sum(len(split_by_day(groups, w)) for w in filters) > 30
