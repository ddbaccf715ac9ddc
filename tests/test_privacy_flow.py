"""Data rights and safeguarding through the real channel path, and what the logs may hold.

Messages go in through `service.handle` and out through `sender.run_once` to a recording
channel, exactly as a webhook and the scheduler would do it.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from bot.services.logs import JsonFormatter, TextFormatter
from bot.services.retention import purge
from bot.services.runtime import Runtime
from bot.services.safeguarding import signposting_text
from channels.base import InboundMessage, SendError
from storage.models import (
    Answer,
    Erasure,
    OutboxMessage,
    Participant,
    Response,
    SafeguardingFlag,
    VaultEntry,
)
from storage.models import InboundMessage as InboundRow
from storage.repositories.privacy import ERASE_AFTER
from tests.helpers import FakeClock
from tests.privacy import forms_of, scan_database, scan_text
from tests.test_privacy import (
    E164,
    LEAD,
    PHONE,
    RecordingChannel,
    complete,
    count,
    pid_of,
    privacy_runtime,
    say,
    uow,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake() -> RecordingChannel:
    return RecordingChannel()


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, clock: FakeClock,
            fake: RecordingChannel) -> Iterator[Runtime]:
    rt = privacy_runtime(database_url, tmp_path, clock, fake)
    yield rt
    rt.close()


def formatted(records: list[logging.LogRecord]) -> str:
    """Every record as both formatters would write it."""
    json_formatter, text_formatter = JsonFormatter(), TextFormatter()
    lines = []
    for record in records:
        line = json_formatter.format(record)
        json.loads(line)  # every line is valid JSON
        lines += [line, text_formatter.format(record)]
    return "\n".join(lines)


def raw(records: list[logging.LogRecord]) -> str:
    """What the code itself put in the records, before any scrubbing."""
    return "\n".join(f"{r.getMessage()} {vars(r)!r}" for r in records)


# --- MYDATA and DELETE by text -----------------------------------------------------------


def test_mydata_replies_with_a_summary(runtime: Runtime, fake: RecordingChannel) -> None:
    complete(runtime)
    replies = say(runtime, "MYDATA")
    assert len(replies) == 1
    assert replies[0].startswith(
        'You answered 2 questions in "Care at home" on Monday 23 November 2026.\n'
        "We hold your phone number, encrypted")
    assert "rushed" not in replies[0]
    assert fake.sent[-1][0] == E164


def test_delete_and_yes_erase_everything_after_saying_goodbye(
    runtime: Runtime, fake: RecordingChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    complete(runtime, why="My daughter Pauline helps on Tuesdays")
    pid = pid_of(runtime)
    with uow(runtime) as u:
        assert u.responses.count_completed("care") == 1
    prompt = say(runtime, "DELETE", message_id="SM-delete")
    assert "Delete it all?" in prompt[-1]
    goodbye = say(runtime, "YES", message_id="SM-yes")
    assert goodbye and goodbye[-1].startswith("Done. We have deleted")
    assert fake.sent[-1][0] == E164  # the goodbye reached them before the address went
    assert count(runtime, Participant, id=pid) == 0
    for model in (VaultEntry, Response, Answer, OutboxMessage):
        assert count(runtime, model) == 0, model
    with uow(runtime) as u:
        assert u.responses.count_completed("care") == 0
    with runtime.sessions() as session:
        erasure = session.scalars(select(Erasure)).one()
    assert (erasure.source, erasure.responses, erasure.answers) == ("participant", 1, 2)
    assert count(runtime, InboundRow) == count(runtime, InboundRow, participant_id=None) > 0
    again = runtime.service.handle(InboundMessage("sms", PHONE, "SM-yes", "text", text="YES"))
    assert again.duplicate  # a late redelivery does not start anything
    logged = formatted(caplog.records) + raw(caplog.records)
    assert scan_text(logged, [E164]) == [] and "Pauline" not in logged


def test_delete_then_no_keeps_everything(runtime: Runtime) -> None:
    complete(runtime)
    prompt = say(runtime, "DELETE")
    assert "Delete it all?" in prompt[-1]
    assert say(runtime, "no")[0] == "Nothing has been deleted."
    assert count(runtime, Participant, id=pid_of(runtime)) == 1
    assert count(runtime, Answer) == 2 and count(runtime, Erasure) == 0


def test_stop_silences_everything_until_start(runtime: Runtime,
                                              fake: RecordingChannel) -> None:
    say(runtime, "hello")
    assert say(runtime, "STOP") == [
        "You won't get any more messages from us. Text START if you want to join in again."]
    with uow(runtime) as u:  # a reminder or invitation queued later is not sent
        u.outbox.add(pid_of(runtime), "sms", {"text": "A gentle reminder"}, runtime.clock(),
                     kind="reminder")
        u.commit()
    before = len(fake.sent)
    runtime.sender.run_once()
    assert len(fake.sent) == before
    assert say(runtime, "How was your care?") == []  # silence, not an answer
    replies = say(runtime, "START")
    assert replies[0].startswith("Welcome back")


# --- Safeguarding through the channel ------------------------------------------------------


def test_a_disclosure_gets_signposting_next_and_the_lead_an_alert(
    runtime: Runtime, fake: RecordingChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for text in ("hello", "yes", "1"):
        say(runtime, text)
    disclosure = "My son pushes me around and I'm frightened to go home. Ring 07700 900888"
    replies = say(runtime, disclosure)
    signposting = signposting_text(runtime.settings, "abuse", "en")
    assert "0808 2000 247" in signposting and "0113 000 0000" in signposting
    assert replies[0] == signposting  # the very next message
    assert replies[1].startswith("Would you like to carry on")  # then the gentle pause
    assert len(replies) == 2  # and no "May we quote your words?"
    pid = pid_of(runtime)
    with runtime.sessions() as session:
        flag = session.scalars(select(SafeguardingFlag)).one()
        answer = session.scalars(select(Answer).where(Answer.question_id == "why")).one()
    assert flag.participant_id == pid and flag.answer_id == answer.id
    assert flag.categories == ["abuse"] and flag.channel == "sms"
    assert "07700" not in str(answer.value)  # stored redacted
    alerts = [m for a, m in fake.sent if a == LEAD]
    assert len(alerts) == 1 and f"/dashboard/safeguarding/{flag.id}" in alerts[0].text
    assert pid not in alerts[0].text and "frightened" not in alerts[0].text
    logged = formatted(caplog.records) + raw(caplog.records)
    assert scan_text(logged, [E164, "+447700900888", LEAD]) == []
    assert "frightened" not in logged


# --- Logs -------------------------------------------------------------------------------


def test_a_database_error_traceback_hides_parameters_and_numbers(runtime: Runtime) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("tests.privacy_flow")
    log.addHandler(handler)
    secret = "Pauline hits me, call her on 07700 900456"
    try:
        with runtime.sessions() as session:
            try:
                session.execute(insert(Answer).values(
                    response_id=999999, participant_id="p" + "z" * 24, survey_id="care",
                    question_id="why", kind="bogus", value=secret, label="",
                    survey_version=1, answered_at=runtime.clock()))
                session.flush()
            except IntegrityError:
                log.exception("storing an answer failed", extra={"chat": 987654321,
                                                                 "ids": [E164, 42]})
    finally:
        log.removeHandler(handler)
    line = stream.getvalue()
    entry = json.loads(line)
    assert "IntegrityError" in entry["error"]  # still useful for debugging
    assert "Pauline" not in line and scan_text(line, ["+447700900456", E164]) == []
    assert entry["chat"] == "[redacted-number]" and entry["ids"] == ["[redacted-number]", 42]


def test_an_end_to_end_run_logs_no_address_and_no_message_text(
    runtime: Runtime, fake: RecordingChannel, clock: FakeClock,
    caplog: pytest.LogCaptureFixture
) -> None:
    """Everything that works today: answers, a flag and alert, erasure, purge, a crash."""
    caplog.set_level(logging.DEBUG)
    other = "07700 900456"
    words = "My neighbour Pauline says I am not safe at home"
    complete(runtime, why=words)
    complete(runtime, address=other, why="Fine thanks, call me on 07700 900777")
    say(runtime, "I am not safe at home, Pauline knows")  # a flag, and an alert
    with uow(runtime) as u:
        u.outbox.add(pid_of(runtime, other), "sms", {"text": "Done.", ERASE_AFTER: True},
                     clock())
        u.commit()
    fake.fail = SendError(f"The 'To' number {E164} is not valid")
    runtime.sender.run_once()  # fails and retries: the provider's error quotes the number
    fake.fail = None
    clock.advance(hours=2)
    runtime.sender.run_once()
    clock.advance(days=400)
    purge(runtime, clock())
    logged = formatted(caplog.records)
    addresses = [E164, "+447700900456", "+447700900777", LEAD]
    assert scan_text(logged, addresses) == []
    for word in ("Pauline", "neighbour", "not safe at home", "Fine thanks"):
        assert word not in logged
    # The application itself never logs text, and logs addresses only where a provider's
    # error quoted one (the scrubber's job, checked above).
    unscrubbed = raw([r for r in caplog.records if r.name != "bot.services.sender"
                      or r.getMessage() != "outbound failed"])
    assert "Pauline" not in unscrubbed and "Fine thanks" not in unscrubbed
    assert not any(form in unscrubbed for a in addresses for form in forms_of(a))
    assert scan_database(runtime.engine, addresses) == []


def test_the_formatter_hides_quoted_sql_data_even_if_the_engine_does_not() -> None:
    """Second line of defence, should an engine be built without hide_parameters."""
    message = ("(psycopg.errors.CheckViolation) new row violates check constraint\n"
               "DETAIL:  Failing row contains (1, pabc, Pauline hits me).\n"
               "[SQL: INSERT INTO answers (value) VALUES (%(value)s)]\n"
               "[parameters: {'value': 'Pauline hits me, 07700 900456'}]\n"
               "(Background on this error at: https://sqlalche.me/e/21/gkpj)")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, message, None, None)
    for line in (JsonFormatter().format(record), TextFormatter().format(record)):
        assert "Pauline" not in line and "900456" not in line
        assert "DETAIL: [hidden]" in line and "[parameters: hidden]" in line
        assert "[SQL: INSERT INTO answers" in line  # the statement itself is kept
