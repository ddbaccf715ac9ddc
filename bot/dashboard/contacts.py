"""Contacts pages (organisers only): upload a contacts file into a cohort, see the cohorts
with their sizes and opt-outs, take one person out of a cohort, delete a cohort.

The work is `bot.services.outreach`'s, exactly as `withus contacts` does it, so the upload
gets the same line-by-line report as the command line. No page here shows a phone number
or chat id: members are listed by pseudonym, and someone is found by typing their number,
which is turned into a pseudonym and never echoed, stored or logged.

Counts here are exact, as `withus contacts cohorts` prints them: they are the organiser's
own lists of people, not answers, and the pages are for organisers only, who may export
raw rows anyway. Small-number suppression protects what people said in results pages.
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from bot.dashboard import bp, current_runtime
from bot.dashboard.auth import organiser_only
from bot.dashboard.forms import ButtonForm
from bot.services import outreach
from bot.services.outreach import OutreachError
from storage.repositories.outreach import OutreachRepository

#: The largest contacts file the dashboard takes (the command line takes up to 64 MB):
#: about 400,000 numbers.
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
#: A participant's pseudonym (storage/pseudonyms.py): "p" and 24 base32 characters.
PSEUDONYM = re.compile(r"p[a-z2-7]{24}")
#: Members listed per page of a cohort.
PAGE_SIZE = 50

CHANNEL_CHOICES = [SelectChoice("sms", "SMS (text message)"),
                   SelectChoice("whatsapp", "WhatsApp"),
                   SelectChoice("telegram", "Telegram (chat ids)")]


class ContactsForm(FlaskForm):
    file = FileField("Contacts file (CSV, or one number per line)")
    channel = SelectField("How they will be contacted", choices=CHANNEL_CHOICES,
                          validators=[DataRequired()])
    cohort = StringField("Cohort", validators=[DataRequired(), Length(max=80)])
    column = StringField("Column with the numbers", validators=[Optional(), Length(max=80)])


class FindMemberForm(FlaskForm):
    # A password field, so the number is not kept by the browser's form history.
    number = PasswordField("Their number or chat id",
                           validators=[DataRequired(), Length(max=64)])


class DeleteCohortForm(FlaskForm):
    confirm = BooleanField("Yes, delete this cohort", validators=[DataRequired()])


def _cohorts() -> list[Any]:
    with current_runtime().sessions() as db_session:
        return OutreachRepository(db_session).cohorts()


def _contacts_page(form: ContactsForm | None = None, report: outreach.ImportReport | None = None,
                   error: str | None = None, status: int = 200) -> Any:
    rows = [{"cohort": c, "members": c.members, "opted_out": c.opted_out}
            for c in _cohorts()]
    runtime = current_runtime()
    return render_template(
        "dashboard/contacts.html", form=form or ContactsForm(), rows=rows, report=report,
        error=error, region=runtime.settings.default_region,
        unconfigured=[choice.label for choice in CHANNEL_CHOICES
                      if choice.value not in runtime.channels],
        max_mb=MAX_UPLOAD_BYTES // 2**20,
    ), status


@bp.get("/contacts")
@organiser_only
def contacts() -> Any:
    return _contacts_page()


@bp.post("/contacts")
@organiser_only
def upload_contacts() -> Any:
    request.max_content_length = MAX_UPLOAD_BYTES + 64 * 1024  # the file and the fields
    form = ContactsForm()
    if not form.validate_on_submit():
        return _contacts_page(form, error="Choose a file, how to contact the people in it, "
                                          "and a cohort name of up to 80 characters.",
                              status=400)
    upload = form.file.data
    if upload is None or not getattr(upload, "filename", ""):
        return _contacts_page(form, error="Choose a contacts file to upload.", status=400)
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return _contacts_page(form, error=f"That file is over {MAX_UPLOAD_BYTES // 2**20} MB. "
                                          "Split it into smaller files, or use "
                                          "withus contacts import.", status=413)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _contacts_page(form, error="That file is not UTF-8 text. In Excel, save it "
                                          "as “CSV UTF-8”.", status=400)
    try:
        report = outreach.import_contacts(current_runtime(), text, form.channel.data or "",
                                          form.cohort.data or "", form.column.data or None)
    except OutreachError as exc:
        return _contacts_page(form, error=f"Nothing was imported: {exc}.", status=400)
    if not report.stored:
        done = "created" if report.cohort_created is False else "changed"
        return _contacts_page(form, report=report, error=f"Nothing was imported: no line of "
                              f"the file held a usable {_what(report.channel)}, so no "
                              f"cohort was {done}.", status=400)
    return _contacts_page(ContactsForm(formdata=None), report=report)


def _what(channel: str) -> str:
    return "Telegram chat id" if channel == "telegram" else "phone number"


def _cohort(cohort_id: int) -> Any:
    found = next((c for c in _cohorts() if c.id == cohort_id), None)
    if found is None:
        abort(404)
    return found


def _cohort_page(cohort_id: int, *, found: str | None = None, searched: bool = False,
                 find_form: FindMemberForm | None = None, error: str | None = None,
                 status: int = 200) -> Any:
    cohort = _cohort(cohort_id)
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and 0 < int(page) < 1_000_000 else 1
    runtime = current_runtime()
    with runtime.sessions() as db_session:
        members = OutreachRepository(db_session).members(
            cohort_id, (number - 1) * PAGE_SIZE, PAGE_SIZE + 1)
    preview = outreach.cohort_deletion_preview(runtime, cohort.name)
    return render_template(
        "dashboard/cohort.html", cohort=cohort, members=members[:PAGE_SIZE],
        page=number, more=len(members) > PAGE_SIZE, page_size=PAGE_SIZE,
        member_count=cohort.members, opted_out=cohort.opted_out, preview=preview,
        find_form=find_form or FindMemberForm(formdata=None), found=found,
        searched=searched, delete_form=DeleteCohortForm(formdata=None),
        button=ButtonForm(), error=error,
    ), status


@bp.get("/contacts/cohorts/<int:cohort_id>")
@organiser_only
def cohort(cohort_id: int) -> Any:
    return _cohort_page(cohort_id)


@bp.post("/contacts/cohorts/<int:cohort_id>/find")
@organiser_only
def find_cohort_member(cohort_id: int) -> Any:
    cohort = _cohort(cohort_id)
    form = FindMemberForm()
    if not form.validate_on_submit():
        return _cohort_page(cohort_id, error="Type their phone number or Telegram chat id.",
                            status=400)
    try:
        pid = outreach.find_member(current_runtime(), cohort.name, form.number.data or "")
    except OutreachError as exc:
        message = str(exc)
        return _cohort_page(cohort_id, error=message[:1].upper() + message[1:] + ".",
                            status=400)
    return _cohort_page(cohort_id, found=pid, searched=True)


@bp.post("/contacts/cohorts/<int:cohort_id>/members/<pid>/remove")
@organiser_only
def remove_cohort_member(cohort_id: int, pid: str) -> Any:
    cohort = _cohort(cohort_id)
    if not ButtonForm().validate_on_submit() or not PSEUDONYM.fullmatch(pid):
        abort(400)
    if outreach.remove_member(current_runtime(), cohort.name, pid):
        flash(f"Removed {pid} from {cohort.name}. They will not be invited with this "
              "cohort again.", "info")
    else:
        flash(f"{pid} was not in {cohort.name} (removed already?).", "error")
    return redirect(url_for("dashboard.cohort", cohort_id=cohort_id))


@bp.post("/contacts/cohorts/<int:cohort_id>/delete")
@organiser_only
def delete_cohort(cohort_id: int) -> Any:
    cohort = _cohort(cohort_id)
    form = DeleteCohortForm()
    if not form.validate_on_submit():
        return _cohort_page(cohort_id, error="Tick “Yes, delete this cohort” to delete it.",
                            status=400)
    done = outreach.delete_cohort(current_runtime(), cohort.name)
    message = f"Deleted cohort {done.cohort}. The people in it are still known"
    message += ", and anyone who said STOP will still never be invited."
    if done.invitations or done.stopped:
        message += (f" {done.invitations} invitations not yet sent were cancelled and "
                    f"{done.stopped} waiting messages stopped.")
    flash(message, "info")
    return redirect(url_for("dashboard.contacts"))
