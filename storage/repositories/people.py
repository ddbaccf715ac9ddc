"""Who someone is: participants, their encrypted contact details, their conversation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, exists, literal_column, select, update
from sqlalchemy.orm import Session

from storage.models import Answer, Conversation, OutboxMessage, Participant, VaultEntry
from storage.repositories._fast import plannable
from storage.repositories._sql import (
    dialect_insert,
    execute,
    holds_copy,
    prepared,
    refresh_copy,
    rowcount,
    table_of,
)
from storage.vault import ContactVault

#: Rows re-encrypted per flush by `VaultRepository.rotate_all`.
ROTATE_BATCH = 500
#: How stale a vault entry's `last_seen_at` may get before an inbound message rewrites it
#: (see `VaultRepository.refresh`).
VAULT_SEEN_GRANULARITY = timedelta(hours=1)


class ParticipantRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, pid: str) -> Participant | None:
        return self._session.get(Participant, pid)

    def ensure(self, pid: str, channel: str, now: datetime) -> Participant:
        """The participant, created first if new; safe when two first messages race."""
        statement = prepared(
            self._session, "participants.ensure",
            lambda dialect: dialect_insert(dialect, Participant).on_conflict_do_nothing(
                index_elements=["id"]
            ),
        )  # fmt: skip
        execute(self._session, statement, {"id": pid, "channel": channel, "created_at": now})
        # Just inserted, or already there (possibly inserted by a concurrent transaction
        # that committed while this INSERT waited).
        return self._session.get_one(Participant, pid)

    def arrive(self, pid: str, channel: str, now: datetime) -> datetime | None:
        """They wrote to us: create the participant if new, else record `last_inbound_at`.

        Returns when they opted out (None if they have not). One statement does the work
        of `ensure`, `touch` and loading the participant, which on the webhook hot path
        was the costliest part of the transaction. On PostgreSQL its ON CONFLICT DO UPDATE
        also takes the participant's row lock (FOR NO KEY UPDATE, as `get_for_update`
        does) until the transaction ends, so two messages from one person still queue
        up; a participant inserted just now is locked by being uncommitted.
        """
        statement = prepared(self._session, "participants.arrive", _arrive)
        values = {"id": pid, "channel": channel, "created_at": now, "last_inbound_at": now}
        opted_out_at: datetime | None = execute(self._session, statement, values).scalar_one()
        refresh_copy(self._session, Participant, pid, {"last_inbound_at": now})
        return opted_out_at

    def arrive_and_read(
        self, pid: str, channel: str, now: datetime
    ) -> tuple[datetime | None, Arrival | None]:
        """`arrive`, and on SQLite `ConversationRepository.arrival` in the same statement.

        On SQLite a write transaction holds the whole database from its BEGIN IMMEDIATE,
        so what the statement's RETURNING reads is current, and a statement is saved. Not
        on PostgreSQL: a statement that waited for the participant's row lock (their
        previous message still being handled) reads other tables as they were when it
        began, before that transaction committed. There the Arrival is None, and the
        caller reads it with `ConversationRepository.arrival`, a statement of its own.
        """
        if self._session.get_bind().dialect.name != "sqlite":
            return self.arrive(pid, channel, now), None
        statement = prepared(self._session, "participants.arrive_and_read", _arrive_and_read)
        values = {"id": pid, "channel": channel, "created_at": now, "last_inbound_at": now,
                  "b_pid": pid, "b_now": now}  # fmt: skip
        row = execute(self._session, statement, values).one()
        refresh_copy(self._session, Participant, pid, {"last_inbound_at": now})
        return row.opted_out_at, _arrival_of(row)

    def set_opted_out(self, pid: str, when: datetime | None) -> None:
        """Record when the participant opted out; None when they opt back in."""
        self._set(pid, "opted_out_at", when)

    def set_language(self, pid: str, language: str | None) -> None:
        self._set(pid, "language", language)

    def set_preferred_time(self, pid: str, value: str | None) -> None:
        self._set(pid, "preferred_time", value)

    def touch(self, pid: str, now: datetime) -> None:
        """Record that they wrote to us (WhatsApp's window and retention count from it)."""
        self._set(pid, "last_inbound_at", now)

    def _set(self, pid: str, column: str, value: Any) -> None:
        """UPDATE one column of one participant (a statement built once per column)."""
        table = table_of(Participant)
        statement = prepared(
            self._session, f"participants.set.{column}",
            lambda _dialect: update(table).where(table.c.id == bindparam("b_pid"))
            .values({column: bindparam("b_value")}),
        )  # fmt: skip
        execute(self._session, statement, {"b_pid": pid, "b_value": value})
        refresh_copy(self._session, Participant, pid, {column: value})

    def delete(self, pid: str) -> None:
        """Erase the participant and, by cascade, everything stored about them."""
        self._session.execute(delete(Participant).where(Participant.id == pid))


class VaultRepository:
    def __init__(self, session: Session, vault: ContactVault) -> None:
        self._session = session
        self._vault = vault

    def store(
        self,
        pid: str,
        channel: str,
        address: str,
        now: datetime,
        expires_at: datetime | None = None,
    ) -> None:
        """Encrypt and keep `address` for `pid`, replacing any earlier one.

        Storing again (every inbound message does) refreshes `last_seen_at` and sets
        `expires_at` to the value given, keeping `created_at`.
        """
        statement = prepared(self._session, "vault.store", _vault_upsert)
        changed = {
            "channel": channel,
            "ciphertext": self._vault.encrypt(address),
            "last_seen_at": now,
            "expires_at": expires_at,
        }
        execute(self._session, statement, {"participant_id": pid, "created_at": now, **changed})
        refresh_copy(self._session, VaultEntry, pid, changed)

    def refresh(self, pid: str, channel: str, address: str, now: datetime,
                known: VaultState | None) -> bool:
        """They wrote from `address`: keep it in the vault, rewriting only what is stale.

        `known` is the entry as read this transaction (`ConversationRepository.arrival`),
        None if there is none. `pid` is derived from (channel, address) by a keyed hash,
        so an entry stored under `pid` for `channel` already holds this very address:
        encrypting it again would only produce a new ciphertext of the same text. So the
        entry is written (`store`: encrypted, `last_seen_at` now, `expires_at` cleared)
        only when it is missing, for another channel, due to expire, or last seen more
        than `VAULT_SEEN_GRANULARITY` ago; otherwise nothing is written. Retention counts
        from the later of this and the participant's `last_inbound_at`, which every
        message sets exactly, so the coarser `last_seen_at` moves no deadline. True when
        the entry was written.
        """
        if (
            known is not None
            and known.channel == channel
            and known.expires_at is None
            and known.last_seen_at is not None
            and now - known.last_seen_at < VAULT_SEEN_GRANULARITY
            and known.last_seen_at <= now
        ):
            return False
        self.store(pid, channel, address, now)
        return True

    def address(self, pid: str) -> str | None:
        """The decrypted address, or None if none is stored (or it was erased)."""
        entry = self._session.get(VaultEntry, pid)
        return None if entry is None else self._vault.decrypt(entry.ciphertext)

    def delete(self, pid: str) -> None:
        self._session.execute(delete(VaultEntry).where(VaultEntry.participant_id == pid))

    def delete_expired(self, now: datetime) -> int:
        """Forget addresses whose retention has ended; returns how many."""
        result = self._session.execute(delete(VaultEntry).where(VaultEntry.expires_at <= now))
        return rowcount(result)

    def rotate_all(self) -> int:
        """Re-encrypt every entry under the newest key; returns how many.

        Raises VaultDecryptionError if an entry is under none of the configured keys;
        roll back then, so no entry is left half-rotated.
        """
        ids = list(self._session.scalars(select(VaultEntry.participant_id)))
        for start in range(0, len(ids), ROTATE_BATCH):
            batch = ids[start : start + ROTATE_BATCH]
            for entry in self._session.scalars(
                select(VaultEntry).where(VaultEntry.participant_id.in_(batch))
            ):
                entry.ciphertext = self._vault.rotate(entry.ciphertext)
            self._session.flush()
        return len(ids)


@dataclass(frozen=True)
class SavedConversation:
    """A conversation's saved state, read without the ORM (see `peek`)."""

    state: dict[str, Any]
    response_id: int | None


@dataclass(frozen=True)
class VaultState:
    """A vault entry's bookkeeping, without its ciphertext (see `VaultRepository.refresh`)."""

    channel: str
    last_seen_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class Arrival:
    """What handling one inbound message needs to know first, read in one SELECT.

    Each flag says whether a write could change anything, so that the statement is run
    only when it could: on the webhook hot path every statement costs more in Python than
    the database spends on it (benchmarks/README.md, "Webhook hot path").
    """

    conversation: SavedConversation | None
    vault: VaultState | None
    #: Invitations or reminders still waiting to go: exactly the rows
    #: `OutreachRepository.cancel_waiting` cancels.
    outreach_waiting: bool
    #: Outbox rows held back (`OutboxRepository.release_held` releases them).
    held: bool
    #: The conversation's response has a skipped answer, so recording a value must first
    #: remove the skip of the same question (`AnswerRepository.record`).
    skipped_answers: bool


class ConversationRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def peek(self, pid: str) -> SavedConversation | None:
        """The saved state and response id, read without locking anything.

        For a caller that already holds the participant's row lock, as the service does
        after `ParticipantRepository.arrive`; anyone else wants `get_for_update`.
        """
        row = execute(self._session, _PEEK, {"b_pid": pid}).one_or_none()
        return None if row is None else SavedConversation(row.state, row.response_id)

    def arrival(self, pid: str, now: datetime) -> Arrival:
        """`peek`, the vault entry and which outbox and answer writes could matter.

        Like `peek`, for a caller holding the participant's row lock (after
        `ParticipantRepository.arrive`, so the participant row exists). One statement
        instead of a SELECT and two UPDATEs that almost always change nothing.
        """
        return _arrival_of(execute(self._session, _ARRIVAL, {"b_pid": pid, "b_now": now}).one())

    def get_for_update(self, pid: str) -> Conversation | None:
        """The conversation, with the participant locked until the transaction ends.

        Locking the participant row rather than the conversation also serialises a
        person's very first two messages, when there is no conversation row to lock yet.
        NO KEY UPDATE (key_share) still lets other transactions insert rows that
        reference the participant, such as outbox messages.
        """
        execute(self._session, _LOCK_PARTICIPANT, {"b_pid": pid})
        return self._session.scalars(_CONVERSATION, {"b_pid": pid}).one_or_none()

    def save(
        self, pid: str, state: Mapping[str, Any], response_id: int | None, now: datetime,
        next_reminder_at: datetime | None = None,
    ) -> None:
        """Insert or replace the state; `next_reminder_at` None means no reminder is due."""
        statement = prepared(self._session, "conversations.save", _conversation_upsert)
        values = {
            "state": dict(state), "response_id": response_id, "updated_at": now,
            "next_reminder_at": next_reminder_at,
        }  # fmt: skip
        execute(self._session, statement, {"participant_id": pid, **values})
        self.refresh_copy(pid, state, response_id, now, next_reminder_at)

    def refresh_copy(
        self, pid: str, state: Mapping[str, Any], response_id: int | None, now: datetime,
        next_reminder_at: datetime | None,
    ) -> None:
        """After a Core write of the conversation: the session's copy, if it holds one
        (rarely: the hot path has none), gets the values written."""
        if holds_copy(self._session, Conversation, pid):
            # As the database hands it back: JSON has no tuples, and the caller keeps `state`.
            refresh_copy(self._session, Conversation, pid, {
                "state": json.loads(json.dumps(dict(state))), "response_id": response_id,
                "updated_at": now, "next_reminder_at": next_reminder_at,
            })  # fmt: skip


#: Locks the participant row (see `get_for_update`); compiles to no lock on SQLite.
_LOCK_PARTICIPANT = plannable(
    select(table_of(Participant).c.id)
    .where(table_of(Participant).c.id == bindparam("b_pid"))
    .with_for_update(key_share=True)
)
_CONVERSATION = (
    select(Conversation)
    .where(Conversation.participant_id == bindparam("b_pid"))
    .execution_options(populate_existing=True)
)


_PEEK = plannable(select(
    table_of(Conversation).c.state, table_of(Conversation).c.response_id
).where(table_of(Conversation).c.participant_id == bindparam("b_pid")))


def _constants(*values: str) -> list[Any]:
    """Fixed strings written into the SQL: `in_` with plain values makes an "expanding"
    parameter, which SQLAlchemy re-renders into the statement on every execution."""
    for value in values:
        if not value.replace("_", "").isalnum():
            raise ValueError(f"not a plain constant: {value!r}")
    return [literal_column(f"'{value}'") for value in values]


def _arrival_of(row: Any) -> Arrival:
    conversation = (None if row.conversation is None
                    else SavedConversation(row.state, row.response_id))
    vault = (None if row.vault_channel is None
             else VaultState(row.vault_channel, row.last_seen_at, row.expires_at))
    return Arrival(conversation, vault, bool(row.outreach_waiting), bool(row.held),
                   bool(row.skipped_answers))


def _flags(response_id: Any) -> list[Any]:
    """`Arrival`'s three flags, for participant :b_pid at :b_now."""
    outbox, answers = table_of(OutboxMessage), table_of(Answer)
    pid: Any = bindparam("b_pid")
    # The same conditions as OutreachRepository.cancel_waiting and
    # OutboxRepository.release_held (tests/test_hot_path_arrival.py holds them equal).
    outreach_waiting = exists().where(
        outbox.c.participant_id == pid,
        outbox.c.status.in_(_constants("pending", "held")),
        outbox.c.kind.in_(_constants("invitation", "reminder")),
        outbox.c.next_attempt_at > bindparam("b_now", type_=outbox.c.next_attempt_at.type),
    )
    held = exists().where(outbox.c.participant_id == pid, outbox.c.status == "held")
    skipped = exists().where(answers.c.response_id == response_id, answers.c.kind == "skipped")
    return [outreach_waiting.label("outreach_waiting"), held.label("held"),
            skipped.label("skipped_answers")]


def _arrival() -> Any:
    participants, conversations = table_of(Participant), table_of(Conversation)
    vault = table_of(VaultEntry)
    return (
        select(
            conversations.c.participant_id.label("conversation"),
            conversations.c.state,
            conversations.c.response_id,
            vault.c.channel.label("vault_channel"),
            vault.c.last_seen_at,
            vault.c.expires_at,
            *_flags(conversations.c.response_id),
        )
        .select_from(
            participants.outerjoin(
                conversations, conversations.c.participant_id == participants.c.id
            ).outerjoin(vault, vault.c.participant_id == participants.c.id)
        )
        .where(participants.c.id == bindparam("b_pid"))
    )


_ARRIVAL = plannable(_arrival())


def returning_arrival(statement: Any) -> Any:
    """`statement` (an INSERT) also RETURNING what `_ARRIVAL` reads for participant :b_pid
    at :b_now, each as a subquery; `arrival_of` makes the row an `Arrival`.

    The subqueries see the database as of the statement's start (and this transaction's
    own writes): only for statements that begin once the participant's row lock is held,
    or on SQLite, where BEGIN IMMEDIATE makes everything current.
    """
    conversations, vault = table_of(Conversation), table_of(VaultEntry)
    pid: Any = bindparam("b_pid")

    def one(column: Any, name: str) -> Any:
        table = column.table
        key = table.c.participant_id
        return select(column).where(key == pid).scalar_subquery().label(name)

    response_id = one(conversations.c.response_id, "response_id")
    return statement.returning(
        one(conversations.c.participant_id, "conversation"),
        one(conversations.c.state, "state"),
        response_id,
        one(vault.c.channel, "vault_channel"),
        one(vault.c.last_seen_at, "last_seen_at"),
        one(vault.c.expires_at, "expires_at"),
        *_flags(response_id.element),
    )


def arrival_of(row: Any) -> Arrival:
    """The `Arrival` in a row RETURNed by a `returning_arrival` statement."""
    return _arrival_of(row)


def _arrive_and_read(dialect: str) -> Any:
    """`_arrive` RETURNING what `_ARRIVAL` reads, each as a subquery (SQLite only)."""
    return returning_arrival(_arrive(dialect))


def _arrive(dialect: str) -> Any:
    stmt = dialect_insert(dialect, Participant)
    return stmt.on_conflict_do_update(
        index_elements=["id"], set_={"last_inbound_at": stmt.excluded.last_inbound_at}
    ).returning(table_of(Participant).c.opted_out_at)


def _vault_upsert(dialect: str) -> Any:
    stmt = dialect_insert(dialect, VaultEntry)
    return stmt.on_conflict_do_update(
        index_elements=["participant_id"],
        set_={
            "channel": stmt.excluded.channel,
            "ciphertext": stmt.excluded.ciphertext,
            "last_seen_at": stmt.excluded.last_seen_at,
            "expires_at": stmt.excluded.expires_at,
        },
    )


def _conversation_upsert(dialect: str) -> Any:
    stmt = dialect_insert(dialect, Conversation)
    return stmt.on_conflict_do_update(
        index_elements=["participant_id"],
        set_={
            "state": stmt.excluded.state,
            "response_id": stmt.excluded.response_id,
            "updated_at": stmt.excluded.updated_at,
            "next_reminder_at": stmt.excluded.next_reminder_at,
        },
    )
