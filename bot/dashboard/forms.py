"""The dashboard's forms. Each is a FlaskForm, so each carries and checks a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from storage.types import MAX_ID


class LoginForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField("Sign in")


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=20)])


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=1000)])
    new = PasswordField("New password", validators=[DataRequired(), Length(max=1000)])
    confirm = PasswordField("New password again", validators=[DataRequired(),
                                                              Length(max=1000)])


class ChoosePasswordForm(FlaskForm):
    """Choosing a password through a one-time link."""

    new = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])
    confirm = PasswordField("Password again", validators=[DataRequired(), Length(max=1000)])


class InviteForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired(), Length(max=254)])
    role = RadioField("Role", choices=[
        SelectChoice("reviewer", "Reviewer"), SelectChoice("lead", "Safeguarding lead"),
        SelectChoice("organiser", "Organiser")], default="reviewer",
        validators=[DataRequired()])
    how = RadioField("How they sign in the first time", choices=[
        SelectChoice("link", "A one-time link to choose their password (valid 48 hours)"),
        SelectChoice("password", "A temporary password, changed at their first sign-in")],
        default="link", validators=[DataRequired()])


class RoleForm(FlaskForm):
    role = RadioField("Role", choices=[
        SelectChoice("reviewer", "Reviewer"), SelectChoice("lead", "Safeguarding lead"),
        SelectChoice("organiser", "Organiser")], validators=[DataRequired()])


class RequireTwoFactorForm(FlaskForm):
    required = BooleanField("Everyone must use two-factor sign-in")


class ButtonForm(FlaskForm):
    """A form that is only a button (sign out): the token is all it carries."""


class ThemeForm(FlaskForm):
    name = StringField("New theme", validators=[DataRequired(), Length(max=80)])
    back = HiddenField()


class TagForm(FlaskForm):
    theme = IntegerField("Theme", validators=[DataRequired(), NumberRange(min=1, max=MAX_ID)])
    back = HiddenField()


class BulkTagForm(FlaskForm):
    """One theme for the answers ticked on the page (their ids come as `answer` fields)."""

    theme = IntegerField("Theme", validators=[DataRequired(), NumberRange(min=1, max=MAX_ID)])
    back = HiddenField()


class SuggestionForm(FlaskForm):
    """Accept or reject a suggested theme for the answers it names (`answer` fields): an
    existing theme by id, or a new one by name."""

    question = StringField("Question", validators=[DataRequired(), Length(max=64)])
    theme = IntegerField("Theme", validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    name = StringField("Theme name", validators=[Optional(), Length(max=80)])
    back = HiddenField()


class NoteForm(FlaskForm):
    text = TextAreaField("Note", validators=[DataRequired(), Length(max=2000)])
    back = HiddenField()


class ExportForm(FlaskForm):
    format = RadioField("Format", choices=[
        SelectChoice("csv", "CSV (opens in Excel)"),
        SelectChoice("xlsx", "Excel workbook (XLSX)"),
        SelectChoice("jsonl", "JSON Lines (for programs)"),
    ], default="csv", validators=[DataRequired()])
    ids = RadioField("Identify each person by", choices=[
        SelectChoice("pseudonym", "Their pseudonym (the same in every export)"),
        SelectChoice("random", "A random id made for this export only"),
    ], default="pseudonym", validators=[DataRequired()])
    reason = StringField("Why is this export needed? (kept in the audit log)",
                         validators=[Length(max=500)])
    include_test = BooleanField("Include test responses from the sandbox")
    responses = SubmitField("Download responses")
    dictionary = SubmitField("Download the data dictionary")



class AcknowledgeForm(FlaskForm):
    note = TextAreaField("What was done (kept with the flag)",
                         validators=[DataRequired(message="Say what was done, in a few words."),
                                     Length(max=2000)])


class RevealForm(FlaskForm):
    reason = TextAreaField("Why do you need their contact details? (kept in the audit log)",
                           validators=[DataRequired(message="Give a reason."),
                                       Length(min=10, max=1000,
                                              message="Give a reason of at least a short "
                                                      "sentence.")])


class UploadForm(FlaskForm):
    """A survey to check: a file (YAML or XLSForm) or YAML pasted in. Size limits are the
    service's (bot.services.surveys), checked with a clear message rather than here."""

    file = FileField("Survey file (.yaml, .yml, .xlsx or .xls)")
    text = TextAreaField("Or paste the survey (YAML)")
    submit = SubmitField("Check the survey")


class PublishForm(FlaskForm):
    source = TextAreaField("The survey file that will be published",
                           validators=[DataRequired()])
    name = HiddenField()
    confirm = BooleanField("Publish even though the check found errors")
    submit = SubmitField("Publish")


class DatesForm(FlaskForm):
    opens = DateTimeLocalField("Opens", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                               validators=[Optional()])
    closes = DateTimeLocalField("Closes", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                validators=[Optional()])
    submit = SubmitField("Save the dates")
