"""The media job: fetch voice notes and photos after the webhook, store them encrypted,
tell people kindly when one could not be kept, and delete files whose records are gone.

The scheduler runs `MediaJob.run_once` every few seconds (`withus media fetch` runs it
once). Each fetch is claimed like an outbox message, so two schedulers never fetch one
file twice. A fetch that fails for a reason that may pass (a timeout, the provider down)
is tried again with backoff; one that cannot succeed (too big, the wrong type, a foreign
host, a damaged file, a file id Telegram refuses), or still fails after
`WITHUS_MEDIA_MAX_ATTEMPTS`, is recorded on the voice note with a short code, and the
person is told and asked again (`surveys.engine.media_failed`). Nothing is stored
half-way: the encrypted file is written whole (a temporary file renamed, or one S3 PUT)
before its record says 'stored', and deleted again if that record cannot be written.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.services.inbound import reply_payload
from bot.services.media import MediaProblem, MediaSettings, build_store, clean, digest
from bot.services.runtime import Runtime
from bot.services.sender import backoff
from bot.services.transcription import Transcriber, transcriber_for
from channels.base import Channel, FetchedMedia, MediaError
from storage.media import MediaMissing, MediaStore, new_key
from storage.repositories.media import MediaRepository
from storage.uow import UnitOfWork
from surveys.conversation import Event
from surveys.engine import converse

log = logging.getLogger(__name__)

#: Fetches claimed per pass, and how long a claim may stand before it counts as a dead
#: fetcher's (a fetch takes at most the timeout, twice over for Telegram's two calls).
FETCH_BATCH = 5
STUCK_AFTER = timedelta(minutes=10)


@dataclass
class FetchReport:
    stored: int = 0
    retried: int = 0
    failed: int = 0
    deleted: int = 0


@dataclass(frozen=True)
class _Claim:
    id: int
    participant_id: str
    channel: str
    kind: str
    source: bytes | None
    claimed_type: str
    attempts: int
    survey_id: str
    question_id: str


class MediaJob:
    def __init__(self, runtime: Runtime, config: MediaSettings | None = None,
                 store: MediaStore | None = None, rng: random.Random | None = None,
                 transcriber: Transcriber | None = None) -> None:
        self.runtime = runtime
        self.config = config or MediaSettings.from_settings(runtime.settings)
        self.store = store or store_of(runtime)
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.transcriber = transcriber or transcriber_for(self.config.transcribe)
        self._lock = threading.Lock()  # fetching and sweeping never overlap

    @property
    def channels(self) -> Mapping[str, Channel]:
        return self.runtime.channels

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.runtime.sessions, self.runtime.vault)

    def run_once(self, limit: int = FETCH_BATCH) -> FetchReport:
        """Fetch what is due, then delete what erasure and retention queued."""
        report = FetchReport()
        with self._lock:
            now = self.runtime.clock()
            with self.uow() as uow:
                repo = MediaRepository(uow.session)
                repo.requeue_stuck(now - STUCK_AFTER)
                claims = [_Claim(i.id, i.participant_id, i.channel, i.kind, i.source,
                                 i.claimed_type or "", i.attempts, i.survey_id, i.question_id)
                          for i in repo.claim_due(now, limit)]
                uow.commit()
            for claim in claims:
                self._fetch(claim, report)
            report.deleted = self._delete_queued()
        if report.failed:
            self.runtime.wake_sender()
        return report

    # -- one fetch -----------------------------------------------------------------------

    def _fetch(self, claim: _Claim, report: FetchReport) -> None:
        channel = self.channels.get(claim.channel)
        try:
            if channel is None:
                raise MediaError("unavailable", f"the {claim.channel} channel is not configured",
                                 permanent=False)
            if claim.source is None:
                raise MediaError("refused", "no provider reference left", permanent=True)
            source = self.runtime.vault.decrypt(claim.source)
            fetched = channel.fetch_media(source, self.config.max_bytes,
                                          self.config.fetch_timeout)
            cleaned = clean(claim.kind, fetched.data, _claims(claim, fetched),
                            self.config.max_bytes)
        except MediaError as exc:
            self._failed(claim, exc.problem, exc.reason, exc.permanent, report)
            return
        except MediaProblem as exc:
            self._failed(claim, exc.problem, exc.reason, True, report)
            return
        except Exception as exc:  # a bug or library surprise: try again, never lose it
            log.exception("media fetch crashed", extra={"media_id": claim.id})
            self._failed(claim, "unavailable", type(exc).__name__, False, report)
            return
        key = new_key()
        try:
            self.store.put(key, self.runtime.vault.seal(cleaned.data))
        except Exception as exc:  # the store is down: nothing was written under the key
            log.warning("media store write failed",
                        extra={"media_id": claim.id, "reason": type(exc).__name__})
            self.store_delete_quietly(key)
            self._failed(claim, "unavailable", "the media store could not be written", False,
                         report)
            return
        draft = self._transcribe(claim, cleaned.data, cleaned.content_type)
        now = self.runtime.clock()
        try:
            with self.uow() as uow:
                repo = MediaRepository(uow.session)
                repo.mark_stored(claim.id, storage_key=key, content_type=cleaned.content_type,
                                 size=len(cleaned.data), duration_ms=cleaned.duration_ms,
                                 sha256=digest(cleaned.data), now=now)
                if draft:
                    repo.set_transcript(claim.id, self.runtime.service.redactor.redact(draft),
                                        None, now)
                uow.commit()
        except BaseException:
            self.store_delete_quietly(key)  # no record points to it: leave no file either
            raise
        report.stored += 1
        log.info("media stored", extra={"media_id": claim.id, "kind": claim.kind,
                                        "bytes": len(cleaned.data), "channel": claim.channel})

    def _transcribe(self, claim: _Claim, data: bytes, content_type: str) -> str | None:
        if claim.kind != "audio":
            return None
        try:
            return self.transcriber.transcribe(data, content_type)
        except Exception:
            log.exception("transcription failed", extra={"media_id": claim.id})
            return None

    def _failed(self, claim: _Claim, problem: str, reason: str, permanent: bool,
                report: FetchReport) -> None:
        now = self.runtime.clock()
        attempts = claim.attempts + 1
        final = permanent or attempts >= self.config.max_attempts
        catalog = self.runtime.catalog.get()  # before the transaction (SQLite: one writer)
        with self.uow() as uow:
            repo = MediaRepository(uow.session)
            if final:
                repo.mark_failed(claim.id, problem, reason)
                self._tell(uow, catalog, claim, now)
            else:
                when = now + timedelta(seconds=backoff(attempts, self.rng))
                repo.mark_retry(claim.id, reason, when)
            uow.commit()
        if final:
            report.failed += 1
            log.warning("media not kept", extra={"media_id": claim.id, "problem": problem,
                                                 "reason": reason, "attempts": attempts})
        else:
            report.retried += 1
            log.warning("media fetch failed, will retry",
                        extra={"media_id": claim.id, "problem": problem, "reason": reason,
                               "attempts": attempts})

    def _tell(self, uow: UnitOfWork, catalog: Any, claim: _Claim, now: datetime) -> None:
        """The kind message, and the question asked again (the engine decides both)."""
        conversation = uow.conversations.get_for_update(claim.participant_id)
        participant = uow.participants.get(claim.participant_id)
        if conversation is None or participant is None:
            return
        event = Event("media_failed", payload=claim.question_id, survey_id=claim.survey_id,
                      media_type=claim.kind)
        result = converse(catalog, conversation.state, event, now)
        channel = self.channels.get(participant.channel)
        carries = bool(getattr(channel, "carries_media", False))
        language = str(result.state.get("lang") or "en")
        for reply in result.replies:
            uow.outbox.add(claim.participant_id, participant.channel,
                           reply_payload(reply, carries_media=carries)
                           | {"language": language}, now)
        uow.conversations.save(claim.participant_id, result.state, conversation.response_id,
                               now, conversation.next_reminder_at)

    # -- deletion and rotation ---------------------------------------------------------------

    def delete_queued(self) -> int:
        """Delete from the store the files erasure and retention queued; how many."""
        with self._lock:
            return self._delete_queued()

    def _delete_queued(self) -> int:
        with self.uow() as uow:
            keys = MediaRepository(uow.session).deletions()
        done = []
        for key in keys:
            try:
                self.store.delete(key)
            except Exception as exc:
                log.warning("media store delete failed", extra={"reason": type(exc).__name__})
                continue
            done.append(key)
        if done:
            with self.uow() as uow:
                MediaRepository(uow.session).deleted(done)
                uow.commit()
            log.info("media files deleted", extra={"count": len(done)})
        return len(done)

    def delete_orphans(self) -> int:
        """Delete files no record points to (left by a crash between writing a file and
        recording it). Run with the purge; never while this job is fetching."""
        removed = 0
        with self._lock:
            batch: list[str] = []
            for key in self.store.list_keys():
                batch.append(key)
                if len(batch) >= 500:
                    removed += self._delete_unknown(batch)
                    batch = []
            removed += self._delete_unknown(batch)
        if removed:
            log.warning("deleted media files no record pointed to", extra={"count": removed})
        return removed

    def _delete_unknown(self, keys: Sequence[str]) -> int:
        with self.uow() as uow:
            known = MediaRepository(uow.session).known_keys(keys)
        orphans = [key for key in keys if key not in known]
        for key in orphans:
            self.store.delete(key)
        return len(orphans)

    def store_delete_quietly(self, key: str) -> None:
        try:
            self.store.delete(key)
        except Exception:
            log.warning("could not remove a media file after a failed write")

    def read(self, storage_key: str) -> bytes:
        """The decrypted bytes of a stored file (for playback and archives)."""
        return self.runtime.vault.unseal(self.store.get(storage_key))


def _claims(claim: _Claim, fetched: FetchedMedia) -> list[str]:
    return [c for c in (claim.claimed_type, fetched.content_type) if c]


def store_of(runtime: Runtime) -> MediaStore:
    """The runtime's media store (built from its settings if it has none yet)."""
    if runtime.media_store is None:
        runtime.media_store = build_store(MediaSettings.from_settings(runtime.settings))
    return runtime.media_store


def rotate(runtime: Runtime, store: MediaStore | None = None) -> int:
    """Re-encrypt every stored file, and every waiting provider reference, under the
    newest vault key (`withus keys rotate`). Returns how many files were re-encrypted."""
    store = store or store_of(runtime)
    count = 0
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        repo = MediaRepository(uow.session)
        for item in repo.stored():
            if item.storage_key is None:
                continue
            try:
                sealed = store.get(item.storage_key)
            except MediaMissing:
                log.warning("a stored media file is missing", extra={"media_id": item.id})
                continue
            store.put(item.storage_key, runtime.vault.reseal(sealed))
            count += 1
        for item in repo.waiting():
            if item.source is not None:
                item.source = runtime.vault.rotate(item.source)
        uow.commit()
    return count

