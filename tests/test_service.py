"""The service path end to end on both databases: idempotent, transactional, private."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.services.logs import JsonFormatter
from bot.services.runtime import Runtime
from channels.base import Channel, InboundMessage, OutboundMessage, SendResult, WebRequest
from channels.local import ConsoleChannel, normalise_phone_like
from storage.models import Answer, Consent, OutboxMessage, Response
from storage.models import InboundMessage as InboundRow
from tests.helpers import FakeClock, make_runtime
from tests.privacy import scan_database, scan_text

PHONE = "07700 900123"  # Ofcom's drama range: never a real person


class RecordingChannel(Channel):
    """A fake provider channel: remembers what it was asked to send."""

    name = "fake"

    def __init__(self, confirms_opt_out: bool = False) -> None:
        self.sent: list[tuple[str, OutboundMessage]] = []
        self.provider_confirms_opt_out = confirms_opt_out

    def verify(self, request: WebRequest) -> bool:
        return True

    def parse(self, request: WebRequest) -> list[InboundMessage]:
        return []

    def normalise_address(self, address: str) -> str:
        return normalise_phone_like(address)

    def send(self, address: str, message: OutboundMessage) -> list[SendResult]:
        self.sent.append((address, message))
        return [SendResult(f"fake-{len(self.sent)}")]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake() -> RecordingChannel:
    return RecordingChannel()


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, clock: FakeClock,
            fake: RecordingChannel) -> Iterator[Runtime]:
    rt = make_runtime(database_url, tmp_path, clock=clock,
                      channels={"fake": fake, "console": ConsoleChannel(io.StringIO())},
                      default_survey="fft")
    yield rt
    rt.close()


_ids = iter(range(1, 10**6))


def say(runtime: Runtime, text: str, *, channel: str = "fake", address: str = PHONE,
        message_id: str | None = None, kind: str = "text") -> list[str]:
    message = InboundMessage(channel, address, message_id or f"m{next(_ids)}",
                             kind, text=text)  # type: ignore[arg-type]
    handled = runtime.service.handle(message)
    before = len(runtime.channels["fake"].sent)  # type: ignore[attr-defined]
    runtime.sender.run_once()
    sent = runtime.channels["fake"].sent[before:]  # type: ignore[attr-defined]
    assert len(sent) == len(handled.outbox_ids) or handled.duplicate
    return [m.text for _a, m in sent]


def count(runtime: Runtime, model: type) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_completing_fft_stores_answers_under_a_pseudonym(runtime: Runtime,
                                                        fake: RecordingChannel) -> None:
    say(runtime, "hello")
    say(runtime, "English")  # the example surveys are in English and Welsh
    say(runtime, "yes")
    say(runtime, "2")
    replies = say(runtime, "Staff were kind. Call me on 07700 900456 if you like.")
    assert replies == ["May we quote your words, without your name, when we share what we "
                       "heard?"]
    assert say(runtime, "yes") == ["Would you like to hear what we learn?"]
    assert say(runtime, "no")[-1].startswith("Thank you.")
    with runtime.sessions() as session:
        response = session.scalars(select(Response)).one()
        answers = {a.question_id: a for a in session.scalars(select(Answer))}
        consent = session.scalars(select(Consent)).one()
    assert response.status == "completed" and response.completed_at is not None
    assert response.survey_id == "fft" and response.survey_version == 4
    assert response.quote_ok is True and response.share_back is False
    assert response.participant_id.startswith("p") and len(response.participant_id) == 25
    assert answers["overall"].value == "good" and answers["overall"].label == "Good"
    assert answers["why"].value == "Staff were kind. Call me on [PHONE] if you like."
    assert consent.decision == "given" and consent.channel == "fake"
    assert {a for a, _m in fake.sent} == {"+447700900123"}  # the vault gave the address back
    assert scan_database(runtime.engine, ["+447700900123", "+447700900456"]) == []


def test_the_same_provider_message_id_is_handled_once(runtime: Runtime) -> None:
    say(runtime, "hello", message_id="SM1")
    assert say(runtime, "hello", message_id="SM1") == []
    say(runtime, "English", message_id="SM2")
    assert count(runtime, InboundRow) == 2
    assert count(runtime, OutboxMessage) == 3  # language, then intro + consent


def test_two_concurrent_deliveries_of_one_message_are_handled_once(runtime: Runtime) -> None:
    say(runtime, "hello")
    say(runtime, "English")  # the example surveys are in English and Welsh
    barrier = threading.Barrier(2)
    results = []

    def deliver() -> None:
        barrier.wait()
        results.append(runtime.service.handle(
            InboundMessage("fake", PHONE, "SM-race", "text", text="yes")))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.duplicate for r in results) == [False, True]
    assert count(runtime, Consent) == 1


def test_a_failure_mid_transaction_stores_nothing_and_a_retry_succeeds(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    say(runtime, "hello")
    say(runtime, "English")  # the example surveys are in English and Welsh
    say(runtime, "yes")
    outbox_before = count(runtime, OutboxMessage)
    from storage import repositories

    original = repositories.AnswerRepository.record

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(repositories.AnswerRepository, "record", broken)
    with pytest.raises(RuntimeError):
        runtime.service.handle(InboundMessage("fake", PHONE, "SM-retry", "text", text="1"))
    assert count(runtime, OutboxMessage) == outbox_before  # no reply for an unsaved answer
    assert count(runtime, InboundRow) == 3  # and the id was not used up
    monkeypatch.setattr(repositories.AnswerRepository, "record", original)
    handled = runtime.service.handle(InboundMessage("fake", PHONE, "SM-retry", "text", text="1"))
    assert not handled.duplicate and count(runtime, Answer) == 1


def test_stop_is_silent_where_the_provider_confirms_it(runtime: Runtime,
                                                       fake: RecordingChannel) -> None:
    fake.provider_confirms_opt_out = True
    say(runtime, "hello")
    say(runtime, "English")  # the example surveys are in English and Welsh
    assert say(runtime, "STOP") == []
    assert say(runtime, "1") == []
    assert say(runtime, "START")[0].startswith("Welcome back")


def test_stop_is_confirmed_where_the_provider_does_not(runtime: Runtime) -> None:
    say(runtime, "hello")
    say(runtime, "English")  # the example surveys are in English and Welsh
    assert say(runtime, "STOP") == [
        "You won't get any more messages from us. Text START if you want to join in again."]


def test_one_person_is_one_pseudonym_however_the_number_is_written(runtime: Runtime) -> None:
    first = runtime.service.pseudonym("fake", "07700 900123")
    assert runtime.service.pseudonym("fake", "+44 7700 900123") == first
    assert runtime.service.pseudonym("fake", "+447700900123") == first
    assert runtime.service.pseudonym("console", "+447700900123") != first  # per channel


def test_logs_carry_no_address_or_message_text(runtime: Runtime,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    secret_words = "My neighbour Pauline does my shopping"
    for text in ("hello", "yes", "1", secret_words):
        say(runtime, text)
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records]
    assert any("inbound handled" in line for line in lines)
    joined = "\n".join(lines)
    assert scan_text(joined, ["+447700900123"]) == []
    assert "Pauline" not in joined and "shopping" not in joined
    for line in lines:
        json.loads(line)


def test_numbered_choices_say_how_to_reply_in_the_persons_language(
    runtime: Runtime, fake: RecordingChannel
) -> None:
    from channels.base import numbered
    from surveys.i18n import gettext

    say(runtime, "hello")
    say(runtime, "Cymraeg")
    consent = fake.sent[-1][1]
    assert consent.language == "cy"
    welsh = gettext("cy", "Reply 1 or 2")
    assert welsh != "Reply 1 or 2"
    assert numbered(consent).endswith("\n\n" + welsh)


def test_an_interrupted_send_pass_loses_nothing_and_sends_nothing_twice(
    runtime: Runtime, fake: RecordingChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails in the middle of a pass: once after the provider has accepted a
    message (its mark is lost), once before the next message is sent. The next pass must
    record the first without resending it and send the rest exactly once."""
    from sqlalchemy.exc import OperationalError

    from storage.repositories import messages

    for n, text in enumerate(("hello", "English", "yes")):
        runtime.service.handle(InboundMessage("fake", PHONE, f"int-{n}", "text", text=text))
    queued = count(runtime, OutboxMessage)
    assert queued >= 3
    original = messages.OutboxRepository.mark_sent
    calls = {"n": 0}

    def flaky(self: object, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OperationalError("UPDATE", {}, Exception("server closed the connection"))
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(messages.OutboxRepository, "mark_sent", flaky)
    with pytest.raises(OperationalError):
        runtime.sender.run_once()
    assert len(fake.sent) == 2  # the second went out, but its mark was lost
    with runtime.sessions() as session:
        statuses = sorted(session.scalars(select(OutboxMessage.status)))
    assert statuses.count("sending") == queued - 1  # stuck until the next pass settles them
    monkeypatch.setattr(messages.OutboxRepository, "mark_sent", original)
    runtime.sender.run_once()
    assert len(fake.sent) == queued  # every reply once: none lost, none twice
    with runtime.sessions() as session:
        assert set(session.scalars(select(OutboxMessage.status))) == {"sent"}


# --- STOP part-way ends the response, and START carries it on ----------------------------


def response_status(runtime: Runtime) -> tuple[str, int]:
    """The one response's status and how many answers it holds."""
    with runtime.sessions() as session:
        response = session.scalars(select(Response)).one()
        answers = session.scalar(select(func.count()).select_from(Answer)
                                 .where(Answer.response_id == response.id))
        return response.status, int(answers or 0)


def funnel_rows(runtime: Runtime) -> dict[str, str]:
    """The survey page's funnel for fft as its labels read, every count shown (k=1)."""
    from bot.dashboard.results import funnel
    from storage.repositories.dashboard import DashboardRepository
    from surveys.suppression import Suppressor

    survey = runtime.catalog.get().surveys["fft"]
    with runtime.sessions() as session:
        shown = funnel(DashboardRepository(session), survey, Suppressor(1))
    return {bar.label: str(bar.cell) for bar in shown.steps if bar.cell.count}


@pytest.mark.parametrize("stop", ["STOP", "STOPIO"])
def test_stop_part_way_marks_the_response_stopped_and_keeps_its_answers(
        runtime: Runtime, stop: str) -> None:
    say(runtime, "hello")
    say(runtime, "English")
    say(runtime, "yes")
    say(runtime, "2")  # overall: Good; now at "why"
    assert response_status(runtime) == ("consented", 1)
    say(runtime, stop)
    assert response_status(runtime) == ("stopped", 1)  # their answer stays
    rows = funnel_rows(runtime)
    overall = runtime.catalog.get().surveys["fft"].question("overall")
    assert overall is not None
    assert rows == {f"Stopped after: {overall.text.get()}": "1"}
    with runtime.sessions() as session:
        response = session.scalars(select(Response)).one()
    assert response.consented_at is not None and response.completed_at is None


def test_start_after_stop_carries_the_response_on_to_completion(runtime: Runtime) -> None:
    say(runtime, "hello")
    say(runtime, "English")
    say(runtime, "yes")
    say(runtime, "2")
    say(runtime, "STOP")
    assert response_status(runtime)[0] == "stopped"
    assert say(runtime, "START")[0].startswith("Welcome back")
    assert response_status(runtime) == ("consented", 1)  # going again, not stopped
    say(runtime, "The staff were kind")
    assert response_status(runtime) == ("completed", 2)


def test_stop_before_agreeing_is_stopped_and_start_asks_again(runtime: Runtime) -> None:
    say(runtime, "hello")
    say(runtime, "English")  # now asked to agree
    say(runtime, "STOP")
    assert response_status(runtime) == ("stopped", 0)
    assert funnel_rows(runtime) == {"Did not agree to take part": "1"}
    say(runtime, "START")
    assert response_status(runtime) == ("started", 0)


def test_stop_after_finishing_leaves_the_response_completed(runtime: Runtime) -> None:
    say(runtime, "hello")
    say(runtime, "English")
    say(runtime, "yes")
    say(runtime, "2")
    say(runtime, "Kind staff")  # the last question: completed, now asked about quoting
    assert response_status(runtime)[0] == "completed"
    say(runtime, "STOP")
    assert response_status(runtime)[0] == "completed"
    say(runtime, "START")
    assert response_status(runtime)[0] == "completed"


def test_an_opt_out_reported_by_the_provider_stops_the_response_too(runtime: Runtime) -> None:
    say(runtime, "hello")
    say(runtime, "English")
    say(runtime, "yes")
    runtime.service.opt_out("fake", PHONE)  # e.g. they blocked the bot on Telegram
    assert response_status(runtime) == ("stopped", 0)
