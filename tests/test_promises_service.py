"""Promises kept, through the real service: LATER's reminder comes at the chosen time,
STOP is confirmed in the language it was said in where the provider will not, and data
rights still work after STOP (answered where the channel can reply; DELETE YES in one
message where it cannot, confirmed on the next START)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.services.outreach import send_due_reminders
from bot.services.runtime import Runtime
from channels.base import InboundMessage
from channels.twilio import opt_out_keyword
from storage.models import Conversation, ErasureNotice, Participant
from tests.helpers import FakeClock
from tests.test_service import RecordingChannel, make_runtime

PHONE = "07700 900654"


class FakeSms(RecordingChannel):
    """Like Twilio on SMS: it confirms (and enforces) its own English opt-out words."""

    name = "sms"

    def __init__(self) -> None:
        super().__init__(confirms_opt_out=True)

    def provider_opt_out_word(self, body: str) -> bool:
        return opt_out_keyword(body)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))  # a Monday morning


@pytest.fixture
def sms() -> FakeSms:
    return FakeSms()


@pytest.fixture
def chat() -> RecordingChannel:
    return RecordingChannel()  # like Telegram: the app confirms STOP itself


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, clock: FakeClock, sms: FakeSms,
            chat: RecordingChannel) -> Iterator[Runtime]:
    rt = make_runtime(database_url, tmp_path, clock=clock,
                      channels={"sms": sms, "fake": chat}, quiet_hours="21:00-08:00",
                      timezone="Europe/London")
    yield rt
    rt.close()


_n = iter(range(1, 10**6))


def say(runtime: Runtime, channel: str, text: str) -> list[str]:
    fake = runtime.channels[channel]
    before = len(fake.sent)  # type: ignore[attr-defined]
    runtime.service.handle(InboundMessage(channel, PHONE, f"p{next(_n)}", "text", text=text))
    runtime.sender.run_once()
    return [m.text for _a, m in fake.sent[before:]]  # type: ignore[attr-defined]


def conversation(runtime: Runtime) -> Conversation | None:
    with runtime.sessions() as session:
        return session.scalars(select(Conversation)).first()


def test_later_schedules_the_reminder_it_promises_in_the_chosen_window(
        runtime: Runtime, clock: FakeClock) -> None:
    for text in ("FFT", "English", "yes"):
        say(runtime, "fake", text)
    assert say(runtime, "fake", "LATER")[0] == "No problem. When would suit you better?"
    assert say(runtime, "fake", "evening")[0].startswith("Thanks. We'll send reminders in "
                                                        "the evening.")
    due = conversation(runtime).next_reminder_at  # type: ignore[union-attr]
    assert due is not None
    clock.advance(hours=2)  # 12:00, not the evening: the reminder moves, nothing is sent
    report = send_due_reminders(runtime, clock())
    assert report.postponed == 1 and report.reminded == 0
    moved = conversation(runtime).next_reminder_at  # type: ignore[union-attr]
    assert moved is not None and moved.astimezone(UTC).hour == 17  # 17:00 GMT in December
    clock.now = moved
    fake = runtime.channels["fake"]
    before = len(fake.sent)  # type: ignore[attr-defined]
    assert send_due_reminders(runtime, clock()).reminded == 1
    runtime.sender.run_once()
    sent = [m.text for _a, m in fake.sent[before:]]  # type: ignore[attr-defined]
    assert sent[0].startswith("A gentle reminder: you started")
    assert sent[1].startswith("Overall, how was your experience")
    assert say(runtime, "fake", "1")[0].startswith("What was good")  # carrying on


def test_stopio_by_sms_is_confirmed_in_welsh_but_twilio_confirms_an_english_stop(
        runtime: Runtime) -> None:
    say(runtime, "sms", "FFT")
    say(runtime, "sms", "English")
    welsh = say(runtime, "sms", "STOPIO")  # Twilio does not act on STOPIO: we confirm it
    assert len(welsh) == 1 and welsh[0].startswith("Fyddwch chi ddim yn cael")
    assert "DECHRAU" in welsh[0]
    say(runtime, "sms", "START")
    assert say(runtime, "sms", "STOP") == []  # Twilio's own confirmation is the only one


def test_after_stop_delete_is_asked_and_answered_where_the_channel_can_reply(
        runtime: Runtime) -> None:
    say(runtime, "fake", "FFT")
    say(runtime, "fake", "English")
    say(runtime, "fake", "yes")
    assert say(runtime, "fake", "STOP")[0].startswith("You won't get any more messages")
    assert say(runtime, "fake", "DELETE")[0].startswith("This deletes everything")
    assert say(runtime, "fake", "NO") == ["Nothing has been deleted."]
    assert say(runtime, "fake", "DELETE")[0].startswith("This deletes everything")
    assert say(runtime, "fake", "YES")[0].startswith("Done. We have deleted")
    with runtime.sessions() as session:
        assert session.scalars(select(Participant)).first() is None


def test_after_an_english_stop_by_sms_delete_yes_erases_and_start_says_so(
        runtime: Runtime, clock: FakeClock) -> None:
    for text in ("FFT", "English", "yes", "2"):
        say(runtime, "sms", text)
    assert say(runtime, "sms", "STOP") == []
    assert conversation(runtime).state["blocked"] is True  # type: ignore[union-attr]
    say(runtime, "sms", "DELETE YES")
    with runtime.sessions() as session:
        assert session.scalars(select(Participant)).first() is None  # erased
        notice = session.scalars(select(ErasureNotice)).one()
        assert notice.language == "en" and len(notice.participant_id) <= 32
    clock.advance(days=3)
    replies = say(runtime, "sms", "START")
    assert replies[0] == "As you asked, we deleted everything we held about you on 7 December 2026."
    with runtime.sessions() as session:
        assert session.scalars(select(ErasureNotice)).first() is None  # told once
