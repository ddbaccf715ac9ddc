"""Outreach pages (organisers only): invite a cohort to a survey, follow its progress,
and write, preview and send a "what we heard, and what happens next" share-back.

The work is done by `bot.services.outreach`, as from the command line; these pages only collect
the organiser's choices and show the results. Every count of people shown here goes
through `surveys.suppression`, like every other count on the dashboard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from bot.dashboard import bp, current_runtime
from bot.dashboard.auth import organiser_only
from bot.dashboard.forms import ButtonForm
from bot.services import outreach
from bot.services.outreach import MAX_SHAREBACK_CHARS, OutreachError
from storage.repositories.outreach import OutreachRepository
from surveys.consultation import Consultation
from surveys.model import Survey
from surveys.suppression import Suppressor

#: The buckets of an invitation's progress, in order, with what they mean in plain words.
BUCKETS = (
    ("queued", "Waiting to go", "in the outbox, some perhaps until quiet hours end"),
    ("sandbox", "In the sandbox", "a rehearsal: kept in the sandbox inbox (Sandbox, in the "
     "menu), not sent to anyone's phone"),
    ("no_provider", "Held: no provider", "their channel has no provider set up here; they "
     "go once one is"),
    ("sent", "Sent", "handed to the provider, no delivery report yet"),
    ("delivered", "Delivered", "the provider says it reached the phone or app"),
    ("failed", "Failed", "could not be sent, even after retrying"),
    ("opted_out", "Opted out", "said STOP before or after it went, so were not invited"),
    ("not_needed", "Not needed", "wrote to us before it went, so it was dropped"),
)


class InviteForm(FlaskForm):
    survey = SelectField("Survey", validators=[DataRequired()])
    cohort = SelectField("Cohort", validators=[DataRequired()])
    at = DateTimeLocalField("When to send (leave empty to send now)",
                            format="%Y-%m-%dT%H:%M", validators=[Optional()])


class SharebackForm(FlaskForm):
    survey = SelectField("Survey", validators=[DataRequired()])
    text = TextAreaField("Message", validators=[DataRequired(),
                                                Length(max=MAX_SHAREBACK_CHARS)])


class EditSharebackForm(FlaskForm):
    text = TextAreaField("Message", validators=[DataRequired(),
                                                Length(max=MAX_SHAREBACK_CHARS)])


def _suppressor() -> Suppressor:
    return Suppressor(current_runtime().settings.min_cell)


def _user_id() -> int | None:
    try:
        return int(current_user.get_id())
    except (TypeError, ValueError):
        return None


def _local(moment: datetime | None) -> str:
    """A moment as an organiser reads it: in WITHUS_TIMEZONE, with the zone's name."""
    if moment is None:
        return ""
    try:
        tz = outreach.sending_hours(current_runtime().settings).tz
    except OutreachError:
        return moment.strftime("%-d %b %Y, %H:%M UTC")
    return moment.astimezone(tz).strftime("%-d %b %Y, %H:%M %Z")


def _targets() -> list[Survey | Consultation]:
    """What people can be invited to: every survey and consultation."""
    catalog = current_runtime().catalog.get()
    return sorted([*catalog.surveys.values(), *catalog.consultations.values()],
                  key=lambda s: s.id)


def _survey_choices() -> list[tuple[str, str]]:
    return [(s.id, f"{s.title.get()} ({s.id})") for s in _targets()]


def _survey_titles() -> dict[str, str]:
    return {s.id: s.title.get() for s in _targets()}


# --- invitations ---------------------------------------------------------------------------


def _invite_form() -> InviteForm:
    form = InviteForm()
    form.survey.choices = _survey_choices()
    suppress = _suppressor()
    with current_runtime().sessions() as db_session:
        cohorts = OutreachRepository(db_session).cohorts()
    form.cohort.choices = [
        (c.name, f"{c.name} ({suppress.count(c.members)} people)") for c in cohorts
    ]
    return form


def _invitations_page(form: InviteForm, error: str | None = None) -> Any:
    runtime = current_runtime()
    suppress = _suppressor()
    rows = []
    for progress in outreach.list_invitations(runtime):
        breakdown = suppress.partition(dict(progress.counts))
        rows.append({"progress": progress, "people": breakdown.total,
                     "scheduled": _local(progress.scheduled_at),
                     "sent": breakdown["sent"], "delivered": breakdown["delivered"]})
    return render_template("dashboard/invitations.html", form=form, rows=rows,
                           error=error, titles=_survey_titles()), (400 if error else 200)


@bp.get("/invitations")
@organiser_only
def invitations() -> Any:
    form = _invite_form()
    # Links from a cohort's import report or a survey's page choose it already.
    for field in (form.survey, form.cohort):
        wanted = request.args.get(field.name, "")
        if wanted in {value for value, _label in field.choices or []}:
            field.data = wanted
    return _invitations_page(form)


@bp.post("/invitations")
@organiser_only
def schedule_invitation() -> Any:
    form = _invite_form()
    if not form.validate_on_submit():
        return _invitations_page(form, "Choose a survey and a cohort, and a date and time "
                                       "in the future or none at all.")
    runtime = current_runtime()
    at = form.at.data
    if at is not None:
        tz = outreach.sending_hours(runtime.settings).tz
        if at.replace(tzinfo=tz) < runtime.clock():
            return _invitations_page(form, "That time has already passed. Leave it empty to "
                                           "send now, or choose a time in the future.")
    try:
        scheduled = outreach.schedule_invitation(runtime, form.survey.data or "",
                                                 form.cohort.data or "", at=at,
                                                 created_by=_user_id())
    except OutreachError as exc:
        return _invitations_page(form, f"The invitation was not scheduled: {exc}.")
    message = f"Invitation scheduled for {_local(scheduled.scheduled_at)}."
    if scheduled.waits_for_opening:
        message += " The survey opens then, so it waits until then."
    if scheduled.sandboxed:
        message += (f" {' and '.join(scheduled.sandboxed)} "
                    f"{'has' if len(scheduled.sandboxed) == 1 else 'have'} no provider here, "
                    "so those messages go to the sandbox inbox (Sandbox, in the menu): a "
                    "rehearsal, sent to nobody's phone.")
    flash(message, "info")
    return redirect(url_for("dashboard.invitation", invitation_id=scheduled.invitation_id))


@bp.get("/invitations/<int:invitation_id>")
@organiser_only
def invitation(invitation_id: int) -> Any:
    try:
        progress = outreach.invitation_progress(current_runtime(), invitation_id)
    except OutreachError:
        abort(404)
    breakdown = _suppressor().partition(dict(progress.counts))
    buckets = [{"key": key, "label": label, "meaning": meaning, "cell": breakdown[key]}
               for key, label, meaning in BUCKETS]
    return render_template(
        "dashboard/invitation.html", progress=progress, buckets=buckets,
        total=breakdown.total, title=_survey_titles().get(progress.survey_id,
                                                          progress.survey_id),
        scheduled=_local(progress.scheduled_at), queued=_local(progress.queued_at),
        next_waiting=_local(progress.next_waiting), cancel_form=ButtonForm(),
    )


@bp.post("/invitations/<int:invitation_id>/cancel")
@organiser_only
def cancel_invitation(invitation_id: int) -> Any:
    if not ButtonForm().validate_on_submit():
        abort(400)
    if outreach.cancel_invitation(current_runtime(), invitation_id):
        flash("Invitation cancelled. Nobody will be sent it.", "info")
    else:
        flash("That invitation has already gone out (or was cancelled before), so it "
              "cannot be cancelled.", "error")
    return redirect(url_for("dashboard.invitation", invitation_id=invitation_id))


# --- share-backs ---------------------------------------------------------------------------


def _sharebacks_page(form: SharebackForm | None = None, *, shareback: Any = None,
                     preview: Any = None, edit_form: EditSharebackForm | None = None,
                     error: str | None = None) -> Any:
    if form is None:
        form = SharebackForm()
        form.survey.choices = _survey_choices()
    with current_runtime().sessions() as db_session:
        drafts = [{"id": s.id, "survey_id": s.survey_id, "text": s.text,
                   "created": _local(s.created_at), "sent": _local(s.queued_at)}
                  for s in OutreachRepository(db_session).sharebacks()]
    suppress = _suppressor()
    context: dict[str, Any] = {"form": form, "sharebacks": drafts, "error": error,
                               "titles": _survey_titles(), "shareback": shareback,
                               "preview": preview, "edit_form": edit_form,
                               "send_form": ButtonForm()}
    if preview is not None:
        context["recipients"] = suppress.count(preview.recipients)
        context["respondents"] = suppress.count(preview.respondents)
        context["sent"] = _local(preview.sent_at)
    return render_template("dashboard/sharebacks.html", **context), (400 if error else 200)


@bp.get("/sharebacks")
@organiser_only
def sharebacks() -> Any:
    return _sharebacks_page()


@bp.post("/sharebacks")
@organiser_only
def draft_shareback() -> Any:
    form = SharebackForm()
    form.survey.choices = _survey_choices()
    if not form.validate_on_submit():
        return _sharebacks_page(form, error=f"Choose a survey and write a message of up to "
                                            f"{MAX_SHAREBACK_CHARS:,} characters.")
    try:
        shareback_id = outreach.draft_shareback(current_runtime(), form.survey.data or "",
                                                form.text.data or "", created_by=_user_id())
    except OutreachError as exc:
        return _sharebacks_page(form, error=f"The draft was not saved: {exc}.")
    flash("Draft saved. Read the preview below before you send it.", "info")
    return redirect(url_for("dashboard.shareback", shareback_id=shareback_id))


def _shareback_view(shareback_id: int, edit_form: EditSharebackForm | None = None,
                    error: str | None = None) -> Any:
    runtime = current_runtime()
    try:
        preview = outreach.preview_shareback(runtime, shareback_id)
    except OutreachError:
        abort(404)
    with runtime.sessions() as db_session:
        found = OutreachRepository(db_session).shareback(shareback_id)
        text = found.text if found is not None else ""
    if edit_form is None and preview.sent_at is None:
        edit_form = EditSharebackForm(data={"text": text})
    return _sharebacks_page(shareback={"id": shareback_id, "text": text}, preview=preview,
                            edit_form=edit_form, error=error)


@bp.get("/sharebacks/<int:shareback_id>")
@organiser_only
def shareback(shareback_id: int) -> Any:
    return _shareback_view(shareback_id)


@bp.post("/sharebacks/<int:shareback_id>/edit")
@organiser_only
def edit_shareback(shareback_id: int) -> Any:
    form = EditSharebackForm()
    if not form.validate_on_submit():
        return _shareback_view(shareback_id, form, f"Write a message of up to "
                                                   f"{MAX_SHAREBACK_CHARS:,} characters.")
    try:
        outreach.edit_shareback(current_runtime(), shareback_id, form.text.data or "")
    except OutreachError as exc:
        return _shareback_view(shareback_id, form, f"The change was not saved: {exc}.")
    flash("Draft updated. Read the preview again before you send it.", "info")
    return redirect(url_for("dashboard.shareback", shareback_id=shareback_id))


@bp.post("/sharebacks/<int:shareback_id>/send")
@organiser_only
def send_shareback(shareback_id: int) -> Any:
    if not ButtonForm().validate_on_submit():
        abort(400)
    runtime = current_runtime()
    try:
        count = outreach.send_shareback(runtime, shareback_id)
    except OutreachError as exc:
        flash(f"Nothing was sent: {exc}", "error")
        return redirect(url_for("dashboard.shareback", shareback_id=shareback_id))
    flash(f"Share-back queued for {_suppressor().count(count)} people. Each gets it at a "
          "time that suits them.", "info")
    return redirect(url_for("dashboard.shareback", shareback_id=shareback_id))
