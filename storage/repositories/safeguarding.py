"""Safeguarding flags: the queue a safeguarding lead works from.

A flag's words (the message, redacted, and the rules it matched) are encrypted with the
contact vault's keys, decrypted only here, and only for someone allowed to see them (the
rules are in `bot.services.safeguarding`). Like the other repositories it shares the unit
of work's session and never commits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Subquery, func, select, update
from sqlalchemy.orm import Session

from storage.models import ContactRequest, SafeguardingFlag, SurveyDefinition, User
from storage.vault import ContactVault

#: Rows re-encrypted per flush by `rotate_all`.
ROTATE_BATCH = 500


@dataclass(frozen=True)
class FlagWords:
    """What a flag keeps of what was said: the redacted message and the rules it matched."""

    text: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class FlagRow:
    """A flag as the queue shows it, with its survey's title and who acknowledged it."""

    flag: SafeguardingFlag
    survey_title: str | None
    acknowledged_by: str | None


class SafeguardingRepository:
    def __init__(self, session: Session, vault: ContactVault) -> None:
        self._session = session
        self._vault = vault

    # --- Writing ------------------------------------------------------------------------

    def add_flag(self, pid: str, *, categories: Sequence[str], words: FlagWords,
                 channel: str, language: str | None, now: datetime,
                 survey_id: str | None = None, question_id: str | None = None,
                 stage: str | None = None, answer_id: int | None = None) -> int:
        sealed = self._vault.encrypt(json.dumps({"text": words.text,
                                                 "rules": list(words.rules)}))
        flag = SafeguardingFlag(participant_id=pid, answer_id=answer_id, survey_id=survey_id,
                                question_id=question_id, stage=stage, channel=channel,
                                language=language, words=sealed, categories=list(categories),
                                created_at=now)
        self._session.add(flag)
        self._session.flush()
        return flag.id

    def mark_contact_wanted(self, pid: str, now: datetime) -> int | None:
        """The person asked to be contacted: their newest flag records it; its id."""
        flag_id = self._session.scalar(
            select(SafeguardingFlag.id).where(SafeguardingFlag.participant_id == pid)
            .order_by(SafeguardingFlag.created_at.desc(), SafeguardingFlag.id.desc()).limit(1))
        if flag_id is None:
            return None
        self._session.execute(
            update(SafeguardingFlag).where(SafeguardingFlag.id == flag_id)
            .values(contact_wanted_at=now, contact_emailed_at=None))
        self._session.expire_all()
        return flag_id

    def acknowledge(self, flag_id: int, user_id: int | None, note: str | None,
                    now: datetime) -> None:
        """Mark a flag seen (the first acknowledgement's time and user are kept); a note
        replaces any earlier one."""
        self._session.execute(
            update(SafeguardingFlag)
            .where(SafeguardingFlag.id == flag_id, SafeguardingFlag.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by=user_id)
        )
        if note is not None:
            self._session.execute(
                update(SafeguardingFlag).where(SafeguardingFlag.id == flag_id).values(note=note)
            )
        self._session.expire_all()  # the UPDATEs bypassed any loaded copy

    def add_contact_request(self, flag_id: int, user_id: int | None, reason: str,
                            now: datetime) -> int:
        request = ContactRequest(flag_id=flag_id, user_id=user_id, reason=reason,
                                 requested_at=now)
        self._session.add(request)
        self._session.flush()
        return request.id

    def mark_emailed(self, flag_id: int, now: datetime, *, contact: bool = False) -> None:
        column = "contact_emailed_at" if contact else "emailed_at"
        self._session.execute(update(SafeguardingFlag).where(SafeguardingFlag.id == flag_id)
                              .values({column: now}))

    def rotate_all(self) -> int:
        """Re-encrypt every flag's words under the newest vault key; how many.

        Raises VaultDecryptionError if some are under none of the configured keys: roll
        back then, so nothing is left half-rotated.
        """
        ids = list(self._session.scalars(
            select(SafeguardingFlag.id).where(SafeguardingFlag.words.is_not(None))))
        for start in range(0, len(ids), ROTATE_BATCH):
            for flag in self._session.scalars(select(SafeguardingFlag).where(
                    SafeguardingFlag.id.in_(ids[start:start + ROTATE_BATCH]))):
                assert flag.words is not None
                flag.words = self._vault.rotate(flag.words)
            self._session.flush()
        return len(ids)

    # --- Reading ------------------------------------------------------------------------

    def flag(self, flag_id: int) -> SafeguardingFlag | None:
        return self._session.get(SafeguardingFlag, flag_id)

    def words(self, flag: SafeguardingFlag) -> FlagWords | None:
        """The flag's words, decrypted (None for flags older than the words column)."""
        if flag.words is None:
            return None
        data = json.loads(self._vault.decrypt(flag.words))
        return FlagWords(str(data.get("text", "")), tuple(data.get("rules") or ()))

    def rows(self, *, open_only: bool = False, limit: int = 200,
             ids: Sequence[int] | None = None) -> list[FlagRow]:
        """Newest first; `open_only` leaves out acknowledged ones."""
        titles = _titles()
        stmt = (
            select(SafeguardingFlag, titles.c.title, User.email)
            .outerjoin(titles, titles.c.survey_id == SafeguardingFlag.survey_id)
            .outerjoin(User, User.id == SafeguardingFlag.acknowledged_by)
            .order_by(SafeguardingFlag.created_at.desc(), SafeguardingFlag.id.desc())
            .limit(limit)
        )
        if open_only:
            stmt = stmt.where(SafeguardingFlag.acknowledged_at.is_(None))
        if ids is not None:
            stmt = stmt.where(SafeguardingFlag.id.in_(list(ids)))
        return [FlagRow(flag, title, email) for flag, title, email in self._session.execute(stmt)]

    def open_count(self) -> int:
        return int(self._session.scalar(
            select(func.count()).select_from(SafeguardingFlag)
            .where(SafeguardingFlag.acknowledged_at.is_(None))) or 0)

    def others_from_same_person(self, flag: SafeguardingFlag) -> list[int]:
        """The ids of this person's other flags, newest first (no pseudonym is shown)."""
        return list(self._session.scalars(
            select(SafeguardingFlag.id)
            .where(SafeguardingFlag.participant_id == flag.participant_id,
                   SafeguardingFlag.id != flag.id)
            .order_by(SafeguardingFlag.created_at.desc(), SafeguardingFlag.id.desc())))

    def contact_requests(self, flag_id: int) -> list[tuple[ContactRequest, str | None]]:
        """Every time someone asked for this flag's contact details, with their email."""
        return [(request, email) for request, email in self._session.execute(
            select(ContactRequest, User.email)
            .outerjoin(User, User.id == ContactRequest.user_id)
            .where(ContactRequest.flag_id == flag_id)
            .order_by(ContactRequest.requested_at.desc(), ContactRequest.id.desc()))]

    def awaiting_email(self, since: datetime) -> list[SafeguardingFlag]:
        """Open flags raised (or asked to be contacted about) after `since` whose email
        has not gone yet, oldest first."""
        return list(self._session.scalars(
            select(SafeguardingFlag)
            .where(SafeguardingFlag.acknowledged_at.is_(None),
                   ((SafeguardingFlag.emailed_at.is_(None)
                     & (SafeguardingFlag.created_at >= since))
                    | (SafeguardingFlag.contact_wanted_at.is_not(None)
                       & SafeguardingFlag.contact_emailed_at.is_(None)
                       & (SafeguardingFlag.contact_wanted_at >= since))))
            .order_by(SafeguardingFlag.created_at, SafeguardingFlag.id)))

    def lead_emails(self, allowed: Sequence[str]) -> list[str]:
        """Who gets email alerts: the active users in `allowed`, or, with none named, every
        active organiser and lead."""
        stmt = select(User.email).where(User.disabled_at.is_(None)).order_by(User.email)
        if allowed:
            stmt = stmt.where(func.lower(User.email).in_([a.lower() for a in allowed]))
        else:
            stmt = stmt.where(User.role.in_(("organiser", "lead")))
        return list(self._session.scalars(stmt))


def _titles() -> Subquery:
    """Each survey's newest title, as a subquery."""
    newest = (
        select(SurveyDefinition.survey_id, func.max(SurveyDefinition.version).label("v"))
        .group_by(SurveyDefinition.survey_id).subquery()
    )
    return (
        select(SurveyDefinition.survey_id, SurveyDefinition.title)
        .join(newest, (SurveyDefinition.survey_id == newest.c.survey_id)
              & (SurveyDefinition.version == newest.c.v))
        .subquery()
    )
