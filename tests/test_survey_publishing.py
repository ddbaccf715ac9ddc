# ruff: noqa: F811  (pytest fixtures imported from tests.test_dashboard)
"""Publishing surveys and opening, closing and archiving them: the service, the dashboard
pages (real app, real CSRF tokens, real database) and the engine's menu."""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.services.runtime import Runtime
from bot.services.surveys import (
    NoSuchSurvey,
    StatusError,
    UploadError,
    change_status,
    check,
    listing,
    publish,
    read_upload,
    set_dates,
    set_version,
)
from storage.models import AuditEvent, SurveyDefinition
from surveys.conversation import Event
from surveys.engine import converse
from surveys.reading import SurveyError
from tests.helpers import FakeClock
from tests.test_dashboard import (  # noqa: F401  (fixtures)
    ORGANISER,
    REVIEWER,
    app,
    client,
    clock,
    page,
    runtime,
    sign_in,
    token,
)
from tests.test_xlsform import BILINGUAL_CHOICES, BILINGUAL_SETTINGS, BILINGUAL_SURVEY, xlsform

PILOT = """\
id: pilot
version: 1
title: Oak Lane day centre
intro: Hello from WithUs. We would like to hear about Oak Lane day centre.
consent: We keep your answers without your name or number. Do you agree to take part?
thank_you: Thank you. We will tell you what we learned.
questions:
  - id: visit
    type: single_choice
    text: How was your last visit?
    options:
      - {code: good, text: Good}
      - {code: poor, text: Not so good}
"""
#: Four choices: WhatsApp sends them as a list; and a sentence long enough to warn about.
LONG_OPTION = PILOT.replace("      - {code: poor, text: Not so good}\n",
                            "      - {code: poor, text: Not so good}\n"
                            "      - {code: fine, text: It was fine}\n"
                            "      - {code: bad, text: Bad}\n")


def _publish(runtime: Runtime, source: str) -> int:
    with runtime.sessions() as session:
        done = publish(session, source, runtime.clock(), "test")
        session.commit()
    runtime.catalog.invalidate()
    return done.version


# --- the service ---------------------------------------------------------------------------


def test_a_checked_survey_has_its_lint_table_and_a_preview_per_channel(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        draft = check(session, LONG_OPTION, "pilot.yaml")
    assert draft.error is None and draft.item is not None and draft.version == 1
    rows = {row.id: row for row in draft.rows}
    assert rows["visit"].sms.startswith("GSM-7") and "part" in rows["visit"].sms
    assert rows["visit"].whatsapp.endswith("list")  # four choices: a numbered list
    assert "4 buttons" in rows["visit"].telegram
    assert any("numbered list" in f.message and f.channel == "whatsapp"
               for f in draft.findings)
    channels = [c.channel for c in draft.previews["en"][0].channels]
    assert channels == ["SMS", "WhatsApp", "Telegram"]
    consent = next(p for p in draft.previews["en"] if p.id == "consent")
    whatsapp = next(c for c in consent.channels if c.channel == "WhatsApp")
    assert whatsapp.buttons == ("Yes, I agree", "No, thank you")
    assert "pilot.yaml (pilot)" in draft.report  # the CLI's own table


def test_a_broken_survey_says_why_and_cannot_be_published(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        draft = check(session, PILOT.replace("type: single_choice", "type: essay"), "x.yaml")
    assert draft.item is None and not draft.publishable
    assert "'type' must be one of" in (draft.error or "")


def test_publishing_keeps_every_version_and_numbers_a_changed_file_anew(
        runtime: Runtime) -> None:
    assert _publish(runtime, PILOT) == 1
    with runtime.sessions() as session:
        assert check(session, PILOT).unchanged
        again = publish(session, PILOT, runtime.clock())
        assert not again.new and again.version == 1
        changed = publish(session, PILOT.replace("How was", "How did you find"),
                          runtime.clock())
        session.commit()
    assert changed.new and changed.version == 2 and changed.file_version == 1
    with runtime.sessions() as session:
        versions = session.scalars(select(SurveyDefinition.version)
                                   .where(SurveyDefinition.survey_id == "pilot")).all()
        stored = session.get(SurveyDefinition, ("pilot", 2))
        audit = session.scalars(select(AuditEvent.action)).all()
    assert sorted(versions) == [1, 2]
    assert stored is not None and "version: 2\n" in stored.source
    assert "How did you find" in stored.source
    assert audit.count("survey.publish") == 2


def test_a_keyword_that_would_start_a_published_survey_is_refused(runtime: Runtime) -> None:
    """GOFALWYR must start one survey: publishing a second that claims it (or another's
    id) says which survey has it, and nothing is stored. Archived surveys give theirs up."""
    _publish(runtime, PILOT.replace("title: Oak", "keywords: {en: OAKLANE}\ntitle: Oak"))
    for word in ("OAKLANE", "PILOT"):
        rival = PILOT.replace("id: pilot", "id: rival").replace(
            "title: Oak", f"keywords: {{en: {word}}}\ntitle: Oak")
        with runtime.sessions() as session, pytest.raises(
                SurveyError, match=f"keyword {word} would also start 'pilot'"):
            publish(session, rival, runtime.clock(), "rival.yaml")
    with runtime.sessions() as session:
        assert session.get(SurveyDefinition, ("rival", 1)) is None
        change_status(session, "pilot", "archive", runtime.clock())
        session.commit()
    assert _publish(runtime, PILOT.replace("id: pilot", "id: rival").replace(
        "title: Oak", "keywords: {en: OAKLANE}\ntitle: Oak")) == 1


def test_set_version_rewrites_or_adds_the_line() -> None:
    assert set_version(PILOT, 7).startswith("id: pilot\nversion: 7\ntitle:")
    without = PILOT.replace("version: 1\n", "")
    assert set_version(without, 3).startswith("id: pilot\nversion: 3\ntitle:")


def test_uploads_of_the_wrong_kind_or_size_are_refused_plainly(tmp_path: Path) -> None:
    with pytest.raises(UploadError, match="ending in .yaml or .yml"):
        read_upload("notes.docx", b"hello")
    with pytest.raises(UploadError, match="at most 512 KB"):
        read_upload("big.yaml", b"#" * (600 * 1024))
    with pytest.raises(UploadError, match="not UTF-8"):
        read_upload("latin.yaml", "id: caf\xe9".encode("latin-1"))
    with pytest.raises(UploadError, match="zip bomb"):
        read_upload("bomb.xlsx", _zip_bomb())
    with pytest.raises(UploadError, match="not.xlsx: not a readable XLSForm"):
        read_upload("not.xlsx", b"PK\x03\x04 not really a zip")


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (30 * 1024 * 1024))
    return buffer.getvalue()


def test_an_xlsform_upload_becomes_survey_yaml(tmp_path: Path) -> None:
    path = xlsform(tmp_path / "carers.xlsx", BILINGUAL_SURVEY, BILINGUAL_CHOICES,
                   BILINGUAL_SETTINGS)
    upload = read_upload("carers form.xlsx", path.read_bytes())
    assert upload.filename == "carers form.xlsx"
    assert "# Imported from carers form.xlsx" in upload.source
    assert "withus-xlsform" not in upload.source  # no temporary path leaks into the file


# --- open, close, archive --------------------------------------------------------------------


def test_closing_takes_a_survey_off_the_menu_and_keeps_it_for_results(
        runtime: Runtime, clock: FakeClock) -> None:
    _publish(runtime, PILOT)
    now = clock()
    assert "pilot" in [s.id for s in runtime.catalog.get().open_surveys(now)]
    with runtime.sessions() as session:
        assert change_status(session, "pilot", "close", now) == "closed"
        session.commit()
    runtime.catalog.invalidate()
    catalog = runtime.catalog.get()
    assert "pilot" not in [s.id for s in catalog.open_surveys(now)]
    assert "pilot" in catalog.surveys  # the dashboard still shows its results
    # Someone who picks it by name is told it has closed.
    step = converse(catalog, None, Event("text", text="pilot"), now)
    assert any("has now closed" in r.text for r in step.replies)

    with runtime.sessions() as session:
        assert change_status(session, "pilot", "open", now) == "open"
        assert change_status(session, "pilot", "archive", now) == "archived"
        statuses = {row.item.id: row.status for row in listing(session, now)}
        session.commit()
    assert statuses["pilot"] == "archived" and statuses["fft"] == "open"
    runtime.catalog.invalidate()
    assert "pilot" not in [s.id for s in runtime.catalog.get().open_surveys(now)]


def test_dates_set_by_an_organiser_replace_the_files(runtime: Runtime,
                                                    clock: FakeClock) -> None:
    _publish(runtime, PILOT)
    now = clock()
    with runtime.sessions() as session:
        assert set_dates(session, "pilot", now + timedelta(days=2), None, now) == "scheduled"
        with pytest.raises(StatusError, match="after the opening"):
            set_dates(session, "pilot", now + timedelta(days=2), now + timedelta(days=1), now)
        with pytest.raises(NoSuchSurvey):
            set_dates(session, "nosuch", None, None, now)
        session.commit()
    runtime.catalog.invalidate()
    survey = runtime.catalog.get().surveys["pilot"]
    assert survey.opens_at == now + timedelta(days=2)
    step = converse(runtime.catalog.get(), None, Event("text", text="pilot"), now)
    assert any("opens on" in r.text for r in step.replies)


def test_a_consultation_cannot_be_opened_after_its_official_deadline(
        runtime: Runtime, clock: FakeClock) -> None:
    consultation = next(iter(runtime.catalog.get().consultations.values()))
    later = consultation.closes_at + timedelta(days=1)
    with runtime.sessions() as session:
        assert change_status(session, consultation.id, "close", clock()) == "closed"
        with pytest.raises(StatusError, match="closed on"):
            change_status(session, consultation.id, "open", later)
        session.commit()
    runtime.catalog.invalidate()
    catalog = runtime.catalog.get()
    assert consultation.id not in [c.id for c in catalog.open_surveys(clock())]
    # Its official deadline is untouched: the draft response still quotes it.
    assert catalog.consultations[consultation.id].closes_at == consultation.closes_at


# --- the dashboard pages ---------------------------------------------------------------------


def _check_page(client: FlaskClient, **data: object) -> tuple[int, str]:
    form = {"csrf_token": token(client, "/dashboard/publish"), **data}
    reply = client.post("/dashboard/publish", data=form, content_type="multipart/form-data")
    return reply.status_code, reply.get_data(as_text=True)


def test_only_organisers_publish_or_change_status(client: FlaskClient) -> None:
    sign_in(client, REVIEWER)
    assert client.get("/dashboard/publish").status_code == 403
    assert client.get("/dashboard/surveys/fft/status").status_code == 403
    assert client.post("/dashboard/surveys/fft/status",
                       data={"action": "close"}).status_code in (400, 403)
    assert "Publish a survey" not in page(client, "/dashboard/")


def test_upload_check_and_publish_from_the_dashboard(client: FlaskClient,
                                                     runtime: Runtime) -> None:
    sign_in(client, ORGANISER)
    code, html = _check_page(client, file=(io.BytesIO(LONG_OPTION.encode()), "pilot.yaml"))
    assert code == 200, html
    assert "Every message on each channel" in html and "WhatsApp" in html
    assert "numbered list" in html and "It will be published as version 1." in html
    assert "pilot" not in runtime.catalog.get().surveys  # nothing stored by checking
    source = re.search(r'<textarea[^>]*name="source"[^>]*>\n?(.*?)</textarea>', html, re.S)
    assert source is not None
    reply = client.post("/dashboard/publish/confirm", data={
        "csrf_token": token(client, "/dashboard/publish"), "name": "pilot.yaml",
        # A browser sends a textarea's lines as CRLF.
        "source": source.group(1).replace("&#39;", "'").replace("\n", "\r\n")})
    assert reply.status_code == 302 and reply.location == "/dashboard/surveys/pilot/status"
    assert "pilot" in runtime.catalog.get().surveys
    status = page(client, "/dashboard/surveys/pilot/status")
    assert "Published survey pilot, version 1." in status
    assert 'id="survey-status">Open<' in status
    with runtime.sessions() as session:
        stored = session.get(SurveyDefinition, ("pilot", 1))
    assert stored is not None and "\r" not in stored.source

    close = client.post("/dashboard/surveys/pilot/status", data={
        "csrf_token": token(client, "/dashboard/surveys/pilot/status"), "action": "close"})
    assert close.status_code == 302
    assert 'id="survey-status">Closed<' in page(client, "/dashboard/surveys/pilot/status")
    assert page(client, "/dashboard/surveys/pilot")  # results stay
    assert "pilot" not in [s.id for s in runtime.catalog.get().open_surveys(runtime.clock())]


def test_bad_uploads_get_a_clear_4xx_on_the_page(client: FlaskClient) -> None:
    sign_in(client, ORGANISER)
    code, html = _check_page(client, file=(io.BytesIO(b"%PDF-1.4"), "survey.pdf"))
    assert code == 400 and "ending in .yaml or .yml" in html
    code, html = _check_page(client, file=(io.BytesIO(_zip_bomb()), "form.xlsx"))
    assert code == 400 and "zip bomb" in html
    code, html = _check_page(client, file=(io.BytesIO(b"#" * (600 * 1024)), "big.yaml"))
    assert code == 413 and "at most 512 KB" in html
    code, html = _check_page(client, text="id: [unclosed")
    assert code == 422 and "cannot be published" in html
    code, html = _check_page(client, text="")
    assert code == 400 and "Choose a survey file" in html
    too_big = client.post("/dashboard/publish", data={
        "csrf_token": token(client, "/dashboard/publish"),
        "file": (io.BytesIO(b"0" * (11 * 1024 * 1024)), "huge.xlsx")},
        content_type="multipart/form-data")
    assert too_big.status_code == 413
    # Without the token, nothing is checked.
    assert client.post("/dashboard/publish", data={"text": PILOT}).status_code == 400


def test_an_xlsform_is_checked_with_what_was_not_imported(client: FlaskClient,
                                                          tmp_path: Path) -> None:
    sign_in(client, ORGANISER)
    path = xlsform(tmp_path / "c.xlsx", [*BILINGUAL_SURVEY, ["geopoint", "where", "Where?",
                                                             "Ble?", None, None, None]],
                   BILINGUAL_CHOICES, BILINGUAL_SETTINGS)
    code, html = _check_page(client, file=(io.BytesIO(path.read_bytes()), "carers.xlsx"))
    assert code == 200, html
    assert "Not imported from the XLSForm" in html and "geopoint" in html
    assert "Messages in cy" in html


def test_lint_errors_need_a_tick_to_publish(client: FlaskClient, runtime: Runtime) -> None:
    sign_in(client, ORGANISER)
    long_intro = PILOT.replace("Hello from WithUs.", "Hello from WithUs. " + "Words. " * 60)
    data = {"csrf_token": token(client, "/dashboard/publish"), "source": long_intro,
            "name": "pilot.yaml"}
    refused = client.post("/dashboard/publish/confirm", data=data)
    assert refused.status_code == 400
    assert "tick the box" in refused.get_data(as_text=True)
    assert "pilot" not in runtime.catalog.get().surveys
    done = client.post("/dashboard/publish/confirm", data={**data, "confirm": "y"})
    assert done.status_code == 302 and "pilot" in runtime.catalog.get().surveys


def test_dates_form_and_unknown_surveys(client: FlaskClient, runtime: Runtime) -> None:
    sign_in(client, ORGANISER)
    assert client.get("/dashboard/surveys/nosuch/status").status_code == 404
    url = "/dashboard/surveys/fft/dates"
    bad = client.post(url, data={"csrf_token": token(client, "/dashboard/surveys/fft/status"),
                                 "opens": "2027-03-02T09:00", "closes": "2027-03-01T09:00"})
    assert bad.status_code == 400 and "after the opening date" in bad.get_data(as_text=True)
    junk = client.post(url, data={"csrf_token": token(client, "/dashboard/surveys/fft/status"),
                                  "opens": "next tuesday"})
    assert junk.status_code == 400
    good = client.post(url, data={"csrf_token": token(client, "/dashboard/surveys/fft/status"),
                                  "opens": "2099-03-01T09:00", "closes": ""})
    assert good.status_code == 302
    html = page(client, "/dashboard/surveys/fft/status")
    assert 'id="survey-status">Scheduled<' in html and "1 Mar 2099 09:00" in html
    listed = page(client, "/dashboard/")
    assert "Scheduled" in listed and "Consultations" in listed


def test_the_check_measures_withus_messages_with_this_deployments_name_and_contact(
        client: FlaskClient, runtime: Runtime) -> None:
    # WITHUS_ORG_NAME and WITHUS_CONTACT go into the greeting and every HELP: a contact
    # that makes HELP three SMS parts is an error naming the message, before publishing.
    runtime.settings = dataclasses.replace(
        runtime.settings, org_name="Oak Lane Day Centre",
        contact="call the Oak Lane office on 01632 960123, Monday to Friday 9am to 5pm, "
                "or email oaklane@example.org and we will reply within two working days, or "
                "come to the open morning at Oak Lane on the first Tuesday of each month")
    sign_in(client, ORGANISER)
    code, html = _check_page(client, file=(io.BytesIO(PILOT.encode()), "pilot.yaml"))
    assert code == 200, html
    assert "Hello from Oak Lane Day Centre." in html
    assert "visit:help [en]" in html and "3 SMS segments; the limit is 2" in html
    assert "*menu:help" in html  # WithUs's own messages are marked in the table


def test_the_check_measures_this_deployments_own_signposting(
        client: FlaskClient, runtime: Runtime, tmp_path: Path) -> None:
    # WITHUS_SIGNPOSTING_FILE replaces the built-in signposting: its texts are measured
    # where they would be sent, and one over two SMS parts is an error before publishing.
    own = tmp_path / "signposting.txt"
    own.write_text("Thank you for telling us. " * 10 + "Local help: {phone}.", encoding="utf-8")
    runtime.settings = dataclasses.replace(runtime.settings, extra={
        **runtime.settings.extra, "WITHUS_SIGNPOSTING_FILE": str(own)})
    sign_in(client, ORGANISER)
    code, html = _check_page(client, file=(io.BytesIO(PILOT.encode()), "pilot.yaml"))
    assert code == 200, html
    assert ("signposting:self_harm [en] sms: 3 SMS segments; the limit is 2 (your text in "
            "WITHUS_SIGNPOSTING_FILE") in html
