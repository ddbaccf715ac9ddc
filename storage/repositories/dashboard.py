"""Data for the organiser dashboard: accounts, sign-in attempts, the audit log, themes,
notes, and the statistics behind the survey pages.

Every statistic is a GROUP BY in the database, returning a handful of rows however many
answers there are: the survey page must stay fast at a million answers, and a Python loop
over rows would not. The numbers returned here are raw; the web layer passes every one
through `surveys.suppression` before anyone sees it.

Instantiate it on the unit of work's session: `DashboardRepository(uow.session)`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from storage.models import (
    ROLES,
    AccountInvite,
    Answer,
    AnswerPairTally,
    AnswerTally,
    AnswerTheme,
    AuditEvent,
    DashboardSetting,
    Invitation,
    LoginAttempt,
    Note,
    OutboxMessage,
    Response,
    SandboxMessage,
    Theme,
    ThemeRejection,
    User,
)
from storage.repositories._sql import check_one_of, insert, rowcount
from storage.repositories.ticked import parse_ticked, ticked_condition

_S = TypeVar("_S", bound=Select)
_K = TypeVar("_K", bound=Hashable)

#: The funnel cell for consented responses that stopped before answering anything.
STOPPED_BEFORE_ANY = ""


@dataclass(frozen=True)
class ResponseFilter:
    """Which responses a view covers: by start date (inclusive, UTC), channel, language."""

    date_from: date | None = None
    date_to: date | None = None
    channel: str | None = None
    language: str | None = None
    #: Leave out test responses (sandbox rehearsals). Set it only when a survey has
    #: some (`DashboardRepository.test_responses`): the join it needs costs time.
    without_test: bool = False
    #: (question id, option code): only those who gave that answer to a single-answer
    #: question; code "" is those who gave it no answer (skipped, or never reached it).
    answer: tuple[str, str] | None = None

    @property
    def active(self) -> bool:
        return any((self.date_from, self.date_to, self.channel, self.language,
                    self.without_test, self.answer))

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.without_test:
            found.append(Response.is_test.is_(False))
        if self.date_from:
            found.append(Response.started_at >= datetime.combine(self.date_from, time(), UTC))
        if self.date_to:
            end = datetime.combine(self.date_to + timedelta(days=1), time(), UTC)
            found.append(Response.started_at < end)
        if self.channel:
            found.append(Response.channel == self.channel)
        if self.language:
            found.append(Response.language == self.language)
        if self.answer:
            found.append(answered_with(*self.answer))
        return found


def answer_texts(code: str) -> list[str]:
    """How an option code is stored, as JSON text: a string, or a number for a scale."""
    texts = [json.dumps(code)]
    if code.lstrip("-").isdigit():
        texts.append(json.dumps(int(code)))
    return texts


def answered_with(question_id: str, code: str) -> ColumnElement[bool]:
    """The response gave `code` to the question (or, for code "", no answer at all; for
    a multiple-choice option's "ticked:…" or "unticked:…", see `storage.repositories.ticked`)."""
    option = parse_ticked(code)
    if option is not None:
        return ticked_condition(question_id, *option)
    given = aliased(Answer)
    match = exists().where(given.response_id == Response.id,
                           given.question_id == question_id, given.kind == "value")
    if not code:
        return ~match
    return match.where(cast(given.value, Text).in_(answer_texts(code)))


#: No filter: every response.
EVERYONE = ResponseFilter()


@dataclass(frozen=True)
class FreeTextAnswer:
    id: int
    question_id: str
    text: str
    answered_at: datetime
    quote_ok: bool
    #: From a rehearsal in the sandbox.
    is_test: bool = False
    #: The response it belongs to (its number, for organisers' link to the whole response).
    response_id: int | None = None


@dataclass(frozen=True)
class AnswerSummary:
    answered: dict[str, int]
    skipped: dict[str, int]
    #: {question id: {answer: count}} for the coded questions asked about.
    values: dict[str, dict[Any, int]]
    #: Voice notes or photos sent instead of an answer, per question.
    media: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class NoteView:
    id: int
    answer_id: int
    author: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class SurveyCounts:
    """Raw counts for the surveys list, straight from one GROUP BY."""

    by_channel: dict[str, int]
    #: Those who agreed to take part, by channel.
    consented_by_channel: dict[str, int]
    not_consented: int
    consented: int
    completed: int

    @property
    def started(self) -> int:
        return self.not_consented + self.consented


class DashboardRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def session(self) -> Session:
        """The session it works on, for the repositories that add to it (by_answer.py)."""
        return self._session

    # --- accounts ------------------------------------------------------------------------

    def add_user(self, email: str, password_hash: str, role: str, now: datetime) -> User:
        """Create an account. Emails are compared in lower case, so store them so."""
        check_one_of(role, ROLES, "role")
        user = User(email=email.strip().lower(), password_hash=password_hash, role=role,
                    created_at=now)
        self._session.add(user)
        self._session.flush()
        return user

    def user(self, user_id: int) -> User | None:
        return self._session.get(User, user_id)

    def user_with_setting(self, user_id: int, name: str) -> tuple[User | None, Any]:
        """An account and one dashboard setting in one query (every signed-in request
        needs both)."""
        row = self._session.execute(
            select(User, DashboardSetting.value)
            .outerjoin(DashboardSetting, DashboardSetting.name == name)
            .where(User.id == user_id)).first()
        return (None, None) if row is None else (row[0], row[1])

    def user_by_email(self, email: str) -> User | None:
        return self._session.scalars(
            select(User).where(User.email == email.strip().lower())
        ).first()

    def users(self) -> list[User]:
        return list(self._session.scalars(select(User).order_by(User.email)))

    def active_organisers(self) -> int:
        """Organisers who can sign in (not disabled)."""
        return int(self._session.scalar(
            select(func.count()).select_from(User)
            .where(User.role == "organiser", User.disabled_at.is_(None))) or 0)

    def update_user(self, user_id: int, **values: Any) -> None:
        """Change an account's role, password hash or disabled_at."""
        if "role" in values:
            check_one_of(values["role"], ROLES, "role")
        self._session.execute(update(User).where(User.id == user_id).values(values))

    def signed_in(self, user_id: int, now: datetime, new_hash: str | None = None) -> None:
        """Record a sign-in, replacing the password hash when its parameters were upgraded."""
        values: dict[str, Any] = {"last_login_at": now}
        if new_hash:
            values["password_hash"] = new_hash
        self._session.execute(update(User).where(User.id == user_id).values(values))

    def end_sessions(self, user_id: int) -> int:
        """Raise the account's session epoch, so every session signed in before ends at its
        next click. Returns the new epoch (for the one session that should carry on)."""
        self._session.execute(update(User).where(User.id == user_id)
                              .values(session_epoch=User.session_epoch + 1))
        return int(self._session.scalar(
            select(User.session_epoch).where(User.id == user_id)) or 0)

    def rotate_two_factor(self, rotate: Callable[[bytes], bytes]) -> int:
        """Re-encrypt every two-factor secret with `rotate` (the vault's); how many."""
        users = list(self._session.scalars(select(User).where(User.totp_secret.is_not(None))))
        for user in users:
            assert user.totp_secret is not None
            user.totp_secret = rotate(user.totp_secret)
        self._session.flush()
        return len(users)

    # --- invite links ------------------------------------------------------------------

    def add_invite(self, user_id: int, token_hash: str, now: datetime,
                   expires_at: datetime) -> None:
        """A new link for the account; any earlier unused link for it stops working."""
        self._session.execute(
            update(AccountInvite)
            .where(AccountInvite.user_id == user_id, AccountInvite.used_at.is_(None))
            .values(used_at=now))
        self._session.add(AccountInvite(user_id=user_id, token_hash=token_hash,
                                        created_at=now, expires_at=expires_at))
        self._session.flush()

    def invite(self, token_hash: str) -> AccountInvite | None:
        return self._session.scalars(
            select(AccountInvite).where(AccountInvite.token_hash == token_hash)).first()

    def use_invite(self, invite_id: int, now: datetime) -> bool:
        """Mark a link used; False if it was used (or replaced) in the meantime."""
        result = self._session.execute(
            update(AccountInvite)
            .where(AccountInvite.id == invite_id, AccountInvite.used_at.is_(None))
            .values(used_at=now))
        return rowcount(result) == 1

    def open_invites(self, now: datetime) -> dict[int, datetime]:
        """Account id → when its unused, unexpired link expires."""
        rows = self._session.execute(
            select(AccountInvite.user_id, func.max(AccountInvite.expires_at))
            .where(AccountInvite.used_at.is_(None), AccountInvite.expires_at > now)
            .group_by(AccountInvite.user_id))
        return {user_id: expires for user_id, expires in rows}

    # --- settings changed in the dashboard ----------------------------------------------

    def setting(self, name: str, default: Any = None) -> Any:
        row = self._session.get(DashboardSetting, name)
        return default if row is None else row.value

    def set_setting(self, name: str, value: Any, now: datetime) -> None:
        row = self._session.get(DashboardSetting, name)
        if row is None:
            self._session.add(DashboardSetting(name=name, value=value, updated_at=now))
        else:
            row.value, row.updated_at = value, now
        self._session.flush()

    # --- sign-in attempts ------------------------------------------------------------

    def record_attempt(self, key: str, now: datetime, succeeded: bool) -> None:
        self._session.add(LoginAttempt(key=key, attempted_at=now, succeeded=succeeded))
        self._session.flush()

    def failures_since(self, keys: Sequence[str], since: datetime) -> dict[str, int]:
        """Failed attempts per key since `since` (keys with none are absent)."""
        rows = self._session.execute(
            select(LoginAttempt.key, func.count())
            .where(LoginAttempt.key.in_(list(keys)), LoginAttempt.attempted_at >= since,
                   LoginAttempt.succeeded.is_(False))
            .group_by(LoginAttempt.key)
        )
        return {key: count for key, count in rows}

    def clear_failures(self, key: str) -> None:
        """Forget an account's failures after it signs in, so old typos stop counting."""
        self._session.execute(
            delete(LoginAttempt).where(LoginAttempt.key == key,
                                       LoginAttempt.succeeded.is_(False))
        )

    def prune_attempts(self, before: datetime) -> int:
        result = self._session.execute(
            delete(LoginAttempt).where(LoginAttempt.attempted_at < before)
        )
        return rowcount(result)

    # --- audit log ---------------------------------------------------------------------

    def audit(self, user_id: int | None, action: str, subject: str, now: datetime,
              reason: str | None = None, detail: Mapping[str, Any] | None = None) -> int:
        """Record who did what to which survey (or flag) and why. Never put an address in."""
        event = AuditEvent(at=now, user_id=user_id, action=action[:32], subject=subject[:128],
                           reason=reason, detail=dict(detail or {}))
        self._session.add(event)
        self._session.flush()
        return event.id

    def audit_events(self, limit: int = 200) -> list[tuple[AuditEvent, str | None]]:
        """The newest events first, each with the email of whoever did it (if still known)."""
        rows = self._session.execute(
            select(AuditEvent, User.email)
            .outerjoin(User, User.id == AuditEvent.user_id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
        return [(event, email) for event, email in rows]

    # --- themes and notes --------------------------------------------------------------

    def create_theme(self, survey_id: str, name: str, user_id: int | None,
                     now: datetime) -> int:
        """The theme's id, creating it unless the survey already has one of that name."""
        name = " ".join(name.split())
        stmt = insert(self._session, Theme).values(
            survey_id=survey_id, name=name, created_by=user_id, created_at=now
        ).on_conflict_do_nothing(index_elements=["survey_id", "name"])
        self._session.execute(stmt)
        theme_id = self._session.scalar(
            select(Theme.id).where(Theme.survey_id == survey_id, Theme.name == name)
        )
        assert theme_id is not None
        return theme_id

    def themes(self, survey_id: str) -> list[Theme]:
        return list(self._session.scalars(
            select(Theme).where(Theme.survey_id == survey_id).order_by(Theme.name)
        ))

    def theme(self, theme_id: int) -> Theme | None:
        return self._session.get(Theme, theme_id)

    def tag(self, answer_id: int, theme_id: int, user_id: int | None, now: datetime) -> None:
        stmt = insert(self._session, AnswerTheme).values(
            answer_id=answer_id, theme_id=theme_id, tagged_by=user_id, tagged_at=now
        ).on_conflict_do_nothing(index_elements=["answer_id", "theme_id"])
        self._session.execute(stmt)

    def untag(self, answer_id: int, theme_id: int) -> None:
        self._session.execute(delete(AnswerTheme).where(
            AnswerTheme.answer_id == answer_id, AnswerTheme.theme_id == theme_id
        ))

    def tags_of(self, answer_ids: Iterable[int]) -> dict[int, list[int]]:
        """Theme ids per answer, for the answers on one page."""
        ids = list(answer_ids)
        found: dict[int, list[int]] = {answer_id: [] for answer_id in ids}
        if ids:
            rows = self._session.execute(
                select(AnswerTheme.answer_id, AnswerTheme.theme_id)
                .where(AnswerTheme.answer_id.in_(ids))
                .order_by(AnswerTheme.theme_id)
            )
            for answer_id, theme_id in rows:
                found[answer_id].append(theme_id)
        return found

    def tags_in_question(self, survey_id: str, question_id: str) -> dict[int, list[int]]:
        """Theme ids per tagged answer of one question (for suggested themes)."""
        found: dict[int, list[int]] = {}
        rows = self._session.execute(
            select(AnswerTheme.answer_id, AnswerTheme.theme_id)
            .join(Answer, Answer.id == AnswerTheme.answer_id)
            .where(Answer.survey_id == survey_id, Answer.question_id == question_id)
            .order_by(AnswerTheme.answer_id, AnswerTheme.theme_id)
        )
        for answer_id, theme_id in rows:
            found.setdefault(answer_id, []).append(theme_id)
        return found

    def reject_theme(self, answer_ids: Iterable[int], name: str, user_id: int | None,
                     now: datetime) -> None:
        """Remember that a suggested theme (its folded name) is wrong for these answers."""
        for answer_id in answer_ids:
            self._session.execute(insert(self._session, ThemeRejection).values(
                answer_id=answer_id, name=name, rejected_by=user_id, rejected_at=now,
            ).on_conflict_do_nothing(index_elements=["answer_id", "name"]))

    def rejections_in_question(self, survey_id: str, question_id: str) -> dict[int, set[str]]:
        """The rejected theme names per answer of one question."""
        found: dict[int, set[str]] = {}
        rows = self._session.execute(
            select(ThemeRejection.answer_id, ThemeRejection.name)
            .join(Answer, Answer.id == ThemeRejection.answer_id)
            .where(Answer.survey_id == survey_id, Answer.question_id == question_id)
        )
        for answer_id, name in rows:
            found.setdefault(answer_id, set()).add(name)
        return found

    def add_note(self, answer_id: int, user_id: int | None, text: str, now: datetime) -> int:
        note = Note(answer_id=answer_id, user_id=user_id, text=text, created_at=now)
        self._session.add(note)
        self._session.flush()
        return note.id

    def notes_of(self, answer_ids: Iterable[int]) -> dict[int, list[NoteView]]:
        ids = list(answer_ids)
        found: dict[int, list[NoteView]] = {answer_id: [] for answer_id in ids}
        if ids:
            rows = self._session.execute(
                select(Note.id, Note.answer_id, User.email, Note.text, Note.created_at)
                .outerjoin(User, User.id == Note.user_id)
                .where(Note.answer_id.in_(ids))
                .order_by(Note.created_at, Note.id)
            )
            for note_id, answer_id, email, text, created_at in rows:
                found[answer_id].append(
                    NoteView(note_id, answer_id, email or "a former user", text, created_at)
                )
        return found

    def free_text_answers(self, answer_ids: Iterable[int], survey_id: str,
                          question_ids: Sequence[str]) -> set[int]:
        """Which of these are free-text answers of this survey (for bulk tagging)."""
        ids = list(answer_ids)
        if not ids:
            return set()
        return set(self._session.scalars(
            select(Answer.id).where(
                Answer.id.in_(ids), Answer.survey_id == survey_id,
                Answer.question_id.in_(list(question_ids)), Answer.kind == "value",
            )
        ))

    def theme_counts_by_question(self, survey_id: str, question_ids: Sequence[str],
                                 where: ResponseFilter = EVERYONE
                                 ) -> dict[tuple[int, str], int]:
        """Tagged answers per (theme, question), among the free-text answers in view."""
        themes = select(Theme.id).where(Theme.survey_id == survey_id).scalar_subquery()
        stmt = (
            select(AnswerTheme.theme_id, Answer.question_id, func.count())
            .join(Answer, Answer.id == AnswerTheme.answer_id)
            .where(AnswerTheme.theme_id.in_(themes),
                   Answer.question_id.in_(list(question_ids)), Answer.kind == "value")
            .group_by(AnswerTheme.theme_id, Answer.question_id)
        )
        return {(theme_id, question_id): count for theme_id, question_id, count
                in self._session.execute(self._filtered(stmt, where))}

    def theme_counts_for_rows(self, survey_id: str, question_ids: Sequence[str],
                              rows: Mapping[_K, ResponseFilter]
                              ) -> dict[_K, dict[tuple[int, str], int]]:
        """`theme_counts_by_question` for every row of a view's partition in one query:
        the tagged answers (there are far fewer tags than answers) with the facets they
        carry and, for a row narrowed by an answer, their response's answer to that
        question; each row then takes the ones it covers."""
        themes = select(Theme.id).where(Theme.survey_id == survey_id).scalar_subquery()
        by = sorted({where.answer[0] for where in rows.values() if where.answer})
        grouping = {qid: aliased(Answer) for qid in by}
        day: ColumnElement[Any]
        if self._dialect == "postgresql":
            day = cast(func.timezone("UTC", Answer.started_at), Date)
        else:  # SQLite keeps UTC wall-clock text, "YYYY-MM-DD HH:MM:SS…"
            day = func.substr(cast(Answer.started_at, String), 1, 10)
        stmt = (
            select(AnswerTheme.theme_id, Answer.question_id, Answer.channel, Answer.language,
                   day, Answer.is_test, *[g.value for g in grouping.values()],
                   func.count())
            .join(Answer, Answer.id == AnswerTheme.answer_id)
            .where(AnswerTheme.theme_id.in_(themes),
                   Answer.question_id.in_(list(question_ids)), Answer.kind == "value")
        )
        for qid, g in grouping.items():
            stmt = stmt.outerjoin(g, (g.response_id == Answer.response_id)
                                  & (g.question_id == qid) & (g.kind == "value"))
        stmt = stmt.group_by(*[c for c in stmt.selected_columns][:-1])
        found: dict[_K, dict[tuple[int, str], int]] = {key: {} for key in rows}
        for theme_id, qid, channel, language, started, is_test, *given, count in \
                self._session.execute(stmt):
            answers = dict(zip(by, given, strict=True))
            if started is not None and not isinstance(started, date):
                started = date.fromisoformat(str(started))
            for key, where in rows.items():
                if _covers(where, channel, language, started, is_test, answers):
                    cell = found[key]
                    cell[(theme_id, qid)] = cell.get((theme_id, qid), 0) + count
        return found

    def free_text_answer(self, answer_id: int, survey_id: str,
                         question_ids: Sequence[str]) -> bool:
        """Is this a free-text answer of this survey? Tags and notes only go on those."""
        found = self._session.scalar(
            select(Answer.id).where(
                Answer.id == answer_id, Answer.survey_id == survey_id,
                Answer.question_id.in_(list(question_ids)), Answer.kind == "value",
            )
        )
        return found is not None

    # --- statistics ----------------------------------------------------------------------

    def survey_counts(self) -> dict[str, SurveyCounts]:
        """Per survey: responses by channel, and how many consented and completed."""
        consented = Response.consented_at.is_not(None)
        completed = Response.status == "completed"
        rows = self._session.execute(
            select(Response.survey_id, Response.channel, consented, completed, func.count())
            .where(Response.is_test.is_(False))  # rehearsals are not evidence
            .group_by(Response.survey_id, Response.channel, consented, completed)
        )
        raw: dict[str, dict[str, Any]] = {}
        for survey_id, channel, has_consented, is_completed, count in rows:
            entry = raw.setdefault(survey_id, {"by_channel": {}, "consented_by_channel": {},
                                               "not_consented": 0, "consented": 0,
                                               "completed": 0})
            entry["by_channel"][channel] = entry["by_channel"].get(channel, 0) + count
            if has_consented or is_completed:
                agreed = entry["consented_by_channel"]
                agreed[channel] = agreed.get(channel, 0) + count
                entry["consented"] += count
                entry["completed"] += count if is_completed else 0
            else:
                entry["not_consented"] += count
        return {survey_id: SurveyCounts(**values) for survey_id, values in raw.items()}

    def funnel(self, survey_id: str, question_ids: Sequence[str],
               where: ResponseFilter = EVERYONE) -> dict[str, int]:
        """Where each response got to: a partition of every response started.

        Keys: "not_consented"; "completed"; and for consented responses that did not
        finish, the id of the last question they answered (in survey order), or
        `STOPPED_BEFORE_ANY`. Two GROUP BY queries, whatever the number of answers.
        """
        consented = Response.consented_at.is_not(None)
        completed = Response.status == "completed"
        cells: dict[str, int] = {"not_consented": 0, STOPPED_BEFORE_ANY: 0}
        cells.update({qid: 0 for qid in question_ids})
        cells["completed"] = 0
        rows = self._session.execute(
            select(consented, completed, func.count())
            .where(Response.survey_id == survey_id, *where.conditions())
            .group_by(consented, completed)
        )
        unfinished = 0
        for has_consented, is_completed, count in rows:
            if is_completed:
                cells["completed"] += count
            elif has_consented:
                unfinished += count
            else:
                cells["not_consented"] += count
        if unfinished and question_ids:
            position = case(
                {qid: i for i, qid in enumerate(question_ids, start=1)},
                value=Answer.question_id, else_=None,
            )
            last = (
                select(func.max(position).label("last"))
                .select_from(Response)
                .outerjoin(Answer, (Answer.response_id == Response.id)
                           & Answer.kind.in_(("value", "skipped")))
                .where(Response.survey_id == survey_id, consented, ~completed,
                       *where.conditions())
                .group_by(Response.id)
                .subquery()
            )
            counted = 0
            for last_position, count in self._session.execute(
                select(last.c.last, func.count()).group_by(last.c.last)
            ):
                if last_position:
                    cells[question_ids[int(last_position) - 1]] += count
                    counted += count
            cells[STOPPED_BEFORE_ANY] = unfinished - counted
        else:
            cells[STOPPED_BEFORE_ANY] = unfinished
        return cells

    def funnels(self, survey_id: str, question_ids: Sequence[str],
                rows: Mapping[_K, ResponseFilter]) -> dict[_K, dict[str, int]]:
        """`funnel` for each of several groups at once (the rows of a narrowed view's
        partition): two GROUP BY queries in all, not two per group."""
        if len(rows) <= 1 or any(where.answer for where in rows.values()):
            return {key: self.funnel(survey_id, question_ids, where)
                    for key, where in rows.items()}
        groups = Groups(rows)
        consented = Response.consented_at.is_not(None).label("consented")
        completed = (Response.status == "completed").label("completed")
        found: dict[_K, dict[str, int]] = {}
        for key in rows:
            cells: dict[str, int] = {"not_consented": 0, STOPPED_BEFORE_ANY: 0}
            cells.update({qid: 0 for qid in question_ids})
            cells["completed"] = 0
            found[key] = cells
        unfinished = dict.fromkeys(rows, 0)
        names = groups.names
        for *dims, has_consented, is_completed, count in self._session.execute(
            select(*groups.columns, consented, completed, func.count())
            .where(Response.survey_id == survey_id, *groups.common)
            .group_by(*[literal_column(n) for n in [*names, "consented", "completed"]])
        ):
            for key in groups.match(dims):
                if is_completed:
                    found[key]["completed"] += count
                elif has_consented:
                    unfinished[key] += count
                else:
                    found[key]["not_consented"] += count
        counted = dict.fromkeys(rows, 0)
        if any(unfinished.values()) and question_ids:
            position = case(
                {qid: i for i, qid in enumerate(question_ids, start=1)},
                value=Answer.question_id, else_=None,
            )
            last = (
                select(*groups.columns, func.max(position).label("last"))
                .select_from(Response)
                .outerjoin(Answer, (Answer.response_id == Response.id)
                           & Answer.kind.in_(("value", "skipped")))
                .where(Response.survey_id == survey_id, Response.consented_at.is_not(None),
                       Response.status != "completed", *groups.common)
                # The dimensions are the response's own: grouping by its key is enough.
                .group_by(Response.id)
                .subquery()
            )
            dim_columns = [last.c[n] for n in names]
            for *dims, last_position, count in self._session.execute(
                select(*dim_columns, last.c.last, func.count())
                .group_by(*dim_columns, last.c.last)
            ):
                if last_position:
                    for key in groups.match(dims):
                        found[key][question_ids[int(last_position) - 1]] += count
                        counted[key] += count
        for key in rows:
            found[key][STOPPED_BEFORE_ANY] = unfinished[key] - counted[key]
        return found

    def invited(self, survey_id: str, where: ResponseFilter = EVERYONE) -> int:
        """People sent an invitation to this survey (distinct), by channel and send date."""
        stmt = (
            select(func.count(func.distinct(OutboxMessage.participant_id)))
            .join(Invitation, Invitation.id == OutboxMessage.invitation_id)
            .where(Invitation.survey_id == survey_id, OutboxMessage.kind == "invitation")
        )
        if where.channel:
            stmt = stmt.where(OutboxMessage.channel == where.channel)
        if where.date_from:
            stmt = stmt.where(
                OutboxMessage.created_at >= datetime.combine(where.date_from, time(), UTC))
        if where.date_to:
            end = datetime.combine(where.date_to + timedelta(days=1), time(), UTC)
            stmt = stmt.where(OutboxMessage.created_at < end)
        if where.without_test:  # invitations that went to the sandbox, not a phone
            stmt = stmt.where(OutboxMessage.id.not_in(
                select(SandboxMessage.outbox_id).where(SandboxMessage.outbox_id.is_not(None))))
        return int(self._session.scalar(stmt) or 0)

    def test_responses(self, survey_id: str) -> int:
        """How many of a survey's responses are rehearsals in the sandbox."""
        return int(self._session.scalar(
            select(func.count()).select_from(Response)
            .where(Response.survey_id == survey_id, Response.is_test.is_(True))
        ) or 0)

    def answer_summary(self, survey_id: str, coded_ids: Sequence[str],
                       free_ids: Sequence[str] = (),
                       where: ResponseFilter = EVERYONE) -> AnswerSummary:
        """Per question: how many answered, how many skipped, and (for `coded_ids`) how
        many gave each distinct answer; for `free_ids`, how many wrote something.

        Values come back decoded from JSON: an option code, a number, or for multiple
        choice a tuple of codes (one entry per combination chosen). See
        `answer_summaries` for how it is counted.
        """
        return self.answer_summaries(survey_id, coded_ids, free_ids, {"view": where})["view"]

    def answer_summaries(self, survey_id: str, coded_ids: Sequence[str],
                         free_ids: Sequence[str], rows: Mapping[_K, ResponseFilter]
                         ) -> dict[_K, AnswerSummary]:
        """`answer_summary` for each of several groups at once (the rows of a narrowed
        view's partition, which may overlap), in one query however many answers and
        groups there are.

        It sums `answer_tallies` (answers by question, kind, value and the facets a view
        narrows by, kept by triggers: migration 1770) rather than counting the answers:
        a few thousand rows at a million answers. Each group is a `sum(n) FILTER (WHERE
        ...)` column of the same rows. Groups narrowed by an answer are
        `storage.repositories.by_answer`'s.
        """
        if not rows:
            return {}
        keys = list(rows)
        counted = self.tallied(survey_id, [*coded_ids, *free_ids], list(rows.values()))
        return {key: summary_of(found, coded_ids, free_ids)
                for key, found in zip(keys, counted, strict=True)}

    def tallied(self, survey_id: str, question_ids: Sequence[str],
                filters: Sequence[ResponseFilter]) -> list[dict[TallyKey, int]]:
        """For each filter, answers by (question, kind, value key) to these questions, and
        the skips and media of every question."""
        if any(f.answer for f in filters):
            raise ValueError("a filter narrowed by an answer (by_answer.py counts those)")
        common: list[ColumnElement[bool]] = []
        own: list[ColumnElement[bool] | None]
        if len(filters) == 1:
            common, own = tally_conditions(filters[0], AnswerTally), [None]
        else:
            every = all(f.without_test for f in filters)
            common = [AnswerTally.is_test.is_(False)] if every else []
            own = [and_(*conditions) if (conditions := tally_conditions(
                replace(f, without_test=False) if every else f, AnswerTally)) else None
                for f in filters]
        sums = [func.sum(AnswerTally.n).filter(c) if c is not None else func.sum(AnswerTally.n)
                for c in own]
        found: list[dict[TallyKey, int]] = [{} for _ in filters]
        for qid, kind, value_key, *counts in self._session.execute(
            select(AnswerTally.question_id, AnswerTally.kind, AnswerTally.value_key, *sums)
            .where(AnswerTally.survey_id == survey_id, *common,
                   or_(AnswerTally.kind != "value",
                       AnswerTally.question_id.in_(list(question_ids))))
            .group_by(AnswerTally.question_id, AnswerTally.kind, AnswerTally.value_key)
        ):
            for into, count in zip(found, counts, strict=True):
                if count:
                    into[(qid, kind, value_key)] = int(count)
        return found

    def free_text(self, survey_id: str, question_id: str,
                  where: ResponseFilter = EVERYONE, *, search: str = "",
                  theme_id: int | None = None, limit: int = 50, offset: int = 0,
                  answered: int | None = None) -> tuple[int, list[FreeTextAnswer]]:
        """Matching free-text answers to one question, newest first, and how many match.

        Pass `answered` (from `answer_summary`) to save counting again when there is no
        search or theme to narrow the list. Newest is by id, which the primary key keeps
        in order, so a page is read without sorting every answer.
        """
        text = self._json_text(Answer.value)
        base = (
            select(Answer.id, Answer.question_id, text.label("text"), Answer.answered_at,
                   Response.quote_ok, Response.is_test, Answer.response_id)
            .join(Response, Response.id == Answer.response_id)
            .where(Answer.survey_id == survey_id, Answer.question_id == question_id,
                   Answer.kind == "value", *where.conditions())
        )
        if search.strip():
            pattern = "%" + _escape_like(search.strip()) + "%"
            base = base.where(text.ilike(pattern, escape="\\"))
        if theme_id is not None:
            base = base.join(AnswerTheme, (AnswerTheme.answer_id == Answer.id)
                             & (AnswerTheme.theme_id == theme_id))
        narrowed = bool(search.strip()) or theme_id is not None
        if answered is not None and not narrowed:
            total = answered
        else:
            total = int(self._session.scalar(
                select(func.count()).select_from(base.subquery())
            ) or 0)
        rows = self._session.execute(base.order_by(Answer.id.desc()).limit(limit).offset(offset))
        answers = [FreeTextAnswer(answer_id, qid, str(value or ""), at, bool(quote_ok),
                                  bool(is_test), response_id)
                   for answer_id, qid, value, at, quote_ok, is_test, response_id in rows]
        return total, answers

    def theme_counts(self, survey_id: str, question_ids: Sequence[str],
                     where: ResponseFilter = EVERYONE) -> dict[int, int]:
        """Tagged answers per theme, among the free-text answers in view."""
        # From the tags to their answers (by primary key), never the other way round:
        # there are far fewer tags than answers.
        themes = select(Theme.id).where(Theme.survey_id == survey_id).scalar_subquery()
        stmt = (
            select(AnswerTheme.theme_id, func.count())
            .join(Answer, Answer.id == AnswerTheme.answer_id)
            .where(AnswerTheme.theme_id.in_(themes),
                   Answer.question_id.in_(list(question_ids)), Answer.kind == "value")
            .group_by(AnswerTheme.theme_id)
        )
        return {theme_id: count
                for theme_id, count in self._session.execute(self._filtered(stmt, where))}

    def choices_in_use(self, survey_id: str) -> tuple[list[str], list[str]]:
        """The channels and languages this survey's responses came in, for the filters."""
        pairs = self._session.execute(
            select(Response.channel, Response.language).where(Response.survey_id == survey_id)
            .group_by(Response.channel, Response.language)
        ).all()
        return sorted({c for c, _l in pairs}), sorted({lang for _c, lang in pairs})

    # --- helpers -----------------------------------------------------------------------

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    @staticmethod
    def _filtered(stmt: _S, where: ResponseFilter) -> _S:
        """Join the responses only when a filter needs them (the join costs time)."""
        if not where.active:
            return stmt
        return stmt.join(Response, Response.id == Answer.response_id).where(*where.conditions())

    def _json_text(self, column: Any) -> ColumnElement[str]:
        """A JSON string value as plain text, unescaped, for display and searching."""
        if self._dialect == "postgresql":
            return column.op("#>>", return_type=String)(literal_column("'{}'"))
        return func.json_extract(column, "$", type_=String)


#: (question id, kind, value key): a row of the tallies, the value key being the value's
#: JSON text for a coded answer and "" for words, skips and media.
TallyKey = tuple[str, str, str]


def tally_conditions(where: ResponseFilter, table: type[AnswerTally] | type[AnswerPairTally]
                     ) -> list[ColumnElement[bool]]:
    """`ResponseFilter.conditions`, on the facets a tally row carries (the response's)."""
    if where.answer:
        raise ValueError("a tally row does not know the response's other answers")
    found: list[ColumnElement[bool]] = []
    if where.without_test:
        found.append(table.is_test.is_(False))
    if where.date_from:
        found.append(table.started_on >= where.date_from)
    if where.date_to:
        found.append(table.started_on <= where.date_to)
    if where.channel:
        found.append(table.channel == where.channel)
    if where.language:
        found.append(table.language == where.language)
    return found


def tally_value(value_key: str) -> Any:
    """A tally's value key as `answer_summary` gives values: decoded, a tuple of codes
    for multiple choice; None for words, skips and media."""
    if not value_key:
        return None
    value = json.loads(value_key)
    return tuple(str(v) for v in value) if isinstance(value, list) else value


def summary_of(counts: Mapping[TallyKey, int], coded_ids: Sequence[str],
               free_ids: Sequence[str]) -> AnswerSummary:
    """Tallied counts as an `AnswerSummary` of these questions."""
    coded, free = set(coded_ids), set(free_ids)
    summary = AnswerSummary({}, {}, {qid: {} for qid in coded_ids})
    for (qid, kind, value_key), count in counts.items():
        if count <= 0 or (kind == "value" and qid not in coded and qid not in free):
            continue  # skips and media are counted for every question, as answers are not
        value = tally_value(value_key) if kind == "value" and qid in coded else None
        _add_to_summary(summary, qid, kind, value, count)
    return summary


def _covers(where: ResponseFilter, channel: str | None, language: str | None,
            day: date | None, is_test: bool | None, answers: Mapping[str, Any]) -> bool:
    """Does `where` cover an answer with these facets, whose response gave `answers`?
    (`ResponseFilter.conditions`, in Python, for the few rows already read.)"""
    if where.without_test and is_test:
        return False
    if where.channel and channel != where.channel:
        return False
    if where.language and language != where.language:
        return False
    if where.date_from and (day is None or day < where.date_from):
        return False
    if where.date_to and (day is None or day > where.date_to):
        return False
    if where.answer:
        qid, code = where.answer
        value = answers.get(qid)
        if not code:
            return value is None
        option = parse_ticked(code)
        if option is not None:
            return isinstance(value, list) and (option[0] in map(str, value)) == option[1]
        return value is not None and json.dumps(value) in answer_texts(code)
    return True


def _add_to_summary(summary: AnswerSummary, qid: str, kind: str, value: Any,
                    count: int) -> None:
    """Count one row of `answer_summary`'s GROUP BY into the summary."""
    if kind == "skipped":
        summary.skipped[qid] = summary.skipped.get(qid, 0) + count
        return
    if kind == "media":
        summary.media[qid] = summary.media.get(qid, 0) + count
        return
    summary.answered[qid] = summary.answered.get(qid, 0) + count
    if value is not None and qid in summary.values:
        found = summary.values[qid]
        found[value] = found.get(value, 0) + count


class Groups(Generic[_K]):
    """Several groups of responses counted in one query: the query groups by what the
    groups differ in (channel, language, which side of each date boundary a response
    started, test or not), and `match` says which groups a result row belongs to.
    The groups may overlap; each is counted exactly as its own filter would count it.
    Not for groups narrowed by an answer (`storage.repositories.by_answer` does those)."""

    def __init__(self, rows: Mapping[_K, ResponseFilter]) -> None:
        if any(where.answer for where in rows.values()):
            raise ValueError("a group narrowed by an answer")
        self._rows = dict(rows)
        filters = list(rows.values())
        self.columns: list[ColumnElement[Any]] = []
        self._fields: list[str] = []
        if any(f.channel for f in filters):
            self._fields.append("channel")
            self.columns.append(Response.channel.label("g_channel"))
        if any(f.language for f in filters):
            self._fields.append("language")
            self.columns.append(Response.language.label("g_language"))
        self._bounds = sorted({bound for f in filters for bound in _date_bounds(f) if bound})
        if self._bounds:
            self._fields.append("period")
            self.columns.append(case(
                *[(Response.started_at < bound, i) for i, bound in enumerate(self._bounds)],
                else_=len(self._bounds)).label("g_period"))
        #: Conditions every group shares go in the WHERE clause instead.
        self.common: list[ColumnElement[bool]] = []
        if all(f.without_test for f in filters):
            self.common.append(Response.is_test.is_(False))
        elif any(f.without_test for f in filters):
            self._fields.append("test")
            self.columns.append(Response.is_test.label("g_test"))
        self.names = [f"g_{name}" for name in self._fields]
        self._matched: dict[tuple[Any, ...], list[_K]] = {}

    def match(self, dims: Sequence[Any]) -> list[_K]:
        """The groups a result row with these dimension values counts in."""
        found = self._matched.get(tuple(dims))
        if found is None:
            found = [key for key, where in self._rows.items() if self._fits(where, dims)]
            self._matched[tuple(dims)] = found
        return found

    def _fits(self, where: ResponseFilter, dims: Sequence[Any]) -> bool:
        for name, value in zip(self._fields, dims, strict=True):
            if name == "channel" and where.channel and value != where.channel:
                return False
            if name == "language" and where.language and value != where.language:
                return False
            if name == "test" and where.without_test and value:
                return False
            if name == "period":
                start, end = _date_bounds(where)
                period = int(value)
                low = self._bounds[period - 1] if period > 0 else None
                high = self._bounds[period] if period < len(self._bounds) else None
                if start and (low is None or low < start):
                    return False
                if end and (high is None or high > end):
                    return False
        return True


def _date_bounds(where: ResponseFilter) -> tuple[datetime | None, datetime | None]:
    """The first instant a filter covers and the first after it, as `conditions` has."""
    start = datetime.combine(where.date_from, time(), UTC) if where.date_from else None
    end = (datetime.combine(where.date_to + timedelta(days=1), time(), UTC)
           if where.date_to else None)
    return start, end


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
