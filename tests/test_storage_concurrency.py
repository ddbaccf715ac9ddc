"""Races between transactions on separate connections, on SQLite and PostgreSQL.

Each worker runs in its own thread with its own unit of work (its own connection), and
holds its transaction open for a moment after writing so that the others really overlap
with it. On PostgreSQL the row locks decide; on SQLite, BEGIN IMMEDIATE makes the
transactions queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from sqlalchemy import Engine, func, select, text

from storage.models import Conversation, InboundMessage, Participant
from storage.uow import UnitOfWork

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
PID = "pabcdefghijklmnopqrstuvwx"
HOLD = 0.15  # seconds each worker keeps its transaction open after writing
T = TypeVar("T")
UowFactory = Callable[[], UnitOfWork]


def race(workers: int, work: Callable[[int], T]) -> list[T]:
    """Run `work(i)` in `workers` threads released together; their results, in order."""
    barrier = threading.Barrier(workers)
    results: list[T | None] = [None] * workers
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    assert errors == []
    return results  # type: ignore[return-value]


def add_participant(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.participants.ensure(PID, "sms", NOW)
        uow.commit()


def test_inbound_claim_race_has_one_winner(uow_factory: UowFactory) -> None:
    add_participant(uow_factory)

    def claim(_: int) -> int | None:
        with uow_factory() as uow:
            claimed = uow.inbound.claim("sms", "SM-duplicate", PID, NOW)
            time.sleep(HOLD)
            uow.commit()
            return claimed

    results = race(4, claim)
    winners = [r for r in results if r is not None]
    assert len(winners) == 1, results
    with uow_factory() as uow:
        assert uow.session.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_ensure_race_creates_one_participant(uow_factory: UowFactory) -> None:
    def ensure(i: int) -> str:
        with uow_factory() as uow:
            participant = uow.participants.ensure(PID, "sms", NOW)
            time.sleep(HOLD)
            uow.commit()
            return participant.id

    assert race(4, ensure) == [PID] * 4
    with uow_factory() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Participant)) == 1


def test_outbox_claims_never_overlap(uow_factory: UowFactory) -> None:
    add_participant(uow_factory)
    with uow_factory() as uow:
        ids = {uow.outbox.add(PID, "sms", {"text": str(n)}, NOW) for n in range(10)}
        uow.commit()

    def claim(_: int) -> list[int]:
        with uow_factory() as uow:
            claimed = [m.id for m in uow.outbox.claim_due(NOW, limit=5)]
            time.sleep(HOLD)
            uow.commit()
            return claimed

    first, second = race(2, claim)
    assert set(first).isdisjoint(second)
    # Each sender got a full batch: locked rows were skipped, not waited for and lost.
    assert set(first) | set(second) == ids


def test_outbox_skip_locked_does_not_wait(uow_factory: UowFactory, engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises whole transactions; SKIP LOCKED is PostgreSQL's")
    add_participant(uow_factory)
    with uow_factory() as uow:
        ids = [uow.outbox.add(PID, "sms", {"text": str(n)}, NOW) for n in range(4)]
        uow.commit()
    with uow_factory() as first, uow_factory() as second:
        assert [m.id for m in first.outbox.claim_due(NOW, limit=2)] == ids[:2]
        # Fail fast instead of hanging if the second sender blocked on the first's rows.
        second.session.execute(text("SET LOCAL lock_timeout = '2s'"))
        assert [m.id for m in second.outbox.claim_due(NOW, limit=2)] == ids[2:]
        assert second.outbox.claim_due(NOW, limit=2) == []


def test_conversation_updates_are_serialised(uow_factory: UowFactory) -> None:
    # Two messages from one person arriving together: each handler reads the state and
    # writes it back. Without the lock one update would be lost. No conversation row
    # exists at first, so this also covers a person's very first messages.
    add_participant(uow_factory)

    def handle(_: int) -> None:
        with uow_factory() as uow:
            conversation = uow.conversations.get_for_update(PID)
            seen = conversation.state["count"] if conversation else 0
            time.sleep(HOLD)
            uow.conversations.save(PID, {"count": seen + 1}, None, NOW)
            uow.commit()

    race(4, handle)
    with uow_factory() as uow:
        conversation = uow.session.get(Conversation, PID)
        assert conversation is not None and conversation.state == {"count": 4}


def test_survey_store_race(uow_factory: UowFactory) -> None:
    # Several workers loading the survey library at start-up.
    def store(_: int) -> bool:
        with uow_factory() as uow:
            stored = uow.surveys.store("carers", 1, "Carers", "src", "a" * 64, NOW)
            time.sleep(HOLD)
            uow.commit()
            return stored

    assert sorted(race(3, store)) == [False, False, True]
