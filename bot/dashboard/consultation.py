"""The dashboard's consultation pages: moderate statements, choose quotes, see results,
download the draft response and the raw votes.

A blueprint nested in the dashboard's, sharing its headers, error pages, sign-in and
roles: reviewers and organisers moderate, choose quotes and download the draft (which
holds only suppressed, redacted figures and permitted quotes); only organisers export the
raw vote CSVs, and every export is audited.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request
from flask import url_for as url
from flask_login import current_user

from bot.dashboard import bp as dashboard
from bot.dashboard import current_runtime
from bot.dashboard.auth import database, organiser_only, signed_in
from bot.dashboard.results import parse_int
from bot.services.consultation import (
    Included,
    Results,
    compute_results,
    consensus,
    divided,
    draft,
    export_matrix,
    export_statements,
    export_votes,
    share_of,
    share_text,
    to_docx,
    to_markdown,
)
from storage.repositories.consultations import (
    DECISIONS,
    MODERATION_FILTERS,
    QUOTE_THEME,
    ConsultationRepository,
)
from storage.repositories.dashboard import DashboardRepository
from surveys.consultation import Consultation

bp = Blueprint("consultations", __name__, url_prefix="/consultations")
# Nested in the dashboard's blueprint (so at /dashboard/consultations/...): its security
# headers, HTML error pages and sign-in apply here too.
dashboard.register_blueprint(bp)

EXPORTS = {"statements.csv": export_statements, "votes.csv": export_votes,
           "participants-votes.csv": None}
MAX_STATEMENT = 280
#: Statements on one page of the moderation list.
PAGE_SIZE = 25
#: Most statements one bulk decision may cover (a page's worth, with room to spare).
MAX_BULK = 100
MAX_REASON = 500



def _consultation(consultation_id: str) -> Consultation:
    found = current_runtime().catalog.get().consultations.get(consultation_id)
    if found is None:
        abort(404)
    return found


def _user_id() -> int:
    return int(current_user.get_id())


def _results(consultation: Consultation) -> Results:
    runtime = current_runtime()
    with runtime.sessions() as session:
        return compute_results(session, consultation, runtime.settings.min_cell)


@bp.get("/")
@signed_in
def index() -> str:
    runtime = current_runtime()
    consultations = sorted(runtime.catalog.get().consultations.values(), key=lambda c: c.id)
    with runtime.sessions() as session:
        repo = ConsultationRepository(session)
        waiting = {c.id: len(repo.queue(c.id)) for c in consultations}
    return render_template("consultation/index.html", consultations=consultations,
                           waiting=waiting, now=runtime.clock())


@bp.get("/<consultation_id>")
@signed_in
def page(consultation_id: str) -> str:
    consultation = _consultation(consultation_id)
    results = _results(consultation)
    show = request.args.get("show", "waiting")
    if show not in MODERATION_FILTERS:
        show = "waiting"
    page_number = parse_int(request.args.get("page"), 1)
    with current_runtime().sessions() as session:
        repo = ConsultationRepository(session)
        total, queue = repo.moderation(consultation.id, show, PAGE_SIZE,
                                       (page_number - 1) * PAGE_SIZE)
        waiting = repo.waiting_counts().get(consultation.id, 0)
        dashboard_repo = DashboardRepository(session)
        themes = [t for t in dashboard_repo.themes(consultation.id) if t.name != QUOTE_THEME]
        tags = dashboard_repo.tags_of(v.answer_id for v in results.views)
    questions = [{
        "question": q,
        "statements": results.for_question(q.id),
        "agreed": consensus(results.for_question(q.id)),
        "disagreed": consensus(results.for_question(q.id), "disagree"),
        "divided": divided(results.for_question(q.id)),
        "quotable": [v for v in results.views if v.question_id == q.id and v.quote_ok]
        if results.suppressor.text_visible(results.answered(q.id)) else None,
        "themes": results.themes_for(q.id),
        "views": [v for v in results.views if v.question_id == q.id]
        if results.suppressor.text_visible(results.answered(q.id)) else None,
    } for q in consultation.questions]
    return render_template("consultation/page.html", consultation=consultation,
                           results=results, questions=questions, queue=queue,
                           themes=themes, theme_names={t.id: t.name for t in themes},
                           tags=tags, show=show, total=total, waiting=waiting,
                           page_number=page_number,
                           pages=max(1, -(-total // PAGE_SIZE)), filters=MODERATION_FILTERS,
                           share=lambda breakdown, vote: share_text(share_of(breakdown, vote)))


@bp.post("/<consultation_id>/statements/<int:statement_id>")
@signed_in
def moderate(consultation_id: str, statement_id: int) -> Any:
    """Approve, edit (and approve) or reject one statement. CSRF-checked app-wide."""
    consultation = _consultation(consultation_id)
    decision = request.form.get("decision", "")
    text = " ".join(request.form.get("text", "").split())
    reason = request.form.get("reason", "").strip()[:MAX_REASON] or None
    if decision not in DECISIONS or (decision == "edit" and not 0 < len(text) <= MAX_STATEMENT):
        flash(f"Choose approve, edit or reject; an edit needs up to {MAX_STATEMENT} "
              "characters of new wording.", "error")
        return redirect(url("dashboard.consultations.page", consultation_id=consultation.id))
    with database() as (_repo, session):
        repo = ConsultationRepository(session)
        statement = repo.get(statement_id)
        if statement is None or statement.consultation_id != consultation.id:
            abort(404)
        repo.moderate(statement_id, decision, _user_id(), current_runtime().clock(),
                      text if decision == "edit" else None, reason)
        session.commit()
    done = {"approve": "approved", "edit": "edited and approved", "reject": "rejected"}
    flash(f"Statement {statement_id} {done[decision]}.", "info")
    return redirect(url("dashboard.consultations.page", consultation_id=consultation.id))


@bp.post("/<consultation_id>/statements/bulk")
@signed_in
def moderate_many(consultation_id: str) -> Any:
    """Approve or reject every ticked statement at once. CSRF-checked app-wide."""
    consultation = _consultation(consultation_id)
    decision = request.form.get("decision", "")
    back = url("dashboard.consultations.page", consultation_id=consultation.id,
               show=request.form.get("show") if request.form.get("show")
               in MODERATION_FILTERS else None) + "#moderation"
    raw = request.form.getlist("ids")
    if decision not in ("approve", "reject") or len(raw) > MAX_BULK:
        abort(400)
    try:
        ids = sorted({int(value) for value in raw})
    except ValueError:
        abort(400)
    if not ids:
        flash("Tick the statements to approve or reject first.", "error")
        return redirect(back)
    reason = request.form.get("reason", "").strip()[:MAX_REASON] or None
    done = 0
    with database() as (_repo, session):
        repo = ConsultationRepository(session)
        for statement_id in ids:
            statement = repo.get(statement_id)
            if statement is None or statement.consultation_id != consultation.id:
                abort(404)
            repo.moderate(statement_id, decision, _user_id(), current_runtime().clock(),
                          None, reason)
            done += 1
        session.commit()
    verb = "approved" if decision == "approve" else "rejected"
    flash(f"{done} statement{'s' if done != 1 else ''} {verb}.", "info")
    return redirect(back)


@bp.post("/<consultation_id>/themes")
@signed_in
def create_theme(consultation_id: str) -> Any:
    """A theme to tag this consultation's views with, as for a survey's answers."""
    consultation = _consultation(consultation_id)
    name = " ".join(request.form.get("name", "").split())
    if not 0 < len(name) <= 80 or name == QUOTE_THEME:
        flash("Give the theme a name of up to 80 characters.", "error")
    else:
        with database() as (repo, session):
            repo.create_theme(consultation.id, name, _user_id(), current_runtime().clock())
            session.commit()
        flash(f"Theme \u201c{name}\u201d is ready to use.", "info")
    return redirect(url("dashboard.consultations.page", consultation_id=consultation.id)
                    + "#views")


@bp.post("/<consultation_id>/views/<int:answer_id>/themes")
@signed_in
def tag_view(consultation_id: str, answer_id: int) -> Any:
    """Tag one view with a theme (or, with remove=1, take the theme off)."""
    consultation = _consultation(consultation_id)
    theme_id = parse_int(request.form.get("theme"), 0)
    with database() as (repo, session):
        views = {v.answer_id for v in ConsultationRepository(session).views(consultation.id)}
        theme = repo.theme(theme_id) if theme_id else None
        if (answer_id not in views or theme is None or theme.survey_id != consultation.id
                or theme.name == QUOTE_THEME):
            abort(404)
        if request.form.get("remove") == "1":
            repo.untag(answer_id, theme.id)
        else:
            repo.tag(answer_id, theme.id, _user_id(), current_runtime().clock())
        session.commit()
    flash(f"Theme \u201c{theme.name}\u201d "
          f"{'removed' if request.form.get('remove') == '1' else 'added'}.", "info")
    return redirect(url("dashboard.consultations.page", consultation_id=consultation.id)
                    + "#views")


@bp.post("/<consultation_id>/quotes/<int:answer_id>")
@signed_in
def quote(consultation_id: str, answer_id: int) -> Any:
    """Choose a view as a quote for the draft, or withdraw it."""
    consultation = _consultation(consultation_id)
    chosen = request.form.get("chosen") == "1"
    with database() as (_repo, session):
        if not ConsultationRepository(session).choose_quote(
                consultation.id, answer_id, chosen, _user_id(), current_runtime().clock()):
            abort(404)
        session.commit()
    flash("Quote chosen for the draft." if chosen else "Quote withdrawn.", "info")
    page = url("dashboard.consultations.page", consultation_id=consultation.id)
    return redirect(page + "#quotes")


@bp.get("/<consultation_id>/draft.<fmt>")
@signed_in
def download_draft(consultation_id: str, fmt: str) -> Response:
    """The draft response, as Markdown or a Word document to edit."""
    consultation = _consultation(consultation_id)
    if fmt not in ("md", "docx"):
        abort(404)
    blocks = draft(_results(consultation), current_runtime().clock())
    name = f"{consultation.id}-draft-response.{fmt}"
    if fmt == "docx":
        body: bytes | str = to_docx(blocks)
        mimetype = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    else:
        body, mimetype = to_markdown(blocks), "text/markdown; charset=utf-8"
    return Response(body, content_type=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/<consultation_id>/export/<name>")
@organiser_only
def export(consultation_id: str, name: str) -> Response:
    """Raw votes and statements as CSV, by pseudonym; audited with the reason given. Only
    approved statements unless the organiser ticks "include pending and rejected"."""
    consultation = _consultation(consultation_id)
    if name not in EXPORTS:
        abort(404)
    runtime = current_runtime()
    include: Included = "all" if request.form.get("statements") == "all" else "approved"
    with database() as (repo, session):
        if name == "participants-votes.csv":
            clustering = compute_results(session, consultation,
                                         runtime.settings.min_cell).clustering
            text = export_matrix(session, consultation.id, clustering, include)
        else:
            exporter = EXPORTS[name]
            assert exporter is not None
            text = exporter(session, consultation.id, include)
        repo.audit(_user_id(), "consultation.export", consultation.id, runtime.clock(),
                   request.form.get("reason", "").strip()[:MAX_REASON] or None,
                   {"file": name, "statements": include})
        session.commit()
    return Response(text, content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{consultation.id}-{name}"'})
