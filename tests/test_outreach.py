"""Outreach on both databases: contacts, invitations, reminders, windows, share-backs, pacing.

Time is a FakeClock (and, for pacing, a simulated monotonic clock): nothing here sleeps.
Numbers are from Ofcom's drama ranges (020 7946 0xxx), valid but never a real person.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.services import outreach
from bot.services.outreach import OutreachError
from bot.services.runtime import Runtime, build
from bot.services.scheduler import Scheduler
from channels.base import (
    Channel,
    InboundMessage,
    OutboundMessage,
    SendError,
    SendResult,
    WebRequest,
)
from channels.local import normalise_phone_like
from storage.models import CohortMember, Conversation, OutboxMessage, Participant
from storage.repositories.outreach import OutreachRepository
from storage.uow import UnitOfWork
from tests.conftest_db import migrate
from tests.helpers import FakeClock, NoLock, load_library, make_runtime, settings_for
from tests.privacy import scan_database

LONDON = ZoneInfo("Europe/London")
NUMBERS = [f"020 7946 {n:04d}" for n in range(100)]  # Ofcom drama numbers: London
E164 = [f"+44207946{n:04d}" for n in range(100)]


class Recorder(Channel):
    """A provider channel that records what it sends (and, optionally, fails for some)."""

    max_buttons = 0

    def __init__(self, name: str = "sms", moment: object = None) -> None:
        self.name = name
        self.sent: list[tuple[str, OutboundMessage]] = []
        self.times: list[float] = []
        self.moment = moment  # () -> float, when sends are timed
        self.fail_for: set[str] = set()

    def verify(self, request: WebRequest) -> bool:
        return True

    def parse(self, request: WebRequest) -> list[InboundMessage]:
        return []

    def normalise_address(self, address: str) -> str:
        return normalise_phone_like(address)

    def send(self, address: str, message: OutboundMessage) -> list[SendResult]:
        if address in self.fail_for:
            raise SendError("unreachable", permanent=True)
        self.sent.append((address, message))
        if callable(self.moment):
            self.times.append(self.moment())
        return [SendResult(f"{self.name}-{len(self.sent)}")]

    def texts_to(self, address: str) -> list[str]:
        return [m.text for a, m in self.sent if a == address]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))  # a Monday afternoon, GMT


@pytest.fixture
def sms() -> Recorder:
    return Recorder("sms")


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, clock: FakeClock,
            sms: Recorder) -> Iterator[Runtime]:
    rt = make_runtime(database_url, tmp_path, clock=clock, channels={"sms": sms})
    yield rt
    rt.close()


_ids = itertools.count(1)


def say(runtime: Runtime, text: str, number: str = NUMBERS[0]) -> None:
    """A person texts us (and our replies go out at once)."""
    runtime.service.handle(InboundMessage("sms", number, f"m{next(_ids)}", "text", text=text))
    runtime.sender.run_once()


def csv_of(*numbers: str) -> str:
    return "name,phone\n" + "".join(f"person {i},{n}\n" for i, n in enumerate(numbers))


def pid_of(runtime: Runtime, e164: str, channel: str = "sms") -> str:
    return runtime.pseudonymiser(channel, e164)


def outbox(runtime: Runtime, kind: str) -> list[OutboxMessage]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                                    .order_by(OutboxMessage.id)))


def invite_now(runtime: Runtime, cohort: str = "leeds", survey: str = "fft") -> int:
    scheduled = outreach.schedule_invitation(runtime, survey, cohort)
    outreach.queue_due_invitations(runtime)
    return scheduled.invitation_id


def add_surveys(runtime: Runtime, folder: Path, **surveys: str) -> None:
    folder.mkdir(exist_ok=True)
    for name, source in surveys.items():
        (folder / f"{name}.yaml").write_text(textwrap.dedent(source))
    load_library(runtime, folder)


SURVEY = """\
    id: {id}
    version: 1
    language: en
    title: {title}
    intro: Hello. Two quick questions about your week.
    consent: Do you agree to take part?
    thank_you: Thank you.
    reminders: {reminders}
    reminder_after_hours: 24
    ask_quote_permission: false
    offer_share_back: false
    {extra}
    questions:
      - id: week
        type: yes_no
        text: Was it a good week?
      - id: sleep
        type: yes_no
        text: Did you sleep well?
"""


def survey(id: str, title: str = "Your week", reminders: int = 1, extra: str = "") -> str:
    return SURVEY.format(id=id, title=title, reminders=reminders, extra=extra)


# --- contacts import ------------------------------------------------------------------------


def test_import_skips_invalid_rows_by_line_number_and_drops_duplicates(runtime: Runtime) -> None:
    text = (
        "name,phone\n"             # line 1: header
        "Ann,020 7946 0001\n"      # 2
        "Bea,+44 20 7946 0002\n"   # 3
        "\n"                       # 4: blank, ignored
        "Cal,call me\n"            # 5: not a number
        "Dee,020 7946 001\n"       # 6: a digit short
        "Eve,(020) 7946-0001\n"    # 7: Ann again, written differently
        "Fay,\n"                   # 8: empty
        "Gus,+33 6 12 34 56 78\n"  # 9: France, with its country code
    )
    report = outreach.import_contacts(runtime, text, "sms", "leeds")
    assert (report.imported, report.duplicates) == (3, 1)
    assert report.invalid == [
        (5, "not a phone number"),
        (6, "not a valid GB number (for other countries start with +)"),
        (8, "empty"),
    ]
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        cohort = OutreachRepository(uow.session).cohort("leeds")
        assert cohort is not None
        members = set(uow.session.scalars(select(CohortMember.participant_id)))
        assert members == {pid_of(runtime, n) for n in (E164[1], E164[2], "+33612345678")}
        assert uow.vault.address(pid_of(runtime, E164[2])) == E164[2]
    # Addresses are only in the vault, encrypted; cohorts hold pseudonyms.
    assert scan_database(runtime.engine, [E164[1], E164[2], "+33612345678"]) == []


def test_an_imported_person_who_writes_in_is_the_same_participant(runtime: Runtime) -> None:
    outreach.import_contacts(runtime, csv_of(NUMBERS[1]), "sms", "leeds")
    say(runtime, "hello", NUMBERS[1])
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Participant)) == 1


def test_importing_again_adds_only_the_new_people(runtime: Runtime) -> None:
    outreach.import_contacts(runtime, csv_of(NUMBERS[1], NUMBERS[2]), "sms", "leeds")
    again = outreach.import_contacts(runtime, csv_of(NUMBERS[2], NUMBERS[3]), "sms", "leeds")
    assert (again.imported, again.already_in_cohort) == (1, 1)
    other = outreach.import_contacts(runtime, csv_of(NUMBERS[1]), "sms", "bradford")
    assert other.imported == 1  # one person may be in several cohorts
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Participant)) == 3


def test_the_address_column_is_found_by_header_name_or_number(runtime: Runtime) -> None:
    text = "id;mobile;notes\n1;020 7946 0001;x\n2;0207946 0002;y\n"  # semicolons, as Excel
    assert outreach.import_contacts(runtime, text, "sms", "a").imported == 2
    text = "020 7946 0003,x\n020 7946 0004,y\n"  # no header
    assert outreach.import_contacts(runtime, text, "sms", "b").imported == 2
    text = "first,second\n1,020 7946 0005\n"
    assert outreach.import_contacts(runtime, text, "sms", "c", column="second").imported == 1
    assert outreach.import_contacts(runtime, text, "sms", "d", column="2").imported == 1
    with pytest.raises(OutreachError, match="no column called 'phone'"):
        outreach.import_contacts(runtime, text, "sms", "e", column="phone")


def test_telegram_contacts_are_chat_ids(runtime: Runtime) -> None:
    text = "chat_id\n123456789\n+44 20 7946 0001\n987654321\n123456789\n"
    report = outreach.import_contacts(runtime, text, "telegram", "tg")
    assert (report.imported, report.duplicates) == (2, 1)
    assert report.invalid == [(3, "not a Telegram chat id (a whole number such as 123456789)")]


def test_people_who_opted_out_are_never_invited(runtime: Runtime, sms: Recorder) -> None:
    say(runtime, "hello", NUMBERS[1])
    say(runtime, "STOP", NUMBERS[1])
    report = outreach.import_contacts(runtime, csv_of(NUMBERS[1], NUMBERS[2]), "sms", "leeds")
    assert report.opted_out == 1
    sms.sent.clear()
    invitation = invite_now(runtime)
    runtime.sender.run_once()
    assert [a for a, _m in sms.sent] == [E164[2]]
    counts = outreach.invitation_progress(runtime, invitation).counts
    assert (counts["sent"], counts["opted_out"]) == (1, 1)


# --- invitations ----------------------------------------------------------------------------


def test_an_invitation_to_a_cohort_that_has_all_opted_out_queues_nothing(
        runtime: Runtime, sms: Recorder) -> None:
    """Scheduled while people were in; by the time it falls due they have all said STOP.
    It is done with, not retried every few seconds by a failing job."""
    outreach.import_contacts(runtime, csv_of(NUMBERS[1]), "sms", "leeds")
    outreach.schedule_invitation(runtime, "fft", "leeds")
    say(runtime, "STOP", NUMBERS[1])
    sms.sent.clear()
    [queued] = outreach.queue_due_invitations(runtime)
    assert (queued.messages, queued.outcome) == (0, "queued")
    assert outreach.queue_due_invitations(runtime) == []
    runtime.sender.run_once()
    assert sms.sent == []




def test_an_invitation_is_queued_once_and_says_how_to_start(runtime: Runtime,
                                                            sms: Recorder) -> None:
    outreach.import_contacts(runtime, csv_of(*NUMBERS[1:4]), "sms", "leeds")
    scheduled = outreach.schedule_invitation(runtime, "fft", "leeds")
    assert scheduled.members == 3
    first = outreach.queue_due_invitations(runtime)
    assert [(q.messages, q.outcome) for q in first] == [(3, "queued")]
    assert outreach.queue_due_invitations(runtime) == []  # never queued twice
    runtime.sender.run_once()
    assert len(sms.sent) == 3
    _address, message = sms.sent[0]
    assert message.business_initiated
    assert message.text.startswith("Hello from WithUs.")
    assert message.text.endswith("To start, reply FFT.")
    # Replying with the keyword starts that survey, even with another default survey; the
    # invitation said who is writing, so the reply does not say it again.
    sms.sent.clear()
    say(runtime, "fft", NUMBERS[1])
    assert sms.texts_to(E164[1])[0].startswith("Which language would you like?")


def test_a_welsh_invitation_names_the_welsh_keyword(runtime: Runtime) -> None:
    fft = runtime.catalog.get().surveys["fft"]
    welsh = outreach.invitation_payload(fft, "cy", "sms", "Cwm Taf Carers")
    assert welsh["text"].startswith("Helo gan Cwm Taf Carers.")
    assert "PROFIAD." in welsh["text"].splitlines()[2] and "FFT" not in welsh["text"]
    english = outreach.invitation_payload(fft, "en", "sms", "Cwm Taf Carers")
    assert "To start, reply FFT." in english["text"]


def test_people_can_be_invited_to_a_consultation_and_are_reminded_in_it(
        runtime: Runtime, sms: Recorder, clock: FakeClock) -> None:
    """Consultations go to cohorts like surveys: the invitation names its keyword, and
    someone who starts but goes quiet gets the consultation's reminder."""
    consultation = runtime.catalog.get().consultations["fairpay"]
    outreach.import_contacts(runtime, csv_of(*NUMBERS[1:3]), "sms", "care workers")
    invite_now(runtime, "care workers", "fairpay")
    runtime.sender.run_once()
    assert len(sms.sent) == 2
    assert sms.sent[0][1].text.startswith("Hello from WithUs. " + consultation.intro.get())
    assert sms.sent[0][1].text.endswith("To start, reply FAIRPAY.")

    sms.sent.clear()
    say(runtime, "fairpay", NUMBERS[1])  # starts it, then goes quiet
    # The invitation carried the intro: the reply goes straight on to consent.
    assert sms.texts_to(E164[1])[0].startswith(consultation.consent.get())
    clock.advance(hours=consultation.reminder_after_hours + 1)  # 15:00 the next day
    sms.sent.clear()
    report = outreach.send_due_reminders(runtime)
    assert (report.reminded, report.dropped) == (1, 0)
    runtime.sender.run_once()
    assert sms.texts_to(E164[1])[0].startswith("A gentle reminder")


# --- replying to an invitation ---------------------------------------------------------------


def set_language(runtime: Runtime, e164: str, language: str) -> None:
    """Someone whose language we know (they chose it in an earlier conversation)."""
    with runtime.sessions() as session:
        session.get_one(Participant, pid_of(runtime, e164)).language = language
        session.commit()


def test_a_reply_to_an_invitation_is_not_told_the_intro_again(runtime: Runtime,
                                                               sms: Recorder) -> None:
    """The invitation carried the intro and said "reply CARERS": replying goes on to
    what comes next. Someone who texts CARERS cold still gets the hello and the intro."""
    carers = runtime.catalog.get().surveys["carers"]
    intro, consent = carers.intro.get("en"), carers.consent.get("en")
    outreach.import_contacts(runtime, csv_of(NUMBERS[1]), "sms", "leeds")
    invite_now(runtime, "leeds", "carers")
    runtime.sender.run_once()
    assert intro in sms.texts_to(E164[1])[0] and "reply CARERS" in sms.texts_to(E164[1])[0]

    sms.sent.clear()
    say(runtime, "CARERS", NUMBERS[1])  # an id too, so: which language?
    say(runtime, "1", NUMBERS[1])
    assert sms.texts_to(E164[1]) == ["Which language would you like? / Pa iaith hoffech chi?",
                                     consent]
    say(runtime, "CARERS", NUMBERS[2])  # never invited
    say(runtime, "1", NUMBERS[2])
    assert sms.texts_to(E164[2]) == [
        "Hello from WithUs. / Helo gan WithUs.\nWhich language would you like? / Pa iaith "
        "hoffech chi?", intro, consent]


def test_a_welsh_invitation_and_its_welsh_keyword_go_straight_to_consent(
        runtime: Runtime, sms: Recorder) -> None:
    carers = runtime.catalog.get().surveys["carers"]
    outreach.import_contacts(runtime, csv_of(NUMBERS[1], NUMBERS[2]), "sms", "caerdydd")
    set_language(runtime, E164[1], "cy")
    set_language(runtime, E164[2], "cy")
    invite_now(runtime, "caerdydd", "carers")
    runtime.sender.run_once()
    assert "atebwch GOFALWYR" in sms.texts_to(E164[1])[0]
    sms.sent.clear()
    say(runtime, "Gofalwyr", NUMBERS[1])
    assert sms.texts_to(E164[1]) == [carers.consent.get("cy")]
    # Replying in English to the Welsh invitation: the English intro is new to them.
    say(runtime, "CARERS", NUMBERS[2])
    say(runtime, "English", NUMBERS[2])
    assert sms.texts_to(E164[2])[1:] == [carers.intro.get("en"), carers.consent.get("en")]


def test_the_intro_comes_again_when_the_invitation_did_not_reach_them_or_is_old(
        runtime: Runtime, sms: Recorder, clock: FakeClock) -> None:
    carers = runtime.catalog.get().surveys["carers"]
    intro = carers.intro.get("en")

    def start(number: int) -> list[str]:
        """They text CARERS and choose English; what they are sent."""
        before = len(sms.texts_to(E164[number]))
        say(runtime, "CARERS", NUMBERS[number])
        say(runtime, "1", NUMBERS[number])
        return sms.texts_to(E164[number])[before:]

    outreach.import_contacts(runtime, csv_of(*NUMBERS[1:4]), "sms", "leeds")
    sms.fail_for.add(E164[1])  # the invitation never arrived
    invite_now(runtime, "leeds", "carers")
    runtime.sender.run_once()
    sms.fail_for.clear()
    assert len(sms.sent) == 2
    assert intro in start(1)
    # Replied, then said no; weeks later they change their mind: they have had the
    # intro from us since the invitation, and get it again like anyone starting afresh.
    assert intro not in start(2)
    say(runtime, "2", NUMBERS[2])
    clock.advance(days=20)
    assert intro in start(2)
    # An invitation from longer ago than INTRO_REMEMBERED (30 days) is not remembered.
    clock.advance(days=11)
    assert intro in start(3)


def test_an_invitation_at_a_later_time_waits_for_it(runtime: Runtime, clock: FakeClock) -> None:
    outreach.import_contacts(runtime, csv_of(NUMBERS[1]), "sms", "leeds")
    later = datetime(2026, 11, 24, 9, 30)  # naive: read in Europe/London
    scheduled = outreach.schedule_invitation(runtime, "fft", "leeds", later)
    assert scheduled.scheduled_at == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert outreach.queue_due_invitations(runtime) == []
    clock.now = scheduled.scheduled_at
    assert [q.messages for q in outreach.queue_due_invitations(runtime)] == [1]


def test_invitations_wait_for_quiet_hours_and_chosen_times(runtime: Runtime, clock: FakeClock,
                                                           sms: Recorder) -> None:
    say(runtime, "TIME", NUMBERS[2])
    say(runtime, "night", NUMBERS[2])
    say(runtime, "TIME", NUMBERS[3])
    say(runtime, "morning", NUMBERS[3])
    outreach.import_contacts(runtime, csv_of(*NUMBERS[1:4]), "sms", "leeds")
    clock.now = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)  # 22:30 in London: quiet
    sms.sent.clear()
    invite_now(runtime)
    waits = {m.participant_id: m.next_attempt_at for m in outbox(runtime, "invitation")}
    morning = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert waits == {pid_of(runtime, E164[1]): morning,  # quiet hours end
                     pid_of(runtime, E164[2]): clock.now,  # chose night: now suits them
                     pid_of(runtime, E164[3]): morning}  # chose morning
    runtime.sender.run_once()
    assert [a for a, _m in sms.sent] == [E164[2]]
    clock.now = morning
    runtime.sender.run_once()
    assert sorted(a for a, _m in sms.sent) == [E164[1], E164[2], E164[3]]


def test_whatsapp_invitations_use_the_approved_template(database_url: str, tmp_path: Path,
                                                        clock: FakeClock) -> None:
    from tests.fakes import FakeTwilioAPI
    from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN

    with FakeTwilioAPI() as twilio:
        rt = make_runtime(
            database_url, tmp_path, clock=clock, twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN, twilio_whatsapp_from="whatsapp:+442079460999",
            twilio_sms_from="+442079460998", twilio_api_base_url=twilio.base_url,
            twilio_whatsapp_template_sid="HX" + "1" * 32, public_url="https://withus.example",
        )
        try:
            outreach.import_contacts(rt, csv_of(NUMBERS[1]), "whatsapp", "wa")
            outreach.import_contacts(rt, csv_of(NUMBERS[2]), "sms", "wa")
            invite_now(rt, "wa")
            assert rt.sender.run_once().sent == 2
        finally:
            rt.close()
        by_to = {m["To"]: m for m in twilio.messages}
    whatsapp, text = by_to[f"whatsapp:{E164[1]}"], by_to[E164[2]]
    assert whatsapp["ContentSid"] == "HX" + "1" * 32 and "Body" not in whatsapp
    assert "To start, reply FFT." in whatsapp["ContentVariables"]
    assert text["Body"].endswith("To start, reply FFT.") and "ContentSid" not in text


def test_progress_counts_queued_sent_delivered_failed_and_opted_out(runtime: Runtime,
                                                                     sms: Recorder) -> None:
    say(runtime, "hello", NUMBERS[5])
    say(runtime, "STOP", NUMBERS[5])  # opted out before the invitation
    outreach.import_contacts(runtime, csv_of(*NUMBERS[1:6]), "sms", "leeds")
    sms.fail_for = {E164[3]}  # this number cannot be reached
    invitation = invite_now(runtime)
    before = outreach.invitation_progress(runtime, invitation)
    assert (before.counts["queued"], before.counts["opted_out"], before.total) == (4, 1, 5)
    runtime.sender.run_once()
    delivered = next(m for m in outbox(runtime, "invitation")
                     if m.participant_id == pid_of(runtime, E164[1]))
    runtime.service.record_status(delivered.provider_message_ids[0], "delivered", None)
    say(runtime, "STOP", NUMBERS[4])  # opted out after it arrived
    progress = outreach.invitation_progress(runtime, invitation)
    assert dict(progress.counts) == {"queued": 0, "sent": 1, "delivered": 1, "failed": 1,
                                     "opted_out": 2, "not_needed": 0, "sandbox": 0,
                                     "no_provider": 0}
    assert progress.done == progress.total == 5


def test_a_waiting_invitation_is_dropped_when_the_person_writes_first(
    runtime: Runtime, clock: FakeClock, sms: Recorder
) -> None:
    outreach.import_contacts(runtime, csv_of(NUMBERS[1]), "sms", "leeds")
    clock.now = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    invitation = invite_now(runtime)
    pid = pid_of(runtime, E164[1])
    # What the service does when someone writes (see docs/outreach.md).
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        assert OutreachRepository(uow.session).cancel_waiting(pid, clock.now) == 1
        uow.commit()
    clock.now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    runtime.sender.run_once()
    assert sms.sent == []
    assert outreach.invitation_progress(runtime, invitation).counts["not_needed"] == 1


def test_an_unknown_cohort_or_survey_is_a_plain_error(runtime: Runtime) -> None:
    outreach.import_contacts(runtime, csv_of(NUMBERS[1]), "sms", "leeds")
    with pytest.raises(OutreachError, match="no cohort called 'york' \\(cohorts: leeds\\)"):
        outreach.schedule_invitation(runtime, "fft", "york")
    with pytest.raises(OutreachError, match="survey 'nope' is not loaded"):
        outreach.schedule_invitation(runtime, "nope", "leeds")


def test_a_cancelled_invitation_is_never_sent(runtime: Runtime, clock: FakeClock) -> None:
    outreach.import_contacts(runtime, csv_of(NUMBERS[1]), "sms", "leeds")
    scheduled = outreach.schedule_invitation(runtime, "fft", "leeds",
                                             clock.now + timedelta(hours=1))
    assert outreach.cancel_invitation(runtime, scheduled.invitation_id)
    clock.advance(hours=2)
    assert outreach.queue_due_invitations(runtime) == []
    assert not outreach.cancel_invitation(runtime, scheduled.invitation_id)


# --- survey windows ---------------------------------------------------------------------------


def test_a_survey_window_opens_and_closes(runtime: Runtime, clock: FakeClock, sms: Recorder,
                                          tmp_path: Path) -> None:
    add_surveys(runtime, tmp_path / "windowed", window=survey(
        "window", "Winter pressures",
        extra="opens: 2026-12-01T09:00:00+00:00\n    closes: 2026-12-31T17:00:00+00:00"))
    outreach.import_contacts(runtime, csv_of(NUMBERS[1]), "sms", "leeds")
    # Before it opens: a message gets "opens on", an invitation waits for the opening.
    say(runtime, "window", NUMBERS[1])
    assert sms.texts_to(E164[1])[-1] == 'Hello from WithUs.\n' \
                                       '"Winter pressures" opens on 1 December 2026. ' \
                                       'Please come back then.'
    scheduled = outreach.schedule_invitation(runtime, "window", "leeds")
    assert scheduled.waits_for_opening
    assert scheduled.scheduled_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert outreach.queue_due_invitations(runtime) == []
    # Open: the invitation goes, and the survey can be taken.
    clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert [q.messages for q in outreach.queue_due_invitations(runtime)] == [1]
    say(runtime, "window", NUMBERS[1])
    say(runtime, "yes", NUMBERS[1])
    assert sms.texts_to(E164[1])[-1] == "Was it a good week?"
    # Closed: "this survey has closed"; the conversation is stalled, not failed.
    clock.now = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    say(runtime, "yes", NUMBERS[1])
    assert sms.texts_to(E164[1])[-1].startswith('"Winter pressures" has now closed.')
    with pytest.raises(OutreachError, match="closes on 31 December 2026 at 17:00"):
        outreach.schedule_invitation(runtime, "window", "leeds")


def test_an_invitation_due_after_its_survey_closed_is_cancelled(
    runtime: Runtime, clock: FakeClock, tmp_path: Path
) -> None:
    add_surveys(runtime, tmp_path / "windowed", window=survey(
        "window", extra="closes: 2026-11-24T12:00:00+00:00"))
    outreach.import_contacts(runtime, csv_of(NUMBERS[1]), "sms", "leeds")
    outreach.schedule_invitation(runtime, "window", "leeds", clock.now + timedelta(hours=1))
    clock.now = datetime(2026, 11, 25, tzinfo=UTC)  # the scheduler was down meanwhile
    assert [q.outcome for q in outreach.queue_due_invitations(runtime)] == ["cancelled"]
    assert outbox(runtime, "invitation") == []


# --- reminders --------------------------------------------------------------------------------


def start_survey(runtime: Runtime, survey_id: str, number: str = NUMBERS[1]) -> None:
    say(runtime, survey_id, number)
    say(runtime, "yes", number)  # consent; now the first question waits for an answer


def reminder_run(runtime: Runtime, clock: FakeClock, sms: Recorder, hours: float,
                 step_minutes: int = 15) -> list[datetime]:
    """Run the reminder job and the sender every `step_minutes` for `hours`; send times."""
    sent_at: list[datetime] = []
    for _ in range(int(hours * 60 / step_minutes)):
        clock.advance(minutes=step_minutes)
        outreach.send_due_reminders(runtime)
        before = len(sms.sent)
        runtime.sender.run_once()
        sent_at += [clock.now] * sum(
            1 for _a, m in sms.sent[before:] if m.text.startswith("A gentle reminder")
        )
    return sent_at


def test_a_participant_who_stops_halfway_gets_at_most_n_reminders(
    runtime: Runtime, clock: FakeClock, sms: Recorder, tmp_path: Path
) -> None:
    add_surveys(runtime, tmp_path / "more", twice=survey("twice", reminders=2))
    start_survey(runtime, "twice")
    sent_at = reminder_run(runtime, clock, sms, hours=24 * 5)
    assert sent_at == [datetime(2026, 11, 24, 14, 0, tzinfo=UTC),  # 24 h after the question
                       datetime(2026, 11, 25, 14, 0, tzinfo=UTC)]  # and 24 h after that
    kinds = {(m.kind, m.payload["business_initiated"]) for m in outbox(runtime, "reminder")}
    assert kinds == {("reminder", True)}
    # It never hard-expires: days later they carry on where they were.
    say(runtime, "yes", NUMBERS[1])
    assert sms.texts_to(E164[1])[-1] == "Did you sleep well?"


def test_the_default_is_one_reminder(runtime: Runtime, clock: FakeClock, sms: Recorder,
                                     tmp_path: Path) -> None:
    add_surveys(runtime, tmp_path / "more", once=survey("once"))
    start_survey(runtime, "once")
    assert len(reminder_run(runtime, clock, sms, hours=24 * 4)) == 1


def test_no_reminder_is_sent_in_quiet_hours(runtime: Runtime, clock: FakeClock, sms: Recorder,
                                            tmp_path: Path) -> None:
    add_surveys(runtime, tmp_path / "more", once=survey("once"))
    clock.now = datetime(2026, 11, 23, 22, 45, tzinfo=UTC)  # they start late at night
    start_survey(runtime, "once")
    sent_at = reminder_run(runtime, clock, sms, hours=48)
    # Due at 22:45 the next night: held to 08:00 rather than sent then.
    assert sent_at == [datetime(2026, 11, 25, 8, 0, tzinfo=UTC)]


def test_reminders_keep_to_london_time_across_the_clock_change(
    runtime: Runtime, clock: FakeClock, sms: Recorder, tmp_path: Path
) -> None:
    add_surveys(runtime, tmp_path / "more", once=survey("once"))
    clock.now = datetime(2026, 10, 24, 21, 30, tzinfo=UTC)  # Sat 22:30 BST
    start_survey(runtime, "once")
    sent_at = reminder_run(runtime, clock, sms, hours=48)
    # Due Sun 21:30 UTC (21:30 GMT, quiet); goes Mon 08:00 GMT = 08:00 UTC.
    assert sent_at == [datetime(2026, 10, 26, 8, 0, tzinfo=UTC)]


def test_a_night_worker_is_reminded_at_night(runtime: Runtime, clock: FakeClock, sms: Recorder,
                                             tmp_path: Path) -> None:
    add_surveys(runtime, tmp_path / "more", once=survey("once"))
    say(runtime, "TIME", NUMBERS[1])
    say(runtime, "night", NUMBERS[1])
    start_survey(runtime, "once")  # at 14:00
    sent_at = reminder_run(runtime, clock, sms, hours=48)
    assert sent_at == [datetime(2026, 11, 24, 21, 0, tzinfo=UTC)]  # not 14:00: that's daytime


def test_no_reminders_after_the_survey_closes_or_after_stop(
    runtime: Runtime, clock: FakeClock, sms: Recorder, tmp_path: Path
) -> None:
    add_surveys(runtime, tmp_path / "more", short=survey(
        "short", extra="closes: 2026-11-24T09:00:00+00:00"), once=survey("once"))
    start_survey(runtime, "short", NUMBERS[1])
    start_survey(runtime, "once", NUMBERS[2])
    say(runtime, "STOP", NUMBERS[2])
    clock.advance(hours=25)
    report = outreach.send_due_reminders(runtime)
    assert (report.reminded, report.dropped) == (0, 1)  # closed; STOP cleared the other
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)
                              .where(Conversation.next_reminder_at.is_not(None))) == 0


def test_a_reminder_that_cannot_be_sent_does_not_come_round_again(runtime: Runtime,
                                                                  clock: FakeClock,
                                                                  tmp_path: Path) -> None:
    add_surveys(runtime, tmp_path / "more", once=survey("once"))
    start_survey(runtime, "once")
    clock.advance(hours=24)
    calls: list[str] = []

    def remind_that_does_nothing(pid: str) -> list[int]:
        calls.append(pid)
        return []

    outreach.send_due_reminders(runtime, remind=remind_that_does_nothing)
    outreach.send_due_reminders(runtime, remind=remind_that_does_nothing)
    assert len(calls) == 1


# --- share-backs ------------------------------------------------------------------------------


def complete_fft(runtime: Runtime, number: str, share_back: str | None) -> None:
    for text in ("fft", "1", "1", "2", "Kind staff"):  # language, consent, answers
        say(runtime, text, number)
    say(runtime, "1", number)  # may we quote you: yes
    if share_back is not None:
        say(runtime, share_back, number)  # would you like to hear what we learn?


def test_a_share_back_goes_only_to_those_who_said_yes(runtime: Runtime, clock: FakeClock,
                                                      sms: Recorder) -> None:
    complete_fft(runtime, NUMBERS[1], "1")  # yes
    complete_fft(runtime, NUMBERS[2], "2")  # no
    complete_fft(runtime, NUMBERS[3], None)  # never answered the question
    complete_fft(runtime, NUMBERS[4], "1")  # yes, then STOP
    say(runtime, "STOP", NUMBERS[4])
    message = ("What we heard: most of you said staff were kind but rushed. What happens "
               "next: the group meets on 14 January to plan changes.")
    shareback = outreach.draft_shareback(runtime, "fft", message)
    preview = outreach.preview_shareback(runtime, shareback)
    assert (preview.recipients, preview.respondents, preview.problems) == (1, 4, [])
    assert preview.text == message + "\n\nReply STOP if you'd rather not hear from us."
    clock.now = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # quiet hours
    sms.sent.clear()
    assert outreach.send_shareback(runtime, shareback) == 1
    runtime.sender.run_once()
    assert sms.sent == []  # it waits for the morning
    clock.now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    runtime.sender.run_once()
    assert [(a, m.text) for a, m in sms.sent] == [(E164[1], preview.text)]
    assert sms.sent[0][1].business_initiated
    with pytest.raises(OutreachError, match="already sent"):
        outreach.send_shareback(runtime, shareback)


def test_a_share_back_quoting_small_numbers_is_refused(runtime: Runtime) -> None:
    for n in range(1, 4):
        complete_fft(runtime, NUMBERS[n], "1")
    shareback = outreach.draft_shareback(runtime, "fft", "3 of you said the nights were hard.")
    preview = outreach.preview_shareback(runtime, shareback)
    assert len(preview.problems) == 1 and not preview.ready
    with pytest.raises(OutreachError, match="could identify people"):
        outreach.send_shareback(runtime, shareback)
    assert outbox(runtime, "shareback") == []
    outreach.edit_shareback(runtime, shareback, "Some of you said the nights were hard.")
    assert outreach.send_shareback(runtime, shareback) == 3


@pytest.mark.parametrize(("text", "respondents", "flagged"), [
    ("3 of you said the nights were hard", 50, ["3"]),
    ("Three carers told us about respite", 50, ["Three carers"]),
    ("1 in 5 people", 50, []),  # 10 people
    ("1 in 5 people", 30, ["1 in 5"]),  # 6 people
    ("one in five of you", 30, ["one in five"]),
    ("12 of you said yes", 50, []),
    ("We meet on 5 May 2027 at 7pm, in room 4", 50, []),
    ("Next steps in 2 weeks: see question 3 on page 2.", 50, []),
    ("At 10:30 on 14/01/2027, for 90 minutes", 50, []),
    ("It costs £5 a week", 50, []),
    ("40% wanted more time", 50, []),  # 20 people
    ("40% wanted more time", 12, ["40%"]),  # about 5 people
    ("95% were happy", 100, ["95%"]),  # so 5 were not
    ("half of you were happy", 8, []),
    ("50% were happy", 8, ["50%"]),  # fewer than 10 answered: no percentages at all
])
def test_figures_that_could_identify_people_are_found(text: str, respondents: int,
                                                      flagged: list[str]) -> None:
    problems = outreach.figure_problems(text, 10, respondents)
    assert [p.split('"')[1] for p in problems] == flagged


# --- pacing ------------------------------------------------------------------------------------


class SimulatedTime:
    """Monotonic seconds that only move when the sender sleeps; a datetime clock in step."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.seconds = 0.0

    def monotonic(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        # A real sleep always lets some time pass. Pacer can ask for 2e-17 s, which
        # added to 0.4 leaves 0.4 unchanged: move on by at least the next float.
        self.seconds = max(self.seconds + seconds, math.nextafter(self.seconds, math.inf))

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)


@pytest.mark.slow
def test_1000_invitations_at_10_a_second_take_100_seconds_and_never_burst(
    database_url: str, tmp_path: Path
) -> None:
    time = SimulatedTime(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
    sms = Recorder("sms", moment=time.monotonic)
    migrate(database_url)
    # One sending thread: simulated time moves whenever any thread sleeps, so it cannot
    # model several at once (tests/test_sender_recovery.py paces them in real time).
    rt = build(settings_for(database_url, tmp_path, rate_twilio=10.0, send_concurrency=1),
               clock=time.now,
               channels={"sms": sms}, monotonic=time.monotonic, sleep=time.sleep)
    try:
        load_library(rt)
        numbers = "phone\n" + "".join(f"+4420794{n:05d}\n" for n in range(1000))
        assert outreach.import_contacts(rt, numbers, "sms", "everyone").imported == 1000
        outreach.schedule_invitation(rt, "fft", "everyone")
        scheduler = Scheduler(rt, purge=None, leadership=NoLock())  # type: ignore[arg-type]
        scheduler.run_jobs_once()  # queues the invitation
        while scheduler.send_step():  # what the sender loop does, without its idle waits
            pass
    finally:
        rt.close()
    times = sms.times
    assert len(times) == 1000 and len(set(a for a, _m in sms.sent)) == 1000
    assert 99.0 <= times[-1] - times[0] <= 101.0
    # No 1-second window holds more than 10 sends (1e-9: float rounding of 0.1 steps).
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:i + 12] if t < start + 1.0 - 1e-9)
        assert in_window <= 10, f"{in_window} sends in the second from {start:.3f}"


def test_a_reply_goes_ahead_of_a_queue_of_invitations(runtime: Runtime, sms: Recorder) -> None:
    numbers = "phone\n" + "".join(f"+4420794{n:05d}\n" for n in range(200))
    outreach.import_contacts(runtime, numbers, "sms", "many")
    invite_now(runtime, "many")
    scheduler = Scheduler(runtime, purge=None, leadership=NoLock())  # type: ignore[arg-type]
    scheduler.send_step()
    sms.sent.clear()
    runtime.service.handle(InboundMessage("sms", NUMBERS[99], "m-reply", "text", text="hello"))
    scheduler.send_step()
    assert sms.sent[0][0] == E164[99]  # the reply first, before the next invitations
    assert sum(1 for a, _m in sms.sent if a == E164[99]) >= 1
