"""Who someone is: participants, their encrypted contact details, their conversation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage.models import Conversation, Participant, VaultEntry
from storage.repositories._sql import insert, rowcount, run_upsert
from storage.vault import ContactVault

#: Rows re-encrypted per flush by `VaultRepository.rotate_all`.
ROTATE_BATCH = 500


class ParticipantRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, pid: str) -> Participant | None:
        return self._session.get(Participant, pid)

    def ensure(self, pid: str, channel: str, now: datetime) -> Participant:
        """The participant, created first if new; safe when two first messages race."""
        stmt = insert(self._session, Participant).values(id=pid, channel=channel, created_at=now)
        self._session.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))
        # Just inserted, or already there (possibly inserted by a concurrent transaction
        # that committed while this INSERT waited).
        return self._session.get_one(Participant, pid)

    def set_opted_out(self, pid: str, when: datetime | None) -> None:
        """Record when the participant opted out; None when they opt back in."""
        self._session.execute(
            update(Participant).where(Participant.id == pid).values(opted_out_at=when)
        )

    def set_language(self, pid: str, language: str | None) -> None:
        self._session.execute(
            update(Participant).where(Participant.id == pid).values(language=language)
        )

    def set_preferred_time(self, pid: str, value: str | None) -> None:
        self._session.execute(
            update(Participant).where(Participant.id == pid).values(preferred_time=value)
        )

    def touch(self, pid: str, now: datetime) -> None:
        """Record that they wrote to us (WhatsApp's window and retention count from it)."""
        self._session.execute(
            update(Participant).where(Participant.id == pid).values(last_inbound_at=now)
        )

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
        stmt = insert(self._session, VaultEntry).values(
            participant_id=pid,
            channel=channel,
            ciphertext=self._vault.encrypt(address),
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
        statement = stmt.on_conflict_do_update(
            index_elements=["participant_id"],
            set_={
                "channel": stmt.excluded.channel,
                "ciphertext": stmt.excluded.ciphertext,
                "last_seen_at": stmt.excluded.last_seen_at,
                "expires_at": stmt.excluded.expires_at,
            },
        )
        run_upsert(self._session, statement, VaultEntry)

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


class ConversationRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get_for_update(self, pid: str) -> Conversation | None:
        """The conversation, with the participant locked until the transaction ends.

        Locking the participant row rather than the conversation also serialises a
        person's very first two messages, when there is no conversation row to lock yet.
        NO KEY UPDATE (key_share) still lets other transactions insert rows that
        reference the participant, such as outbox messages.
        """
        self._session.execute(
            select(Participant.id).where(Participant.id == pid).with_for_update(key_share=True)
        )
        return self._session.scalars(
            select(Conversation)
            .where(Conversation.participant_id == pid)
            .execution_options(populate_existing=True)
        ).one_or_none()

    def save(
        self, pid: str, state: Mapping[str, Any], response_id: int | None, now: datetime,
        next_reminder_at: datetime | None = None,
    ) -> None:
        """Insert or replace the state; `next_reminder_at` None means no reminder is due."""
        stmt = insert(self._session, Conversation).values(
            participant_id=pid, state=dict(state), response_id=response_id, updated_at=now,
            next_reminder_at=next_reminder_at,
        )
        statement = stmt.on_conflict_do_update(
            index_elements=["participant_id"],
            set_={
                "state": stmt.excluded.state,
                "response_id": stmt.excluded.response_id,
                "updated_at": stmt.excluded.updated_at,
                "next_reminder_at": stmt.excluded.next_reminder_at,
            },
        )
        run_upsert(self._session, statement, Conversation)
