"""Data rights and retention: the queries behind MYDATA, DELETE and purge.

Kept apart from the message-path repositories because these run rarely and read across
many tables. Like the others, it shares the unit of work's session and never commits;
the rules (what counts as expired, who may see an address) live in `bot.services.privacy`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.db import CHECKPOINT_AFTER_COMMIT
from storage.models import (
    ERASURE_SOURCES,
    Answer,
    AuditEvent,
    Consent,
    Conversation,
    Erasure,
    OutboxMessage,
    Participant,
    Response,
    SurveyDefinition,
    User,
    VaultEntry,
)
from storage.repositories._sql import check_one_of, rowcount

#: Outbox payload key: erase the participant once this message is delivered or dead.
ERASE_AFTER = "erase_after"


@dataclass(frozen=True)
class SurveyHolding:
    """What is held about one person for one survey (for MYDATA)."""

    survey_id: str
    title: str
    responses: int
    completed: int
    answers: int
    first: datetime
    last: datetime


@dataclass(frozen=True)
class Activity:
    """When a person was last heard from, for retention. No address, just times."""

    participant_id: str
    created_at: datetime
    last_inbound_at: datetime | None
    vault_last_seen_at: datetime | None

    @property
    def last_active(self) -> datetime:
        """The latest sign of life: their last message, else when we stored their address."""
        times = [t for t in (self.last_inbound_at, self.vault_last_seen_at) if t is not None]
        return max(times, default=self.created_at)


class PrivacyRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # --- MYDATA and erasure ------------------------------------------------------------

    def holdings(self, pid: str) -> list[SurveyHolding]:
        """Per survey: responses, completions, answers and the dates they span."""
        answers = {
            survey_id: n
            for survey_id, n in self._session.execute(
                select(Answer.survey_id, func.count())
                .where(Answer.participant_id == pid, Answer.kind == "value")
                .group_by(Answer.survey_id)
            )
        }
        newest = (
            select(SurveyDefinition.survey_id, func.max(SurveyDefinition.version).label("v"))
            .group_by(SurveyDefinition.survey_id)
            .subquery()
        )
        titles = {
            survey_id: title
            for survey_id, title in self._session.execute(
                select(SurveyDefinition.survey_id, SurveyDefinition.title).join(
                    newest,
                    (SurveyDefinition.survey_id == newest.c.survey_id)
                    & (SurveyDefinition.version == newest.c.v),
                )
            )
        }
        rows = self._session.execute(
            select(
                Response.survey_id,
                func.count(),
                func.count(Response.completed_at),
                func.min(Response.started_at),
                func.max(Response.updated_at),
            )
            .where(Response.participant_id == pid)
            .group_by(Response.survey_id)
            .order_by(func.min(Response.started_at), Response.survey_id)
        )
        return [
            SurveyHolding(survey_id, titles.get(survey_id, survey_id), responses, completed,
                          answers.get(survey_id, 0), first, last)
            for survey_id, responses, completed, first, last in rows
        ]

    def counts(self, pid: str) -> dict[str, int]:
        """How many responses, answers and consent records a person has."""
        def count(model: Any) -> int:
            return int(self._session.scalar(
                select(func.count()).select_from(model).where(model.participant_id == pid)
            ) or 0)

        return {"responses": count(Response), "answers": count(Answer),
                "consents": count(Consent)}

    def vault_channel(self, pid: str) -> str | None:
        """The channel of the stored address, without decrypting it; None if none is held."""
        return self._session.scalar(
            select(VaultEntry.channel).where(VaultEntry.participant_id == pid)
        )

    def record_erasure(self, at: datetime, source: str, responses: int, answers: int) -> Erasure:
        """That an erasure happened: when, why, how much. No identifier, by design."""
        check_one_of(source, ERASURE_SOURCES, "erasure source")
        erasure = Erasure(at=at, source=source, responses=responses, answers=answers)
        self._session.add(erasure)
        self._session.flush()
        # On SQLite, once this commits, flush the write-ahead log into the database file
        # (where secure_delete has zeroed the erased rows) and empty it.
        self._session.info[CHECKPOINT_AFTER_COMMIT] = True
        return erasure

    def forget_session_copies(self, pid: str) -> None:
        """Drop objects about `pid` from the session after a bulk DELETE removed them.

        The DELETE bypasses the ORM, so without this `session.get` could still hand back
        the erased participant from the identity map.
        """
        for obj in list(self._session.identity_map.values()):
            if getattr(obj, "participant_id", None) == pid or (
                isinstance(obj, Participant) and obj.id == pid
            ):
                self._session.expunge(obj)

    def erasures_due(self, queued_before: datetime) -> list[str]:
        """Participants whose erase-after message was queued before `queued_before`.

        After an erasure the message itself is gone (it cascades with the participant),
        so any such row still present means the erasure has not happened yet.
        """
        return list(
            self._session.scalars(
                select(OutboxMessage.participant_id)
                .where(
                    OutboxMessage.payload[ERASE_AFTER].as_boolean(),
                    OutboxMessage.created_at < queued_before,
                )
                .distinct()
            )
        )

    # --- Retention --------------------------------------------------------------------------

    def activity(self, created_before: datetime) -> list[Activity]:
        """People created before `created_before` who still have an address or a state.

        Anyone created later cannot have been inactive for longer, so the cut-off keeps
        the scan to people who might be due.
        """
        holds_something = (
            select(VaultEntry.participant_id)
            .union(select(Conversation.participant_id))
            .subquery()
        )
        rows = self._session.execute(
            select(Participant.id, Participant.created_at, Participant.last_inbound_at,
                   VaultEntry.last_seen_at)
            .outerjoin(VaultEntry, VaultEntry.participant_id == Participant.id)
            .where(Participant.created_at < created_before,
                   Participant.id.in_(select(holds_something.c[0])))
            .order_by(Participant.id)
        )
        return [Activity(pid, created, inbound, seen) for pid, created, inbound, seen in rows]

    def surveys_of(self, pids: Sequence[str]) -> dict[str, set[str]]:
        """Which surveys each person has a response in."""
        found: dict[str, set[str]] = {}
        for start in range(0, len(pids), 500):  # keep IN lists a sane size
            batch = pids[start:start + 500]
            for pid, survey_id in self._session.execute(
                select(Response.participant_id, Response.survey_id)
                .where(Response.participant_id.in_(batch))
                .distinct()
            ):
                found.setdefault(pid, set()).add(survey_id)
        return found

    def forget_contact(self, pid: str) -> dict[str, int]:
        """Delete a person's address, conversation state and message history; keep answers."""
        removed = {}
        for name, model in (("vault_entries", VaultEntry), ("conversations", Conversation),
                            ("outbox_messages", OutboxMessage)):
            removed[name] = rowcount(
                self._session.execute(delete(model).where(model.participant_id == pid))
            )
        self.forget_session_copies(pid)
        return removed

    # --- Users and surveys, for audit and alerts ----------------------------------------------

    def user(self, user_id: int) -> User | None:
        return self._session.get(User, user_id)

    def survey_title(self, survey_id: str) -> str:
        title = self._session.scalar(
            select(SurveyDefinition.title)
            .where(SurveyDefinition.survey_id == survey_id)
            .order_by(SurveyDefinition.version.desc())
            .limit(1)
        )
        return title or survey_id

    # --- Audit ------------------------------------------------------------------------------

    def audit(self, at: datetime, user_id: int | None, action: str, subject: str,
              reason: str | None = None, detail: Mapping[str, Any] | None = None) -> int:
        """Append to the audit log. Callers pass no address and no pseudonym in `subject`."""
        event = AuditEvent(at=at, user_id=user_id, action=action, subject=subject,
                           reason=reason, detail=dict(detail or {}))
        self._session.add(event)
        self._session.flush()
        return event.id
