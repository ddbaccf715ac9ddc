"""One response, whole: what an organiser's "response N" page shows.

Found by its number (the response's id) within one survey, never by a phone number, chat
id or pseudonym; nothing returned here names the person. A handful of small queries by
primary key and indexes, whatever the survey's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Answer, AnswerTheme, Response, Theme
from storage.repositories.dashboard import DashboardRepository, NoteView
from storage.repositories.kept import KeptRepository, OtherReplyView


@dataclass(frozen=True)
class GivenAnswer:
    id: int
    question_id: str
    #: "value", "skipped" or "media"
    kind: str
    #: Decoded JSON: words (redacted), an option code, a list of codes, a number, or for
    #: media {"media": "audio"}.
    value: Any
    #: The chosen options' words, as they were when the person answered.
    label: str | None
    answered_at: datetime


@dataclass(frozen=True)
class ResponseRecord:
    number: int
    survey_id: str
    survey_version: int
    channel: str
    language: str
    status: str
    started_at: datetime
    completed_at: datetime | None
    quote_ok: bool | None
    share_back: bool | None
    is_test: bool
    answers: list[GivenAnswer]
    #: Theme names per answer id.
    themes: dict[int, list[str]]
    notes: dict[int, list[NoteView]]
    others: list[OtherReplyView]
    previous: int | None
    next: int | None


def response_record(session: Session, survey_id: str, number: int) -> ResponseRecord | None:
    """The response with this number in this survey, with everything said and noted."""
    response = session.get(Response, number)
    if response is None or response.survey_id != survey_id:
        return None
    answers = [
        GivenAnswer(a.id, a.question_id, a.kind, a.value, a.label, a.answered_at)
        for a in session.scalars(
            select(Answer).where(Answer.response_id == number).order_by(Answer.id))
    ]
    ids = [a.id for a in answers]
    themes: dict[int, list[str]] = {}
    if ids:
        for answer_id, name in session.execute(
                select(AnswerTheme.answer_id, Theme.name)
                .join(Theme, Theme.id == AnswerTheme.theme_id)
                .where(AnswerTheme.answer_id.in_(ids)).order_by(Theme.name)):
            themes.setdefault(answer_id, []).append(name)
    notes = DashboardRepository(session).notes_of(ids)
    others = KeptRepository(session).others_for([number]).get(number, [])
    in_survey = Response.survey_id == survey_id
    previous = session.scalar(select(func.max(Response.id)).where(in_survey,
                                                                  Response.id < number))
    following = session.scalar(select(func.min(Response.id)).where(in_survey,
                                                                   Response.id > number))
    return ResponseRecord(
        number=response.id, survey_id=response.survey_id,
        survey_version=response.survey_version, channel=response.channel,
        language=response.language, status=response.status,
        started_at=response.started_at, completed_at=response.completed_at,
        quote_ok=response.quote_ok, share_back=response.share_back,
        is_test=bool(response.is_test), answers=answers, themes=themes, notes=notes,
        others=others, previous=previous, next=following,
    )
