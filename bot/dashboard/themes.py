"""What people wrote, and the group's work on it: themes, tags, notes, bulk tagging.

Every form here is a plain HTML form that posts and redirects back to the survey page it
came from (to the answer it was about), so tagging works without JavaScript.
`bot/static/answers.js` upgrades the same forms: it posts them with fetch, reads the page
the redirect leads to, and swaps in only the parts marked `data-swap` (the answer's
themes and notes, the theme counts, the theme lists), so nothing reloads and the reader
keeps their place. The survey page includes `dashboard/answers.html` for this section.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from bot.dashboard import bp, current_runtime
from bot.dashboard.auth import database, signed_in
from bot.dashboard.forms import BulkTagForm, ButtonForm, NoteForm, TagForm, ThemeForm
from bot.dashboard.results import QuestionResult, View, _rows
from storage.repositories.by_answer import summaries_for
from storage.repositories.dashboard import DashboardRepository
from storage.types import MAX_ID
from surveys.model import Question, QuestionType, Survey
from surveys.suppression import Breakdown, Cell, Suppressor

#: Written answers shown per page.
PAGE_SIZE = 25
#: The most answers one bulk tag may name (a page holds PAGE_SIZE).
BULK_LIMIT = 200


@dataclass(frozen=True)
class ThemeRow:
    """One theme in the counts table: its tagged answers per written-answer question."""

    id: int
    name: str
    counts: list[Cell]


def _parse_int(raw: str | None, default: int) -> int:
    """A page number or id from a query or form; the default if it is not a positive
    number, and a 400 if it is too big to name anything (the database driver would
    overflow on it)."""
    try:
        value = int(raw or "")
    except ValueError:
        return default
    if value > MAX_ID:
        abort(400)
    return value if value >= 1 else default


def free_questions(survey: Survey) -> list[Question]:
    return [q for q in survey.questions if q.type is QuestionType.FREE_TEXT]


def theme_cells(repo: DashboardRepository, survey: Survey, suppress: Suppressor,
                view: View, questions: list[Question], answered_raw: dict[str, int],
                results: Sequence[QuestionResult]) -> dict[str, Breakdown[int]]:
    """Per written-answer question, how many of its answers each theme tags, suppressed
    (the survey page's table of themes and the printable summary's lists).

    Over the whole survey each question's themes are like the options of a multiple
    choice question answered by everyone who wrote. In a narrowed view they are cells of
    the view's table, like any other count there (`results._rows`: every row of the
    partition at once, secondary suppression included), so the WhatsApp view's count
    and the whole survey's cannot be subtracted to find SMS's; and where the view hides
    how many wrote, every theme count of that question is hidden with it ("fewer than
    k" where that is "fewer than k"), since a count of tagged answers is a floor on it.
    """
    themes = repo.themes(survey.id)
    if not themes or not questions:
        return {q.id: Breakdown({}, suppress.count(0), False) for q in questions}
    ids = [q.id for q in questions]
    if not view.narrowed:
        per_question = repo.theme_counts_by_question(survey.id, ids, view.where)
        return {
            q.id: suppress.multiple({t.id: per_question.get((t.id, q.id), 0) for t in themes},
                                    answered_raw.get(q.id, 0))
            for q in questions
        }
    per_row = repo.theme_counts_for_rows(survey.id, ids, view.rows)
    written = summaries_for(repo, survey.id, [], ids, view.rows)
    shown = {r.question.id: r.answered for r in results}
    found: dict[str, Breakdown[int]] = {}
    for q in questions:
        counts: dict[Hashable, dict[str, int]] = {
            key: {str(t.id): per_row[key].get((t.id, q.id), 0) for t in themes}
            for key in view.rows}
        totals = {key: written[key].answered.get(q.id, 0) for key in view.rows}
        mine = _rows(suppress, view, counts, multiple=True, totals=totals)
        cells = {t.id: mine[str(t.id)] for t in themes}
        total = mine.total
        cell = shown.get(q.id)
        if cell is not None and cell.hidden:
            cells, total = dict.fromkeys(cells, cell), cell
        found[q.id] = Breakdown(cells, total, False)
    return found


def answers_view(repo: DashboardRepository, survey: Survey, suppress: Suppressor,
                 view: View, results: list[Any],
                 answered_raw: dict[str, int], args: MultiDict[str, str]) -> dict[str, Any]:
    """Everything `dashboard/answers.html` needs, as template variables."""
    where = view.where
    questions = free_questions(survey)
    themes = repo.themes(survey.id)
    theme_names = {t.id: t.name for t in themes}
    chosen = args.get("question", "")
    question = next((q for q in questions if q.id == chosen),
                    questions[0] if questions else None)
    search = args.get("q", "")[:200]
    theme_id: int | None = _parse_int(args.get("theme"), 0) or None
    if theme_id not in theme_names:
        theme_id = None
    page = _parse_int(args.get("page"), 1)
    text: dict[str, Any] = {"question": question, "answers": [], "matches": None}
    theme_rows: list[ThemeRow] = []
    if question is not None:
        result = next(r for r in results if r.question.id == question.id)
        text["visible"] = result.text_visible
        columns = theme_cells(repo, survey, suppress, view, questions, answered_raw, results)
        theme_rows = [ThemeRow(t.id, t.name, [columns[q.id][t.id] for q in questions])
                      for t in themes]
        if result.text_visible:
            matches, answers = repo.free_text(
                survey.id, question.id, where, search=search, theme_id=theme_id,
                limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                answered=answered_raw.get(question.id, 0))
            ids = [a.id for a in answers]
            text.update(answers=answers, matches=suppress.count(matches),
                        more=matches > page * PAGE_SIZE, tags=repo.tags_of(ids),
                        notes=repo.notes_of(ids))
    return {
        "free_questions": questions, "themes": themes, "theme_names": theme_names,
        "theme_rows": theme_rows, "text": text, "search": search, "theme_id": theme_id,
        "page": page,
    }


# --- the forms ------------------------------------------------------------------------------


def _survey(survey_id: str) -> Survey:
    survey = current_runtime().catalog.get().surveys.get(survey_id)
    if survey is None:
        abort(404)
    return survey


def _user_id() -> int:
    return int(current_user.get_id())


def _back(survey_id: str, anchor: str = "") -> str:
    """Back to the survey page the form was on, keeping its filters, at `anchor`."""
    target = request.form.get("back", "")
    prefix = url_for("dashboard.survey", survey_id=survey_id)
    if not (target == prefix or target.startswith(prefix + "?")):
        target = prefix
    return f"{target}#{anchor}" if anchor else target


def _answer_or_404(repo: DashboardRepository, survey: Survey, answer_id: int) -> None:
    if not repo.free_text_answer(answer_id, survey.id, [q.id for q in free_questions(survey)]):
        abort(404)


def _theme_or_404(repo: DashboardRepository, survey_id: str, theme_id: int) -> Any:
    theme = repo.theme(theme_id)
    if theme is None or theme.survey_id != survey_id:
        abort(404)
    return theme


@bp.post("/surveys/<survey_id>/themes")
@signed_in
def create_theme(survey_id: str) -> Any:
    _survey(survey_id)
    form = ThemeForm()
    name = " ".join((form.name.data or "").split())
    if not form.validate_on_submit() or not name:
        flash("Give the theme a name of up to 80 characters.", "error")
        return redirect(_back(survey_id, "themes-heading"))
    with database() as (repo, db_session):
        repo.create_theme(survey_id, name, _user_id(), current_runtime().clock())
        db_session.commit()
    flash(f"Theme \u201c{name}\u201d is ready to use.", "info")
    return redirect(_back(survey_id, "themes-heading"))


@bp.post("/surveys/<survey_id>/answers/<int:answer_id>/themes")
@signed_in
def tag(survey_id: str, answer_id: int) -> Any:
    the_survey = _survey(survey_id)
    form = TagForm()
    if not form.validate_on_submit():
        flash("Choose a theme first.", "error")
        return redirect(_back(survey_id, f"answer-{answer_id}"))
    with database() as (repo, db_session):
        _answer_or_404(repo, the_survey, answer_id)
        theme = _theme_or_404(repo, survey_id, form.theme.data or 0)
        repo.tag(answer_id, theme.id, _user_id(), current_runtime().clock())
        db_session.commit()
        flash(f"Tagged \u201c{theme.name}\u201d.", "info")
    return redirect(_back(survey_id, f"answer-{answer_id}"))


@bp.post("/surveys/<survey_id>/answers/themes")
@signed_in
def bulk_tag(survey_id: str) -> Any:
    """Tag every selected answer with one theme."""
    the_survey = _survey(survey_id)
    form = BulkTagForm()
    raw = request.form.getlist("answer")
    if len(raw) > BULK_LIMIT:
        abort(413)
    ids = sorted({n for n in (_parse_int(r, 0) for r in raw) if n})
    if not form.validate_on_submit():
        flash("Choose a theme first.", "error")
        return redirect(_back(survey_id, "answers-heading"))
    if not ids:
        flash("Select one or more answers first (the box beside each answer).", "error")
        return redirect(_back(survey_id, "answers-heading"))
    with database() as (repo, db_session):
        found = repo.free_text_answers(ids, survey_id, [q.id for q in free_questions(the_survey)])
        if found != set(ids):
            abort(404)
        theme = _theme_or_404(repo, survey_id, form.theme.data or 0)
        now = current_runtime().clock()
        for answer_id in ids:
            repo.tag(answer_id, theme.id, _user_id(), now)
        db_session.commit()
        several = "answer" if len(ids) == 1 else f"{len(ids)} answers"
        flash(f"Tagged {several} \u201c{theme.name}\u201d.", "info")
    return redirect(_back(survey_id, "answers-heading"))


@bp.post("/surveys/<survey_id>/answers/<int:answer_id>/themes/<int:theme_id>/remove")
@signed_in
def untag(survey_id: str, answer_id: int, theme_id: int) -> Any:
    the_survey = _survey(survey_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    with database() as (repo, db_session):
        _answer_or_404(repo, the_survey, answer_id)
        repo.untag(answer_id, theme_id)
        db_session.commit()
    flash("Theme removed from that answer.", "info")
    return redirect(_back(survey_id, f"answer-{answer_id}"))


@bp.post("/surveys/<survey_id>/answers/<int:answer_id>/notes")
@signed_in
def add_note(survey_id: str, answer_id: int) -> Any:
    the_survey = _survey(survey_id)
    form = NoteForm()
    if not form.validate_on_submit() or not (form.text.data or "").strip():
        flash("Write a note of up to 2,000 characters.", "error")
        return redirect(_back(survey_id, f"answer-{answer_id}"))
    with database() as (repo, db_session):
        _answer_or_404(repo, the_survey, answer_id)
        repo.add_note(answer_id, _user_id(), (form.text.data or "").strip(),
                      current_runtime().clock())
        db_session.commit()
    flash("Note added.", "info")
    return redirect(_back(survey_id, f"answer-{answer_id}"))
