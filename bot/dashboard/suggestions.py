"""Suggested themes on the survey page: groups of similar written answers a reviewer
accepts (tagging the answers they leave ticked) or rejects (never suggested again for those
answers). Nothing is tagged without a click.

Grouping takes about half a second for 1,000 answers and a few seconds for 10,000
(`benchmarks/theme_suggestions_benchmark.py`), so it runs only when a reviewer presses
"Suggest themes" (`?suggest=1` on the survey page), never on an ordinary page load. The
grouping is kept for the last few sets of answers, so the page after an accept or a reject
is quick. The forms here are plain forms that redirect back to the page (with `suggest=1`),
and `bot/static/answers.js` enhances them like the other tagging forms.

Privacy: suggestions are made only from the redacted text the page already shows, only
where it shows the answers themselves (at least k people wrote one), and not at all below
`MIN_ANSWERS` answers.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request
from werkzeug.datastructures import MultiDict

from bot.dashboard import bp, current_runtime
from bot.dashboard.auth import database, signed_in
from bot.dashboard.forms import SuggestionForm
from bot.dashboard.themes import (
    _back,
    _parse_int,
    _survey,
    _theme_or_404,
    _user_id,
    free_questions,
)
from bot.services.theme_suggestions import (
    MAX_LISTED,
    MIN_ANSWERS,
    Suggestions,
    fold,
    suggest_themes,
)
from storage.repositories.dashboard import DashboardRepository, ResponseFilter
from surveys.model import Question, Survey

#: The most answers of one question grouped at once (the newest).
MAX_GROUPED = 10_000
ANCHOR = "suggestions-heading"


def suggestions_view(repo: DashboardRepository, survey: Survey, where: ResponseFilter,
                     answers: dict[str, Any], args: MultiDict[str, str],
                     answered_raw: dict[str, int]) -> dict[str, Any]:
    """Template variables for `dashboard/suggestions.html`: `suggested` is None until asked
    for, then the suggestions (or why there are none), with the answers' texts."""
    text = answers.get("text") or {}
    question: Question | None = text.get("question")
    if question is None or not text.get("visible") or args.get("suggest") != "1":
        return {"suggested": None}
    answered = answered_raw.get(question.id, 0)
    if answered < MIN_ANSWERS:
        return {"suggested": Suggestions((), f"Suggestions need at least {MIN_ANSWERS} "
                                             "written answers to this question in this view; "
                                             f"there are {answered}."),
                "suggested_texts": {}, "suggested_capped": 0}
    _total, rows = repo.free_text(survey.id, question.id, where, limit=MAX_GROUPED,
                                  answered=answered)
    pairs = sorted((a.id, a.text) for a in rows)
    found = suggest_themes(
        pairs, {t.id: t.name for t in answers.get("themes", [])},
        repo.tags_in_question(survey.id, question.id),
        repo.rejections_in_question(survey.id, question.id),
    )
    listed = {a for s in found.suggestions for a in s.answer_ids}
    return {"suggested": found,
            "suggested_texts": {a: t for a, t in pairs if a in listed},
            "suggested_capped": MAX_GROUPED if answered > MAX_GROUPED else 0}


def _chosen_answers(the_survey: Survey, repo: DashboardRepository,
                    question_id: str) -> list[int]:
    raw = request.form.getlist("answer")
    if len(raw) > MAX_LISTED:
        abort(413)
    ids = sorted({n for n in (_parse_int(r, 0) for r in raw) if n})
    questions = [q.id for q in free_questions(the_survey)]
    if question_id not in questions:
        abort(404)
    if ids and repo.free_text_answers(ids, the_survey.id, [question_id]) != set(ids):
        abort(404)
    return ids


@bp.post("/surveys/<survey_id>/suggestions/accept")
@signed_in
def accept_suggestion(survey_id: str) -> Any:
    """Tag the ticked answers with the suggested theme, creating it if it is new."""
    the_survey = _survey(survey_id)
    form = SuggestionForm()
    back = _back(survey_id, ANCHOR)
    name = " ".join((form.name.data or "").split())
    if not form.validate_on_submit() or not (form.theme.data or name):
        flash("That suggestion could not be read; press Suggest themes again.", "error")
        return redirect(back)
    with database() as (repo, db_session):
        ids = _chosen_answers(the_survey, repo, form.question.data or "")
        if not ids:
            flash("Tick one or more answers first, then accept.", "error")
            return redirect(back)
        now = current_runtime().clock()
        if form.theme.data:
            theme = _theme_or_404(repo, survey_id, form.theme.data)
            theme_id, theme_name, created = theme.id, theme.name, False
        else:
            existing = {t.name for t in repo.themes(survey_id)}
            theme_id = repo.create_theme(survey_id, name, _user_id(), now)
            theme_name, created = name, name not in existing
        for answer_id in ids:
            repo.tag(answer_id, theme_id, _user_id(), now)
        db_session.commit()
    several = "1 answer" if len(ids) == 1 else f"{len(ids)} answers"
    made = f"Theme \u201c{theme_name}\u201d created. " if created else ""
    flash(f"{made}Tagged {several} \u201c{theme_name}\u201d.", "info")
    return redirect(back)


@bp.post("/surveys/<survey_id>/suggestions/reject")
@signed_in
def reject_suggestion(survey_id: str) -> Any:
    """Remember that the suggested theme is wrong for these answers."""
    the_survey = _survey(survey_id)
    form = SuggestionForm()
    back = _back(survey_id, ANCHOR)
    name = " ".join((form.name.data or "").split())
    if not form.validate_on_submit() or not name:
        flash("That suggestion could not be read; press Suggest themes again.", "error")
        return redirect(back)
    with database() as (repo, db_session):
        ids = _chosen_answers(the_survey, repo, form.question.data or "")
        if not ids:
            abort(400)
        repo.reject_theme(ids, fold(name), _user_id(), current_runtime().clock())
        db_session.commit()
    several = "this answer" if len(ids) == 1 else f"these {len(ids)} answers"
    flash(f"Suggestion \u201c{name}\u201d rejected: it will not be suggested for {several} "
          "again.", "info")
    return redirect(back)
