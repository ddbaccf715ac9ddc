"""Messages in and out: webhook de-duplication and the transactional outbox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy import insert as core_insert
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from storage.models import Conversation, InboundMessage, OutboxMessage, OutboxProviderId
from storage.repositories._sql import (
    check_one_of,
    connection_of,
    dialect_insert,
    execute,
    insert,
    prepared,
    rowcount,
    safe_error,
    table_of,
)
from storage.repositories.people import (
    Arrival,
    ConversationRepository,
    arrival_of,
    returning_arrival,
)


class InboundRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def claim(
        self, channel: str, provider_message_id: str, pid: str | None, now: datetime
    ) -> int | None:
        """Record a provider message; its new id, or None if it was seen before.

        Two transactions claiming the same message: on PostgreSQL the second INSERT waits
        for the first to commit and then does nothing; on SQLite the second cannot begin
        until the first commits. Either way exactly one gets an id and neither raises.
        """
        statement = prepared(
            self._session, "inbound.claim",
            lambda dialect: dialect_insert(dialect, InboundMessage)
            .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
            .returning(table_of(InboundMessage).c.id),
        )  # fmt: skip
        values = {"channel": channel, "provider_message_id": provider_message_id,
                  "participant_id": pid, "received_at": now}
        claimed: int | None = execute(self._session, statement, values).scalar_one_or_none()
        return claimed

    def claim_and_read(
        self, channel: str, provider_message_id: str, pid: str, now: datetime
    ) -> tuple[int | None, Arrival | None]:
        """`claim`, RETURNING also what `ConversationRepository.arrival` reads: one
        statement instead of two. (None, None) if the message was seen before.

        Only after `ParticipantRepository.arrive` in the same transaction, which on
        PostgreSQL holds the participant's row lock: this statement then starts after
        every earlier transaction of theirs has ended, and READ COMMITTED reads other
        tables as of a statement's start, so it sees all of them, as the separate SELECT
        did. The INSERT itself waits only for another transaction claiming the same
        message id: that one is not handling this participant (it would hold their lock),
        and if it commits, nothing is returned; if it rolls back, it changed nothing.
        """
        statement = prepared(
            self._session, "inbound.claim_and_read",
            lambda dialect: returning_arrival(
                dialect_insert(dialect, InboundMessage)
                .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
                .returning(table_of(InboundMessage).c.id)
            ),
        )  # fmt: skip
        values = {"channel": channel, "provider_message_id": provider_message_id,
                  "participant_id": pid, "received_at": now, "b_pid": pid, "b_now": now}
        row = execute(self._session, statement, values).one_or_none()
        if row is None:
            return None, None
        return row.id, arrival_of(row)

    def prune(self, received_before: datetime) -> int:
        """Forget ids older than any redelivery could be; returns how many."""
        result = self._session.execute(
            delete(InboundMessage).where(InboundMessage.received_at < received_before)
        )
        return rowcount(result)


class OutboxRepository:
    #: Which statuses a provider status callback may move a message from. Callbacks can
    #: arrive out of order; a late "sent" must not undo "delivered".
    _CALLBACK_FROM: Mapping[str, tuple[str, ...]] = {
        "sent": ("sending",),
        "delivered": ("sending", "sent"),
        "failed": ("sending", "sent", "delivered"),
    }

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        pid: str,
        channel: str,
        payload: Mapping[str, Any],
        now: datetime,
        in_reply_to: int | None = None,
        status: str = "pending",
        not_before: datetime | None = None,
        kind: str = "reply",
        invitation_id: int | None = None,
    ) -> int:
        """Queue a message ('pending', or 'held' until released); its outbox id."""
        check_one_of(status, ("pending", "held"), "initial outbox status")
        table = table_of(OutboxMessage)
        statement = prepared(
            self._session, "outbox.add",
            lambda _dialect: core_insert(table).returning(table.c.id),
        )  # fmt: skip
        values = {
            "participant_id": pid,
            "channel": channel,
            "payload": dict(payload),
            "status": status,
            "attempts": 0,
            "next_attempt_at": max(now, not_before) if not_before else now,
            "provider_message_ids": [],
            "created_at": now,
            "in_reply_to": in_reply_to,
            "kind": kind,
            "invitation_id": invitation_id,
        }
        outbox_id: int = execute(self._session, statement, values).scalar_one()
        return outbox_id

    def add_many(
        self,
        pid: str,
        channel: str,
        payloads: Sequence[Mapping[str, Any]],
        now: datetime,
        in_reply_to: int | None = None,
        kind: str = "reply",
    ) -> list[int]:
        """Queue several messages ('pending', in this order) in one call; their ids, in
        the same order, as `add` for each would give them.

        SQLAlchemy's "insertmanyvalues" with `sort_by_parameter_order` runs them as one
        INSERT on PostgreSQL (a statement fewer per extra reply) and keeps each id with
        its row; on SQLite it still runs a statement per row, from the one cached
        compilation. (A multi-row VALUES statement is not cacheable in SQLAlchemy: it
        was compiled afresh on every call, several times the cost of the INSERTs it
        saved.) The sender sends by id, so the ids increase in the order given.
        """
        if len(payloads) == 1:
            return [self.add(pid, channel, payloads[0], now, in_reply_to, kind=kind)]
        if not payloads:
            return []
        table = table_of(OutboxMessage)
        statement = prepared(
            self._session, "outbox.add_many",
            lambda _dialect: core_insert(table).returning(table.c.id, sort_by_parameter_order=True),
        )  # fmt: skip
        rows = _reply_rows(pid, channel, payloads, now, in_reply_to, kind)
        if self._session.autoflush:
            self._session.flush()
        ids: list[int] = list(connection_of(self._session).execute(statement, rows).scalars())
        return ids

    def add_and_save_state(
        self,
        pid: str,
        channel: str,
        payloads: Sequence[Mapping[str, Any]],
        now: datetime,
        in_reply_to: int | None,
        state: Mapping[str, Any],
        response_id: int | None,
        next_reminder_at: datetime | None,
    ) -> list[int]:
        """`add_many`, then `ConversationRepository.save`: the last writes of a message.

        On PostgreSQL they are one statement, the conversation upsert a data-modifying
        CTE of the outbox INSERT: a round trip to the server fewer for every message,
        which there costs more than any of the Python around it. The ids come back
        sorted, which is the order of `payloads`: PostgreSQL takes a row's id from the
        sequence as it inserts the rows, in the order of the VALUES list. Elsewhere, and
        for more replies than one message ever has, the two calls.
        """
        conversations = ConversationRepository(self._session)
        count = len(payloads)
        if not 0 < count <= MAX_FOLDED_REPLIES or self._dialect() != "postgresql":
            ids = self.add_many(pid, channel, payloads, now, in_reply_to)
            conversations.save(pid, state, response_id, now, next_reminder_at)
            return ids
        statement = prepared(self._session, f"outbox.add_and_save_state.{count}",
                             lambda _dialect: _add_and_save_state(count))
        params: dict[str, Any] = {
            "c_participant_id": pid, "c_state": dict(state), "c_response_id": response_id,
            "c_updated_at": now, "c_next_reminder_at": next_reminder_at,
        }  # fmt: skip
        for index, row in enumerate(_reply_rows(pid, channel, payloads, now, in_reply_to)):
            params.update({f"o{index}_{key}": value for key, value in row.items()})
        ids = sorted(execute(self._session, statement, params).scalars())
        conversations.refresh_copy(pid, state, response_id, now, next_reminder_at)
        return ids

    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    def claim_due(
        self, now: datetime, limit: int, channel: str | None = None, claimer: str | None = None
    ) -> list[OutboxMessage]:
        """Take up to `limit` due messages, oldest first, and mark them 'sending' by
        `claimer` (a sender's identity).

        SKIP LOCKED lets concurrent senders on PostgreSQL take different rows instead of
        the same ones; on SQLite the senders' transactions run one after the other.
        """
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if channel is not None:
            stmt = stmt.where(OutboxMessage.channel == channel)
        messages = list(self._session.scalars(stmt))
        for message in messages:
            message.status = "sending"
            message.next_attempt_at = now  # while sending: when it was claimed
            message.claimed_by = claimer
            message.send_started_at = None
        self._session.flush()
        return messages

    def claim_ids(self, ids: Sequence[int], now: datetime | None = None,
                  claimer: str | None = None) -> list[OutboxMessage]:
        """Take these messages now, due or not, if still 'pending'; mark them 'sending'.

        For replies that must go out immediately (console, web simulator). Rows another
        sender holds, or that are no longer pending, are left out. `now`, if given, is
        recorded as the claim time (see `requeue_stuck`).
        """
        if not ids:
            return []
        messages = list(
            self._session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.status == "pending")
                .order_by(OutboxMessage.id)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            )
        )
        for message in messages:
            message.status = "sending"
            message.claimed_by = claimer
            message.send_started_at = None
            if now is not None:
                message.next_attempt_at = now
        self._session.flush()
        return messages

    def begin_send(self, id: int, claimer: str, now: datetime) -> bool:
        """Record that `claimer` is about to hand this message to the provider.

        Committed before the request, so that after a crash the rows a provider may have
        seen are known. False if the claim is no longer this sender's (a new leader put
        it back): then it must not be sent.
        """
        result = self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == id, OutboxMessage.status == "sending",
                   OutboxMessage.claimed_by == claimer)
            .values(send_started_at=now)
        )
        return rowcount(result) == 1

    def release_abandoned(self, claimer: str, claimed_before: datetime | None = None) -> int:
        """Put back every claim another sender made but never began to send.

        Only the active scheduler sends, so once it holds the lock another sender's claims
        are a dead (or deposed) leader's; one not yet begun was certainly never seen by the
        provider, and a deposed sender that lives on will find it gone (`begin_send`).
        `claimed_before` spares claims younger than that (a live sender's, about to begin).
        """
        stmt = (
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending",
                   OutboxMessage.claimed_by.is_not(None),
                   OutboxMessage.claimed_by != claimer,
                   OutboxMessage.send_started_at.is_(None))
            .values(status="pending", claimed_by=None)
        )
        if claimed_before is not None:  # while 'sending', next_attempt_at is the claim time
            stmt = stmt.where(OutboxMessage.next_attempt_at <= claimed_before)
        return rowcount(self._session.execute(stmt))

    def interrupted_sends(self, claimer: str, started_before: datetime,
                          limit: int = 100) -> list[OutboxMessage]:
        """Another sender's sends that began before `started_before` and never finished:
        the provider may or may not have them."""
        return list(
            self._session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == "sending",
                       OutboxMessage.claimed_by.is_not(None),
                       OutboxMessage.claimed_by != claimer,
                       OutboxMessage.send_started_at <= started_before)
                .order_by(OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )

    def provider_ids_for(self, pid: str) -> set[str]:
        """Every provider message id recorded for this participant's messages."""
        return set(
            self._session.scalars(
                select(OutboxProviderId.provider_message_id)
                .join(OutboxMessage, OutboxMessage.id == OutboxProviderId.outbox_id)
                .where(OutboxMessage.participant_id == pid)
            )
        )

    def requeue_stuck(self, claimed_before: datetime) -> int:
        """Put back messages claimed before `claimed_before` whose sender never reported.

        A sender that crashes between claiming and marking leaves rows in 'sending'. Requeuing
        them risks sending twice, so pick a cut-off well beyond any real send.
        """
        result = self._session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == "sending",
                OutboxMessage.next_attempt_at < claimed_before,
            )
            .values(status="pending", claimed_by=None, send_started_at=None)
        )
        return rowcount(result)

    def release_claims(self, ids: Sequence[int], claimer: str | None = None) -> int:
        """Put back rows claimed but never sent (a pass was cut short); only `claimer`'s,
        if given, so a claim another sender has taken since is left alone."""
        if not ids:
            return 0
        stmt = (
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.status == "sending")
            .values(status="pending", claimed_by=None, send_started_at=None)
        )
        if claimer is not None:
            stmt = stmt.where(OutboxMessage.claimed_by == claimer)
        return rowcount(self._session.execute(stmt))

    def mark_sent(self, id: int, provider_ids: Sequence[str], now: datetime) -> None:
        """Record a handover to the provider, indexing its ids for delivery reports."""
        self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == id)
            .values(status="sent", sent_at=now, provider_message_ids=list(provider_ids))
        )
        if provider_ids:
            stmt = insert(self._session, OutboxProviderId).values(
                [{"outbox_id": id, "provider_message_id": pmid} for pmid in provider_ids]
            )
            self._session.execute(stmt.on_conflict_do_nothing())

    def mark_retry(self, id: int, error: str, next_attempt_at: datetime) -> None:
        """Count a failed attempt and queue the message again for `next_attempt_at`.

        Error texts are stored with phone-number-like digits removed (see safe_error).
        """
        self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == id)
            .values(
                status="pending",
                attempts=OutboxMessage.attempts + 1,
                last_error=safe_error(error),
                next_attempt_at=next_attempt_at,
            )
        )

    def mark_dead(self, id: int, error: str) -> None:
        self._set_status(id, "dead", error)

    def mark_held(self, id: int, reason: str) -> None:
        self._set_status(id, "held", reason)

    def _set_status(self, id: int, status: str, error: str) -> None:
        self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == id)
            .values(status=status, last_error=safe_error(error))
        )

    def release_held(self, pid: str, now: datetime) -> int:
        """Make a participant's held messages sendable (e.g. they wrote in); how many."""
        result = self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.participant_id == pid, OutboxMessage.status == "held")
            .values(
                status="pending",
                # Keep a later not-before time; otherwise record when it became sendable.
                next_attempt_at=case(
                    (OutboxMessage.next_attempt_at < now, now),
                    else_=OutboxMessage.next_attempt_at,
                ),
            )
        )
        return rowcount(result)

    def mark_status_by_provider_id(
        self, provider_id: str, status: str, error_code: int | None
    ) -> int | None:
        """Apply a delivery report ('sent', 'delivered' or 'failed'); the outbox id or None.

        Returns None when no message has that provider id. Reports that would move a
        message backwards (a late 'sent' after 'delivered') are ignored but still return
        the id, since the message is known.
        """
        check_one_of(status, tuple(self._CALLBACK_FROM), "delivery status")
        outbox_id = self._session.scalar(
            select(OutboxProviderId.outbox_id)
            .where(OutboxProviderId.provider_message_id == provider_id)
            .order_by(OutboxProviderId.outbox_id.desc())
            .limit(1)
        )
        if outbox_id is None:
            return None
        values: dict[str, Any] = {"status": status}
        if error_code is not None:
            values["last_error"] = f"provider error {int(error_code)}"
        self._session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == outbox_id,
                OutboxMessage.status.in_(self._CALLBACK_FROM[status]),
            )
            .values(values)
        )
        return outbox_id

    def get(self, id: int) -> OutboxMessage | None:
        return self._session.get(OutboxMessage, id)

    def pending_for(self, pid: str) -> list[OutboxMessage]:
        """The participant's messages not yet handed to a provider ('pending' or 'held')."""
        return list(
            self._session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.participant_id == pid,
                    OutboxMessage.status.in_(("pending", "held")),
                )
                .order_by(OutboxMessage.id)
            )
        )


#: The most replies `OutboxRepository.add_and_save_state` puts in one statement (one
#: compiled statement is kept per count); a message has one to three.
MAX_FOLDED_REPLIES = 6
_OUTBOX_COLUMNS = ("participant_id", "channel", "payload", "status", "attempts",
                   "next_attempt_at", "provider_message_ids", "created_at", "in_reply_to",
                   "kind", "invitation_id")
_CONVERSATION_COLUMNS = ("participant_id", "state", "response_id", "updated_at",
                         "next_reminder_at")


def _reply_rows(pid: str, channel: str, payloads: Sequence[Mapping[str, Any]], now: datetime,
                in_reply_to: int | None, kind: str = "reply") -> list[dict[str, Any]]:
    """Outbox rows for replies, 'pending' now, every column given (see `add`)."""
    return [{
        "participant_id": pid, "channel": channel, "payload": dict(payload),
        "status": "pending", "attempts": 0, "next_attempt_at": now,
        "provider_message_ids": [], "created_at": now, "in_reply_to": in_reply_to,
        "kind": kind, "invitation_id": None,
    } for payload in payloads]  # fmt: skip


def _add_and_save_state(count: int) -> Any:
    """PostgreSQL: INSERT `count` outbox rows (binds o0_payload ...) RETURNING their ids,
    with the conversation upsert (binds c_state ...) as a data-modifying CTE, which
    PostgreSQL runs exactly once whether or not the INSERT refers to it."""
    conversations, outbox = table_of(Conversation), table_of(OutboxMessage)
    upsert = postgresql.insert(conversations).values({
        column: bindparam(f"c_{column}", type_=conversations.c[column].type)
        for column in _CONVERSATION_COLUMNS
    })  # fmt: skip
    upsert = upsert.on_conflict_do_update(
        index_elements=["participant_id"],
        set_={column: upsert.excluded[column] for column in _CONVERSATION_COLUMNS[1:]},
    )
    saved = upsert.returning(conversations.c.participant_id).cte("saved_conversation")
    rows = [{column: bindparam(f"o{index}_{column}", type_=outbox.c[column].type)
             for column in _OUTBOX_COLUMNS} for index in range(count)]
    return core_insert(outbox).values(rows).returning(outbox.c.id).add_cte(saved)
