"""Retention: delete what is due, on a schedule (`withus purge`, the scheduler hourly).

The rules for how long things are kept are in docs/privacy.md; the erasure steps this
builds on are in `bot.services.privacy`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.services import media
from bot.services.media_jobs import MediaJob
from bot.services.privacy import ERASE_GRACE, finish_erasure, privacy_settings
from bot.services.runtime import Runtime
from storage.repositories.kept import KeptRepository
from storage.repositories.privacy import PrivacyRepository
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

#: How long the note that someone's DELETE YES was carried out (after an SMS STOP) waits
#: for their next START, so that START can tell them.
ERASURE_NOTICE_DAYS = 90


def purge(runtime: Runtime, now: datetime) -> dict[str, int]:
    """Delete what retention says is due; returns counts of what was deleted.

    * erasures whose confirmation has waited longer than ERASE_GRACE;
    * vault entries past their own `expires_at`;
    * for people inactive for longer than the longest retention of any survey they took
      part in (or WITHUS_RETENTION_DAYS if none): their address, conversation state and
      message history. Their pseudonymised responses and answers stay, for aggregates
      and exports;
    * provider message ids older than WITHUS_INBOUND_RETENTION_DAYS;
    * other replies sent outside any survey (at the menu) older than
      WITHUS_RETENTION_DAYS, and erasure notices older than ERASURE_NOTICE_DAYS;
    * voice notes and photos older than their survey's retention period (their
      transcripts stay, like the answers), then every file so queued, from the store.
    """
    settings = privacy_settings(runtime.settings)
    retention = {sid: s.retention_days for sid, s in runtime.catalog.get().surveys.items()}
    default = settings.default_retention_days
    counts = {"erasures": 0, "vault_entries": 0, "conversations": 0, "outbox_messages": 0,
              "inbound_messages": 0, "media_files": 0, "other_replies": 0,
              "erasure_notices": 0}
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        repo = PrivacyRepository(uow.session)
        for pid in repo.erasures_due(now - ERASE_GRACE):
            finish_erasure(uow, pid, now)
            counts["erasures"] += 1
        counts["vault_entries"] += uow.vault.delete_expired(now)
        shortest = min([default, *retention.values()])
        candidates = repo.activity(created_before=now - timedelta(days=shortest))
        surveys = repo.surveys_of([c.participant_id for c in candidates])
        for person in candidates:
            days = max((retention.get(s, default) for s in surveys.get(person.participant_id,
                                                                        ())),
                       default=default)
            if person.last_active + timedelta(days=days) <= now:
                for name, n in repo.forget_contact(person.participant_id).items():
                    counts[name] += n
        counts["inbound_messages"] = uow.inbound.prune(
            now - timedelta(days=settings.inbound_retention_days)
        )
        counts["media_files"] = media.expire(uow, retention, now)
        kept = KeptRepository(uow.session)
        counts["other_replies"] = kept.purge_others(now - timedelta(days=default))
        counts["erasure_notices"] = kept.purge_erasure_notices(
            now - timedelta(days=ERASURE_NOTICE_DAYS))
        uow.commit()
    MediaJob(runtime).delete_queued()  # erased and expired files leave the store now
    log.info("purge done", extra=counts)
    return counts
