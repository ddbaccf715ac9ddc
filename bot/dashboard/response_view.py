"""One response's full view: every answer one person gave, with the group's themes and
notes, and their other replies. Organisers only, and every view is in the audit log.

Why organisers only: all of one person's answers side by side (where they work, their
hours, their pay, their words, the day and channel they used) can point at someone far
more surely than any count, and the reviewers are coproduction group members who may
well know the people who answered. Organisers can already download every response in an
export, which is audited; this page is the same rows, one at a time, audited the same way.

A response is reached by its number (the response's id within its survey), never by a
phone number, chat id or pseudonym, and the page shows none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from bot.dashboard import bp, current_runtime
from bot.dashboard.auth import database, organiser_only
from bot.dashboard.views import _question_text
from bot.services.names import channel_name
from storage.repositories.dashboard import NoteView
from storage.repositories.kept import OtherReplyView
from storage.repositories.response_view import GivenAnswer, ResponseRecord, response_record
from storage.types import MAX_ID
from surveys.model import Question, QuestionType, Survey

MEDIA_WORDS = {"audio": "Sent a voice note", "image": "Sent a photo", "photo": "Sent a photo"}


@dataclass
class AnswerLine:
    """One question and what this person gave it."""

    question_id: str
    question: str
    #: "words" (a blockquote), "answer" (a choice or number), "skipped", "media", "none"
    kind: str
    text: str
    answer_id: int | None = None
    themes: list[str] = field(default_factory=list)
    notes: list[NoteView] = field(default_factory=list)


def _shown(question: Question | None, given: GivenAnswer) -> tuple[str, str]:
    """(kind, text) for one stored answer."""
    if given.kind == "skipped":
        return "skipped", "Skipped"
    if given.kind == "media":
        kind = given.value.get("media", "") if isinstance(given.value, dict) else ""
        return "media", MEDIA_WORDS.get(kind, "Sent a file")
    if question is not None and question.type is QuestionType.FREE_TEXT:
        return "words", str(given.value or "")
    if given.label:
        return "answer", given.label
    if isinstance(given.value, list):
        return "answer", "; ".join(str(v) for v in given.value)
    if isinstance(given.value, float):
        return "answer", f"{given.value:,.2f}".rstrip("0").rstrip(".")
    return "answer", str(given.value)


def answer_lines(survey: Survey, record: ResponseRecord) -> list[AnswerLine]:
    """The survey's questions in order with this response's answers, then any answers to
    questions only an older version had."""
    by_question: dict[str, list[GivenAnswer]] = {}
    for given in record.answers:
        by_question.setdefault(given.question_id, []).append(given)
    lines: list[AnswerLine] = []
    known = [q for q in survey.questions if q.is_answerable]
    for question in known:
        given_list = by_question.pop(question.id, [])
        if not given_list:
            lines.append(AnswerLine(question.id, question.text.get(), "none",
                                    "Not answered (not asked, or they stopped before it)"))
        lines += [_line(question.id, question.text.get(), question, g, record)
                  for g in given_list]
    for qid, given_list in by_question.items():
        lines += [_line(qid, f"A question no longer in the survey [{qid}]", None, g, record)
                  for g in given_list]
    return lines


def _line(qid: str, text: str, question: Question | None, given: GivenAnswer,
          record: ResponseRecord) -> AnswerLine:
    kind, shown = _shown(question, given)
    return AnswerLine(qid, text, kind, shown, given.id, record.themes.get(given.id, []),
                      record.notes.get(given.id, []))


def _survey(survey_id: str) -> Survey:
    survey = current_runtime().catalog.get().surveys.get(survey_id)
    if survey is None:
        abort(404)
    return survey


@bp.get("/surveys/<survey_id>/responses")
@organiser_only
def find_response(survey_id: str) -> Any:
    """The "open response number" form: on to that response's page."""
    _survey(survey_id)
    raw = request.args.get("number", "").strip().removeprefix("#")
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        abort(400)
    return redirect(url_for("dashboard.response_page", survey_id=survey_id, number=int(raw)))


@bp.get("/surveys/<survey_id>/responses/<int:number>")
@organiser_only
def response_page(survey_id: str, number: int) -> Any:
    survey = _survey(survey_id)
    if number > MAX_ID:
        abort(404)
    runtime = current_runtime()
    with database() as (repo, session):
        record = response_record(session, survey_id, number)
        if record is None:
            abort(404)
        repo.audit(int(current_user.get_id()), "view_response", survey_id, runtime.clock(),
                   detail={"response": number})
        session.commit()
    others: list[OtherReplyView] = record.others
    names = _question_text(survey)
    return render_template("dashboard/response.html", survey=survey, record=record,
                           lines=answer_lines(survey, record), others=others,
                           channel=channel_name(record.channel), names=names)
