"""Voice notes and photos in the dashboard: listen, look, type what was said, archive.

* `/dashboard/surveys/<id>/voice` lists a survey's voice notes and photos, question by
  question, each with an `<audio>` or `<img>` and a transcript box. Like written answers,
  a question's list is shown only once `WITHUS_MIN_CELL` people or more sent one.
* `/dashboard/media/<id>` is what those elements load: for signed-in accounts only,
  decrypted on the fly, never cached (`Cache-Control: no-store`), and every request is
  in the audit log.
* Reviewers save transcripts; each is redacted like free text and becomes the
  question's words (bot/services/media.py).
* Only organisers may download an archive of the files, giving a reason: audited.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from bot.dashboard import bp, current_runtime
from bot.dashboard.auth import database, organiser_only, signed_in
from bot.services.media import EXTENSIONS, PROBLEMS, digest, save_transcript
from bot.services.media_jobs import MediaJob
from storage import spreadsheet
from storage.media import MediaMissing
from storage.repositories.media import MediaRepository, MediaView, reference
from storage.uow import UnitOfWork
from surveys.model import Question, Survey
from surveys.suppression import Suppressor

#: Longest transcript a reviewer may save (a two-minute voice note is about 300 words).
MAX_TRANSCRIPT = 4000
PAGE_SIZE = 50


class TranscriptForm(FlaskForm):
    text = TextAreaField("What they said", validators=[Length(max=MAX_TRANSCRIPT)])


class ArchiveForm(FlaskForm):
    reason = StringField("Why is this archive needed? (kept in the audit log)",
                         validators=[DataRequired(), Length(max=500)])


def _survey(survey_id: str) -> Survey:
    survey = current_runtime().catalog.get().surveys.get(survey_id)
    if survey is None or not survey.accepts_media:
        abort(404)
    return survey


def _user_id() -> int:
    return int(current_user.get_id())


def _job() -> MediaJob:
    return MediaJob(current_runtime())


def duration(milliseconds: int | None) -> str:
    """ "0:07", "2:31": how long a voice note is."""
    if milliseconds is None:
        return ""
    seconds = round(milliseconds / 1000)
    return f"{seconds // 60}:{seconds % 60:02d}"


@bp.app_template_filter("duration")
def _duration_filter(milliseconds: int | None) -> str:
    return duration(milliseconds)


@bp.get("/surveys/<survey_id>/voice")
@signed_in
def voice(survey_id: str) -> str:
    survey = _survey(survey_id)
    suppress = Suppressor(current_runtime().settings.min_cell)
    questions: list[tuple[Question, int, bool, list[MediaView]]] = []
    with database() as (_repo, session):
        media = MediaRepository(session)
        for question in survey.questions:
            if question.accepts == {"text"}:
                continue
            total, items = media.for_survey(survey_id, question.id, limit=PAGE_SIZE)
            visible = suppress.text_visible(total)
            questions.append((question, total, visible, items if visible else []))
    return render_template("dashboard/voice.html", survey=survey, questions=questions,
                           problems=PROBLEMS, k=suppress.k, transcript_form=TranscriptForm(),
                           archive_form=ArchiveForm(), max_transcript=MAX_TRANSCRIPT)


def _visible(session: Any, item: MediaView) -> bool:
    """The same rule as the list: shown only where enough people sent one."""
    total, _items = MediaRepository(session).for_survey(item.survey_id, item.question_id,
                                                        limit=0)
    return Suppressor(current_runtime().settings.min_cell).text_visible(total)


@bp.get("/media/<int:media_id>")
@signed_in
def media_file(media_id: int) -> Response:
    """The voice note or photo itself, decrypted for this request only."""
    runtime = current_runtime()
    with database() as (repo, session):
        item = MediaRepository(session).get(media_id)
        view = MediaRepository(session).view(media_id)
        if item is None or view is None or item.storage_key is None or not _visible(session,
                                                                                    view):
            abort(404)
        key, content_type, survey_id = item.storage_key, item.content_type, item.survey_id
        expected = item.sha256
        if _first_request():
            repo.audit(_user_id(), "play_media" if item.kind == "audio" else "view_media",
                       survey_id, runtime.clock(), detail={"media": reference(media_id)})
            session.commit()
    try:
        data = _job().read(key)
    except MediaMissing:
        abort(404)
    if expected and digest(data) != expected:
        abort(404)  # not the file that was stored: never hand it out
    name = f"{reference(media_id)}.{EXTENSIONS.get(content_type or '', 'bin')}"
    response = Response(data, mimetype=content_type or "application/octet-stream")
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    # Byte ranges: a browser reads the end of an Ogg file for its length, and seeks.
    response.make_conditional(request, accept_ranges=True, complete_length=len(data))
    return response


def _first_request() -> bool:
    """A play or a view is audited once: on its first request, not on each byte range
    the player then asks for while seeking."""
    ranges = request.range
    return ranges is None or not ranges.ranges or ranges.ranges[0][0] == 0


@bp.post("/media/<int:media_id>/transcript")
@signed_in
def transcript(media_id: int) -> Any:
    runtime = current_runtime()
    form = TranscriptForm()
    with database() as (_repo, session):
        view = MediaRepository(session).view(media_id)
        if view is None or not _visible(session, view):
            abort(404)
    target = url_for("dashboard.voice", survey_id=view.survey_id) + f"#{view.reference}"
    if not form.validate_on_submit():
        flash(f"A transcript can be up to {MAX_TRANSCRIPT:,} characters.", "error")
        return redirect(target)
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        saved = save_transcript(uow, runtime.service.redactor, media_id, form.text.data or "",
                                _user_id(), runtime.clock())
        uow.commit()
    flash(f"Transcript of {view.reference} saved." if saved
          else f"Transcript of {view.reference} removed.", "info")
    return redirect(target)


@bp.post("/surveys/<survey_id>/voice/archive")
@organiser_only
def archive(survey_id: str) -> Any:
    """Every stored voice note and photo of the survey, decrypted, in a zip, with a list
    of references, questions and transcripts. Audited with the organiser's reason."""
    survey = _survey(survey_id)
    form = ArchiveForm()
    if not form.validate_on_submit():
        flash("Say why the archive is needed: it is kept in the audit log.", "error")
        return redirect(url_for("dashboard.voice", survey_id=survey_id))
    runtime = current_runtime()
    job = _job()
    with database() as (repo, session):
        items = [(i.id, i.question_id, i.kind, i.content_type, i.storage_key, i.transcript)
                 for i in MediaRepository(session).stored(survey_id)]
        repo.audit(_user_id(), "media_archive", survey_id, runtime.clock(),
                   reason=form.reason.data, detail={"files": len(items)})
        session.commit()
    buffer = io.BytesIO()
    listing: list[list[str]] = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive_file:
        for media_id, question_id, kind, content_type, key, text in items:
            if key is None:
                continue
            name = f"{reference(media_id)}.{EXTENSIONS.get(content_type or '', 'bin')}"
            try:
                archive_file.writestr(name, job.read(key))
            except MediaMissing:
                name = "(missing)"
            question = survey.question(question_id)
            listing.append([reference(media_id), question_id,
                            question.text.get() if question else "",
                            "voice note" if kind == "audio" else "photo", name, text or ""])
        header = ["Reference", "Question id", "Question", "Kind", "File", "Transcript"]
        archive_file.writestr("index.csv", spreadsheet.BOM + spreadsheet.csv_text(
            header, listing, newline="\r\n"))  # formula-safe, like every export
    filename = f"{survey_id}-voice-notes-and-photos-{runtime.clock().date().isoformat()}.zip"
    return Response(buffer.getvalue(), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})

