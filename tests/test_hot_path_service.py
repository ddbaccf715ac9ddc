"""What the service skips on the webhook hot path, and that skipping changes nothing.

`WithUsService.handle` leaves out statements that would change nothing: re-encrypting an
unchanged vault entry, cancelling invitations when none wait, releasing held replies when
none are held, deleting a skip that does not exist. These tests count the statements a
message costs (a SQLAlchemy event listener, no timing) and check that every effect those
statements have when they are needed still happens.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select

from bot.services.runtime import Runtime
from channels.base import InboundMessage
from channels.local import ConsoleChannel
from storage.models import Answer, OutboxMessage, VaultEntry
from storage.repositories.people import VAULT_SEEN_GRANULARITY
from storage.uow import UnitOfWork
from tests.helpers import FakeClock, make_runtime
from tests.test_outreach import Recorder

PHONE = "07700 900123"  # Ofcom's drama range: never a real person


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Runtime]:
    rt = make_runtime(database_url, tmp_path, clock=clock,
                      channels={"fake": Recorder("fake"), "whatsapp": Recorder("whatsapp"),
                                "console": ConsoleChannel(io.StringIO())},
                      default_survey="fft")
    yield rt
    rt.close()


_ids = iter(range(1, 10**6))


def say(runtime: Runtime, text: str, channel: str = "fake") -> list[str]:
    """One message through the service; returns the statements it ran."""
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(runtime.engine, "before_cursor_execute", seen)
    try:
        runtime.service.handle(InboundMessage(channel, PHONE, f"m{next(_ids)}", "text",
                                              text=text))
    finally:
        event.remove(runtime.engine, "before_cursor_execute", seen)
    return statements


def pid(runtime: Runtime, channel: str = "fake") -> str:
    return runtime.service.pseudonym(channel, PHONE)


def vault_entry(runtime: Runtime) -> VaultEntry:
    with runtime.sessions() as session:
        return session.scalars(select(VaultEntry)).one()


def touching(statements: list[str], table: str) -> list[str]:
    """The statements that write to `table`."""
    writes = (f"INSERT INTO {table} ", f"UPDATE {table} ", f"DELETE FROM {table} ")
    return [s for s in statements if s.startswith(writes)]


def test_a_known_contact_costs_no_vault_write_and_no_outbox_update(
    runtime: Runtime, clock: FakeClock
) -> None:
    first = say(runtime, "hello")
    assert len(touching(first, "vault_entries")) == 1  # a newcomer's address is stored
    stored = vault_entry(runtime)
    clock.advance(minutes=2)
    second = say(runtime, "English")
    assert touching(second, "vault_entries") == []
    assert [s for s in second if s.startswith("UPDATE outbox_messages")] == []
    assert [s for s in second if s.startswith("DELETE")] == []
    again = vault_entry(runtime)
    assert (again.ciphertext, again.last_seen_at) == (stored.ciphertext, stored.last_seen_at)
    assert runtime.vault.decrypt(again.ciphertext) == "+447700900123"


def test_a_contact_last_seen_long_ago_is_refreshed(runtime: Runtime, clock: FakeClock) -> None:
    say(runtime, "hello")
    stored = vault_entry(runtime)
    clock.advance(seconds=VAULT_SEEN_GRANULARITY.total_seconds())
    assert len(touching(say(runtime, "English"), "vault_entries")) == 1
    entry = vault_entry(runtime)
    assert entry.last_seen_at == clock.now and entry.created_at == stored.created_at
    assert runtime.vault.decrypt(entry.ciphertext) == "+447700900123"


def test_an_expiring_entry_is_made_permanent_by_a_message(runtime: Runtime,
                                                          clock: FakeClock) -> None:
    say(runtime, "hello")
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        uow.vault.store(pid(runtime), "fake", "+447700900123", clock.now,
                        expires_at=clock.now + timedelta(days=5))
        uow.commit()
    say(runtime, "English")
    assert vault_entry(runtime).expires_at is None


def test_a_waiting_invitation_is_cancelled_when_they_write(runtime: Runtime,
                                                           clock: FakeClock) -> None:
    say(runtime, "hello")
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        waiting = uow.outbox.add(pid(runtime), "fake", {"text": "Reply FFT"}, clock.now,
                                 kind="invitation", not_before=clock.now + timedelta(hours=8))
        uow.commit()
    statements = say(runtime, "English")
    assert len([s for s in statements if s.startswith("UPDATE outbox_messages")]) == 1
    with runtime.sessions() as session:
        row = session.get_one(OutboxMessage, waiting)
    assert row.status == "dead"


def test_held_whatsapp_replies_are_released_when_they_write(runtime: Runtime,
                                                            clock: FakeClock) -> None:
    say(runtime, "hello", channel="whatsapp")
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        held = uow.outbox.add(pid(runtime, "whatsapp"), "whatsapp", {"text": "Next"},
                              clock.now, status="held")
        uow.commit()
    clock.advance(minutes=1)
    say(runtime, "English", channel="whatsapp")
    with runtime.sessions() as session:
        row = session.get_one(OutboxMessage, held)
    assert row.status == "pending" and row.next_attempt_at == clock.now


def test_a_value_after_skip_and_back_replaces_the_skip(runtime: Runtime) -> None:
    for text in ("CARERS", "English", "yes", "1", "1"):  # to 'missing', which is optional
        say(runtime, text)
    say(runtime, "SKIP")
    say(runtime, "BACK")
    deleted = [s for s in say(runtime, "More help at night.")
               if s.startswith("DELETE FROM answers")]
    assert len(deleted) == 1  # there is a skip now, so the value must remove it
    say(runtime, "3")
    with runtime.sessions() as session:
        answers = [(a.question_id, a.kind) for a in session.scalars(
            select(Answer).order_by(Answer.id))]
    assert answers == [("hours", "value"), ("helps", "value"), ("missing", "value"),
                       ("time_for_me", "value")]


def test_a_first_answer_runs_no_delete(runtime: Runtime) -> None:
    for text in ("hello", "English", "yes"):
        say(runtime, text)
    statements = say(runtime, "4")
    assert [s for s in statements if s.startswith("DELETE")] == []
    assert len([s for s in statements if s.startswith("INSERT INTO answers")]) == 1


def test_replies_and_state_are_one_statement_on_postgresql(runtime: Runtime) -> None:
    statements = say(runtime, "hello")  # two replies: the language question, and more
    writes = [s for s in statements
              if "INSERT INTO outbox_messages" in s or "INSERT INTO conversations" in s]
    if runtime.engine.dialect.name == "postgresql":
        assert len(writes) == 1, writes
        assert writes[0].startswith("WITH saved_conversation AS (INSERT INTO conversations")
    else:
        assert [s.split(" (")[0] for s in writes][-1] == "INSERT INTO conversations"
        assert len(writes) >= 2
