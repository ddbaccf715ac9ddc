"""Voice notes and photos: their records, the fetch queue they form, and deletions.

A `MediaItem` row is both the record of a voice note and its fetch job, claimed like an
outbox message (SKIP LOCKED on PostgreSQL). Files are deleted from the store outside the
transaction, so removing a record queues its storage key in `media_deletions` in the
same transaction; the media job deletes the file, then the queue row. Like the other
repositories it shares the unit of work's session and never commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storage.models import Answer, MediaDeletion, MediaItem, Response
from storage.repositories._sql import insert, rowcount

#: What marks an answer row as a reviewer's transcript of voice notes (`Answer.label`;
#: typed free text has no label).
TRANSCRIPT_LABEL = "transcript"


@dataclass(frozen=True)
class MediaView:
    """One voice note or photo as the dashboard lists it: no source, no key."""

    id: int
    survey_id: str
    question_id: str
    kind: str
    status: str
    problem: str | None
    content_type: str | None
    size_bytes: int | None
    duration_ms: int | None
    transcript: str | None
    created_at: datetime
    channel: str
    quote_ok: bool | None

    @property
    def reference(self) -> str:
        return reference(self.id)

    @property
    def playable(self) -> bool:
        return self.status == "stored"


def reference(media_id: int) -> str:
    """How exports, archives and the dashboard name a voice note: "media-12"."""
    return f"media-{media_id}"


def _views() -> Any:
    """The columns of a `MediaView`, with the response each belongs to."""
    return (
        select(MediaItem.id, MediaItem.survey_id, MediaItem.question_id, MediaItem.kind,
               MediaItem.status, MediaItem.problem, MediaItem.content_type,
               MediaItem.size_bytes, MediaItem.duration_ms, MediaItem.transcript,
               MediaItem.created_at, MediaItem.channel, Response.quote_ok)
        .join(Answer, Answer.id == MediaItem.answer_id)
        .join(Response, Response.id == Answer.response_id)
    )


class MediaRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    # --- the fetch queue ------------------------------------------------------------------

    def add(self, pid: str, answer_id: int, survey_id: str, question_id: str, channel: str,
            kind: str, source: bytes, claimed_type: str, now: datetime) -> int:
        item = MediaItem(participant_id=pid, answer_id=answer_id, survey_id=survey_id,
                         question_id=question_id, channel=channel, kind=kind, status="pending",
                         source=source, claimed_type=claimed_type[:100] or None, attempts=0,
                         next_attempt_at=now, created_at=now)
        self._session.add(item)
        self._session.flush()
        return item.id

    def answer_id(self, response_id: int, question_id: str) -> int | None:
        """The id of the response's media answer to a question."""
        return self._session.scalar(
            select(Answer.id).where(Answer.response_id == response_id,
                                    Answer.question_id == question_id, Answer.kind == "media")
        )

    def claim_due(self, now: datetime, limit: int) -> list[MediaItem]:
        """Take up to `limit` due fetches, oldest first, and mark them 'fetching'."""
        items = list(self._session.scalars(
            select(MediaItem)
            .where(MediaItem.status == "pending", MediaItem.next_attempt_at <= now)
            .order_by(MediaItem.id).limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ))
        for item in items:
            item.status = "fetching"
            item.next_attempt_at = now  # while fetching: when it was claimed
        self._session.flush()
        return items

    def requeue_stuck(self, claimed_before: datetime) -> int:
        """Put back fetches whose fetcher died mid-way (nothing was stored for them)."""
        return rowcount(self._session.execute(
            update(MediaItem)
            .where(MediaItem.status == "fetching", MediaItem.next_attempt_at < claimed_before)
            .values(status="pending")
        ))

    def get(self, media_id: int) -> MediaItem | None:
        return self._session.get(MediaItem, media_id)

    def mark_stored(self, media_id: int, *, storage_key: str, content_type: str, size: int,
                    duration_ms: int | None, sha256: str, now: datetime) -> None:
        self._set(media_id, status="stored", storage_key=storage_key, content_type=content_type,
                  size_bytes=size, duration_ms=duration_ms, sha256=sha256, stored_at=now,
                  source=None, last_error=None, problem=None)

    def mark_retry(self, media_id: int, error: str, when: datetime) -> None:
        self._session.execute(
            update(MediaItem).where(MediaItem.id == media_id)
            .values(status="pending", attempts=MediaItem.attempts + 1, next_attempt_at=when,
                    last_error=error[:200])
        )

    def mark_failed(self, media_id: int, problem: str, error: str) -> None:
        """Given up for good: the source goes too, so nothing can fetch it later."""
        self._session.execute(
            update(MediaItem).where(MediaItem.id == media_id)
            .values(status="failed", attempts=MediaItem.attempts + 1, problem=problem[:32],
                    last_error=error[:200], source=None)
        )

    def _set(self, media_id: int, **values: Any) -> None:
        self._session.execute(update(MediaItem).where(MediaItem.id == media_id).values(**values))

    def status_counts(self) -> dict[tuple[str, str], int]:
        """(status, problem or "") -> count, for `withus media status`."""
        rows = self._session.execute(
            select(MediaItem.status, MediaItem.problem, func.count())
            .group_by(MediaItem.status, MediaItem.problem)
        )
        return {(status, problem or ""): n for status, problem, n in rows}

    # --- the dashboard ----------------------------------------------------------------------

    def for_survey(self, survey_id: str, question_id: str | None = None,
                   limit: int = 100, offset: int = 0) -> tuple[int, list[MediaView]]:
        """Voice notes and photos of a survey's consented responses, newest first."""
        base = _views().where(MediaItem.survey_id == survey_id,
                              Response.consented_at.is_not(None))
        if question_id is not None:
            base = base.where(MediaItem.question_id == question_id)
        total = int(self._session.scalar(select(func.count()).select_from(base.subquery()))
                    or 0)
        rows = self._session.execute(base.order_by(MediaItem.id.desc())
                                     .limit(limit).offset(offset))
        return total, [MediaView(**row._mapping) for row in rows]

    def view(self, media_id: int) -> MediaView | None:
        found = self._session.execute(_views().where(MediaItem.id == media_id)).first()
        return MediaView(**found._mapping) if found else None

    def stored(self, survey_id: str | None = None) -> list[MediaItem]:
        """Every stored file (of one survey): for archives and key rotation."""
        stmt = select(MediaItem).where(MediaItem.status == "stored").order_by(MediaItem.id)
        if survey_id is not None:
            stmt = stmt.where(MediaItem.survey_id == survey_id)
        return list(self._session.scalars(stmt))

    def waiting(self) -> list[MediaItem]:
        """Fetches not yet done, whose provider reference is still held (encrypted)."""
        return list(self._session.scalars(
            select(MediaItem).where(MediaItem.status.in_(("pending", "fetching")),
                                    MediaItem.source.is_not(None))))

    def references(self, response_ids: Sequence[int]) -> dict[int, dict[str, list[str]]]:
        """response id -> question id -> ["media-12 (voice note)", ...], for exports."""
        found: dict[int, dict[str, list[str]]] = {}
        if not response_ids:
            return found
        rows = self._session.execute(
            select(Answer.response_id, MediaItem.question_id, MediaItem.id, MediaItem.kind,
                   MediaItem.status, MediaItem.problem)
            .join(Answer, Answer.id == MediaItem.answer_id)
            .where(Answer.response_id.in_(list(response_ids)))
            .order_by(MediaItem.id)
        )
        for response_id, question_id, media_id, kind, status, problem in rows:
            what = "voice note" if kind == "audio" else "photo"
            note = {"stored": what, "expired": f"{what}, deleted after the retention period",
                    "failed": f"{what}, not kept ({problem})"}.get(status, f"{what}, {status}")
            found.setdefault(response_id, {}).setdefault(question_id, []).append(
                f"{reference(media_id)} ({note})")
        return found

    # --- transcripts ------------------------------------------------------------------------

    def set_transcript(self, media_id: int, text: str | None, user_id: int | None,
                       now: datetime) -> None:
        self._set(media_id, transcript=text or None, transcript_by=user_id,
                  transcript_at=now if text else None)

    def remove_transcript_answer(self, response_id: int, question_id: str) -> None:
        """The question's words were only a transcript, now emptied: remove them."""
        self._session.execute(delete(Answer).where(
            Answer.response_id == response_id, Answer.question_id == question_id,
            Answer.kind == "value", Answer.label == TRANSCRIPT_LABEL))

    def transcripts_for_answer(self, answer_id: int) -> list[str]:
        return [t for t in self._session.scalars(
            select(MediaItem.transcript)
            .where(MediaItem.answer_id == answer_id, MediaItem.transcript.is_not(None))
            .order_by(MediaItem.id)) if t]

    # --- deletion ---------------------------------------------------------------------------

    def _queue_deletions(self, keys: Iterable[str | None], now: datetime) -> int:
        wanted = [{"storage_key": k, "queued_at": now} for k in keys if k]
        if wanted:
            self._session.execute(
                insert(self._session, MediaDeletion).values(wanted)
                .on_conflict_do_nothing(index_elements=["storage_key"])
            )
        return len(wanted)

    def forget_participant(self, pid: str, now: datetime) -> int:
        """Before erasing someone: queue their files for deletion (the rows cascade)."""
        keys = list(self._session.scalars(
            select(MediaItem.storage_key).where(MediaItem.participant_id == pid,
                                                MediaItem.storage_key.is_not(None))
        ))
        self._queue_deletions(keys, now)
        self._session.execute(
            update(MediaItem).where(MediaItem.participant_id == pid)
            .values(storage_key=None, sha256=None, source=None)
        )
        return len(keys)

    def expire(self, survey_id: str, created_before: datetime, now: datetime) -> int:
        """Retention: files of this survey older than the cut-off go; transcripts stay."""
        rows = self._session.execute(
            select(MediaItem.id, MediaItem.storage_key)
            .where(MediaItem.survey_id == survey_id, MediaItem.created_at < created_before,
                   MediaItem.status.in_(("pending", "fetching", "stored", "failed")))
        ).all()
        if not rows:
            return 0
        self._queue_deletions([key for _id, key in rows], now)
        self._session.execute(
            update(MediaItem).where(MediaItem.id.in_([media_id for media_id, _key in rows]))
            .values(status="expired", storage_key=None, sha256=None, source=None)
        )
        return len(rows)

    def deletions(self, limit: int = 100) -> list[str]:
        return list(self._session.scalars(
            select(MediaDeletion.storage_key).order_by(MediaDeletion.queued_at).limit(limit)
        ))

    def deleted(self, keys: Sequence[str]) -> None:
        if keys:
            self._session.execute(
                delete(MediaDeletion).where(MediaDeletion.storage_key.in_(list(keys))))

    def known_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of these keys a record still points to (the rest are orphans)."""
        if not keys:
            return set()
        return set(self._session.scalars(
            select(MediaItem.storage_key).where(MediaItem.storage_key.in_(list(keys)))
        ))
