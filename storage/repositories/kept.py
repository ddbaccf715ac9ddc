"""Words kept and promises kept: other replies, more words for a free-text answer, and
the notice that tells someone at their next START that what they asked to delete is gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import Answer, ErasureNotice, OtherReply


@dataclass(frozen=True)
class OtherReplyView:
    response_id: int | None
    question_id: str
    text: str
    received_at: datetime


class KeptRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # -- other replies ---------------------------------------------------------------------

    def add_other(self, pid: str, response_id: int | None, survey_id: str | None,
                  question_id: str, text: str, now: datetime) -> None:
        """Keep a message that was neither an answer nor a keyword (already redacted)."""
        self._session.add(OtherReply(participant_id=pid, response_id=response_id,
                                     survey_id=survey_id, question_id=question_id[:64],
                                     text=text, received_at=now))
        self._session.flush()

    def others_for(self, response_ids: Iterable[int]) -> dict[int, list[OtherReplyView]]:
        """Each response's other replies, oldest first."""
        ids = list(response_ids)
        if not ids:
            return {}
        rows = self._session.execute(
            select(OtherReply.response_id, OtherReply.question_id, OtherReply.text,
                   OtherReply.received_at)
            .where(OtherReply.response_id.in_(ids))
            .order_by(OtherReply.response_id, OtherReply.id)
        ).all()
        found: dict[int, list[OtherReplyView]] = {}
        for row in rows:
            found.setdefault(int(row.response_id), []).append(
                OtherReplyView(row.response_id, row.question_id, row.text, row.received_at))
        return found

    def others_in_survey(self, survey_id: str, limit: int = 200,
                         offset: int = 0) -> list[OtherReplyView]:
        """A survey's other replies, newest first (for reviewers)."""
        rows = self._session.execute(
            select(OtherReply.response_id, OtherReply.question_id, OtherReply.text,
                   OtherReply.received_at)
            .where(OtherReply.survey_id == survey_id)
            .order_by(OtherReply.id.desc()).limit(limit).offset(offset)
        ).all()
        return [OtherReplyView(r.response_id, r.question_id, r.text, r.received_at)
                for r in rows]

    def people_with_others(self, survey_id: str) -> int:
        """How many people left other replies in a survey (for small-number protection)."""
        rows = self._session.execute(
            select(OtherReply.participant_id).where(OtherReply.survey_id == survey_id)
            .distinct()
        ).all()
        return len(rows)

    def purge_others(self, before: datetime) -> int:
        """Other replies outside any response (the menu, before a survey), past keeping."""
        result = self._session.execute(
            delete(OtherReply).where(OtherReply.response_id.is_(None),
                                     OtherReply.received_at < before))
        return int(getattr(result, "rowcount", 0) or 0)

    # -- more words for an answer ----------------------------------------------------------

    def append_to_answer(self, response_id: int, question_id: str, text: str,
                         now: datetime) -> bool:
        """Add `text` (already redacted) on a new line to the free-text answer; False when
        there is no such answer (it was changed with BACK, say)."""
        answer = self._session.scalar(
            select(Answer).where(Answer.response_id == response_id,
                                 Answer.question_id == question_id, Answer.kind == "value")
            .execution_options(populate_existing=True))
        if answer is None or not isinstance(answer.value, str):
            return False
        answer.value = f"{answer.value}\n{text}"
        answer.answered_at = now
        self._session.flush()
        return True

    # -- erasure notices -------------------------------------------------------------------

    def note_erasure(self, pid: str, language: str, now: datetime) -> None:
        self._session.merge(ErasureNotice(participant_id=pid, language=language, erased_at=now))
        self._session.flush()

    def take_erasure_notice(self, pid: str) -> ErasureNotice | None:
        """The notice for this pseudonym, removed as it is read (it is told once)."""
        notice = self._session.get(ErasureNotice, pid)
        if notice is not None:
            self._session.delete(notice)
            self._session.flush()
        return notice

    def purge_erasure_notices(self, before: datetime) -> int:
        result = self._session.execute(delete(ErasureNotice).where(
            ErasureNotice.erased_at < before))
        return int(getattr(result, "rowcount", 0) or 0)
