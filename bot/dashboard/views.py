"""The dashboard's pages: surveys, one survey's results, prompts, themes, notes, exports."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
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
from bot.dashboard.crosstab import answer_filters
from bot.dashboard.figures import timeline
from bot.dashboard.filters import described, page_filters
from bot.dashboard.forms import ExportForm, NoteForm, TagForm, ThemeForm
from bot.dashboard.results import (
    funnel,
    prompt_previews,
    question_results,
    survey_rows,
)
from bot.dashboard.suggestions import suggestions_view
from bot.dashboard.themes import answers_view
from bot.services.names import channel_name, language_name
from bot.services.surveys import listing
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
from storage.repositories.consultations import ConsultationRepository
from storage.repositories.kept import KeptRepository
from surveys.model import Survey
from surveys.suppression import Suppressor


def _suppressor() -> Suppressor:
    return Suppressor(current_runtime().settings.min_cell)


def _survey(survey_id: str) -> Survey:
    survey = current_runtime().catalog.get().surveys.get(survey_id)
    if survey is None:
        abort(404)
    return survey


def _user_id() -> int:
    return int(current_user.get_id())


@bp.app_context_processor
def layout() -> dict[str, Any]:
    return {"channel_name": channel_name, "language_name": language_name,
            "min_cell": current_runtime().settings.min_cell}


@bp.app_template_filter("merge_args")
def merge_args(args: dict[str, str], **changes: Any) -> str:
    """A query string: the current one with some values replaced (None removes them)."""
    merged = {k: v for k, v in {**args, **changes}.items() if v not in (None, "")}
    return urlencode(merged)


@bp.get("/")
@signed_in
def surveys() -> str:
    runtime = current_runtime()
    now = runtime.clock()
    catalog = runtime.catalog.get()
    with database() as (repo, session):
        listed = {row.item.id: row for row in listing(session, now)}
        archived = [row for row in listed.values() if row.status == "archived"]
        current = sorted((s for s in catalog.surveys.values()
                          if s.id not in {row.item.id for row in archived}), key=lambda s: s.id)
        rows = survey_rows(repo, current, _suppressor(), now)
        consultations = [row for row in listed.values()
                         if row.kind == "consultation" and row.status != "archived"]
        waiting = ConsultationRepository(session).waiting_counts()
    status = {survey_id: row.status for survey_id, row in listed.items()}
    return render_template("dashboard/surveys.html", rows=rows, status=status,
                           consultations=consultations, archived=archived, waiting=waiting)


@bp.get("/surveys/<survey_id>")
@signed_in
def survey(survey_id: str) -> str:
    the_survey = _survey(survey_id)
    suppress = _suppressor()
    with database() as (repo, _s):
        filters = page_filters(repo, the_survey)
        where, view = filters.where, filters.view
        the_funnel = funnel(repo, the_survey, suppress, where, view=view)
        results, answered_raw = question_results(repo, the_survey, suppress, where, view=view)
        the_timeline = timeline(_s, survey_id, suppress, view)
        answers = answers_view(repo, the_survey, suppress, view, results, answered_raw,
                               request.args)
        answers.update(suggestions_view(repo, the_survey, where, answers, request.args,
                                        answered_raw))
        kept = KeptRepository(_s)
        others_people = kept.people_with_others(survey_id)
        others = kept.others_in_survey(survey_id, limit=50) if others_people >= suppress.k else []
    return render_template(
        "dashboard/survey.html", survey=the_survey, funnel=the_funnel, results=results,
        where=where, problems=filters.problems, channels=filters.channels,
        languages=filters.languages, filter_args=filters.args,
        crosstab_args={k: v for k, v in filters.args.items() if k != "answer"},
        k=suppress.k, theme_form=ThemeForm(), tag_form=TagForm(), note_form=NoteForm(),
        export_form=ExportForm(), back=request.full_path.rstrip("?"), others=others,
        others_people=others_people, question_text=_question_text(the_survey), **answers,
        tests=filters.tests, include_test=filters.include_test, timeline=the_timeline,
        answer_filters=answer_filters(the_survey),
        answered_with=described(the_survey, where.answer),
    )


def _question_text(survey: Survey) -> dict[str, str]:
    """What an other reply's "question" names: a question's words, or the stage."""
    names = {q.id: q.text.get() for q in survey.questions}
    names.update({"consent": "the consent question", "quote": "may we quote you",
                  "shareback": "would you like to hear back", "done": "after finishing",
                  "stopped": "after STOP", "menu": "the survey menu", "idle": "a first message",
                  "declined": "after saying no", "language": "the language question"})
    return names


@bp.get("/surveys/<survey_id>/prompts")
@signed_in
def prompts(survey_id: str) -> str:
    the_survey = _survey(survey_id)
    language = request.args.get("language", the_survey.default_language)
    if language not in the_survey.languages:
        language = the_survey.default_language
    return render_template("dashboard/prompts.html", survey=the_survey, language=language,
                           previews=prompt_previews(the_survey, language))


# Themes, tags and notes: bot/dashboard/themes.py.


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
                           **({"test": True} if form.include_test.data else {})})
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
