"""Round three of the webhook hot path, on both databases: a message's replies in one
INSERT, the PostgreSQL arrival read folded into the inbound claim, and `cancel_waiting`
as a prepared statement. Each must store and return exactly what the statements it
replaces did."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from storage.models import OUTBOX_KINDS, OUTBOX_STATUSES, OutboxMessage
from storage.repositories.outreach import OutreachRepository
from storage.uow import UnitOfWork

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PID = "pabcdefghijklmnopqrstuvwx"
UowFactory = Callable[[], UnitOfWork]

#: What `add` and `add_many` write, compared column by column.
COLUMNS = ("participant_id", "channel", "payload", "status", "attempts", "next_attempt_at",
           "provider_message_ids", "created_at", "in_reply_to", "kind", "invitation_id",
           "last_error", "claimed_by", "send_started_at")  # fmt: skip


def _rows(uow: UnitOfWork, ids: list[int]) -> list[dict[str, Any]]:
    table = OutboxMessage.__table__
    rows = uow.session.execute(select(table).where(table.c.id.in_(ids)).order_by(table.c.id))
    return [{c: getattr(row, c) for c in COLUMNS} for row in rows]


def test_several_replies_in_one_insert_keep_their_order_ids_and_columns(
    uow_factory: UowFactory,
) -> None:
    for count in (1, 2, 3, 12):
        payloads = [{"text": f"reply {n}", "choices": [[str(n), "x"]], "language": "en"}
                    for n in range(count)]  # fmt: skip
        with uow_factory() as uow:
            uow.participants.ensure(PID, "sms", NOW)
            inbound = uow.inbound.claim("sms", f"SM{count}", PID, NOW)
            one_by_one = [uow.outbox.add(PID, "sms", p, NOW, in_reply_to=inbound)
                          for p in payloads]  # fmt: skip
            together = uow.outbox.add_many(PID, "sms", payloads, NOW, in_reply_to=inbound)
            assert len(together) == count == len(set(together))
            assert together == sorted(together) and together[0] > one_by_one[-1]
            # The sender sends by id: the n-th reply has the n-th id and the n-th payload.
            assert _rows(uow, together) == _rows(uow, one_by_one)
            assert [r["payload"]["text"] for r in _rows(uow, together)] == [
                f"reply {n}" for n in range(count)]
            assert uow.outbox.add_many(PID, "sms", [], NOW) == []
            uow.commit()
        with uow_factory() as uow:  # committed as returned
            assert [r["payload"]["text"] for r in _rows(uow, together)] == [
                f"reply {n}" for n in range(count)]


def test_claim_and_read_gives_what_claim_then_arrival_give(uow_factory: UowFactory) -> None:
    seen = set()
    for status, kind, when in itertools.product(
        OUTBOX_STATUSES, OUTBOX_KINDS, (NOW - timedelta(minutes=5), NOW + timedelta(hours=9))
    ):
        with uow_factory() as uow:  # rolled back on leaving
            uow.participants.arrive(PID, "sms", NOW)
            uow.conversations.save(PID, {"survey": "fft", "stage": "asking"}, None, NOW)
            uow.vault.store(PID, "sms", "+447700900123", NOW)
            outbox_id = uow.outbox.add(PID, "sms", {"text": "hi"}, NOW, kind=kind)
            uow.session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                                .values(status=status, next_attempt_at=when))  # fmt: skip
            expected = uow.conversations.arrival(PID, NOW)
            inbound_id, arrival = uow.inbound.claim_and_read("sms", "SM1", PID, NOW)
            assert inbound_id is not None
            assert arrival == expected, (status, kind, when)
            seen.add((arrival.outreach_waiting, arrival.held))
            # Seen before: nothing claimed, nothing read.
            assert uow.inbound.claim_and_read("sms", "SM1", PID, NOW) == (None, None)
            assert uow.inbound.claim("sms", "SM1", PID, NOW) is None
    assert {True, False} <= {w for w, _h in seen} and {True, False} <= {h for _w, h in seen}


def test_claim_and_read_for_someone_new(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.participants.arrive(PID, "sms", NOW)
        inbound_id, arrival = uow.inbound.claim_and_read("sms", "SM2", PID, NOW)
        assert inbound_id is not None and arrival == uow.conversations.arrival(PID, NOW)
        assert arrival is not None and arrival.conversation is None and arrival.vault is None


def test_cancel_waiting_prepared_and_orm_cancel_the_same_rows(uow_factory: UowFactory) -> None:
    for orm_copies in (False, True):
        with uow_factory() as uow:
            uow.participants.ensure(PID, "sms", NOW)
            ids = []
            for status, kind, when in itertools.product(
                OUTBOX_STATUSES, OUTBOX_KINDS, (NOW - timedelta(minutes=5), NOW,
                                                NOW + timedelta(hours=9))):  # fmt: skip
                outbox_id = uow.outbox.add(PID, "sms", {"text": "hi"}, NOW, kind=kind)
                uow.session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                                    .values(status=status, next_attempt_at=when))  # fmt: skip
                ids.append((outbox_id, status, kind, when))
            copies = ({m.id: m for m in uow.session.scalars(select(OutboxMessage))}
                      if orm_copies else {})  # fmt: skip
            cancelled = OutreachRepository(uow.session).cancel_waiting(PID, NOW)
            expected = {
                outbox_id for outbox_id, status, kind, when in ids
                if status in ("pending", "held") and kind in ("invitation", "reminder")
                and when > NOW
            }  # fmt: skip
            assert cancelled == len(expected) > 0
            statuses = dict(uow.session.execute(
                select(OutboxMessage.__table__.c.id, OutboxMessage.__table__.c.status)).all())
            for outbox_id, status, _kind, _when in ids:
                assert statuses[outbox_id] == ("dead" if outbox_id in expected else status)
                if orm_copies:  # the session's copies follow the database
                    assert copies[outbox_id].status == statuses[outbox_id]


def test_replies_and_state_in_one_call_write_what_add_many_and_save_write(
    uow_factory: UowFactory,
) -> None:
    """On PostgreSQL `add_and_save_state` is one statement (the upsert as a CTE); it must
    leave the same outbox rows, in the same id order, and the same conversation as the
    two calls it stands for, for a new conversation and an existing one."""
    reminder = NOW + timedelta(hours=24)
    for count in (0, 1, 2, 3, 7):
        payloads = [{"text": f"reply {n}", "choices": [], "language": "cy"}
                    for n in range(count)]  # fmt: skip
        with uow_factory() as uow:
            uow.participants.ensure(PID, "sms", NOW)
            inbound = uow.inbound.claim("sms", f"SM{count}", PID, NOW)
            apart = uow.outbox.add_many(PID, "sms", payloads, NOW, in_reply_to=inbound)
            uow.conversations.save(PID, {"stage": "asking", "n": [1, 2]}, None, NOW, reminder)
            expected = uow.conversations.get_for_update(PID)
            assert expected is not None
            expected_state = (dict(expected.state), expected.response_id,
                              expected.updated_at, expected.next_reminder_at)
            later = NOW + timedelta(minutes=3)
            response = uow.responses.start(PID, "fft", 2, "sms", "cy", later)
            together = uow.outbox.add_and_save_state(
                PID, "sms", payloads, later, inbound, {"stage": "done", "n": (3,)}, response,
                None)
            assert len(together) == count and together == sorted(together)
            assert [r["payload"]["text"] for r in _rows(uow, together)] == [
                f"reply {n}" for n in range(count)]
            moved = {c: v for c, v in zip(COLUMNS, COLUMNS, strict=True)
                     if c not in ("next_attempt_at", "created_at")}
            assert [{c: r[c] for c in moved} for r in _rows(uow, together)] == \
                [{c: r[c] for c in moved} for r in _rows(uow, apart)]
            assert all(r["created_at"] == later == r["next_attempt_at"]
                       for r in _rows(uow, together))
            saved = uow.conversations.peek(PID)
            assert saved is not None and saved.state == {"stage": "done", "n": [3]}
            assert saved.response_id == response
            uow.session.expire_all()
            row = uow.conversations.get_for_update(PID)
            assert row is not None and (row.updated_at, row.next_reminder_at) == (later, None)
            assert expected_state == ({"stage": "asking", "n": [1, 2]}, None, NOW, reminder)
    with uow_factory() as uow:  # someone with no conversation yet
        newcomer = "pzyxwvutsrqponmlkjihgfedc"
        uow.participants.ensure(newcomer, "whatsapp", NOW)
        ids = uow.outbox.add_and_save_state(newcomer, "whatsapp", [{"text": "a"}, {"text": "b"}],
                                            NOW, None, {"stage": "language"}, None, reminder)
        assert [r["payload"]["text"] for r in _rows(uow, ids)] == ["a", "b"]
        created = uow.conversations.peek(newcomer)
        assert created is not None and created.state == {"stage": "language"}
