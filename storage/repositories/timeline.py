"""When people took part: responses per day, and quotable words, for the results pages.

Both are small reads however many answers there are: one GROUP BY over a survey's
responses (by the (survey_id, status) index, never the answers), and a page of quotes.
The numbers are raw; the dashboard suppresses them (bot/dashboard/figures.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Date, String, cast, func, literal_column, or_, select
from sqlalchemy.orm import Session

from storage.models import Answer, Response
from storage.repositories.dashboard import EVERYONE, FreeTextAnswer, ResponseFilter


def responses_by_day(session: Session, survey_id: str,
                     where: ResponseFilter = EVERYONE) -> dict[date, int]:
    """People who agreed to take part, by the day (UTC) they started; days with none left out.

    Only those who agreed, as in a narrowed view: with "did not agree" beside it, a day's
    count of everyone who started would tell who said no on which day.
    """
    day: ColumnElement[Any]
    if session.get_bind().dialect.name == "postgresql":
        day = cast(func.timezone("UTC", Response.started_at), Date)
    else:  # SQLite keeps UTC wall-clock text, "YYYY-MM-DD HH:MM:SS…"
        day = func.substr(cast(Response.started_at, String), 1, 10)
    agreed = or_(Response.consented_at.is_not(None), Response.status == "completed")
    rows = session.execute(
        select(day.label("day"), func.count())
        .where(Response.survey_id == survey_id, agreed, *where.conditions())
        .group_by(literal_column("day"))
    )
    found: dict[date, int] = {}
    for value, count in rows:
        when = value if isinstance(value, date) else date.fromisoformat(str(value))
        found[when] = found.get(when, 0) + int(count)
    return found


def quotable(session: Session, survey_id: str, question_id: str,
             where: ResponseFilter = EVERYONE, *, limit: int = 5) -> list[FreeTextAnswer]:
    """The newest written answers to one question from people who agreed to be quoted."""
    text: ColumnElement[str]
    if session.get_bind().dialect.name == "postgresql":
        text = Answer.value.op("#>>", return_type=String)(literal_column("'{}'"))
    else:
        text = func.json_extract(Answer.value, "$", type_=String)
    rows = session.execute(
        select(Answer.id, Answer.question_id, text, Answer.answered_at, Response.is_test)
        .join(Response, Response.id == Answer.response_id)
        .where(Answer.survey_id == survey_id, Answer.question_id == question_id,
               Answer.kind == "value", Response.quote_ok.is_(True), *where.conditions())
        .order_by(Answer.id.desc()).limit(limit)
    )
    return [FreeTextAnswer(answer_id, qid, str(value or ""), at, True, bool(is_test))
            for answer_id, qid, value, at, is_test in rows]
