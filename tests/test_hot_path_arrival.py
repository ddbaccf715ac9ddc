"""The webhook hot path's one read (`ConversationRepository.arrival`), on both databases.

The service runs `cancel_waiting`, `release_held`, the DELETE of a replaced skip and the
vault write only when `arrival` says they could change something. So each flag must be
true exactly when the statement it stands for would change a row: these tests hold the
flags to the real statements, row kind by row kind, so that a change to one is caught.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from storage.models import OUTBOX_KINDS, OUTBOX_STATUSES, OutboxMessage, VaultEntry
from storage.repositories.outreach import OutreachRepository
from storage.repositories.people import VAULT_SEEN_GRANULARITY, VaultState
from storage.uow import UnitOfWork

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PID = "pabcdefghijklmnopqrstuvwx"
ADDRESS = "+447700900123"
UowFactory = Callable[[], UnitOfWork]

#: An outbox row's next_attempt_at: before, at and after the message arrives.
WHEN = (NOW - timedelta(minutes=5), NOW, NOW + timedelta(hours=9))


def _with_row(uow: UnitOfWork, status: str, kind: str, when: datetime) -> None:
    uow.participants.ensure(PID, "sms", NOW)
    outbox_id = uow.outbox.add(PID, "sms", {"text": "hi"}, NOW, kind=kind)
    uow.session.execute(
        update(OutboxMessage).where(OutboxMessage.id == outbox_id)
        .values(status=status, next_attempt_at=when)
    )  # fmt: skip


def test_outreach_waiting_is_true_exactly_when_cancel_waiting_cancels(
    uow_factory: UowFactory,
) -> None:
    seen = set()
    for status, kind, when in itertools.product(OUTBOX_STATUSES, OUTBOX_KINDS, WHEN):
        with uow_factory() as uow:  # rolled back on leaving
            _with_row(uow, status, kind, when)
            flag = uow.conversations.arrival(PID, NOW).outreach_waiting
            cancelled = OutreachRepository(uow.session).cancel_waiting(PID, NOW)
            assert flag == (cancelled > 0), (status, kind, when)
            seen.add(flag)
    assert seen == {True, False}


def test_held_is_true_exactly_when_release_held_releases(uow_factory: UowFactory) -> None:
    seen = set()
    for status, kind, when in itertools.product(OUTBOX_STATUSES, OUTBOX_KINDS, WHEN):
        with uow_factory() as uow:
            _with_row(uow, status, kind, when)
            flag = uow.conversations.arrival(PID, NOW).held
            assert flag == (uow.outbox.release_held(PID, NOW) > 0), (status, kind, when)
            seen.add(flag)
    assert seen == {True, False}


def test_another_persons_rows_raise_no_flag(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.participants.ensure(PID, "sms", NOW)
        uow.participants.ensure("pother", "sms", NOW)
        uow.outbox.add("pother", "sms", {"text": "hi"}, NOW, status="held", kind="invitation",
                       not_before=NOW + timedelta(hours=9))
        response = uow.responses.start("pother", "fft", 1, "sms", "en", NOW)
        uow.answers.record(response, "pother", "fft", "why", "skipped", None, None, 1, NOW)
        uow.vault.store("pother", "sms", "+447700900999", NOW)
        arrival = uow.conversations.arrival(PID, NOW)
    assert (arrival.conversation, arrival.vault, arrival.outreach_waiting, arrival.held,
            arrival.skipped_answers) == (None, None, False, False, False)


def test_the_conversation_and_its_skipped_answers(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.participants.ensure(PID, "sms", NOW)
        assert uow.conversations.arrival(PID, NOW).conversation is None
        response = uow.responses.start(PID, "fft", 1, "sms", "en", NOW)
        uow.conversations.save(PID, {"survey": "fft", "q": "why"}, response, NOW)
        uow.answers.record(response, PID, "fft", "overall", "value", "good", "Good", 1, NOW)
        arrival = uow.conversations.arrival(PID, NOW)
        assert arrival.conversation is not None
        assert arrival.conversation.state == {"survey": "fft", "q": "why"}
        assert arrival.conversation.response_id == response
        assert arrival.skipped_answers is False
        uow.answers.record(response, PID, "fft", "why", "skipped", None, None, 1, NOW)
        assert uow.conversations.arrival(PID, NOW).skipped_answers is True
        # A skip in an earlier response of theirs is not this conversation's business.
        newer = uow.responses.start(PID, "fft", 1, "sms", "en", NOW)
        uow.conversations.save(PID, {"survey": "fft", "q": "overall"}, newer, NOW)
        assert uow.conversations.arrival(PID, NOW).skipped_answers is False


def test_a_value_recorded_without_the_delete_still_replaces_nothing_else(
    uow_factory: UowFactory,
) -> None:
    """`may_have_other=False` skips only the DELETE: the upsert is the same."""
    with uow_factory() as uow:
        uow.participants.ensure(PID, "sms", NOW)
        response = uow.responses.start(PID, "fft", 1, "sms", "en", NOW)
        uow.answers.record(response, PID, "fft", "overall", "value", "good", "Good", 1, NOW,
                           may_have_other=False)
        uow.answers.record(response, PID, "fft", "overall", "value", "poor", "Poor", 1, NOW,
                           may_have_other=False)
        assert [(a.kind, a.value) for a in uow.answers.for_response(response)] == [
            ("value", "poor")
        ]
        uow.answers.record(response, PID, "fft", "overall", "skipped", None, None, 1, NOW)
        assert [a.kind for a in uow.answers.for_response(response)] == ["skipped"]


# ------------------------------------------------------------------------------ the vault


def _entry(uow: UnitOfWork) -> VaultEntry:
    return uow.session.scalars(
        select(VaultEntry).where(VaultEntry.participant_id == PID)
        .execution_options(populate_existing=True)
    ).one()  # fmt: skip


def test_arrival_reads_the_vault_entry_without_its_ciphertext(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.participants.ensure(PID, "sms", NOW)
        uow.vault.store(PID, "sms", ADDRESS, NOW, expires_at=NOW + timedelta(days=3))
        assert uow.conversations.arrival(PID, NOW).vault == VaultState(
            "sms", NOW, NOW + timedelta(days=3)
        )


def test_an_unchanged_contact_is_not_rewritten(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.participants.ensure(PID, "sms", NOW)
        assert uow.vault.refresh(PID, "sms", ADDRESS, NOW, None) is True  # new: stored
        stored = _entry(uow).ciphertext
        later = NOW + VAULT_SEEN_GRANULARITY - timedelta(seconds=1)
        known = uow.conversations.arrival(PID, later).vault
        assert uow.vault.refresh(PID, "sms", ADDRESS, later, known) is False
        entry = _entry(uow)
        assert (entry.ciphertext, entry.last_seen_at) == (stored, NOW)
        assert uow.vault.address(PID) == ADDRESS


@pytest.mark.parametrize("why", ["stale", "expiring", "other channel", "clock went back"])
def test_a_contact_is_rewritten_when_the_entry_is_not_current(
    uow_factory: UowFactory, why: str
) -> None:
    when = NOW + (VAULT_SEEN_GRANULARITY if why == "stale" else timedelta(minutes=1))
    if why == "clock went back":
        when = NOW - timedelta(minutes=1)
    with uow_factory() as uow:
        uow.participants.ensure(PID, "sms", NOW)
        uow.vault.store(PID, "whatsapp" if why == "other channel" else "sms", ADDRESS, NOW,
                        expires_at=NOW + timedelta(days=1) if why == "expiring" else None)
        stored = _entry(uow).ciphertext
        known = uow.conversations.arrival(PID, when).vault
        assert uow.vault.refresh(PID, "sms", ADDRESS, when, known) is True
        entry = _entry(uow)
        assert entry.ciphertext != stored
        assert (entry.channel, entry.last_seen_at, entry.expires_at) == ("sms", when, None)
        assert entry.created_at == NOW


# ------------------------------------------------------------------ arrive_and_read


def test_arrive_and_read_reads_what_arrival_reads(uow_factory: UowFactory,
                                                  database_kind: str) -> None:
    """On SQLite one statement does both; on PostgreSQL the read is left to `arrival`."""
    with uow_factory() as uow:

        def both() -> None:
            opted_out_at, arrival = uow.participants.arrive_and_read(PID, "sms", NOW)
            assert opted_out_at == uow.participants.get(PID).opted_out_at  # type: ignore[union-attr]
            if database_kind == "postgres":
                assert arrival is None
            else:
                assert arrival == uow.conversations.arrival(PID, NOW)

        both()  # a newcomer: nothing at all
        uow.vault.store(PID, "sms", ADDRESS, NOW, expires_at=NOW + timedelta(days=2))
        response = uow.responses.start(PID, "fft", 1, "sms", "en", NOW)
        uow.conversations.save(PID, {"survey": "fft", "q": "why", "asked": ["overall"]},
                               response, NOW)
        both()
        uow.answers.record(response, PID, "fft", "why", "skipped", None, None, 1, NOW)
        uow.outbox.add(PID, "sms", {"text": "hi"}, NOW, status="held", kind="invitation",
                       not_before=NOW + timedelta(hours=9))
        uow.participants.set_opted_out(PID, NOW)
        both()
        if database_kind == "sqlite":
            _opted, arrival = uow.participants.arrive_and_read(PID, "sms", NOW)
            assert arrival is not None and arrival.conversation is not None
            assert (arrival.outreach_waiting, arrival.held, arrival.skipped_answers) == (
                True, True, True)
            assert arrival.conversation.state["asked"] == ["overall"]
            assert arrival.vault == VaultState("sms", NOW, NOW + timedelta(days=2))
