"""Publishing surveys from the dashboard, and opening, closing and archiving them.

Organisers only. Upload a YAML file or an XLSForm, or paste YAML; the page shows the
loader's errors, `withus surveys lint`'s table and every message as SMS, WhatsApp and
Telegram send it, before anything is stored. The work is bot.services.surveys', the same
as the CLI's; these views only translate requests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from bot.dashboard import bp, current_runtime
from bot.dashboard.auth import database, organiser_only
from bot.dashboard.forms import ButtonForm, DatesForm, PublishForm, UploadForm
from bot.services.safeguarding import custom_signposting
from bot.services.surveys import (
    ACTIONS,
    MAX_UPLOAD_BYTES,
    NoSuchSurvey,
    StatusError,
    TooBig,
    UploadError,
    check,
    decode_yaml,
    find,
    moments,
    publish,
    read_upload,
    set_dates,
    status_of,
)
from storage.errors import SurveyVersionConflict
from storage.repositories import SurveyRepository
from surveys.consultation import Consultation
from surveys.organisation import EXAMPLE, Organisation
from surveys.reading import SurveyError

#: The one page that takes a file: an XLSForm at its limit and the form around it.
UPLOAD_ENDPOINTS = frozenset({"dashboard.publish_page"})
UPLOAD_REQUEST_BYTES = MAX_UPLOAD_BYTES + 64 * 1024


def upload_limit() -> None:
    """Before any other handler reads the body (CSRF does): the upload page may take an
    XLSForm; every other request keeps the app's small limit."""
    if request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = UPLOAD_REQUEST_BYTES


def _user_id() -> int:
    return int(current_user.get_id())


def _lines(text: str) -> str:
    """A browser sends a textarea's line breaks as CRLF: store what the author wrote."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


@bp.route("/publish", methods=["GET", "POST"])
@organiser_only
def publish_page() -> Any:
    form = UploadForm()
    if request.method == "GET":
        return render_template("dashboard/publish.html", form=form, draft=None, error=None)
    if not form.validate_on_submit():
        abort(400)
    upload = request.files.get("file")
    pasted = _lines(form.text.data or "").strip()
    try:
        if upload is not None and upload.filename:
            data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
            read = read_upload(upload.filename, data)
            source, name, left_out = _lines(read.source), read.filename, read.not_imported
        elif pasted:
            source, name, left_out = pasted + "\n", "the pasted survey", ()
            decode_yaml(source.encode())
        else:
            raise UploadError("Choose a survey file, or paste a survey, then check it.")
    except UploadError as exc:
        code = 413 if isinstance(exc, TooBig) else 400
        return render_template("dashboard/publish.html", form=form, draft=None,
                               error=str(exc)), code
    with database() as (_repo, session):
        draft = check(session, source, name, left_out, **_measured_with())
    publish_form = PublishForm(formdata=None, source=draft.source, name=name)
    return render_template("dashboard/publish.html", form=form, draft=draft, error=None,
                           publish_form=publish_form), (422 if draft.error else 200)


def _measured_with() -> dict[str, Any]:
    """What the check measures WithUs's own messages with: this deployment's name and
    contact (an example contact of typical length when none is set, since one may be set
    later) and the menu of what is published now."""
    runtime = current_runtime()
    settings = runtime.settings
    catalog = runtime.catalog.get()
    return {"organisation": Organisation(settings.org_name, settings.contact or EXAMPLE.contact),
            "others": [*catalog.surveys.values(), *catalog.consultations.values()],
            "signposts": custom_signposting(settings)}


@bp.post("/publish/confirm")
@organiser_only
def publish_confirm() -> Any:
    form = PublishForm()
    if not form.validate_on_submit():
        abort(400)
    source = _lines(form.source.data or "")
    name = (form.name.data or "the survey")[:200]
    runtime = current_runtime()
    problem: tuple[str | None, int] | None = None
    with database() as (_repo, session):
        draft = check(session, source, name, **_measured_with())
        if draft.error or draft.item is None:
            problem = (None, 422)
        elif draft.lint_errors and not form.confirm.data:
            problem = (None, 400)
        else:
            try:
                done = publish(session, source, runtime.clock(), name, _user_id())
                session.commit()
            except (SurveyError, SurveyVersionConflict) as exc:
                problem = (str(exc), 409)
    if problem is not None:  # rendered after the session is closed
        if problem[1] == 400:
            flash("The check found errors: tick the box to publish anyway, or fix them "
                  "first.", "error")
        return render_template("dashboard/publish.html", form=UploadForm(formdata=None),
                               draft=draft, error=problem[0], publish_form=form), problem[1]
    runtime.catalog.invalidate()
    kind = "consultation" if isinstance(done.item, Consultation) else "survey"
    if not done.new:
        flash(f"Version {done.version} of {done.item.id} was already published with these "
              "words: nothing changed.", "info")
    elif done.file_version is not None:
        flash(f"Published {kind} {done.item.id} as version {done.version} (the file said "
              f"version {done.file_version}, which was already published with other words). "
              "Answers to earlier versions keep their version.", "info")
    else:
        flash(f"Published {kind} {done.item.id}, version {done.version}.", "info")
    return redirect(url_for("dashboard.survey_status", survey_id=done.item.id))


# --- status and dates -----------------------------------------------------------------------


def _local(when: datetime | None, zone: ZoneInfo) -> datetime | None:
    return when.astimezone(zone).replace(tzinfo=None) if when else None


def _utc(when: datetime | None, zone: ZoneInfo) -> datetime | None:
    return when.replace(tzinfo=zone).astimezone(UTC) if when else None


def _status_page(survey_id: str, dates_form: DatesForm | None = None,
                 error: str | None = None, code: int = 200) -> Any:
    runtime = current_runtime()
    zone = ZoneInfo(runtime.settings.timezone)
    now = runtime.clock()
    with database() as (_repo, session):
        try:
            item = find(session, survey_id)
        except NoSuchSurvey:
            abort(404)
        repo = SurveyRepository(session)
        row = repo.status(survey_id)
        versions = repo.versions(survey_id)
    opens, closes = moments(item, row)
    if dates_form is None:
        dates_form = DatesForm(formdata=None, opens=_local(opens, zone),
                               closes=_local(closes, zone))
    return render_template(
        "dashboard/survey_status.html", item=item, status=status_of(item, row, now),
        opens=_local(opens, zone), closes=_local(closes, zone), zone=runtime.settings.timezone,
        versions=versions, dates_form=dates_form, button=ButtonForm(), error=error,
        is_consultation=isinstance(item, Consultation), set_here=row is not None,
    ), code


@bp.get("/surveys/<survey_id>/status")
@organiser_only
def survey_status(survey_id: str) -> Any:
    return _status_page(survey_id)


@bp.post("/surveys/<survey_id>/status")
@organiser_only
def change_survey_status(survey_id: str) -> Any:
    from bot.services.surveys import change_status

    if not ButtonForm().validate_on_submit():
        abort(400)
    action = request.form.get("action", "")
    if action not in ACTIONS:
        abort(400)
    runtime = current_runtime()
    refused = None
    with database() as (_repo, session):
        try:
            status = change_status(session, survey_id, action, runtime.clock(), _user_id())
            session.commit()
        except NoSuchSurvey:
            abort(404)
        except StatusError as exc:
            refused = f"It cannot be opened: {exc}."
    if refused:
        return _status_page(survey_id, error=refused, code=409)
    runtime.catalog.invalidate()
    said = {"open": "is open: participants can choose it from the menu.",
            "scheduled": "is scheduled: it opens on its opening date.",
            "closed": "is closed: it has left the participants' menu. Its results stay.",
            "archived": "is archived: it has left the menu and the list of surveys. Its "
                        "results stay."}
    flash(f"{survey_id} {said[status]}", "info")
    return redirect(url_for("dashboard.survey_status", survey_id=survey_id))


@bp.post("/surveys/<survey_id>/dates")
@organiser_only
def survey_dates(survey_id: str) -> Any:
    form = DatesForm()
    if not form.validate_on_submit():
        return _status_page(survey_id, form, "Give each date as a day and a time, or leave "
                                             "it empty.", 400)
    runtime = current_runtime()
    zone = ZoneInfo(runtime.settings.timezone)
    refused = None
    with database() as (_repo, session):
        try:
            status = set_dates(session, survey_id, _utc(form.opens.data, zone),
                               _utc(form.closes.data, zone), runtime.clock(), _user_id())
            session.commit()
        except NoSuchSurvey:
            abort(404)
        except StatusError as exc:
            refused = f"Those dates were not saved: {exc}."
    if refused:
        return _status_page(survey_id, form, refused, 400)
    runtime.catalog.invalidate()
    flash(f"Dates saved. {survey_id} is {status}.", "info")
    return redirect(url_for("dashboard.survey_status", survey_id=survey_id))
