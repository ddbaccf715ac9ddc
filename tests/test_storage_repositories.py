"""Repositories and the unit of work, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from storage.errors import SurveyVersionConflict, VaultDecryptionError
from storage.models import (
    Answer,
    Consent,
    Conversation,
    InboundMessage,
    OutboxMessage,
    Response,
    VaultEntry,
)
from storage.repositories import safe_error
from storage.uow import UnitOfWork
from storage.vault import ContactVault, generate_key

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
PID = "pabcdefghijklmnopqrstuvwx"
UowFactory = Callable[[], UnitOfWork]


@pytest.fixture
def uow(uow_factory: UowFactory) -> Any:
    """An open unit of work with one participant, for single-transaction tests."""
    with uow_factory() as unit:
        unit.participants.ensure(PID, "sms", NOW)
        yield unit


def start_response(uow: UnitOfWork, survey_id: str = "carers", pid: str = PID) -> int:
    return uow.responses.start(pid, survey_id, 1, "sms", "en", NOW)


def count(uow: UnitOfWork, model: type[Any]) -> int:
    return uow.session.scalar(select(func.count()).select_from(model)) or 0


# ----------------------------------------------------------------------- unit of work


def test_commit_persists(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        participant = uow.participants.ensure(PID, "sms", NOW)
        uow.commit()
    assert participant.channel == "sms"  # still readable: expire_on_commit=False
    with uow_factory() as uow:
        assert uow.participants.get(PID) is not None


def test_leaving_without_commit_rolls_back(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.participants.ensure(PID, "sms", NOW)
    with uow_factory() as uow:
        assert uow.participants.get(PID) is None


def test_an_exception_rolls_back(uow_factory: UowFactory) -> None:
    with pytest.raises(RuntimeError), uow_factory() as uow:
        uow.participants.ensure(PID, "sms", NOW)
        raise RuntimeError("boom")
    with uow_factory() as uow:
        assert uow.participants.get(PID) is None


def test_explicit_rollback(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.participants.ensure(PID, "sms", NOW)
        uow.rollback()
        uow.participants.ensure("pother", "sms", NOW)
        uow.commit()
    with uow_factory() as uow:
        assert uow.participants.get(PID) is None
        assert uow.participants.get("pother") is not None


# ----------------------------------------------------------------------- participants


def test_ensure_is_idempotent(uow: UnitOfWork) -> None:
    again = uow.participants.ensure(PID, "whatsapp", LATER)
    assert (again.channel, again.created_at) == ("sms", NOW)  # the first insert stands


def test_opt_out_and_language(uow: UnitOfWork) -> None:
    uow.participants.set_opted_out(PID, LATER)
    uow.participants.set_language(PID, "cy")
    participant = uow.participants.get(PID)
    assert participant is not None
    assert (participant.opted_out_at, participant.language) == (LATER, "cy")
    uow.participants.set_opted_out(PID, None)
    assert participant.opted_out_at is None


def test_deleting_a_participant_erases_everything(uow: UnitOfWork) -> None:
    uow.vault.store(PID, "sms", "+447700900123", NOW)
    response_id = start_response(uow)
    uow.answers.record(response_id, PID, "carers", "q1", "value", 3, "Three", 1, NOW)
    uow.consents.record(PID, "carers", 1, "given", "sms", NOW)
    uow.conversations.save(PID, {"at": "q1"}, response_id, NOW)
    inbound_id = uow.inbound.claim("sms", "SM1", PID, NOW)
    uow.outbox.add(PID, "sms", {"text": "hi"}, NOW)
    uow.session.commit()

    uow.participants.delete(PID)
    uow.session.commit()
    for model in (VaultEntry, Response, Answer, Consent, Conversation, OutboxMessage):
        assert count(uow, model) == 0, model.__name__
    # The dedupe record survives without the link, so a redelivery is still ignored.
    inbound = uow.session.get(InboundMessage, inbound_id)
    assert inbound is not None and inbound.participant_id is None
    assert uow.inbound.claim("sms", "SM1", None, NOW) is None


# ------------------------------------------------------------------------------ vault


def test_vault_store_and_read(uow: UnitOfWork) -> None:
    assert uow.vault.address(PID) is None
    uow.vault.store(PID, "sms", "+447700900123", NOW, expires_at=LATER)
    assert uow.vault.address(PID) == "+447700900123"


def test_vault_store_again_replaces_and_refreshes(uow: UnitOfWork) -> None:
    uow.vault.store(PID, "sms", "+447700900123", NOW)
    entry = uow.session.get(VaultEntry, PID)
    uow.vault.store(PID, "sms", "+447700900999", LATER)
    assert uow.vault.address(PID) == "+447700900999"
    assert entry is not None
    assert (entry.created_at, entry.last_seen_at) == (NOW, LATER)


def test_vault_delete(uow: UnitOfWork) -> None:
    uow.vault.store(PID, "sms", "+447700900123", NOW)
    uow.vault.delete(PID)
    assert uow.vault.address(PID) is None
    assert uow.participants.get(PID) is not None  # only the contact details go


def test_vault_delete_expired(uow: UnitOfWork) -> None:
    uow.participants.ensure("pkeep", "sms", NOW)
    uow.participants.ensure("pforever", "sms", NOW)
    uow.vault.store(PID, "sms", "+447700900123", NOW, expires_at=NOW + timedelta(days=1))
    uow.vault.store("pkeep", "sms", "+447700900124", NOW, expires_at=NOW + timedelta(days=9))
    uow.vault.store("pforever", "sms", "+447700900125", NOW)
    assert uow.vault.delete_expired(NOW + timedelta(days=2)) == 1
    assert uow.vault.address(PID) is None
    assert uow.vault.address("pkeep") == "+447700900124"
    assert uow.vault.address("pforever") == "+447700900125"


def test_vault_rotate_all(sessions: Any) -> None:
    old, new = generate_key(), generate_key()
    with UnitOfWork(sessions, ContactVault([old])) as uow:
        for n in range(3):
            uow.participants.ensure(f"p{n}", "sms", NOW)
            uow.vault.store(f"p{n}", "sms", f"+44770090010{n}", NOW)
        uow.commit()
    with UnitOfWork(sessions, ContactVault([new, old])) as uow:
        assert uow.vault.rotate_all() == 3
        uow.commit()
    with UnitOfWork(sessions, ContactVault([new])) as uow:
        assert [uow.vault.address(f"p{n}") for n in range(3)] == [
            "+447700900100",
            "+447700900101",
            "+447700900102",
        ]
    with UnitOfWork(sessions, ContactVault([old])) as uow, pytest.raises(VaultDecryptionError):
        uow.vault.address("p0")


# ---------------------------------------------------------------------- conversations


def test_conversation_json_roundtrip(uow_factory: UowFactory) -> None:
    state = {
        "survey": "carers",
        "position": 3,
        "history": ["q1", "q2"],
        "answers": {"q1": [1, 2], "q2": None, "q3": {"nested": True}},
        "text": "Diolch — 💙",
    }
    with uow_factory() as uow:
        uow.participants.ensure(PID, "sms", NOW)
        response_id = start_response(uow)
        uow.conversations.save(PID, state, response_id, NOW)
        uow.commit()
    with uow_factory() as uow:
        conversation = uow.conversations.get_for_update(PID)
        assert conversation is not None
        assert conversation.state == state
        assert (conversation.response_id, conversation.updated_at) == (response_id, NOW)


def test_conversation_save_replaces(uow: UnitOfWork) -> None:
    assert uow.conversations.get_for_update(PID) is None
    uow.conversations.save(PID, {"step": 1}, None, NOW)
    first = uow.conversations.get_for_update(PID)
    uow.conversations.save(PID, {"step": 2}, None, LATER)
    second = uow.conversations.get_for_update(PID)
    assert second is first  # same identity, refreshed
    assert second is not None and (second.state, second.updated_at) == ({"step": 2}, LATER)


def test_conversation_loses_deleted_response(uow: UnitOfWork) -> None:
    response_id = start_response(uow)
    uow.conversations.save(PID, {}, response_id, NOW)
    uow.session.execute(delete(Response))
    conversation = uow.conversations.get_for_update(PID)
    assert conversation is not None and conversation.response_id is None


# -------------------------------------------------------------------------- responses


def test_response_lifecycle(uow: UnitOfWork) -> None:
    response_id = start_response(uow)
    response = uow.responses.get(response_id)
    assert response is not None
    assert (response.status, response.started_at, response.consented_at) == ("started", NOW, None)
    uow.responses.set_status(response_id, "consented", LATER)
    assert (response.status, response.consented_at) == ("consented", LATER)
    done = LATER + timedelta(minutes=5)
    uow.responses.set_status(response_id, "completed", done)
    assert (response.status, response.completed_at, response.updated_at) == (
        "completed",
        done,
        done,
    )
    assert response.consented_at == LATER


def test_response_status_is_checked(uow: UnitOfWork) -> None:
    response_id = start_response(uow)
    with pytest.raises(ValueError, match="unknown response status"):
        uow.responses.set_status(response_id, "finished", NOW)


def test_response_counts(uow: UnitOfWork) -> None:
    for survey_id, status in [
        ("carers", "completed"),
        ("carers", "completed"),
        ("carers", "stopped"),
        ("workers", "completed"),
        ("pilot", "started"),
    ]:
        response_id = start_response(uow, survey_id)
        uow.responses.set_status(response_id, status, NOW)
    assert uow.responses.count_completed("carers") == 2
    assert uow.responses.count_completed("nothing") == 0
    assert uow.responses.counts_by_survey() == {"carers": 2, "workers": 1}


# ---------------------------------------------------------------------------- answers


def test_answer_upsert_replaces_after_back(uow: UnitOfWork) -> None:
    response_id = start_response(uow)
    uow.answers.record(response_id, PID, "carers", "q1", "value", 2, "Two", 1, NOW)
    uow.answers.record(response_id, PID, "carers", "q2", "value", ["a", "c"], "A, C", 1, NOW)
    first = uow.answers.for_response(response_id)[0]
    uow.answers.record(response_id, PID, "carers", "q1", "value", 4, "Four", 1, LATER)
    answers = uow.answers.for_response(response_id)
    assert [(a.question_id, a.value, a.label) for a in answers] == [
        ("q1", 4, "Four"),
        ("q2", ["a", "c"], "A, C"),
    ]
    assert answers[0] is first and first.answered_at == LATER


def test_answer_value_and_skip_exclude_each_other(uow: UnitOfWork) -> None:
    response_id = start_response(uow)
    uow.answers.record(response_id, PID, "carers", "q1", "value", "yes", "Yes", 1, NOW)
    uow.answers.record(response_id, PID, "carers", "q1", "media", {"type": "image"}, None, 1, NOW)
    uow.answers.record(response_id, PID, "carers", "q1", "skipped", None, None, 1, LATER)
    kinds = [(a.kind, a.value) for a in uow.answers.for_response(response_id)]
    assert sorted(kinds, key=str) == sorted(
        [("media", {"type": "image"}), ("skipped", None)], key=str
    )
    uow.answers.record(response_id, PID, "carers", "q1", "value", "no", "No", 1, LATER)
    kinds = [(a.kind, a.value) for a in uow.answers.for_response(response_id)]
    assert sorted(kinds, key=str) == sorted(
        [("media", {"type": "image"}), ("value", "no")], key=str
    )


def test_answer_none_is_sql_null(uow: UnitOfWork) -> None:
    response_id = start_response(uow)
    uow.answers.record(response_id, PID, "carers", "q1", "skipped", None, None, 1, NOW)
    nulls = uow.session.scalar(
        select(func.count()).select_from(Answer).where(Answer.value.is_(None))
    )
    assert nulls == 1


def test_answer_kind_is_checked(uow: UnitOfWork) -> None:
    response_id = start_response(uow)
    with pytest.raises(ValueError, match="unknown answer kind"):
        uow.answers.record(response_id, PID, "carers", "q1", "text", "x", None, 1, NOW)


# --------------------------------------------------------------------------- consents


def test_consent_is_appended(uow: UnitOfWork) -> None:
    uow.consents.record(PID, "carers", 1, "declined", "sms", NOW)
    uow.consents.record(PID, "carers", 1, "given", "sms", LATER)
    decisions = uow.session.scalars(select(Consent.decision).order_by(Consent.id)).all()
    assert decisions == ["declined", "given"]
    with pytest.raises(ValueError, match="unknown consent decision"):
        uow.consents.record(PID, "carers", 1, "maybe", "sms", NOW)


# ---------------------------------------------------------------------------- inbound


def test_inbound_claim_is_idempotent(uow: UnitOfWork) -> None:
    first = uow.inbound.claim("sms", "SM123", PID, NOW)
    assert isinstance(first, int)
    assert uow.inbound.claim("sms", "SM123", PID, LATER) is None
    # The same provider id on another channel is another message.
    assert isinstance(uow.inbound.claim("whatsapp", "SM123", PID, NOW), int)
    # Before the participant exists (no pseudonym yet), too.
    assert isinstance(uow.inbound.claim("telegram", "42", None, NOW), int)


def test_inbound_prune(uow: UnitOfWork) -> None:
    uow.inbound.claim("sms", "old", PID, NOW - timedelta(days=30))
    uow.inbound.claim("sms", "new", PID, NOW)
    assert uow.inbound.prune(NOW - timedelta(days=7)) == 1
    assert uow.inbound.claim("sms", "new", PID, NOW) is None


# ----------------------------------------------------------------------------- outbox


def test_outbox_claim_due_oldest_first(uow: UnitOfWork) -> None:
    payload = {"text": "Hello", "choices": [["yes", "Yes"]], "multiple": False}
    first = uow.outbox.add(PID, "sms", payload, NOW)
    second = uow.outbox.add(PID, "sms", {"text": "2"}, NOW)
    uow.outbox.add(PID, "sms", {"text": "later"}, NOW, not_before=LATER)
    uow.outbox.add(PID, "sms", {"text": "held"}, NOW, status="held")
    uow.outbox.add(PID, "telegram", {"text": "tg"}, NOW)
    claimed = uow.outbox.claim_due(NOW, limit=2, channel="sms")
    assert [m.id for m in claimed] == [first, second]
    assert all(m.status == "sending" for m in claimed)
    assert claimed[0].payload == payload and claimed[0].attempts == 0
    assert uow.outbox.claim_due(NOW, limit=10, channel="sms") == []
    assert [m.payload["text"] for m in uow.outbox.claim_due(NOW, limit=10)] == ["tg"]
    assert [m.payload["text"] for m in uow.outbox.claim_due(LATER, limit=10)] == ["later"]


def test_outbox_sent_and_delivery_reports(uow: UnitOfWork) -> None:
    message_id = uow.outbox.add(PID, "sms", {"text": "hi"}, NOW, in_reply_to=7)
    uow.outbox.claim_due(NOW, 10)
    uow.outbox.mark_sent(message_id, ["SMa", "SMb"], LATER)
    message = uow.outbox.get(message_id)
    assert message is not None
    assert (message.status, message.sent_at, message.provider_message_ids) == (
        "sent",
        LATER,
        ["SMa", "SMb"],
    )
    assert message.in_reply_to == 7
    assert uow.outbox.mark_status_by_provider_id("SMb", "delivered", None) == message_id
    assert message.status == "delivered"
    # A late "sent" report does not undo "delivered".
    assert uow.outbox.mark_status_by_provider_id("SMa", "sent", None) == message_id
    assert message.status == "delivered"
    assert uow.outbox.mark_status_by_provider_id("SMa", "failed", 30007) == message_id
    assert (message.status, message.last_error) == ("failed", "provider error 30007")
    assert uow.outbox.mark_status_by_provider_id("SMunknown", "delivered", None) is None
    with pytest.raises(ValueError, match="unknown delivery status"):
        uow.outbox.mark_status_by_provider_id("SMa", "undelivered", None)


def test_outbox_retry_dead_and_requeue(uow: UnitOfWork) -> None:
    message_id = uow.outbox.add(PID, "sms", {"text": "hi"}, NOW)
    uow.outbox.claim_due(NOW, 10)
    uow.outbox.mark_retry(message_id, "timeout", LATER)
    message = uow.outbox.get(message_id)
    assert message is not None
    assert (message.status, message.attempts, message.last_error) == ("pending", 1, "timeout")
    assert uow.outbox.claim_due(NOW, 10) == []
    assert [m.id for m in uow.outbox.claim_due(LATER, 10)] == [message_id]
    # A sender that died after claiming: the message goes back after the cut-off.
    assert uow.outbox.requeue_stuck(claimed_before=LATER) == 0
    assert uow.outbox.requeue_stuck(claimed_before=LATER + timedelta(minutes=10)) == 1
    assert message.status == "pending"
    uow.outbox.mark_dead(message_id, "x" * 500)
    assert message.status == "dead" and message.last_error == "x" * 200


def test_outbox_hold_and_release(uow: UnitOfWork) -> None:
    held = uow.outbox.add(PID, "whatsapp", {"text": "reminder"}, NOW, status="held")
    other = uow.outbox.add(PID, "whatsapp", {"text": "x"}, NOW)
    uow.outbox.claim_due(NOW, 10)
    uow.outbox.mark_held(other, "outside the 24-hour window")
    assert [m.id for m in uow.outbox.pending_for(PID)] == [held, other]
    assert uow.outbox.claim_due(LATER, 10) == []
    assert uow.outbox.release_held(PID, LATER) == 2
    claimed = uow.outbox.claim_due(LATER, 10)
    assert [m.id for m in claimed] == [held, other]
    assert uow.outbox.pending_for(PID) == []


def test_outbox_release_keeps_a_later_not_before(uow: UnitOfWork) -> None:
    uow.outbox.add(PID, "sms", {"text": "x"}, NOW, status="held", not_before=LATER)
    assert uow.outbox.release_held(PID, NOW) == 1
    assert uow.outbox.claim_due(NOW, 10) == []
    assert len(uow.outbox.claim_due(LATER, 10)) == 1


def test_outbox_initial_status_is_checked(uow: UnitOfWork) -> None:
    with pytest.raises(ValueError, match="initial outbox status"):
        uow.outbox.add(PID, "sms", {"text": "x"}, NOW, status="sent")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("The 'To' number +447700900123 is not valid", "The 'To' number [number] is not valid"),
        ("chat 123456789 not found", "chat [number] not found"),
        ("Forbidden: bot was blocked (-1001234567890)", "Forbidden: bot was blocked ([number])"),
        ("call 07700 900 123 now", "call [number] now"),
        ("HTTP 429, error 30007, retry in 5", "HTTP 429, error 30007, retry in 5"),
    ],
)
def test_errors_are_stored_without_numbers(error: str, expected: str) -> None:
    assert safe_error(error) == expected


# ---------------------------------------------------------------------------- surveys


def test_survey_store_and_conflict(uow: UnitOfWork) -> None:
    assert uow.surveys.store("carers", 1, "Carers", "id: carers\n", "a" * 64, NOW) is True
    assert uow.surveys.store("carers", 1, "Carers", "id: carers\n", "a" * 64, LATER) is False
    with pytest.raises(SurveyVersionConflict) as caught:
        uow.surveys.store("carers", 1, "Carers", "id: carers\nchanged\n", "b" * 64, LATER)
    assert "'carers'" in str(caught.value) and "version 1" in str(caught.value)
    stored = uow.surveys.get("carers", 1)
    assert stored is not None and (stored.sha256, stored.loaded_at) == ("a" * 64, NOW)


def test_survey_latest(uow: UnitOfWork) -> None:
    for survey_id, version in [("carers", 1), ("carers", 3), ("carers", 2), ("workers", 1)]:
        uow.surveys.store(survey_id, version, survey_id.title(), "src", f"{version:064}", NOW)
    assert [(s.survey_id, s.version) for s in uow.surveys.latest_all()] == [
        ("carers", 3),
        ("workers", 1),
    ]
    latest = uow.surveys.get("carers")
    assert latest is not None and latest.version == 3
    assert uow.surveys.get("carers", 2) is not None
    assert uow.surveys.get("carers", 9) is None
    assert uow.surveys.get("unknown") is None


def test_outbox_claim_ids(uow: UnitOfWork) -> None:
    now_id = uow.outbox.add(PID, "sms", {"text": "now"}, NOW)
    later_id = uow.outbox.add(PID, "sms", {"text": "later"}, NOW, not_before=LATER)
    held_id = uow.outbox.add(PID, "sms", {"text": "held"}, NOW, status="held")
    claimed = uow.outbox.claim_ids([later_id, now_id, held_id], now=NOW)
    assert [m.id for m in claimed] == [now_id, later_id]  # due or not; never held
    assert all(m.status == "sending" for m in claimed)
    assert uow.outbox.claim_ids([now_id]) == []  # already taken
    assert uow.outbox.claim_ids([]) == []
