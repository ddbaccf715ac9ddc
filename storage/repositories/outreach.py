"""Outreach data: cohorts and their members, invitations, share-backs and due reminders.

Messages we start reach thousands of people at once, so the writes here are set-based:
one multi-row INSERT per batch rather than an ORM object per person. Due work (an
invitation whose time has come) is claimed with FOR UPDATE SKIP LOCKED on PostgreSQL, so
two schedulers started by mistake never both take it; on SQLite, BEGIN IMMEDIATE lets
only one writer in at a time, which has the same effect.

Instantiate with the unit of work's session: `OutreachRepository(uow.session)`. Like the
other repositories it never commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from storage.models import (
    Base,
    Cohort,
    CohortMember,
    Conversation,
    Invitation,
    OutboxMessage,
    Participant,
    Response,
    SandboxMessage,
    ShareBack,
    VaultEntry,
)
from storage.repositories._sql import execute, holds, prepared, rowcount
from storage.repositories._sql import insert as upsert_insert

#: Rows per multi-row INSERT or IN (...) list: well under SQLite's 32,766 bound
#: parameters and PostgreSQL's 65,535, at a dozen columns a row.
BATCH = 2000

#: `last_error` of an invitation or reminder that was not sent because the person wrote
#: to us first (see `cancel_waiting`).
NOT_NEEDED = "not needed: they wrote to us first"
#: `last_error` of a message held because its channel has no provider (and no sandbox).
NO_PROVIDER = "channel not configured"
#: `last_error` of an invitation message stopped because its cohort was deleted.
COHORT_DELETED = "cancelled: the cohort was deleted"


@dataclass(frozen=True)
class Recipient:
    """Someone to send an outreach message to: never an address, only what shapes it."""

    participant_id: str
    channel: str
    preferred_time: str | None
    language: str | None


@dataclass(frozen=True)
class DueReminder:
    participant_id: str
    next_reminder_at: datetime
    survey_id: str | None
    preferred_time: str | None
    opted_out: bool


@dataclass(frozen=True)
class CohortMemberView:
    """A member as the cohorts page shows them: a pseudonym, never an address."""

    participant_id: str
    channel: str
    added_at: datetime
    opted_out: bool


@dataclass(frozen=True)
class CohortSummary:
    id: int
    name: str
    members: int
    opted_out: int


def _table(model: type[Base]) -> Table:
    """The Core table behind a model, for statements that skip the ORM's per-row work."""
    return typed(Table, model.__table__)


def _insert_ignoring(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT ... ON CONFLICT DO NOTHING on the table itself, bypassing the ORM.

    Run with a list of rows it is one executemany of one compiled statement: the fastest
    portable way to add thousands of rows that may already exist.
    """
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class OutreachRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # --- cohorts ---------------------------------------------------------------------------

    def cohort(self, name: str) -> Cohort | None:
        return self._session.scalars(select(Cohort).where(Cohort.name == name)).first()

    def cohort_name(self, cohort_id: int) -> str:
        return self._session.scalars(select(Cohort.name).where(Cohort.id == cohort_id)).one()

    def ensure_cohort(self, name: str, now: datetime) -> int:
        """The cohort's id, created first if new; safe when two imports race."""
        stmt = upsert_insert(self._session, Cohort).values(name=name, created_at=now)
        self._session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
        return self._session.scalars(select(Cohort.id).where(Cohort.name == name)).one()

    def cohorts(self) -> list[CohortSummary]:
        """Every cohort with its size and how many of its members have opted out."""
        rows = self._session.execute(
            select(
                Cohort.id,
                Cohort.name,
                func.count(CohortMember.participant_id),
                func.count(Participant.opted_out_at),
            )
            .outerjoin(CohortMember, CohortMember.cohort_id == Cohort.id)
            .outerjoin(Participant, Participant.id == CohortMember.participant_id)
            .group_by(Cohort.id, Cohort.name)
            .order_by(Cohort.name)
        )
        return [CohortSummary(id_, name, members, out) for id_, name, members, out in rows]

    def members_among(self, cohort_id: int, pids: Sequence[str]) -> set[str]:
        """Which of `pids` are already in the cohort."""
        found: set[str] = set()
        for batch in chunks(pids):
            found.update(self._session.scalars(
                select(CohortMember.participant_id).where(
                    CohortMember.cohort_id == cohort_id,
                    CohortMember.participant_id.in_(batch),
                )
            ))
        return found

    def add_members(self, cohort_id: int, pids: Sequence[str], now: datetime) -> None:
        stmt = _insert_ignoring(self._session, _table(CohortMember))
        for batch in chunks(pids):
            # executemany: one compiled statement, however many rows (a multi-row VALUES
            # list would be compiled afresh for every batch, which is slower than the I/O).
            self._session.execute(stmt, [
                {"cohort_id": cohort_id, "participant_id": pid, "added_at": now}
                for pid in batch
            ])

    def members_by_channel(self, cohort_id: int) -> dict[str, int]:
        """Members who may be invited (not opted out), per channel."""
        return {channel: int(count) for channel, count in self._session.execute(
            select(Participant.channel, func.count())
            .join(CohortMember, CohortMember.participant_id == Participant.id)
            .where(CohortMember.cohort_id == cohort_id, Participant.opted_out_at.is_(None))
            .group_by(Participant.channel)
        )}

    def members(self, cohort_id: int, offset: int = 0,
                limit: int = 50) -> list[CohortMemberView]:
        """One page of a cohort's members, oldest first: pseudonyms, never addresses."""
        rows = self._session.execute(
            select(CohortMember.participant_id, Participant.channel, CohortMember.added_at,
                   Participant.opted_out_at)
            .join(Participant, Participant.id == CohortMember.participant_id)
            .where(CohortMember.cohort_id == cohort_id)
            .order_by(CohortMember.added_at, CohortMember.participant_id)
            .offset(offset).limit(limit)
        )
        return [CohortMemberView(pid, channel, added, out is not None)
                for pid, channel, added, out in rows]

    def remove_member(self, cohort_id: int, pid: str) -> bool:
        """Take someone out of a cohort (they stay known, opted out or not); False if absent."""
        result = self._session.execute(delete(CohortMember).where(
            CohortMember.cohort_id == cohort_id, CohortMember.participant_id == pid))
        return rowcount(result) > 0

    def scheduled_invitations(self, cohort_id: int) -> list[int]:
        """Ids of the cohort's invitations that have not gone out yet."""
        return list(self._session.scalars(
            select(Invitation.id).where(Invitation.cohort_id == cohort_id,
                                        Invitation.status == "scheduled")
            .order_by(Invitation.id)
        ))

    def _waiting(self, cohort_id: int) -> Any:
        return (OutboxMessage.invitation_id.in_(
                    select(Invitation.id).where(Invitation.cohort_id == cohort_id)),
                OutboxMessage.status.in_(("pending", "held")))

    def waiting_messages(self, cohort_id: int) -> int:
        """Invitation messages to this cohort still in the outbox, not yet handed over."""
        return int(self._session.scalar(
            select(func.count()).select_from(OutboxMessage).where(*self._waiting(cohort_id))
        ) or 0)

    def delete_cohort(self, cohort_id: int) -> tuple[int, int]:
        """Delete a cohort, its memberships and its invitations; (invitations, stopped).

        Invitation messages still waiting to go are stopped (dead, "cancelled: cohort
        deleted"); those already sent keep their history, their link to the invitation
        set to NULL by the foreign key. The people themselves stay.
        """
        stopped = rowcount(self._session.execute(
            update(OutboxMessage).where(*self._waiting(cohort_id))
            .values(status="dead", last_error=COHORT_DELETED)
            .execution_options(synchronize_session=False)))
        invitations = rowcount(self._session.execute(
            delete(Invitation).where(Invitation.cohort_id == cohort_id)
            .execution_options(synchronize_session=False)))
        self._session.execute(delete(CohortMember).where(CohortMember.cohort_id == cohort_id))
        self._session.execute(delete(Cohort).where(Cohort.id == cohort_id)
                              .execution_options(synchronize_session=False))
        return invitations, stopped

    def member_count(self, cohort_id: int) -> int:
        return int(self._session.scalar(
            select(func.count()).select_from(CohortMember)
            .where(CohortMember.cohort_id == cohort_id)
        ) or 0)

    # --- participants and addresses, in bulk --------------------------------------------------

    def opted_out_among(self, pids: Sequence[str]) -> set[str]:
        """Which of `pids` belong to people who have opted out."""
        found: set[str] = set()
        for batch in chunks(pids):
            found.update(self._session.scalars(
                select(Participant.id).where(
                    Participant.id.in_(batch), Participant.opted_out_at.is_not(None)
                )
            ))
        return found

    def add_people(self, people: Sequence[tuple[str, str, bytes]], now: datetime) -> None:
        """Create participants with encrypted addresses: (pid, channel, ciphertext).

        Anyone already known keeps their row and vault entry untouched: an import must
        not overwrite what the person's own messages recorded (or their last_seen_at).
        """
        participants = _insert_ignoring(self._session, _table(Participant))
        vault = _insert_ignoring(self._session, _table(VaultEntry))
        for batch in chunks(people):
            self._session.execute(participants, [
                {"id": pid, "channel": channel, "created_at": now} for pid, channel, _ in batch
            ])
            self._session.execute(vault, [
                {"participant_id": pid, "channel": channel, "ciphertext": ciphertext,
                 "created_at": now, "last_seen_at": now}
                for pid, channel, ciphertext in batch
            ])

    # --- invitations ---------------------------------------------------------------------

    def add_invitation(self, survey_id: str, cohort_id: int, scheduled_at: datetime,
                       now: datetime, created_by: int | None = None) -> int:
        invitation = Invitation(survey_id=survey_id, cohort_id=cohort_id, status="scheduled",
                                scheduled_at=scheduled_at, created_at=now,
                                created_by=created_by)
        self._session.add(invitation)
        self._session.flush()
        return invitation.id

    def invitation(self, invitation_id: int) -> Invitation | None:
        return self._session.get(Invitation, invitation_id)

    def invitations(self, limit: int = 50) -> list[Invitation]:
        """The most recent invitations, newest first."""
        return list(self._session.scalars(
            select(Invitation).order_by(Invitation.id.desc()).limit(limit)
        ))

    def claim_due_invitation(self, now: datetime) -> Invitation | None:
        """Lock the oldest due scheduled invitation for this transaction, or None.

        SKIP LOCKED: a second scheduler passes over the row instead of waiting for it, and
        once the first commits the invitation is 'queued' and no longer due.
        """
        return self._session.scalars(
            select(Invitation)
            .where(Invitation.status == "scheduled", Invitation.scheduled_at <= now)
            .order_by(Invitation.scheduled_at, Invitation.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).first()

    def set_invitation(self, invitation_id: int, **values: Any) -> None:
        self._session.execute(
            update(Invitation).where(Invitation.id == invitation_id).values(**values)
        )

    def cancel_invitation(self, invitation_id: int) -> bool:
        """Cancel it if it has not been queued yet; whether it was."""
        result = self._session.execute(
            update(Invitation)
            .where(Invitation.id == invitation_id, Invitation.status == "scheduled")
            .values(status="cancelled")
        )
        return rowcount(result) == 1

    def recipient_kinds(
        self, cohort_id: int
    ) -> tuple[set[tuple[str, str | None]], set[str | None]]:
        """The (channel, language) pairs and chosen times among a cohort's members.

        There are only a few of each, so a message and a send time can be worked out once
        per value rather than once per person.
        """
        members = (
            select(Participant.channel, Participant.language, Participant.preferred_time)
            .join(CohortMember, CohortMember.participant_id == Participant.id)
            .where(CohortMember.cohort_id == cohort_id, Participant.opted_out_at.is_(None))
            .distinct()
        )
        pairs: set[tuple[str, str | None]] = set()
        times: set[str | None] = set()
        for channel, language, preferred in self._session.execute(members):
            pairs.add((channel, language))
            times.add(preferred)
        return pairs, times

    def queue_invitation(
        self,
        invitation_id: int,
        cohort_id: int,
        payloads: Mapping[tuple[str, str | None], Mapping[str, Any]],
        send_times: Mapping[str | None, datetime],
        fallback: tuple[Mapping[str, Any], datetime],
        now: datetime,
    ) -> int:
        """One outbox row per member who has not opted out, in one INSERT ... SELECT.

        The payload is chosen by (channel, language) and the send time by chosen time,
        from the values given; anyone who joined or changed in the meantime gets the
        `fallback` (payload, time). Runs inside the database, so 100,000 people take
        seconds, not minutes. Returns how many rows were queued.
        """
        table = _table(OutboxMessage)
        postgres = self._session.get_bind().dialect.name == "postgresql"
        json_type = table.c.payload.type

        def as_json(value: Any) -> Any:
            bound = literal(value, json_type)
            return cast(bound, JSONB) if postgres else bound

        def as_time(value: datetime) -> Any:
            return literal(value, table.c.next_attempt_at.type)

        payload = case(
            *[
                (and_(Participant.channel == channel, Participant.language.is_(None)
                      if language is None else Participant.language == language),
                 as_json(dict(value)))
                for (channel, language), value in payloads.items()
            ],
            else_=as_json(dict(fallback[0])),
        )
        send_at = case(
            *[
                (Participant.preferred_time.is_(None) if preferred is None
                 else Participant.preferred_time == preferred, as_time(moment))
                for preferred, moment in send_times.items()
            ],
            else_=as_time(fallback[1]),
        )
        rows = (
            select(Participant.id, Participant.channel, payload, literal("pending"),
                   literal(0), send_at, as_json([]), as_time(now), literal("invitation"),
                   literal(invitation_id))
            .join(CohortMember, CohortMember.participant_id == Participant.id)
            .where(CohortMember.cohort_id == cohort_id, Participant.opted_out_at.is_(None))
        )
        stmt = insert(table).from_select(
            ["participant_id", "channel", "payload", "status", "attempts", "next_attempt_at",
             "provider_message_ids", "created_at", "kind", "invitation_id"],
            rows,
        )
        self._session.execute(stmt)
        # Counted rather than taken from rowcount, which psycopg leaves at -1 here.
        return int(self._session.scalar(
            select(func.count()).select_from(OutboxMessage)
            .where(OutboxMessage.invitation_id == invitation_id)
        ) or 0)

    def add_outbox_rows(self, rows: Iterable[dict[str, Any]]) -> int:
        """Multi-row INSERTs into the outbox; how many rows.

        Each row needs participant_id, channel, payload, next_attempt_at, created_at and
        kind (and invitation_id for invitations). 'pending', no attempts yet.
        """
        count = 0
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append({"status": "pending", "attempts": 0, "provider_message_ids": [],
                          "invitation_id": None, **row})
            if len(batch) == BATCH:
                count += self._insert_outbox(batch)
                batch = []
        if batch:
            count += self._insert_outbox(batch)
        return count

    def _insert_outbox(self, batch: list[dict[str, Any]]) -> int:
        self._session.execute(insert(_table(OutboxMessage)), batch)  # Core: executemany
        return len(batch)

    def invitation_progress(self, invitation: Invitation) -> dict[str, int]:
        """How far an invitation has got, one bucket per person invited.

        queued: waiting to go (including for quiet hours); sent: handed to the provider;
        delivered: the provider confirmed delivery; failed: could not be delivered;
        opted_out: said STOP (before or after it was sent); not_needed: wrote to us before
        it went. Buckets add up to the number of people invited.
        """
        counts = dict.fromkeys(
            ("queued", "sandbox", "no_provider", "sent", "delivered", "failed", "opted_out",
             "not_needed"), 0
        )
        if invitation.queued_at is None:
            return counts
        in_sandbox = SandboxMessage.id.is_not(None)
        rows = self._session.execute(
            select(OutboxMessage.status, OutboxMessage.last_error,
                   Participant.opted_out_at.is_not(None), in_sandbox, func.count())
            .join(Participant, Participant.id == OutboxMessage.participant_id)
            .outerjoin(SandboxMessage, SandboxMessage.outbox_id == OutboxMessage.id)
            .where(OutboxMessage.invitation_id == invitation.id,
                   OutboxMessage.kind == "invitation")
            .group_by(OutboxMessage.status, OutboxMessage.last_error,
                      Participant.opted_out_at.is_not(None), in_sandbox)
        )
        for status, error, opted_out, sandboxed, count in rows:
            if opted_out:
                bucket = "opted_out"
            elif sandboxed:
                bucket = "sandbox"
            elif status == "held" and error == NO_PROVIDER:
                bucket = "no_provider"
            elif status in ("pending", "sending", "held"):
                bucket = "queued"
            elif status in ("sent", "delivered"):
                bucket = status
            elif status == "dead" and error == NOT_NEEDED:
                bucket = "not_needed"
            else:
                bucket = "failed"
            counts[bucket] += count
        # Members who had already opted out when it was queued got no row at all.
        with_row = select(OutboxMessage.participant_id).where(
            OutboxMessage.invitation_id == invitation.id
        )
        counts["opted_out"] += int(self._session.scalar(
            select(func.count())
            .select_from(CohortMember)
            .join(Participant, Participant.id == CohortMember.participant_id)
            .where(
                CohortMember.cohort_id == invitation.cohort_id,
                CohortMember.added_at <= invitation.queued_at,
                Participant.opted_out_at.is_not(None),
                CohortMember.participant_id.not_in(with_row),
            )
        ) or 0)
        return counts

    def due_reply_ids(self, now: datetime, limit: int) -> list[int]:
        """Replies due now, oldest first: the sender takes these before any outreach.

        A reply answers someone who is waiting for it; 100,000 invitations ahead of it in
        the queue would otherwise hold it up for hours at 10 messages a second.
        """
        return list(self._session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending", OutboxMessage.kind == "reply",
                   OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id)
            .limit(limit)
        ))

    def next_waiting(self, invitation_id: int, now: datetime) -> datetime | None:
        """When the next of this invitation's waiting messages may go, if any are waiting."""
        return self._session.scalar(
            select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.invitation_id == invitation_id,
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at > now,
            )
        )

    def cancel_waiting(self, pid: str, now: datetime) -> int:
        """Drop this person's invitations and reminders still waiting to go; how many.

        Call it when they write to us: an invitation held back by quiet hours ("reply FFT
        to start") would only confuse someone already part-way through. Share-backs stay.
        """
        if holds(self._session, OutboxMessage):  # rarely: the ORM keeps their copies in step
            return rowcount(self._session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.participant_id == pid,
                    OutboxMessage.status.in_(("pending", "held")),
                    OutboxMessage.kind.in_(("invitation", "reminder")),
                    OutboxMessage.next_attempt_at > now,
                )
                .values(status="dead", last_error=NOT_NEEDED)
            ))  # fmt: skip
        statement = prepared(self._session, "outreach.cancel_waiting", lambda _d: _cancel_waiting())
        return rowcount(execute(self._session, statement, {"b_pid": pid, "b_now": now}))

    def invitation_heard(self, pid: str, survey_id: str, since: datetime) -> str | None:
        """The language of the latest invitation to `survey_id` that went to this person
        (sent or delivered) at or after `since`, if they have not started that survey
        since it went; None if there is none. "" for an invitation from before its
        payload named its language.

        Only for a message that starts a survey (the service checks that first), so the
        webhook's usual path never runs it.
        """
        sent = self._session.execute(
            select(OutboxMessage.payload, OutboxMessage.sent_at)
            .join(Invitation, Invitation.id == OutboxMessage.invitation_id)
            .where(OutboxMessage.participant_id == pid, OutboxMessage.kind == "invitation",
                   OutboxMessage.status.in_(("sent", "delivered")),
                   OutboxMessage.sent_at >= since, Invitation.survey_id == survey_id)
            .order_by(OutboxMessage.sent_at.desc())
            .limit(1)
        ).first()
        if sent is None:
            return None
        payload, sent_at = sent
        started = self._session.scalar(
            select(func.max(Response.started_at))
            .where(Response.participant_id == pid, Response.survey_id == survey_id))
        if started is not None and started >= sent_at:
            return None  # they have been through the intro since (or declined after it)
        return str((payload or {}).get("language") or "")

    # --- reminders ---------------------------------------------------------------------------

    def due_reminders(self, now: datetime, limit: int) -> list[DueReminder]:
        """Conversations whose reminder has fallen due, oldest first."""
        rows = self._session.execute(
            select(Conversation.participant_id, Conversation.next_reminder_at,
                   Conversation.state, Participant.preferred_time,
                   Participant.opted_out_at.is_not(None))
            .join(Participant, Participant.id == Conversation.participant_id)
            .where(Conversation.next_reminder_at <= now)
            .order_by(Conversation.next_reminder_at)
            .limit(limit)
        )
        return [
            DueReminder(pid, due, (state or {}).get("survey"), preferred, bool(out))
            for pid, due, state, preferred, out in rows
        ]

    def move_reminder(self, pid: str, expected: datetime, to: datetime | None) -> bool:
        """Set next_reminder_at to `to` unless it changed since read (they wrote meanwhile)."""
        result = self._session.execute(
            update(Conversation)
            .where(Conversation.participant_id == pid,
                   Conversation.next_reminder_at == expected)
            .values(next_reminder_at=to)
        )
        return rowcount(result) == 1

    # --- share-backs -------------------------------------------------------------------------

    def add_shareback(self, survey_id: str, text: str, now: datetime,
                      created_by: int | None = None) -> int:
        shareback = ShareBack(survey_id=survey_id, text=text, created_at=now,
                              created_by=created_by)
        self._session.add(shareback)
        self._session.flush()
        return shareback.id

    def shareback(self, shareback_id: int) -> ShareBack | None:
        return self._session.get(ShareBack, shareback_id)

    def update_shareback_text(self, shareback_id: int, text: str) -> bool:
        """Edit a draft; False once it has been sent (what people got must stay on record)."""
        result = self._session.execute(
            update(ShareBack)
            .where(ShareBack.id == shareback_id, ShareBack.queued_at.is_(None))
            .values(text=text)
        )
        return rowcount(result) == 1

    def sharebacks(self, survey_id: str | None = None) -> list[ShareBack]:
        stmt = select(ShareBack).order_by(ShareBack.id.desc())
        if survey_id is not None:
            stmt = stmt.where(ShareBack.survey_id == survey_id)
        return list(self._session.scalars(stmt))

    def latest_sent_shareback(self, survey_id: str) -> ShareBack | None:
        """The most recent share-back that went out for a survey (for late arrivals)."""
        return self._session.scalars(
            select(ShareBack)
            .where(ShareBack.survey_id == survey_id, ShareBack.queued_at.is_not(None))
            .order_by(ShareBack.queued_at.desc(), ShareBack.id.desc())
            .limit(1)
        ).first()

    def claim_shareback(self, shareback_id: int, now: datetime) -> bool:
        """Mark a draft as sent; False if it was already sent (so it goes out only once)."""
        result = self._session.execute(
            update(ShareBack)
            .where(ShareBack.id == shareback_id, ShareBack.queued_at.is_(None))
            .values(queued_at=now)
        )
        return rowcount(result) == 1

    def shareback_recipients(self, survey_id: str) -> list[Recipient]:
        """Everyone who said yes to hearing back about this survey and hasn't opted out.

        Someone who answered twice counts once; their latest answer to the question wins.
        """
        latest = (
            select(Response.participant_id, func.max(Response.id).label("response_id"))
            .where(Response.survey_id == survey_id, Response.share_back.is_not(None))
            .group_by(Response.participant_id)
            .subquery()
        )
        rows = self._session.execute(
            select(Participant.id, Participant.channel, Participant.preferred_time,
                   func.coalesce(Participant.language, Response.language))
            .join(latest, latest.c.participant_id == Participant.id)
            .join(Response, and_(Response.id == latest.c.response_id,
                                 Response.share_back.is_(True)))
            .where(Participant.opted_out_at.is_(None))
            .order_by(Participant.id)
        )
        return [Recipient(*row) for row in rows]

    def respondents(self, survey_id: str) -> int:
        """People who completed the survey: the base any quoted figure is a share of."""
        return int(self._session.scalar(
            select(func.count(func.distinct(Response.participant_id)))
            .where(Response.survey_id == survey_id, Response.status == "completed")
        ) or 0)

    def delete_shareback(self, shareback_id: int) -> bool:
        """Delete a draft (never one that was sent)."""
        result = self._session.execute(
            delete(ShareBack).where(ShareBack.id == shareback_id, ShareBack.queued_at.is_(None))
        )
        return rowcount(result) == 1


def _cancel_waiting() -> Any:
    """`OutreachRepository.cancel_waiting`'s UPDATE (the same conditions as the ORM one
    there), for :b_pid at :b_now. Built once and
    run as Core (`prepared`): an ORM UPDATE built per call, with its "synchronize session"
    evaluation, cost about 0.8 ms on the webhook hot path."""
    return (
        update(OutboxMessage)
        .where(
            OutboxMessage.participant_id == bindparam("b_pid"),
            OutboxMessage.status.in_(("pending", "held")),
            OutboxMessage.kind.in_(("invitation", "reminder")),
            OutboxMessage.next_attempt_at
            > bindparam("b_now", type_=OutboxMessage.__table__.c.next_attempt_at.type),
        )
        .values(status="dead", last_error=NOT_NEEDED)
    )
