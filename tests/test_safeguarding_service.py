"""Safeguarding in the application: signposting, flags, the queue, alerts, the commands.

Disclosures go in through the real service (`say`, from tests/test_privacy.py) on both
databases; the queue is driven through the Flask app as a signed-in user; email alerts go
to a real SMTP server (aiosmtpd) on 127.0.0.1; the commands run through click.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.dashboard.auth import hash_password
from bot.services.mail import Mailer
from bot.services.runtime import Runtime
from bot.services.safeguarding import (
    acknowledge_flag,
    email_alerts,
    request_contact,
    safeguarding_warnings,
    signposting_text,
)
from bot.web.app import create_app
from storage.models import AuditEvent, ContactRequest, SafeguardingFlag, User
from storage.repositories.dashboard import DashboardRepository
from storage.repositories.safeguarding import SafeguardingRepository
from surveys.i18n import gettext
from surveys.signposting import MAX_LOCAL_CONTACT, SIGNPOSTING, check_local_contact, signposting
from surveys.sms import encoding, segments
from tests.browser.seed import PASSWORD
from tests.helpers import FakeClock
from tests.privacy import scan_database, scan_text
from tests.test_privacy import (
    E164,
    LEAD,
    RecordingChannel,
    cli_env,
    count,
    pid_of,
    privacy_runtime,
    say,
    uow,
)

#: The numbers each signposting text must give, and nothing that looks like a placeholder.
NUMBERS = {
    "self_harm": ["116 123", "0800 132 737", "999"],
    "abuse": ["999", "0808 2000 247", "0808 80 10 800", "116 123"],
    "neglect": ["999", "111", "116 123"],
}
WELSH_LINE = "0808 164 0123"
LONGEST_CONTACT = "Leeds Adult Social Care 0113 222 4401 x9"  # 40 characters


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """The privacy tests' runtime: our own surveys, SMS through a recording channel."""
    rt = privacy_runtime(database_url, tmp_path, FakeClock(), RecordingChannel())
    yield rt
    rt.close()


@pytest.fixture
def fake(runtime: Runtime) -> RecordingChannel:
    channel = runtime.channels["sms"]
    assert isinstance(channel, RecordingChannel)
    return channel


def add_user(runtime: Runtime, email: str, role: str) -> int:
    with runtime.sessions() as session:
        user = DashboardRepository(session).add_user(email, hash_password(PASSWORD), role,
                                                     runtime.clock())
        session.commit()
        return user.id


def flags(runtime: Runtime) -> list[SafeguardingFlag]:
    with runtime.sessions() as session:
        return list(session.scalars(select(SafeguardingFlag).order_by(SafeguardingFlag.id)))


def words_of(runtime: Runtime, flag: SafeguardingFlag) -> str:
    with runtime.sessions() as session:
        found = SafeguardingRepository(session, runtime.vault).words(flag)
    assert found is not None
    return found.text


# --- Signposting --------------------------------------------------------------------------


@pytest.mark.parametrize("category", list(SIGNPOSTING))
@pytest.mark.parametrize("language", ["en", "cy"])
def test_signposting_has_the_real_numbers_and_fits_in_two_texts(category: str,
                                                                language: str) -> None:
    plain = signposting(category, language)
    local = signposting(category, language, LONGEST_CONTACT)
    for text in (plain, local):
        for number in NUMBERS[category]:
            assert number in text, (number, text)
        assert "[" not in text and "{" not in text  # never a placeholder
        assert encoding(text) == "GSM-7" and segments(text) <= 2, (len(text), text)
    assert LONGEST_CONTACT in local and LONGEST_CONTACT not in plain
    if language == "cy":
        assert plain != signposting(category, "en")  # really Welsh
        assert plain.startswith("Diolch am ddweud wrthym.")
    if category == "self_harm":
        assert (WELSH_LINE in plain) == (language == "cy")


def test_the_pause_and_its_answers_are_short_in_both_languages() -> None:
    for language in ("en", "cy"):
        for message in ("Would you like to carry on with the questions, stop for now, or ask "
                        "someone to contact you?",
                        "Thank you. We've asked our safeguarding lead to contact you. If you "
                        "need help sooner, call Samaritans free on 116 123, or 999 in an "
                        "emergency. Text us whenever you want to carry on."):
            text = gettext(language, message)
            assert segments(text) <= 2 and encoding(text) == "GSM-7"
        for label in ("Carry on", "Stop for now", "Please contact me"):
            assert len(gettext(language, label)) <= 20  # WhatsApp's button limit


def test_a_local_contact_is_checked() -> None:
    assert check_local_contact("  0113   222 4401 ") == "0113 222 4401"
    assert check_local_contact(None) == check_local_contact("") == ""
    for bad, problem in (("call the council", "phone number"),
                         ("x" * 30 + " 0113 222 4401", f"keep it to {MAX_LOCAL_CONTACT}"),
                         ("Gwasanaethau Cymdeithasol Môn 01248 752752"[:40], "plain letters")):
        with pytest.raises(ValueError, match=problem):
            check_local_contact(bad)


def test_a_survey_or_the_deployment_adds_a_local_contact(runtime: Runtime,
                                                         tmp_path: Path) -> None:
    extra: dict[str, str] = runtime.settings.extra  # type: ignore[assignment]
    assert "0113 000 0000" in signposting_text(runtime.settings, "abuse", "en")
    extra["WITHUS_SAFEGUARDING_PHONE"] = ""
    text = signposting_text(runtime.settings, "abuse", "en")
    assert "Local safeguarding contact" not in text and "[" not in text
    assert any("No local safeguarding contact" in w
               for w in safeguarding_warnings(runtime.settings))

    class Survey:
        id = "care"
        safeguarding_phone = "Care team 0300 123 4567"

    assert "Care team 0300 123 4567" in signposting_text(runtime.settings, "neglect", "cy",
                                                         Survey())
    extra["WITHUS_SAFEGUARDING_PHONE"] = "ring the council"  # not a number: left out
    assert "council" not in signposting_text(runtime.settings, "abuse", "en")
    assert any("WITHUS_SAFEGUARDING_PHONE needs a phone number" in w
               for w in safeguarding_warnings(runtime.settings))


def test_a_deployments_own_signposting_never_sends_a_placeholder(runtime: Runtime,
                                                                 tmp_path: Path) -> None:
    extra: dict[str, str] = runtime.settings.extra  # type: ignore[assignment]
    path = tmp_path / "signposting.yaml"
    path.write_text("en: {abuse: 'Call our team on {phone}.'}\ncy: Ffoniwch ni.\n",
                    encoding="utf-8")
    extra["WITHUS_SIGNPOSTING_FILE"] = str(path)
    assert signposting_text(runtime.settings, "abuse", "en") == "Call our team on 0113 000 0000."
    assert signposting_text(runtime.settings, "neglect", "cy") == "Ffoniwch ni."
    assert signposting_text(runtime.settings, "neglect", "en") == signposting(
        "neglect", "en", "0113 000 0000")  # no text for this category: the built-in one
    extra["WITHUS_SAFEGUARDING_PHONE"] = ""
    assert signposting_text(runtime.settings, "abuse", "en") == signposting("abuse", "en")
    path.write_text("- not\n- text\n", encoding="utf-8")
    assert signposting_text(runtime.settings, "abuse", "en") == signposting("abuse", "en")
    assert any("WITHUS_SIGNPOSTING_FILE" in w for w in safeguarding_warnings(runtime.settings))


def test_a_broken_local_rules_file_is_reported_and_the_built_in_rules_still_work(
        runtime: Runtime, tmp_path: Path) -> None:
    extra: dict[str, str] = runtime.settings.extra  # type: ignore[assignment]
    path = tmp_path / "local.yaml"
    path.write_text("language: en\ncategories: {abuse: ['(loan shark']}\n", encoding="utf-8")
    extra["WITHUS_SAFEGUARDING_RULES"] = str(path)
    assert any("WITHUS_SAFEGUARDING_RULES is not used" in w
               for w in safeguarding_warnings(runtime.settings))
    say(runtime, "hello")
    replies = say(runtime, "I want to die")
    assert replies[0] == signposting_text(runtime.settings, "self_harm", "en")
    path.write_text("language: en\ncategories: {abuse: [loan (shark|sharks)]}\n",
                    encoding="utf-8")
    replies = say(runtime, "a loan shark is after us")
    assert replies[0] == signposting_text(runtime.settings, "abuse", "en")


# --- Flags ---------------------------------------------------------------------------------


def test_the_flag_keeps_the_redacted_words_encrypted(runtime: Runtime) -> None:
    for text in ("hello", "yes", "1"):
        say(runtime, text)
    say(runtime, "My son Darren hits me, call me on 07700 900777")
    [flag] = flags(runtime)
    words = words_of(runtime, flag)
    assert "hits me" in words and "07700" not in words and "Darren" not in words
    assert (flag.survey_id, flag.question_id, flag.stage) == ("care", "why", "asking")
    assert flag.categories == ["abuse"] and flag.channel == "sms" and flag.language == "en"
    assert flag.words is not None and b"hits me" not in flag.words  # encrypted at rest
    # In clear only as their (redacted) answer to the free-text question, like any answer.
    assert scan_database(runtime.engine, ["hits me"]) == [("answers", "value", "hits me")]


def test_a_first_message_in_welsh_is_answered_in_welsh(runtime: Runtime) -> None:
    replies = say(runtime, "Dw i eisiau marw")
    assert replies[0] == signposting_text(runtime.settings, "self_harm", "cy")
    assert replies[1].startswith("Hoffech chi barhau")
    [flag] = flags(runtime)
    assert (flag.survey_id, flag.stage, flag.language) == (None, "first", "cy")
    replies = say(runtime, "1")  # parhau: the survey they were about to start
    assert replies[0] == "Diolch. Gadewch i ni barhau."


def test_the_lead_is_alerted_without_the_words(runtime: Runtime,
                                               fake: RecordingChannel) -> None:
    say(runtime, "hello")
    say(runtime, "nobody came to change her all weekend")
    [flag] = flags(runtime)
    alerts = [m.text for a, m in fake.sent if a == LEAD]
    assert alerts == ['A message in the survey "Care at home" may need a safeguarding '
                      "response. Open it: "
                      f"https://withus.example.org/dashboard/safeguarding/{flag.id}"]
    say(runtime, "3")  # please contact me
    alerts = [m.text for a, m in fake.sent if a == LEAD]
    assert alerts[-1].startswith('Someone who wrote in the survey "Care at home" asked to '
                                 "be contacted. Open it: ")
    assert flags(runtime)[0].contact_wanted_at == runtime.clock()


# --- Acting on a flag ------------------------------------------------------------------------


@pytest.fixture
def flagged(runtime: Runtime) -> int:
    say(runtime, "hello")
    say(runtime, "My husband hits me")
    return flags(runtime)[0].id


def test_who_may_act_on_flags(runtime: Runtime, flagged: int,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    reviewer = add_user(runtime, "reviewer@example.org", "reviewer")
    organiser = add_user(runtime, "organiser@example.org", "organiser")
    lead = add_user(runtime, "lead@example.org", "lead")
    with uow(runtime) as u, pytest.raises(PermissionError):
        acknowledge_flag(u, flagged, reviewer, "seen", runtime.clock())
    for user in (organiser, lead):
        with uow(runtime) as u:
            acknowledge_flag(u, flagged, user, "seen", runtime.clock())
    monkeypatch.setenv("WITHUS_SAFEGUARDING_LEAD_EMAILS", "lead@example.org")
    with uow(runtime) as u, pytest.raises(PermissionError):
        request_contact(u, flagged, organiser, "Need to check they are safe", runtime.clock())
    with uow(runtime) as u:
        assert request_contact(u, flagged, lead, "Need to check they are safe",
                               runtime.clock()) == (E164, "sms")


def test_contact_needs_a_reason_and_is_recorded_and_audited(runtime: Runtime,
                                                            flagged: int) -> None:
    lead = add_user(runtime, "lead@example.org", "lead")
    for reason in ("", "   ", "because"):
        with uow(runtime) as u, pytest.raises(ValueError):
            request_contact(u, flagged, lead, reason, runtime.clock())
    with uow(runtime) as u:
        request_contact(u, flagged, lead, "Disclosure of abuse; calling to offer support",
                        runtime.clock())
        u.commit()
    with runtime.sessions() as session:
        request = session.scalars(select(ContactRequest)).one()
        event = session.scalars(select(AuditEvent)).one()
    assert (request.flag_id, request.user_id) == (flagged, lead)
    assert (event.action, event.subject) == ("contact_request", f"safeguarding_flag:{flagged}")
    assert scan_database(runtime.engine, [E164]) == []  # the address was not copied anywhere


def test_an_erased_persons_flags_go_with_them(runtime: Runtime, flagged: int) -> None:
    from bot.services.privacy import erase_participant

    with uow(runtime) as u:
        erase_participant(u, pid_of(runtime), runtime.clock(), "participant")
        u.commit()
    assert flags(runtime) == []


def test_flag_words_never_reach_the_logs(runtime: Runtime,
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    say(runtime, "hello")
    say(runtime, "Sometimes I think everyone would be better off without me")
    say(runtime, "3")
    logged = caplog.text + " ".join(repr(vars(r)) for r in caplog.records)
    assert "better off" not in logged and "without me" not in logged
    assert scan_text(logged, [E164]) == []


# --- The queue ---------------------------------------------------------------------------------

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/dashboard/login").get_data(as_text=True)
    found = TOKEN.search(page)
    assert found
    reply = client.post("/dashboard/login", data={"email": email, "password": PASSWORD,
                                                   "csrf_token": found.group(1)})
    assert reply.status_code == 302, reply.get_data(as_text=True)
    return client


def csrf(client: FlaskClient, path: str) -> str:
    found = TOKEN.search(client.get(path).get_data(as_text=True))
    assert found
    return found.group(1)


def test_a_reviewer_cannot_reach_the_queue_a_flag_or_a_reveal(runtime: Runtime,
                                                              flagged: int) -> None:
    add_user(runtime, "reviewer@example.org", "reviewer")
    app = create_app(runtime=runtime)
    client = signed_in(app, "reviewer@example.org")
    token = csrf(client, "/dashboard/")
    lead_rules = [rule for rule in app.url_map.iter_rules()
                  if getattr(app.view_functions[rule.endpoint], "required_role", "") == "lead"]
    assert len(lead_rules) == 4
    for rule in lead_rules:
        path = rule.build({"flag_id": flagged} if "flag_id" in rule.arguments else {})[1]
        method = "POST" if "POST" in (rule.methods or ()) else "GET"
        reply = client.open(path, method=method,
                            data={"csrf_token": token, "reason": "I would like to know",
                                  "note": "done"})
        assert reply.status_code == 403, (rule, reply.status_code)
    assert "Safeguarding" not in client.get("/dashboard/").get_data(as_text=True)
    assert count(runtime, ContactRequest) == 0
    assert flags(runtime)[0].acknowledged_at is None


def test_the_queue_acknowledge_and_reveal(runtime: Runtime, flagged: int) -> None:
    say(runtime, "3")  # please contact me
    add_user(runtime, "lead@example.org", "lead")
    app = create_app(runtime=runtime)
    client = signed_in(app, "lead@example.org")
    home = client.get("/dashboard/").get_data(as_text=True)
    assert "Safeguarding <span class=\"count\">(1 open)</span>" in home
    queue = client.get("/dashboard/safeguarding").get_data(as_text=True)
    assert "My husband hits me" in queue and "Asked to be contacted" in queue
    # The link in an alert sent before the queue existed opens the flag.
    old = client.get(f"/safeguarding/{flagged}")
    assert old.status_code == 302 and old.location == f"/dashboard/safeguarding/{flagged}"
    page = client.get(f"/dashboard/safeguarding/{flagged}").get_data(as_text=True)
    assert E164 not in page and "Reveal contact details" in page
    token = csrf(client, f"/dashboard/safeguarding/{flagged}")
    short = client.post(f"/dashboard/safeguarding/{flagged}/reveal",
                        data={"csrf_token": token, "reason": "why not"})
    assert short.status_code == 400 and E164 not in short.get_data(as_text=True)
    shown = client.post(f"/dashboard/safeguarding/{flagged}/reveal",
                        data={"csrf_token": token,
                              "reason": "She asked us to call; checking she is safe"})
    assert shown.status_code == 200 and E164 in shown.get_data(as_text=True)
    again = client.get(f"/dashboard/safeguarding/{flagged}").get_data(as_text=True)
    assert E164 not in again  # shown once, in that answer only
    assert "checking she is safe" in again
    done = client.post(f"/dashboard/safeguarding/{flagged}/acknowledge",
                       data={"csrf_token": token, "note": "Called her; referred to the council"})
    assert done.status_code == 302
    flag = flags(runtime)[0]
    assert flag.acknowledged_at is not None and flag.note == "Called her; referred to the council"
    assert "(1 open)" not in client.get("/dashboard/").get_data(as_text=True)
    with runtime.sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "contact_request" in actions and "safeguarding_acknowledge" in actions
    assert "safeguarding_view" in actions
    # An organiser who is not one of WITHUS_SAFEGUARDING_LEAD_EMAILS sees, but cannot act.
    add_user(runtime, "organiser@example.org", "organiser")
    runtime.settings.extra["WITHUS_SAFEGUARDING_LEAD_EMAILS"] = "lead@example.org"  # type: ignore[index]
    other = signed_in(app, "organiser@example.org")
    page = other.get(f"/dashboard/safeguarding/{flagged}").get_data(as_text=True)
    assert "Only the safeguarding lead can" in page
    refused = other.post(f"/dashboard/safeguarding/{flagged}/reveal",
                         data={"csrf_token": csrf(other, "/dashboard/"),
                               "reason": "I am curious about this one"})
    assert refused.status_code == 403


def test_a_missing_flag_is_a_404(runtime: Runtime) -> None:
    add_user(runtime, "lead@example.org", "lead")
    client = signed_in(create_app(runtime=runtime), "lead@example.org")
    assert client.get("/dashboard/safeguarding/999").status_code == 404
    token = csrf(client, "/dashboard/safeguarding")
    assert client.post("/dashboard/safeguarding/999/reveal", data={
        "csrf_token": token, "reason": "A reason that is long enough"}).status_code == 404


# --- Email alerts ----------------------------------------------------------------------------


class Inbox:
    """What a real SMTP server on 127.0.0.1 received."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # a free port (aiosmtpd checks it is up by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_email_alerts_go_once_with_the_link_and_no_words(runtime: Runtime,
                                                         smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    add_user(runtime, "lead@example.org", "lead")
    add_user(runtime, "reviewer@example.org", "reviewer")
    url = f"smtp://127.0.0.1:{port}?from=withus@example.org&starttls=no"
    runtime.settings.extra["WITHUS_SMTP_URL"] = url  # type: ignore[index]
    say(runtime, "hello")
    say(runtime, "I've been saving up my tablets")
    [flag] = flags(runtime)
    sent = email_alerts(runtime.sessions, runtime.vault, runtime.settings, runtime.clock())
    assert sent == 1
    [(to, message)] = inbox.messages
    assert to == ["lead@example.org"]  # organisers and leads, never reviewers
    assert message["Subject"] == (
        f"WithUs safeguarding: a message may need a response (flag {flag.id})")
    body = message.get_payload(decode=True).decode()
    assert f"https://withus.example.org/dashboard/safeguarding/{flag.id}" in body
    assert "Category: self-harm" in body and "tablets" not in body
    assert email_alerts(runtime.sessions, runtime.vault, runtime.settings, runtime.clock()) == 0
    say(runtime, "3")  # please contact me: a second email
    assert email_alerts(runtime.sessions, runtime.vault, runtime.settings, runtime.clock()) == 1
    assert "asked to be contacted" in inbox.messages[-1][1]["Subject"]


def test_an_email_that_cannot_be_sent_is_tried_again(runtime: Runtime,
                                                     smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    add_user(runtime, "lead@example.org", "organiser")
    say(runtime, "hello")
    say(runtime, "He was rough with her and she has bruises")
    down = Mailer("127.0.0.1", 1, "withus@example.org", security="none", timeout=2)
    assert email_alerts(runtime.sessions, runtime.vault, runtime.settings, runtime.clock(),
                        mailer=down) == 0
    assert flags(runtime)[0].emailed_at is None
    up = Mailer("127.0.0.1", port, "withus@example.org", security="none")
    assert email_alerts(runtime.sessions, runtime.vault, runtime.settings, runtime.clock(),
                        mailer=up) == 1
    assert len(inbox.messages) == 1


def test_an_smtp_url_is_read_and_its_password_never_shown() -> None:
    mailer = Mailer.from_url("smtps://alerts:s3cr%40t@mail.example.org?from=a@example.org")
    assert (mailer.host, mailer.port, mailer.security, mailer.username, mailer.password) == (
        "mail.example.org", 465, "tls", "alerts", "s3cr@t")
    assert "s3cr" not in repr(mailer)
    assert Mailer.from_url("smtp://mail.example.org?from=a@example.org").security == "starttls"
    for bad in ("http://mail.example.org", "smtp://mail.example.org",
                "smtp://u:secretpw@:x?from=a@b"):
        with pytest.raises(ValueError) as error:
            Mailer.from_url(bad)
        assert "secretpw" not in str(error.value)


# --- Commands ----------------------------------------------------------------------------


def run(args: list[str], env: dict[str, str], stdin: str = "") -> Any:
    import click

    from bot.cli.safeguarding import COMMANDS

    group = click.Group("withus", commands={c.name or "": c for c in COMMANDS})
    return CliRunner().invoke(group, args, env=env, input=stdin, catch_exceptions=False)


def test_withus_safeguarding_check_reads_lines_and_names_categories(tmp_path: Path) -> None:
    lines = ["I want it all to stop", "this wait is killing me", "Mae e'n fy nharo i",
             "nobody has changed her since yesterday", "", "dead nice"]
    result = run(["safeguarding", "check"], {}, "\n".join(lines) + "\n")
    assert result.exit_code == 0
    assert result.output.splitlines() == ["self_harm", "-", "abuse", "neglect", "-", "-"]
    why = run(["safeguarding", "check", "--why"], {}, "he hits me\n")
    assert why.output.startswith("abuse\tabuse: (hits|hit|")
    local = tmp_path / "local.yaml"
    local.write_text("language: en\ncategories: {abuse: [loan shark]}\n", encoding="utf-8")
    result = run(["safeguarding", "check"], {"WITHUS_SAFEGUARDING_RULES": str(local)},
                 "a loan shark came round\n")
    assert result.output == "abuse\n"


def test_withus_safeguarding_list_and_acknowledge(runtime: Runtime, flagged: int,
                                                  database_url: str, tmp_path: Path) -> None:
    env = cli_env(runtime, database_url, tmp_path)
    listed = run(["safeguarding", "list"], env)
    assert listed.exit_code == 0
    assert re.fullmatch(rf"{flagged}\t\d{{4}}-\d\d-\d\d \d\d:\d\d\tabuse\tcare\topen\n",
                        listed.output)
    assert "hits" not in listed.output
    missing = run(["safeguarding", "acknowledge", "999", "--note", "x"], env)
    assert missing.exit_code == 2 and "no safeguarding flag 999" in missing.output
    done = run(["safeguarding", "acknowledge", str(flagged), "--note", "Called; safe now"], env)
    assert done.exit_code == 0 and done.output == f"acknowledged flag {flagged}\n"
    assert run(["safeguarding", "list"], env).stdout == ""
    assert "acknowledged" in run(["safeguarding", "list", "--all"], env).output
    with runtime.sessions() as session:
        event = session.scalars(select(AuditEvent)).one()
        assert session.get_one(SafeguardingFlag, flagged).note == "Called; safe now"
    assert (event.action, event.user_id, event.detail["via"]) == (
        "safeguarding_acknowledge", None, "command line")


def test_a_lead_account_can_be_added(runtime: Runtime, database_url: str,
                                     tmp_path: Path) -> None:
    import click

    from bot.cli.users import COMMANDS

    group = click.Group("withus", commands={c.name or "": c for c in COMMANDS})
    result = CliRunner().invoke(group, ["users", "add", "lead@example.org", "--role", "lead",
                                        "--password-stdin"], input=PASSWORD + "\n",
                                env=cli_env(runtime, database_url, tmp_path))
    assert result.exit_code == 0, result.output
    with runtime.sessions() as session:
        assert session.scalars(select(User.role)).one() == "lead"


def test_surveys_lint_warns_when_no_local_contact_is_configured(tmp_path: Path) -> None:
    import click

    from bot.cli.surveys import COMMANDS
    from surveys.loader import library_path

    group = click.Group("withus", commands={c.name or "": c for c in COMMANDS})
    fft = str(library_path() / "fft.yaml")
    bare = CliRunner().invoke(group, ["surveys", "lint", fft], env={
        "WITHUS_SAFEGUARDING_PHONE": ""})
    assert bare.exit_code == 0
    assert ("warning: No local safeguarding contact is configured for fft" in bare.stderr)
    local = CliRunner().invoke(group, ["surveys", "lint", fft], env={
        "WITHUS_SAFEGUARDING_PHONE": "Adult social care 0113 222 4401"})
    assert "safeguarding" not in local.stderr
    own = tmp_path / "own.yaml"
    own.write_text((library_path() / "fft.yaml").read_text(encoding="utf-8")
                   + "safeguarding_phone: Care team 0300 123 4567\n", encoding="utf-8")
    assert "safeguarding" not in CliRunner().invoke(group, ["surveys", "lint", str(own)], env={
        "WITHUS_SAFEGUARDING_PHONE": ""}).stderr
    own.write_text((library_path() / "fft.yaml").read_text(encoding="utf-8")
                   + "safeguarding_phone: ring the council\n", encoding="utf-8")
    broken = CliRunner().invoke(group, ["surveys", "lint", str(own)])
    assert broken.exit_code == 2 and "'safeguarding_phone' needs a phone number" in broken.stderr


def test_production_startup_warns_without_a_local_contact(
        runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.serve import _warn

    extra: dict[str, str] = runtime.settings.extra  # type: ignore[assignment]
    extra["WITHUS_SAFEGUARDING_PHONE"] = ""
    _warn(runtime.settings, list(runtime.catalog.get().surveys.values()))
    err = capsys.readouterr().err
    assert "warning: No local safeguarding contact is configured for care, home" in err
    extra["WITHUS_SAFEGUARDING_PHONE"] = "0113 000 0000"
    _warn(runtime.settings, list(runtime.catalog.get().surveys.values()))
    assert "local safeguarding contact" not in capsys.readouterr().err


def test_a_plain_text_signposting_file_may_have_colons_and_braces(tmp_path: Path) -> None:
    """"Local help: {phone}." is invalid YAML, and "Samaritans: 116 123" a YAML mapping:
    in a plain-text file both are simply words. In a .yaml file a key that is not a
    language is an error that names it, not a text that is silently never sent."""
    from bot.services.config import ConfigError
    from bot.services.safeguarding import read_signposting

    words = "Thank you for telling us. Samaritans: 116 123. Local help: {phone}."
    plain = tmp_path / "signposting.txt"
    plain.write_text(words + "\n", encoding="utf-8")
    assert read_signposting(str(plain)) == {"*": words}
    plain.write_text("Samaritans: 116 123\n", encoding="utf-8")
    assert read_signposting(str(plain)) == {"*": "Samaritans: 116 123"}
    by_language = tmp_path / "signposting.yaml"
    by_language.write_text("en: 'Local help: {phone}.'\ncy: Ffoniwch ni.\n", encoding="utf-8")
    assert read_signposting(str(by_language)) == {"en": "Local help: {phone}.",
                                                  "cy": "Ffoniwch ni."}
    by_language.write_text("Samaritans: 116 123\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'Samaritans' is not a language code"):
        read_signposting(str(by_language))
