"""The dashboard's pages: surveys, one survey's results, prompts, themes, notes, exports."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from bot.dashboard import bp, current_runtime
from bot.dashboard.auth import database, organiser_only, signed_in
from bot.dashboard.forms import ButtonForm, ExportForm, NoteForm, TagForm, ThemeForm
from bot.dashboard.results import (
    channel_name,
    funnel,
    parse_int,
    prompt_previews,
    question_results,
    survey_rows,
)
from storage.exports import (
    MEDIA_TYPES,
    ExportPlan,
    Format,
    csv_chunks,
    dictionary_csv,
    iter_rows,
    jsonl_chunks,
    load_versions,
    write_xlsx,
)
from storage.repositories.dashboard import ResponseFilter
from surveys.model import QuestionType, Survey
from surveys.suppression import Suppressor

PAGE_SIZE = 25


def _suppressor() -> Suppressor:
    return Suppressor(current_runtime().settings.min_cell)


def _survey(survey_id: str) -> Survey:
    survey = current_runtime().catalog.get().surveys.get(survey_id)
    if survey is None:
        abort(404)
    return survey


def _user_id() -> int:
    return int(current_user.get_id())


def _back(survey_id: str) -> str:
    """Return to the survey page the form was on, keeping its filters; nowhere else."""
    target = request.form.get("back", "")
    prefix = url_for("dashboard.survey", survey_id=survey_id)
    if target == prefix or target.startswith(prefix + "?"):
        return target
    return prefix


@bp.app_context_processor
def layout() -> dict[str, Any]:
    return {"channel_name": channel_name, "min_cell": current_runtime().settings.min_cell}


@bp.app_template_filter("merge_args")
def merge_args(args: dict[str, str], **changes: Any) -> str:
    """A query string: the current one with some values replaced (None removes them)."""
    merged = {k: v for k, v in {**args, **changes}.items() if v not in (None, "")}
    return urlencode(merged)


@bp.get("/")
@signed_in
def surveys() -> str:
    runtime = current_runtime()
    catalog = sorted(runtime.catalog.get().surveys.values(), key=lambda s: s.id)
    with database() as (repo, _s):
        rows = survey_rows(repo, catalog, _suppressor(), runtime.clock())
    return render_template("dashboard/surveys.html", rows=rows)


def _filters(channels: list[str], languages: list[str]) -> tuple[ResponseFilter, list[str]]:
    problems = []

    def day(name: str) -> date | None:
        raw = request.args.get(name, "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            problems.append(f"'{raw}' is not a date; use the date picker or YYYY-MM-DD.")
            return None

    channel = request.args.get("channel") or None
    language = request.args.get("language") or None
    where = ResponseFilter(
        date_from=day("from"), date_to=day("to"),
        channel=channel if channel in channels else None,
        language=language if language in languages else None,
    )
    return where, problems


@bp.get("/surveys/<survey_id>")
@signed_in
def survey(survey_id: str) -> str:
    the_survey = _survey(survey_id)
    suppress = _suppressor()
    free_questions = [q for q in the_survey.questions if q.type is QuestionType.FREE_TEXT]
    with database() as (repo, _s):
        channels, languages = repo.choices_in_use(survey_id)
        where, problems = _filters(channels, languages)
        # Rehearsals in the sandbox are left out of every figure unless asked for.
        tests = repo.test_responses(survey_id)
        include_test = request.args.get("test") == "include"
        where = replace(where, without_test=bool(tests) and not include_test)
        the_funnel = funnel(repo, the_survey, suppress, where)
        results, answered_raw = question_results(repo, the_survey, suppress, where)
        themes = repo.themes(survey_id)
        theme_names = {t.id: t.name for t in themes}

        chosen = request.args.get("question", "")
        question = next((q for q in free_questions if q.id == chosen),
                        free_questions[0] if free_questions else None)
        search = request.args.get("q", "")[:200]
        theme_id = parse_int(request.args.get("theme"), 0) or None
        if theme_id not in theme_names:
            theme_id = None
        page = parse_int(request.args.get("page"), 1)
        text: dict[str, Any] = {"question": question, "answers": [], "matches": None}
        theme_breakdown = None
        if question is not None:
            result = next(r for r in results if r.question.id == question.id)
            text["visible"] = result.text_visible
            answered = answered_raw.get(question.id, 0)
            theme_breakdown = suppress.multiple(
                {t.id: 0 for t in themes} | repo.theme_counts(survey_id, [question.id], where),
                answered,
            )
            if result.text_visible:
                matches, answers = repo.free_text(
                    survey_id, question.id, where, search=search, theme_id=theme_id,
                    limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, answered=answered)
                ids = [a.id for a in answers]
                text.update(answers=answers, matches=suppress.count(matches),
                            more=matches > page * PAGE_SIZE, tags=repo.tags_of(ids),
                            notes=repo.notes_of(ids))
    return render_template(
        "dashboard/survey.html", survey=the_survey, funnel=the_funnel, results=results,
        where=where, problems=problems, channels=channels, languages=languages,
        themes=themes, theme_names=theme_names, theme_breakdown=theme_breakdown,
        free_questions=free_questions, text=text, search=search, theme_id=theme_id,
        page=page, k=suppress.k, theme_form=ThemeForm(), tag_form=TagForm(),
        note_form=NoteForm(), export_form=ExportForm(),
        back=request.full_path.rstrip("?"), tests=tests, include_test=include_test,
    )


@bp.get("/surveys/<survey_id>/prompts")
@signed_in
def prompts(survey_id: str) -> str:
    the_survey = _survey(survey_id)
    language = request.args.get("language", the_survey.default_language)
    if language not in the_survey.languages:
        language = the_survey.default_language
    return render_template("dashboard/prompts.html", survey=the_survey, language=language,
                           previews=prompt_previews(the_survey, language))


@bp.post("/surveys/<survey_id>/themes")
@signed_in
def create_theme(survey_id: str) -> Any:
    _survey(survey_id)
    form = ThemeForm()
    if not form.validate_on_submit():
        flash("Give the theme a name of up to 80 characters.", "error")
        return redirect(_back(survey_id))
    with database() as (repo, db_session):
        repo.create_theme(survey_id, form.name.data or "", _user_id(), current_runtime().clock())
        db_session.commit()
    flash(f"Theme \u201c{' '.join((form.name.data or '').split())}\u201d is ready to use.",
          "info")
    return redirect(_back(survey_id))


def _answer_or_404(repo: Any, survey: Survey, answer_id: int) -> None:
    free = [q.id for q in survey.questions if q.type is QuestionType.FREE_TEXT]
    if not repo.free_text_answer(answer_id, survey.id, free):
        abort(404)


@bp.post("/surveys/<survey_id>/answers/<int:answer_id>/themes")
@signed_in
def tag(survey_id: str, answer_id: int) -> Any:
    the_survey = _survey(survey_id)
    form = TagForm()
    if not form.validate_on_submit():
        flash("Choose a theme first.", "error")
        return redirect(_back(survey_id))
    with database() as (repo, db_session):
        _answer_or_404(repo, the_survey, answer_id)
        theme = repo.theme(form.theme.data or 0)
        if theme is None or theme.survey_id != survey_id:
            abort(404)
        repo.tag(answer_id, theme.id, _user_id(), current_runtime().clock())
        db_session.commit()
        flash(f"Tagged \u201c{theme.name}\u201d.", "info")
    return redirect(_back(survey_id))


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
    return redirect(_back(survey_id))


@bp.post("/surveys/<survey_id>/answers/<int:answer_id>/notes")
@signed_in
def add_note(survey_id: str, answer_id: int) -> Any:
    the_survey = _survey(survey_id)
    form = NoteForm()
    if not form.validate_on_submit():
        flash("Write a note of up to 2,000 characters.", "error")
        return redirect(_back(survey_id))
    with database() as (repo, db_session):
        _answer_or_404(repo, the_survey, answer_id)
        repo.add_note(answer_id, _user_id(), (form.text.data or "").strip(),
                      current_runtime().clock())
        db_session.commit()
    flash("Note added.", "info")
    return redirect(_back(survey_id))


# --- exports (organisers only) ------------------------------------------------------------


def _filename(survey_id: str, suffix: str, today: date) -> str:
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", survey_id)
    return f"{safe}-{suffix}-{today.isoformat()}"


@bp.post("/surveys/<survey_id>/export")
@organiser_only
def export(survey_id: str) -> Any:
    _survey(survey_id)
    form = ExportForm()
    if not form.validate_on_submit():
        flash("Choose a format and how people are identified.", "error")
        return redirect(url_for("dashboard.survey", survey_id=survey_id))
    runtime = current_runtime()
    now = runtime.clock()
    fmt: Format = form.format.data
    with database() as (repo, db_session):
        plan = ExportPlan(load_versions(db_session, survey_id),
                          random_ids=form.ids.data == "random",
                          include_test=bool(form.include_test.data))
        if form.dictionary.data:
            body = dictionary_csv(plan)
            return Response(body, content_type=MEDIA_TYPES["csv"], headers={
                "Content-Disposition":
                    f'attachment; filename="{_filename(survey_id, "dictionary", now.date())}.csv"'
            })
        repo.audit(_user_id(), "export", survey_id, now, reason=form.reason.data or None,
                   detail={"format": fmt, "ids": form.ids.data, "via": "dashboard",
                           "test": bool(form.include_test.data)})
        db_session.commit()
    name = f"{_filename(survey_id, 'responses', now.date())}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    rows = iter_rows(runtime.sessions, plan)
    if fmt == "csv":
        return Response(csv_chunks(rows, plan.headers), content_type=MEDIA_TYPES["csv"],
                        headers=headers)
    if fmt == "jsonl":
        return Response(jsonl_chunks(rows, [c.key for c in plan.columns]),
                        mimetype=MEDIA_TYPES["jsonl"], headers=headers)
    return _xlsx_response(rows, plan, headers)


def _xlsx_response(rows: Iterator[list[Any]], plan: ExportPlan,
                   headers: dict[str, str]) -> Response:
    """XLSX is a zip that is only complete at the end: build it on disk, then send it."""
    handle = tempfile.NamedTemporaryFile(prefix="withus-export-", suffix=".xlsx", delete=False)  # noqa: SIM115
    handle.close()
    path = Path(handle.name)
    try:
        write_xlsx(path, rows, plan)
    except BaseException:
        path.unlink(missing_ok=True)
        raise

    def send() -> Iterator[bytes]:
        try:
            with path.open("rb") as stream:
                while piece := stream.read(64 * 1024):
                    yield piece
        finally:
            path.unlink(missing_ok=True)

    response = Response(send(), mimetype=MEDIA_TYPES["xlsx"], headers=headers)
    response.call_on_close(lambda: path.unlink(missing_ok=True))
    return response


@bp.get("/audit")
@organiser_only
def audit() -> str:
    with database() as (repo, _s):
        events = repo.audit_events()
    return render_template("dashboard/audit.html", events=events)
