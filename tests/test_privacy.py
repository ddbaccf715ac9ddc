"""Data rights, erasure, retention and safeguarding (bot.services.privacy), on both databases.

These drive the real service and sender with a recording channel wherever the path
exists already; the parts that need the engine's MYDATA/DELETE wiring are in
tests/test_privacy_flow.py.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, MetaData, func, select

from bot.services.privacy import (
    ERASE_GRACE,
    data_summary,
    erase_participant,
    finish_erasure,
)
from bot.services.retention import purge
from bot.services.runtime import Runtime, build
from channels.base import (
    Channel,
    InboundMessage,
    OutboundMessage,
    SendError,
    SendResult,
    WebRequest,
)
from channels.local import ConsoleChannel, normalise_phone_like
from storage.models import (
    Answer,
    AuditEvent,
    Consent,
    Conversation,
    Erasure,
    OutboxMessage,
    Participant,
    Response,
    SafeguardingFlag,
    VaultEntry,
)
from storage.models import InboundMessage as InboundRow
from storage.repositories.privacy import ERASE_AFTER
from storage.uow import UnitOfWork
from surveys.model import Text
from surveys.sms import segments, to_gsm
from tests.conftest_db import migrate
from tests.helpers import FakeClock, load_library, settings_for

#: A small survey of our own, so these tests don't move when the library's wording does.
SURVEY = """\
id: {id}
version: 1
language: en
title: {title}
retention_days: {days}
intro: Hello from WithUs.
consent: Do you agree to take part?
consent_version: 1
thank_you: Thank you.
questions:
  - id: overall
    type: single_choice
    text: How was your care?
    options:
      - {{code: good, text: Good}}
      - {{code: poor, text: Poor}}
  - id: why
    type: free_text
    text: Tell us more.
    optional: true
"""


def load_surveys(runtime: Runtime, folder: Path, *surveys: tuple[str, str, int]) -> None:
    """Store surveys made from SURVEY: (id, title, retention days) each."""
    folder.mkdir(exist_ok=True)
    for survey_id, title, days in surveys:
        (folder / f"{survey_id}.yaml").write_text(
            SURVEY.format(id=survey_id, title=title, days=days), encoding="utf-8")
    load_library(runtime, folder)


PHONE = "07700 900123"  # Ofcom's drama range: never a real person
E164 = "+447700900123"
OTHER = "07700 900456"
LEAD = "+447700900999"


class RecordingChannel(Channel):
    """A fake provider channel: remembers what it sent; can be told to fail."""

    name = "sms"

    def __init__(self) -> None:
        self.sent: list[tuple[str, OutboundMessage]] = []
        self.fail: SendError | None = None

    def verify(self, request: WebRequest) -> bool:
        return True

    def parse(self, request: WebRequest) -> list[InboundMessage]:
        return []

    def normalise_address(self, address: str) -> str:
        return normalise_phone_like(address)

    def send(self, address: str, message: OutboundMessage) -> list[SendResult]:
        if self.fail is not None:
            raise self.fail
        self.sent.append((address, message))
        return [SendResult(f"fake-{len(self.sent)}")]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake() -> RecordingChannel:
    return RecordingChannel()


LEAD_SETTINGS = {"WITHUS_SAFEGUARDING_LEAD": f"sms:{LEAD}",
                 "WITHUS_SAFEGUARDING_PHONE": "0113 000 0000",
                 "WITHUS_SAFEGUARDING_LEAD_EMAILS": ""}


def privacy_runtime(database_url: str, tmp_path: Path, clock: FakeClock,
                    fake: RecordingChannel, **overrides: object) -> Runtime:
    """A runtime on `database_url` with SMS through `fake` and our own two surveys.

    Our own surveys only: the example library changes with other work.
    """
    migrate(database_url)
    values: dict[str, object] = {"default_survey": "care",
                                 "public_url": "https://withus.example.org",
                                 "extra": dict(LEAD_SETTINGS)}
    values.update(overrides)
    rt = build(settings_for(database_url, tmp_path, **values), clock=clock,
               channels={"sms": fake, "console": ConsoleChannel(io.StringIO())},
               sleep=lambda _s: None)
    load_surveys(rt, tmp_path / "surveys", ("care", "Care at home", 365),
                 ("home", "Help at home", 365))
    return rt


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, clock: FakeClock,
            fake: RecordingChannel) -> Iterator[Runtime]:
    rt = privacy_runtime(database_url, tmp_path, clock, fake)
    yield rt
    rt.close()


_ids = iter(range(1, 10**6))


def say(runtime: Runtime, text: str, *, address: str = PHONE,
        message_id: str | None = None) -> list[str]:
    """Send `text` as the participant and deliver what is due; the texts *they* got.

    Messages to others sent in the same run (a safeguarding alert) are left out.
    """
    fake: RecordingChannel = runtime.channels["sms"]  # type: ignore[assignment]
    runtime.service.handle(InboundMessage("sms", address, message_id or f"m{next(_ids)}",
                                          "text", text=text))
    before = len(fake.sent)
    runtime.sender.run_once()
    to = normalise_phone_like(address)
    return [m.text for a, m in fake.sent[before:] if a == to]


def complete(runtime: Runtime, address: str = PHONE,
             why: str = "Staff were kind but rushed.") -> None:
    """Take the default survey to the end: consent, two answers, quote and share-back."""
    for text in ("hello", "yes", "1", why, "yes", "yes"):
        say(runtime, text, address=address)
    with UnitOfWork(runtime.sessions, runtime.vault) as u:
        assert u.responses.count_completed("care") >= 1


def count(runtime: Runtime, model: Any, **where: Any) -> int:
    with runtime.sessions() as session:
        stmt = select(func.count()).select_from(model)
        for column, value in where.items():
            stmt = stmt.where(getattr(model, column) == value)
        return int(session.scalar(stmt) or 0)


def uow(runtime: Runtime) -> UnitOfWork:
    return UnitOfWork(runtime.sessions, runtime.vault)


def pid_of(runtime: Runtime, address: str = PHONE) -> str:
    return runtime.service.pseudonym("sms", address)


def rows_mentioning(engine: Engine, needle: str) -> list[tuple[str, str]]:
    """(table, column) of every value containing `needle` (e.g. a pseudonym)."""
    found = []
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                for column, value in row.items():
                    if value is not None and needle in str(value):
                        found.append((table.name, column))
    return found


# --- Consent --------------------------------------------------------------------------


def test_nothing_is_stored_before_consent_and_a_decline_stores_only_the_decision(
    runtime: Runtime
) -> None:
    say(runtime, "hello")
    replies = say(runtime, "The carers never come on time")  # an answer, before consent
    assert replies == ["Sorry, do you agree to take part? Reply 1 for yes or 2 for no."]
    assert count(runtime, Answer) == 0 and count(runtime, Consent) == 0
    say(runtime, "no")
    say(runtime, "Good")
    assert count(runtime, Answer) == 0
    with runtime.sessions() as session:
        consent = session.scalars(select(Consent)).one()
        response = session.scalars(select(Response)).one()
    assert (consent.participant_id, consent.survey_id, consent.consent_version,
            consent.decision, consent.channel, consent.decided_at) == (
        pid_of(runtime), "care", 1, "declined", "sms", runtime.clock())
    assert response.status == "declined"


def test_consent_and_quote_permission_are_recorded_with_the_answers(runtime: Runtime,
                                                                     clock: FakeClock) -> None:
    say(runtime, "hello")
    clock.advance(minutes=5)
    say(runtime, "yes")
    for text in ("1", "Lovely staff", "no", "yes"):  # the last two: quotes no, share-back yes
        say(runtime, text)
    with runtime.sessions() as session:
        consent = session.scalars(select(Consent)).one()
        response = session.scalars(select(Response)).one()
        answers = session.scalars(select(Answer)).all()
    assert consent.decision == "given" and consent.decided_at == clock()
    assert consent.decided_at <= min(a.answered_at for a in answers)
    assert response.status == "completed" and response.quote_ok is False
    assert {a.response_id for a in answers} == {response.id}


# --- MYDATA ---------------------------------------------------------------------------


def test_mydata_summary_names_surveys_counts_answers_and_dates(runtime: Runtime,
                                                               clock: FakeClock) -> None:
    complete(runtime)
    clock.advance(days=3)
    for text in ("home", "yes", "2"):
        say(runtime, text)
    with uow(runtime) as u:
        summary = data_summary(u, pid_of(runtime), "en")
    assert summary == (
        'You answered 2 questions in "Care at home" on Monday 23 November 2026 and 1 in "Help '
        'at home" on Thursday 26 November 2026.\n'
        "We hold your phone number, encrypted and kept apart from your answers.\n"
        "Reply DELETE to delete it all.")
    assert "rushed" not in summary  # never repeats what they said
    assert segments(to_gsm(summary)) <= 2


def test_mydata_uses_titles_and_dates_in_the_persons_language(runtime: Runtime,
                                                              clock: FakeClock) -> None:
    """Titles from the catalogue in their language; days in the organisation's time zone
    (23:30 UTC on 30 June is 00:30 on 1 July in London)."""
    clock.now = datetime(2027, 6, 30, 23, 30, tzinfo=UTC)
    complete(runtime)
    titles = {"care": Text({"en": "Care at home", "cy": "Gofal yn y cartref"}, "en")}
    with uow(runtime) as u:
        summary = data_summary(u, pid_of(runtime), "cy", titles, ZoneInfo("Europe/London"))
    assert summary.splitlines() == [
        'Fe wnaethoch chi ateb 2 o gwestiynau yn "Gofal yn y cartref" ddydd Iau 1 Gorffennaf '
        "2027.",
        "Rydym yn cadw eich rhif symudol wedi'i amgryptio, mewn lle gwahanol i'ch atebion.",
        "Atebwch DILEU i ddileu'r cyfan."]


def test_mydata_for_someone_with_no_answers_says_so(runtime: Runtime) -> None:
    with uow(runtime) as u:
        u.participants.ensure("p" + "a" * 24, "telegram", runtime.clock())
        u.vault.store("p" + "a" * 24, "telegram", "123456789", runtime.clock())
        summary = data_summary(u, "p" + "a" * 24, "en")
    assert summary == ("We hold no answers from you.\nWe hold your Telegram chat id, encrypted "
                       "and kept apart from your answers.\nReply DELETE to delete it all.")


def test_mydata_names_at_most_three_surveys_and_stays_short(runtime: Runtime,
                                                            tmp_path: Path) -> None:
    load_surveys(runtime, tmp_path / "many", *(
        (f"s{n}", f"A very long survey title that goes on and on, number {n}", 365)
        for n in range(5)))
    for n in range(5):
        take(runtime, f"s{n}", PHONE)
    with uow(runtime) as u:
        summary = data_summary(u, pid_of(runtime), "en")
    assert summary.count('"A very long survey title that..."') == 3
    assert "and 2 in 2 other surveys on 23 November 2026." in summary  # one day: said once
    assert segments(to_gsm(summary)) <= 2


# --- Erasure --------------------------------------------------------------------------


def test_erasure_removes_everything_and_leaves_an_anonymous_record(runtime: Runtime) -> None:
    complete(runtime, why="My neighbour Pauline helps")
    complete(runtime, address=OTHER)
    pid = pid_of(runtime)
    say(runtime, "I don't feel safe at home")  # a safeguarding flag, with its words
    flag = count(runtime, SafeguardingFlag, participant_id=pid)
    assert flag == 1
    inbound_before = count(runtime, InboundRow)
    with uow(runtime) as u:
        assert u.responses.count_completed("care") == 2
        erasure = erase_participant(u, pid, runtime.clock(), "participant")
        assert u.participants.get(pid) is None  # not a stale copy from the session
        u.commit()
    assert (erasure.responses, erasure.answers) == (1, 2)
    assert count(runtime, Participant, id=pid) == 0
    for model in (VaultEntry, Conversation, Response, Answer, Consent, OutboxMessage,
                  SafeguardingFlag):
        assert count(runtime, model, participant_id=pid) == 0, model
    assert rows_mentioning(runtime.engine, pid) == []
    assert count(runtime, SafeguardingFlag) == 0
    # The other participant is untouched; the completed count drops by exactly one.
    with uow(runtime) as u:
        assert u.responses.count_completed("care") == 1
        assert u.vault.address(pid_of(runtime, OTHER)) == "+447700900456"
    # Inbound ids stay, without a participant, so a late redelivery is still a duplicate.
    assert count(runtime, InboundRow) == inbound_before
    assert count(runtime, InboundRow, participant_id=None) == 7  # 6 answers, 1 disclosure
    with runtime.sessions() as session:
        record = session.scalars(select(Erasure)).one()
    assert (record.source, record.responses, record.answers) == ("participant", 1, 2)
    assert count(runtime, AuditEvent) == 0  # the participant's own request needs no audit


def test_a_redelivered_message_after_erasure_is_still_a_duplicate(runtime: Runtime) -> None:
    say(runtime, "hello", message_id="SM-before")
    with uow(runtime) as u:
        erase_participant(u, pid_of(runtime), runtime.clock(), "participant")
        u.commit()
    handled = runtime.service.handle(InboundMessage("sms", PHONE, "SM-before", "text",
                                                    text="hello"))
    assert handled.duplicate
    assert count(runtime, Participant) == 0  # and nobody was re-created by it


def test_organiser_erasure_is_audited_without_naming_anyone(runtime: Runtime) -> None:
    complete(runtime)
    pid = pid_of(runtime)
    with uow(runtime) as u:
        erase_participant(u, pid, runtime.clock(), "organiser", reason="asked by phone")
        u.commit()
    with runtime.sessions() as session:
        event = session.scalars(select(AuditEvent)).one()
    assert (event.action, event.subject, event.reason) == ("erase", "participant",
                                                           "asked by phone")
    assert event.detail["responses"] == 1 and event.detail["answers"] == 2
    assert rows_mentioning(runtime.engine, pid) == []


def test_erasing_an_unknown_participant_is_a_lookup_error(runtime: Runtime) -> None:
    with uow(runtime) as u, pytest.raises(LookupError):
        erase_participant(u, "p" + "b" * 24, runtime.clock(), "organiser")


def queue_confirmation(runtime: Runtime, pid: str) -> int:
    """What the service does on DELETE + YES: queue the goodbye, flagged erase_after."""
    with uow(runtime) as u:
        outbox_id = u.outbox.add(pid, "sms", {"text": "Done. We have deleted your answers.",
                                               "choices": [], ERASE_AFTER: True},
                                 runtime.clock())
        u.commit()
    return outbox_id


def test_the_sender_erases_after_delivering_the_confirmation(runtime: Runtime,
                                                             fake: RecordingChannel) -> None:
    complete(runtime)
    pid = pid_of(runtime)
    queue_confirmation(runtime, pid)
    runtime.sender.run_once()
    assert fake.sent[-1] == (E164, fake.sent[-1][1])
    assert fake.sent[-1][1].text == "Done. We have deleted your answers."
    assert count(runtime, Participant, id=pid) == 0
    assert count(runtime, VaultEntry) == 0 and count(runtime, Response) == 0
    assert count(runtime, Erasure) == 1
    with uow(runtime) as u:  # a second call (say, from purge) is harmless
        finish_erasure(u, pid, runtime.clock())
        u.commit()
    assert count(runtime, Erasure) == 1


def test_a_confirmation_that_cannot_be_sent_still_ends_in_erasure(
    runtime: Runtime, fake: RecordingChannel
) -> None:
    complete(runtime)
    pid = pid_of(runtime)
    queue_confirmation(runtime, pid)
    fake.fail = SendError("number unreachable", permanent=True)
    runtime.sender.run_once()
    assert count(runtime, Participant, id=pid) == 0 and count(runtime, Erasure) == 1


def test_purge_erases_when_the_confirmation_has_waited_over_an_hour(
    runtime: Runtime, fake: RecordingChannel, clock: FakeClock
) -> None:
    complete(runtime)
    pid = pid_of(runtime)
    queue_confirmation(runtime, pid)
    fake.fail = SendError("provider down")  # retryable: the sender keeps it pending
    runtime.sender.run_once()
    assert count(runtime, Participant, id=pid) == 1
    clock.advance(seconds=ERASE_GRACE.total_seconds() - 60)
    assert purge(runtime, clock())["erasures"] == 0
    clock.advance(seconds=120)
    assert purge(runtime, clock())["erasures"] == 1
    assert count(runtime, Participant, id=pid) == 0 and count(runtime, Erasure) == 1


# --- Retention ------------------------------------------------------------------------


@pytest.fixture
def retention_surveys(runtime: Runtime, tmp_path: Path) -> None:
    """Two surveys: "short" kept 30 days, "long" kept 400 days."""
    load_surveys(runtime, tmp_path / "retention", ("short", "Short", 30), ("long", "Long", 400))


def take(runtime: Runtime, survey_id: str, address: str) -> None:
    """Start a survey, consent and answer; SKIP leaves the free-text question."""
    for text in (survey_id, "yes", "1", "SKIP"):
        say(runtime, text, address=address)


def held(runtime: Runtime, address: str) -> tuple[bool, bool]:
    """(address held, conversation held) for the person at `address`."""
    pid = pid_of(runtime, address)
    return (count(runtime, VaultEntry, participant_id=pid) == 1,
            count(runtime, Conversation, participant_id=pid) == 1)


@pytest.mark.usefixtures("retention_surveys")
def test_retention_purge_follows_each_surveys_days(runtime: Runtime,
                                                   clock: FakeClock) -> None:
    short_only, both, recent = "07700 900201", "07700 900202", "07700 900203"
    take(runtime, "short", short_only)
    take(runtime, "short", both)
    take(runtime, "long", both)
    take(runtime, "short", recent)
    answers = count(runtime, Answer)
    completed_before = count(runtime, Response)
    clock.advance(days=20)
    say(runtime, "REPEAT", address=recent)  # still active
    clock.advance(days=11)  # 31 days after the start
    counts = purge(runtime, clock())
    assert held(runtime, short_only) == (False, False)
    assert held(runtime, both) == (True, True)  # "long" keeps them for 400 days
    assert held(runtime, recent) == (True, True)  # last heard from 11 days ago
    assert counts["vault_entries"] == 1 and counts["conversations"] == 1
    assert count(runtime, OutboxMessage, participant_id=pid_of(runtime, short_only)) == 0
    clock.advance(days=20)
    purge(runtime, clock())
    assert held(runtime, recent) == (False, False)
    clock.advance(days=399 - 51)  # a day before "long" runs out
    purge(runtime, clock())
    assert held(runtime, both) == (True, True)
    clock.advance(days=1)
    purge(runtime, clock())
    assert held(runtime, both) == (False, False)
    # The pseudonymised answers stay for aggregates and exports.
    assert count(runtime, Answer) == answers
    assert count(runtime, Response) == completed_before


@pytest.mark.usefixtures("retention_surveys")
def test_after_a_purge_the_person_can_simply_write_again(runtime: Runtime,
                                                         clock: FakeClock) -> None:
    take(runtime, "short", PHONE)
    clock.advance(days=31)
    purge(runtime, clock())
    replies = say(runtime, "short")
    assert replies and replies[0] == "Hello from WithUs."
    with uow(runtime) as u:
        assert u.vault.address(pid_of(runtime)) == E164
    assert count(runtime, Response) == 2  # the old response, still theirs, and a new one


def test_people_with_no_response_use_the_default_retention(runtime: Runtime,
                                                           clock: FakeClock) -> None:
    runtime.settings.extra["WITHUS_RETENTION_DAYS"] = "10"  # type: ignore[index]
    say(runtime, "STOP")  # no survey started: no response
    assert count(runtime, Response) == 0 and held(runtime, PHONE) == (True, True)
    clock.advance(days=9)
    purge(runtime, clock())
    assert held(runtime, PHONE) == (True, True)
    clock.advance(days=2)
    purge(runtime, clock())
    assert held(runtime, PHONE) == (False, False)


def test_purge_forgets_old_inbound_ids_and_expired_vault_entries(runtime: Runtime,
                                                                 clock: FakeClock) -> None:
    say(runtime, "hello", message_id="SM-old")
    with uow(runtime) as u:
        u.participants.ensure("p" + "c" * 24, "sms", clock())
        u.vault.store("p" + "c" * 24, "sms", "+447700900777", clock(),
                      expires_at=clock() + timedelta(days=5))
        u.commit()
    clock.advance(days=6)
    assert purge(runtime, clock())["vault_entries"] == 1
    clock.advance(days=85)
    counts = purge(runtime, clock())
    assert counts["inbound_messages"] == 1 and count(runtime, InboundRow) == 0


def test_purge_logs_only_counts(runtime: Runtime, clock: FakeClock,
                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    complete(runtime)
    clock.advance(days=366)
    purge(runtime, clock())
    record = next(r for r in caplog.records if r.getMessage() == "purge done")
    assert record.vault_entries == 1  # type: ignore[attr-defined]
    assert pid_of(runtime) not in caplog.text


# (Safeguarding: tests/test_safeguarding_service.py.)


# --- Commands -------------------------------------------------------------------------


def cli_env(runtime: Runtime, database_url: str, tmp_path: Path) -> dict[str, str]:
    settings = runtime.settings
    return {"WITHUS_DATABASE_URL": database_url,
            "WITHUS_INSTANCE_PATH": str(tmp_path / "cli-instance"),
            "WITHUS_VAULT_KEYS": ",".join(settings.vault_keys),
            "WITHUS_PSEUDONYM_KEY": settings.pseudonym_key.decode(),
            "WITHUS_SECRET_KEY": "test", "WITHUS_ENV": "development"}


def run_cli(args: list[str], env: dict[str, str]) -> Any:
    import click

    from bot.cli.privacy import COMMANDS

    group = click.Group("withus", commands={c.name or "": c for c in COMMANDS})
    return CliRunner().invoke(group, args, env=env, catch_exceptions=False)


def test_withus_participants_erase(runtime: Runtime, database_url: str,
                                   tmp_path: Path) -> None:
    complete(runtime)
    pid = pid_of(runtime)
    env = cli_env(runtime, database_url, tmp_path)
    bad = run_cli(["participants", "erase", PHONE, "--yes"], env)
    assert bad.exit_code == 2 and "phone numbers are never accepted" in bad.output
    unknown = run_cli(["participants", "erase", "p" + "d" * 24, "--yes"], env)
    assert unknown.exit_code == 2 and "no participant" in unknown.output
    result = run_cli(["participants", "erase", pid, "--reason", "asked by letter", "--yes"],
                     env)
    assert result.exit_code == 0, result.output
    assert "erased: 1 responses, 2 answers" in result.output
    assert count(runtime, Participant, id=pid) == 0
    with runtime.sessions() as session:
        event = session.scalars(select(AuditEvent)).one()
    assert (event.action, event.reason) == ("erase", "asked by letter")


def test_withus_participants_erase_asks_first(runtime: Runtime, database_url: str,
                                              tmp_path: Path) -> None:
    complete(runtime)
    import click

    from bot.cli.privacy import COMMANDS

    group = click.Group("withus", commands={c.name or "": c for c in COMMANDS})
    result = CliRunner().invoke(group, ["participants", "erase", pid_of(runtime)],
                                env=cli_env(runtime, database_url, tmp_path), input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert count(runtime, Participant, id=pid_of(runtime)) == 1


def test_withus_purge(runtime: Runtime, database_url: str, tmp_path: Path) -> None:
    complete(runtime)
    result = run_cli(["purge"], cli_env(runtime, database_url, tmp_path))
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"erasures: \d+, vault entries: \d+, conversations: \d+, "
                        r"outbox messages: \d+, inbound messages: \d+, media files: \d+, "
                        r"other replies: \d+, erasure notices: \d+\n",
                        result.output)
