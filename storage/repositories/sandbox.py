"""The sandbox inbox: messages kept instead of sent on a channel with no provider.

Rows name people by pseudonym only; the address stays in the vault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import (
    Cohort,
    CohortMember,
    OutboxMessage,
    Participant,
    Response,
    SandboxMessage,
)

#: Messages WithUs starts: these wait for quiet hours on a real phone, not in the sandbox.
STARTED_BY_US = ("invitation", "reminder", "shareback")


@dataclass(frozen=True)
class SandboxPerson:
    """One person who has had messages in the sandbox, by a label and their pseudonym."""

    number: int  # "Person 1", in the order they first got something
    participant_id: str
    channel: str
    cohorts: tuple[str, ...]
    messages: int
    last_at: datetime
    opted_out: bool


@dataclass(frozen=True)
class SandboxEntry:
    id: int
    direction: str  # "out": WithUs sent it; "in": the organiser replied as the person
    kind: str
    text: str
    choices: tuple[tuple[str, str], ...]
    created_at: datetime
    due_at: datetime | None


class SandboxRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def delivered(self, outbox_id: int, pid: str, channel: str, payload: Mapping[str, Any],
                  now: datetime) -> None:
        """Keep what the sender would have handed a provider."""
        kind = self._session.scalar(
            select(OutboxMessage.kind).where(OutboxMessage.id == outbox_id)) or "reply"
        due = payload.get("sandbox_due")
        self._session.add(SandboxMessage(
            participant_id=pid, channel=channel, direction="out", kind=kind,
            text=str(payload.get("text", "")),
            choices=[[str(p), str(label)] for p, label in payload.get("choices") or []],
            outbox_id=outbox_id, created_at=now,
            due_at=datetime.fromisoformat(due) if isinstance(due, str) else None,
        ))

    def replied(self, pid: str, channel: str, text: str, now: datetime) -> None:
        """What an organiser sent as this person."""
        self._session.add(SandboxMessage(participant_id=pid, channel=channel, direction="in",
                                         kind="reply", text=text, choices=[], created_at=now))

    def release(self, channels: Sequence[str], now: datetime, limit: int = 500) -> int:
        """Messages we start, waiting for quiet hours or a chosen time on a sandboxed
        channel: due now, each remembering when a real phone would have got it."""
        if not channels:
            return 0
        rows = self._session.execute(
            select(OutboxMessage.id, OutboxMessage.payload, OutboxMessage.next_attempt_at)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at > now,
                   OutboxMessage.channel.in_(list(channels)),
                   OutboxMessage.kind.in_(STARTED_BY_US))
            .order_by(OutboxMessage.id).limit(limit)
        ).all()
        for outbox_id, payload, due in rows:
            self._session.execute(
                update(OutboxMessage).where(OutboxMessage.id == outbox_id,
                                            OutboxMessage.status == "pending")
                .values(next_attempt_at=now,
                        payload={**payload, "sandbox_due": due.isoformat()}))
        return len(rows)

    def people(self, limit: int = 200) -> list[SandboxPerson]:
        """Everyone with sandbox messages, in the order they first got one."""
        first = func.min(SandboxMessage.id)
        rows = self._session.execute(
            select(SandboxMessage.participant_id, SandboxMessage.channel, first,
                   func.count(), func.max(SandboxMessage.created_at),
                   Participant.opted_out_at.is_not(None))
            .join(Participant, Participant.id == SandboxMessage.participant_id)
            .group_by(SandboxMessage.participant_id, SandboxMessage.channel,
                      Participant.opted_out_at.is_not(None))
            .order_by(first).limit(limit)
        ).all()
        cohorts = self._cohorts([row[0] for row in rows])
        return [SandboxPerson(number, pid, channel, tuple(cohorts.get(pid, ())), count,
                              last, bool(opted_out))
                for number, (pid, channel, _first, count, last, opted_out)
                in enumerate(rows, start=1)]

    def _cohorts(self, pids: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        if not pids:
            return found
        for pid, name in self._session.execute(
            select(CohortMember.participant_id, Cohort.name)
            .join(Cohort, Cohort.id == CohortMember.cohort_id)
            .where(CohortMember.participant_id.in_(pids)).order_by(Cohort.name)
        ):
            found.setdefault(pid, []).append(name)
        return found

    def conversation(self, pid: str, limit: int = 200) -> list[SandboxEntry]:
        """The latest `limit` messages to and from one person, oldest first."""
        rows = self._session.scalars(
            select(SandboxMessage).where(SandboxMessage.participant_id == pid)
            .order_by(SandboxMessage.id.desc()).limit(limit)
        ).all()
        return [SandboxEntry(m.id, m.direction, m.kind, m.text,
                             tuple((str(c[0]), str(c[1])) for c in m.choices or []),
                             m.created_at, m.due_at)
                for m in reversed(rows)]

    def test_responses(self, survey_id: str | None = None) -> int:
        """How many responses are test data (all surveys, or one)."""
        stmt = select(func.count()).select_from(Response).where(Response.is_test.is_(True))
        if survey_id is not None:
            stmt = stmt.where(Response.survey_id == survey_id)
        return int(self._session.scalar(stmt) or 0)
