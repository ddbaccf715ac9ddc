"""Consultations: statements, votes, the moderation queue, and the figures behind results.

Statements come from two places: seeds the organisers wrote in the consultation file
(approved from the start) and statements participants propose (redacted by the service,
then pending until a reviewer approves, edits or rejects them). Only approved statements
are ever offered for voting, never to their author, and never twice to anyone; the
query that picks candidates (`candidates`) enforces the first two, the engine's state and
the votes table the third.

Instantiate it on the unit of work's session: `ConsultationRepository(uow.session)`.
Like every repository it never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from storage.models import (
    STATEMENT_STATUSES,
    VOTES,
    Answer,
    AnswerTheme,
    AuditEvent,
    Consent,
    Response,
    Statement,
    Theme,
    Vote,
)
from storage.repositories._sql import check_one_of, insert

#: The theme a reviewer tags a view with to choose it as a quote for the draft response.
QUOTE_THEME = "Quote"
#: Moderation decisions, as written to the audit log ("statement.approve", ...).
DECISIONS = ("approve", "edit", "reject")
MODERATION_FILTERS = ("waiting", "approved", "rejected", "repeats")


@dataclass(frozen=True)
class CandidateRow:
    """An approved statement someone could be offered, with its vote count so far."""

    id: int
    question_id: str
    text: str
    author_id: str | None
    votes: int


@dataclass(frozen=True)
class Tally:
    """Votes on one statement."""

    id: int
    question_id: str
    text: str
    seed: bool
    status: str
    author_id: str | None
    created_at: datetime
    agree: int
    disagree: int
    passes: int

    @property
    def total(self) -> int:
        return self.agree + self.disagree + self.passes


@dataclass(frozen=True)
class QueueItem:
    """A pending statement for a reviewer, with the earlier statement it may repeat."""

    id: int
    question_id: str
    text: str
    created_at: datetime
    duplicate_of: int | None
    duplicate_text: str | None
    status: str = "pending"


@dataclass(frozen=True)
class View:
    """A participant's view in their own words (already redacted), for quotes."""

    answer_id: int
    question_id: str
    text: str
    quote_ok: bool
    quote_chosen: bool


@dataclass(frozen=True)
class Participation:
    """Raw counts for the method section; the caller suppresses them before showing any."""

    started: int
    consented: int
    completed: int
    by_channel: dict[str, int]
    first_at: datetime | None
    last_at: datetime | None
    voters: int
    votes: int
    statements: dict[str, int]  # by status, participants' statements only
    seeds: int
    edited: int
    duplicates_flagged: int


def _candidates_query() -> Any:
    mine = aliased(Vote)
    participant = bindparam("participant", type_=String())
    return (
        select(Statement.id, Statement.question_id, Statement.text, Statement.author_id,
               func.count(Vote.statement_id))
        .outerjoin(Vote, Vote.statement_id == Statement.id)
        .where(
            Statement.consultation_id == bindparam("consultation"),
            Statement.status == "approved",
            or_(Statement.author_id.is_(None), Statement.author_id != participant),
            ~exists().where(mine.statement_id == Statement.id,
                            mine.participant_id == participant),
        )
        .group_by(Statement.id, Statement.question_id, Statement.text, Statement.author_id)
        .order_by(Statement.id)
    )


#: Built once: it runs on every message in a consultation, and building it costs more
#: than running it.
_CANDIDATES = _candidates_query()


class ConsultationRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # --- seeds ----------------------------------------------------------------------------

    def upsert_seeds(self, consultation_id: str, seeds: Iterable[tuple[str, str]],
                     now: datetime) -> int:
        """Store the organisers' seed statements that are not stored yet; how many were new.

        Run on every load of the file, so a new version's extra seeds are added. Seeds
        dropped from the file are kept: people have voted on them.
        """
        existing = {(qid, text) for qid, text in self._session.execute(
            select(Statement.question_id, Statement.text)
            .where(Statement.consultation_id == consultation_id, Statement.seed.is_(True))
        )}
        added = 0
        for question_id, text in seeds:
            if (question_id, text) in existing:
                continue
            self._session.add(Statement(
                consultation_id=consultation_id, question_id=question_id, author_id=None,
                text=text, seed=True, status="approved", created_at=now, moderated_at=now,
            ))
            existing.add((question_id, text))
            added += 1
        self._session.flush()
        return added

    # --- what participants do ----------------------------------------------------------------

    def propose(self, consultation_id: str, question_id: str, author_id: str, text: str,
                now: datetime, duplicate_of: int | None = None) -> int:
        """Queue a participant's (already redacted) statement for moderation; its id."""
        statement = Statement(
            consultation_id=consultation_id, question_id=question_id, author_id=author_id,
            text=text, seed=False, status="pending", created_at=now, duplicate_of=duplicate_of,
        )
        self._session.add(statement)
        self._session.flush()
        return statement.id

    def vote(self, consultation_id: str, statement_id: int, participant_id: str, vote: str,
             now: datetime) -> bool:
        """Record (or change) a vote; False, storing nothing, unless the statement is an
        approved statement of this consultation that someone else wrote."""
        check_one_of(vote, VOTES, "vote")
        allowed = self._session.scalar(
            select(Statement.id).where(
                Statement.id == statement_id, Statement.consultation_id == consultation_id,
                Statement.status == "approved",
                or_(Statement.author_id.is_(None), Statement.author_id != participant_id),
            )
        )
        if allowed is None:
            return False
        stmt = insert(self._session, Vote).values(
            statement_id=statement_id, participant_id=participant_id, vote=vote, voted_at=now
        )
        self._session.execute(stmt.on_conflict_do_update(
            index_elements=["statement_id", "participant_id"],
            set_={"vote": vote, "voted_at": now},
        ))
        return True

    def candidates(self, consultation_id: str, participant_id: str) -> list[CandidateRow]:
        """Approved statements this person did not write and has not voted on, with how
        many votes each has: what the selection in surveys.consultation chooses from."""
        rows = self._session.execute(_CANDIDATES, {"consultation": consultation_id,
                                                   "participant": participant_id})
        return [CandidateRow(sid, qid, text, author, int(votes))
                for sid, qid, text, author, votes in rows]

    def texts(self, consultation_id: str, question_id: str) -> list[tuple[int, str]]:
        """(id, text) of the statements a new one could repeat: all but rejected ones."""
        rows = self._session.execute(
            select(Statement.id, Statement.text).where(
                Statement.consultation_id == consultation_id,
                Statement.question_id == question_id, Statement.status != "rejected",
            ).order_by(Statement.id)
        )
        return [(sid, text) for sid, text in rows]

    # --- moderation ------------------------------------------------------------------------

    def get(self, statement_id: int) -> Statement | None:
        return self._session.get(Statement, statement_id)

    def queue(self, consultation_id: str) -> list[QueueItem]:
        """Pending statements, oldest first, each with the text it may duplicate."""
        earlier = aliased(Statement)
        rows = self._session.execute(
            select(Statement.id, Statement.question_id, Statement.text, Statement.created_at,
                   Statement.duplicate_of, earlier.text)
            .outerjoin(earlier, earlier.id == Statement.duplicate_of)
            .where(Statement.consultation_id == consultation_id, Statement.status == "pending")
            .order_by(Statement.created_at, Statement.id)
        )
        return [QueueItem(*row) for row in rows]

    def waiting_counts(self) -> dict[str, int]:
        """Statements waiting for a reviewer, by consultation."""
        rows = self._session.execute(
            select(Statement.consultation_id, func.count())
            .where(Statement.status == "pending").group_by(Statement.consultation_id))
        return {consultation_id: int(n) for consultation_id, n in rows}

    def moderation(self, consultation_id: str, which: str, limit: int, offset: int
                   ) -> tuple[int, list[QueueItem]]:
        """One page of statements people wrote, and how many there are in all.

        `which`: "waiting" (oldest first, to decide), "approved" or "rejected" (newest
        decision first), or "repeats" (waiting ones that may repeat an earlier one).
        Organisers' seed statements are not moderated and are never listed.
        """
        check_one_of(which, MODERATION_FILTERS, "filter")
        where = [Statement.consultation_id == consultation_id, Statement.seed.is_(False)]
        if which in ("waiting", "repeats"):
            where.append(Statement.status == "pending")
            order: list[Any] = [Statement.created_at, Statement.id]
        else:
            where.append(Statement.status == which)
            order = [Statement.moderated_at.desc(), Statement.id.desc()]
        if which == "repeats":
            where.append(Statement.duplicate_of.is_not(None))
        total = int(self._session.scalar(
            select(func.count()).select_from(Statement).where(*where)) or 0)
        earlier = aliased(Statement)
        rows = self._session.execute(
            select(Statement.id, Statement.question_id, Statement.text, Statement.created_at,
                   Statement.duplicate_of, earlier.text, Statement.status)
            .outerjoin(earlier, earlier.id == Statement.duplicate_of)
            .where(*where).order_by(*order).limit(limit).offset(offset)
        )
        return total, [QueueItem(*row) for row in rows]

    def moderate(self, statement_id: int, decision: str, user_id: int | None, now: datetime,
                 text: str | None = None, reason: str | None = None) -> Statement:
        """Approve, edit (and so approve) or reject a statement; audited. KeyError if none.

        A participant's statement is redacted before it is stored; an edit is a reviewer's
        own words and is stored as given.
        """
        check_one_of(decision, DECISIONS, "decision")
        statement = self._session.get(Statement, statement_id)
        if statement is None:
            raise KeyError(statement_id)
        values: dict[str, Any] = {"moderated_at": now, "moderated_by": user_id,
                                  "status": "rejected" if decision == "reject" else "approved"}
        check_one_of(values["status"], STATEMENT_STATUSES, "status")
        if decision == "edit":
            if not text or not text.strip():
                raise ValueError("an edit needs the new text")
            values["text"] = " ".join(text.split())
        self._session.execute(update(Statement).where(Statement.id == statement_id)
                              .values(**values))
        self._session.add(AuditEvent(
            at=now, user_id=user_id, action=f"statement.{decision}",
            subject=statement.consultation_id[:128], reason=reason,
            detail={"statement": statement_id, "question": statement.question_id},
        ))
        self._session.flush()
        self._session.refresh(statement)
        return statement

    # --- results -----------------------------------------------------------------------------

    def tallies(self, consultation_id: str, statuses: tuple[str, ...] = ("approved",)
                ) -> list[Tally]:
        """Agree, disagree and not-sure counts per statement (one GROUP BY)."""
        def counted(value: str) -> Any:
            return func.count(Vote.statement_id).filter(Vote.vote == value)

        rows = self._session.execute(
            select(Statement.id, Statement.question_id, Statement.text, Statement.seed,
                   Statement.status, Statement.author_id, Statement.created_at,
                   counted("agree"), counted("disagree"), counted("pass"))
            .outerjoin(Vote, Vote.statement_id == Statement.id)
            .where(Statement.consultation_id == consultation_id,
                   Statement.status.in_(statuses))
            .group_by(Statement.id)
            .order_by(Statement.id)
        )
        return [Tally(sid, qid, text, bool(seed), status, author, created,
                      int(a), int(d), int(p))
                for sid, qid, text, seed, status, author, created, a, d, p in rows]

    def votes(self, consultation_id: str) -> list[tuple[str, int, str, datetime]]:
        """Every vote on the consultation: (participant, statement, vote, when)."""
        rows = self._session.execute(
            select(Vote.participant_id, Vote.statement_id, Vote.vote, Vote.voted_at)
            .join(Statement, Statement.id == Vote.statement_id)
            .where(Statement.consultation_id == consultation_id)
            .order_by(Vote.voted_at, Vote.statement_id, Vote.participant_id)
        )
        return [(pid, sid, vote, at) for pid, sid, vote, at in rows]

    def participation(self, consultation_id: str) -> Participation:
        """How many took part, where, when and with what: the method section's numbers."""
        s = self._session
        mine = Response.survey_id == consultation_id
        started = s.scalar(select(func.count(func.distinct(Response.participant_id)))
                           .where(mine))
        consented = s.scalar(select(func.count(func.distinct(Consent.participant_id))).where(
            Consent.survey_id == consultation_id, Consent.decision == "given"))
        by_channel = {channel: int(n) for channel, n in s.execute(
            select(Response.channel, func.count(func.distinct(Response.participant_id)))
            .where(mine, Response.consented_at.is_not(None))
            .group_by(Response.channel)
        )}
        completed = s.scalar(select(func.count(func.distinct(Response.participant_id)))
                             .where(mine, Response.status == "completed"))
        first_at, last_update = s.execute(
            select(func.min(Response.started_at), func.max(Response.updated_at)).where(mine)
        ).one()
        voters, votes, last_vote = s.execute(
            select(func.count(func.distinct(Vote.participant_id)), func.count(),
                   func.max(Vote.voted_at))
            .join(Statement, Statement.id == Vote.statement_id)
            .where(Statement.consultation_id == consultation_id)
        ).one()
        last_answer = s.scalar(select(func.max(Answer.answered_at))
                               .where(Answer.survey_id == consultation_id))
        statuses = {status: int(n) for status, n in s.execute(
            select(Statement.status, func.count())
            .where(Statement.consultation_id == consultation_id, Statement.seed.is_(False))
            .group_by(Statement.status)
        )}
        seeds = s.scalar(select(func.count()).where(
            Statement.consultation_id == consultation_id, Statement.seed.is_(True)))
        edited = s.scalar(select(func.count()).where(
            AuditEvent.action == "statement.edit", AuditEvent.subject == consultation_id))
        flagged = s.scalar(select(func.count()).where(
            Statement.consultation_id == consultation_id, Statement.duplicate_of.is_not(None)))
        moments = [m for m in (last_update, last_vote, last_answer) if m is not None]
        return Participation(
            started=int(started or 0), consented=int(consented or 0),
            completed=int(completed or 0), by_channel=by_channel,
            first_at=first_at, last_at=max(moments) if moments else None,
            voters=int(voters or 0), votes=int(votes or 0),
            statements={status: int(statuses.get(status, 0)) for status in STATEMENT_STATUSES},
            seeds=int(seeds or 0), edited=int(edited or 0), duplicates_flagged=int(flagged or 0),
        )

    def views(self, consultation_id: str) -> list[View]:
        """Every view in people's own words, with whether it may be and was chosen as a quote."""
        chosen = exists().where(
            AnswerTheme.answer_id == Answer.id, AnswerTheme.theme_id == Theme.id,
            Theme.survey_id == consultation_id, Theme.name == QUOTE_THEME,
        )
        rows = self._session.execute(
            select(Answer.id, Answer.question_id, Answer.value, Response.quote_ok, chosen)
            .join(Response, Response.id == Answer.response_id)
            .where(Answer.survey_id == consultation_id, Answer.kind == "value")
            .order_by(Answer.answered_at, Answer.id)
        )
        return [View(answer_id, qid, str(value or ""), bool(quote_ok), bool(is_chosen))
                for answer_id, qid, value, quote_ok, is_chosen in rows]

    def theme_counts(self, consultation_id: str) -> dict[tuple[str, str], int]:
        """(question id, theme name) -> how many views reviewers tagged with it."""
        rows = self._session.execute(
            select(Answer.question_id, Theme.name, func.count(func.distinct(Answer.id)))
            .join(AnswerTheme, AnswerTheme.answer_id == Answer.id)
            .join(Theme, and_(Theme.id == AnswerTheme.theme_id,
                              Theme.survey_id == consultation_id))
            .where(Answer.survey_id == consultation_id, Answer.kind == "value",
                   Theme.name != QUOTE_THEME)
            .group_by(Answer.question_id, Theme.name)
        )
        return {(qid, name): int(count) for qid, name, count in rows}

    def choose_quote(self, consultation_id: str, answer_id: int, chosen: bool,
                     user_id: int | None, now: datetime) -> bool:
        """Mark a view as a quote for the draft (or withdraw it); False if it is not a view
        of this consultation. Only views whose author agreed to be quoted are ever used."""
        answer = self._session.get(Answer, answer_id)
        if answer is None or answer.survey_id != consultation_id or answer.kind != "value":
            return False
        theme_id = self._session.scalar(select(Theme.id).where(
            Theme.survey_id == consultation_id, Theme.name == QUOTE_THEME))
        if theme_id is None:
            theme = Theme(survey_id=consultation_id, name=QUOTE_THEME, created_by=user_id,
                          created_at=now)
            self._session.add(theme)
            self._session.flush()
            theme_id = theme.id
        tagged = self._session.get(AnswerTheme, (answer_id, theme_id))
        if chosen and tagged is None:
            self._session.add(AnswerTheme(answer_id=answer_id, theme_id=theme_id,
                                          tagged_by=user_id, tagged_at=now))
        elif not chosen and tagged is not None:
            self._session.delete(tagged)
        self._session.flush()
        return True
