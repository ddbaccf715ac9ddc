"""Privacy rules: data rights by text, erasure and retention.

The service calls these from inside its one transaction per message, the sender calls
`finish_erasure`, and the scheduler calls `purge`. None of them commits: the caller's unit
of work decides. (Safeguarding is in `bot.services.safeguarding`.)

Erasure is by cascade: every row about a participant hangs off their `participants` row,
so deleting it removes the vault entry, conversation, responses, answers, consents,
outbox rows, cohort memberships, safeguarding flags and voice notes in one statement.
The encrypted files of voice notes and photos are queued for deletion in the same
transaction, and the media job deletes them from the store within seconds. What remains is
an `erasures` row with counts and no identifier, and the provider message ids of their
inbound messages (participant set to NULL) so a late redelivery is still a duplicate.

The one awkward step is telling someone their data is gone: after erasure there is no
address to send it to. So the service queues the confirmation with `erase_after` in its
payload and erases nothing yet; the sender calls `finish_erasure` once that message is
delivered or given up on, and `purge` erases anyone whose confirmation has been waiting
longer than `ERASE_GRACE` (say, because the sender is down).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import yaml

from bot.services import media
from bot.services.config import ConfigError, Settings
from storage.models import Erasure
from storage.repositories.privacy import ERASE_AFTER, PrivacyRepository
from storage.uow import UnitOfWork
from surveys import mydata
from surveys.model import Text
from surveys.mydata import Held

log = logging.getLogger(__name__)

#: How long a DELETE confirmation may wait for the sender before we erase regardless.
ERASE_GRACE = timedelta(hours=1)


# --- Settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PrivacySettings:
    """Retention settings, from the environment (and `Settings.extra`).

    Kept here rather than in `bot.services.config.Settings` so this feature can change without
    touching the settings every process loads; the names are documented in
    docs/privacy.md. Safeguarding has its own (`bot.services.safeguarding`).
    """

    #: Retention for people who have no response in any survey (e.g. only saw the menu).
    default_retention_days: int = 365
    #: How long provider message ids are kept for de-duplication.
    inbound_retention_days: int = 90
    public_url: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> PrivacySettings:
        """From the environment, with `settings.extra` taking precedence (tests use it)."""
        return cls.from_env({**os.environ, **settings.extra}, public_url=settings.public_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 public_url: str = "") -> PrivacySettings:
        env = os.environ if environ is None else environ
        return cls(
            default_retention_days=_days(env, "WITHUS_RETENTION_DAYS", 365),
            inbound_retention_days=_days(env, "WITHUS_INBOUND_RETENTION_DAYS", 90),
            public_url=(public_url or env.get("WITHUS_PUBLIC_URL", "")).rstrip("/"),
        )


def _days(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        value = int(env.get(name) or default)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of days.") from None
    if value < 1:
        raise ConfigError(f"{name} must be at least 1.")
    return value


def _read_yaml(path: str, name: str) -> Any:
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{name} cannot be read ({exc.strerror}).") from None
    except yaml.YAMLError:
        raise ConfigError(f"{name} is not valid YAML.") from None


def privacy_settings(settings: Settings) -> PrivacySettings:
    return PrivacySettings.from_settings(settings)


# --- MYDATA -----------------------------------------------------------------------------


def data_summary(uow: UnitOfWork, pid: str, language: str,
                 titles: Mapping[str, Text] | None = None, zone: tzinfo | None = None) -> str:
    """The MYDATA reply: what we hold, as a sentence, in at most two text messages
    (surveys.mydata writes it).

    Says how many questions they answered, in which surveys (by title in their language,
    from `titles` where the survey is still in the catalogue) and on which days (in
    `zone`, the organisation's time zone), and that the address is kept encrypted and
    apart from the answers. Never repeats an answer: the phone may not be theirs alone.
    """
    repo = PrivacyRepository(uow.session)
    channel = repo.vault_channel(pid)
    titles = titles or {}
    held = []
    for holding in repo.holdings(pid):
        title = titles.get(holding.survey_id)
        held.append(Held(title.get(language) if title else holding.title, holding.answers,
                         _local(holding.first, zone), _local(holding.last, zone)))
    return mydata.summary(held, language, channel)


def _local(moment: datetime, zone: tzinfo | None) -> datetime:
    if zone is None:
        return moment
    if moment.tzinfo is None:  # SQLite gives back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone)


# --- Erasure -----------------------------------------------------------------------------


def erase_participant(uow: UnitOfWork, pid: str, now: datetime, source: str, *,
                      user_id: int | None = None, reason: str | None = None) -> Erasure:
    """Erase everything about `pid`, leaving an `erasures` row with counts and no identifier.

    `source` is "participant" (DELETE), "organiser" (`withus participants erase`) or
    "retention". Organiser erasures are also audit-logged, with a generic subject: the
    audit log outlives the erasure, so it must not name who was erased. Raises
    LookupError if there is no such participant.
    """
    if uow.participants.get(pid) is None:
        raise LookupError("no participant with that id")
    repo = PrivacyRepository(uow.session)
    counts = repo.counts(pid)
    media.forget_participant(uow, pid, now)  # their files go from the store after commit
    uow.participants.delete(pid)  # every child row cascades; inbound ids are SET NULL
    repo.forget_session_copies(pid)
    erasure = repo.record_erasure(now, source, counts["responses"], counts["answers"])
    if source == "organiser":
        repo.audit(now, user_id, "erase", "participant", reason,
                   {"erasure_id": erasure.id, **counts})
    log.info("participant erased", extra={"source": source, "erasure_id": erasure.id,
                                          "responses": counts["responses"],
                                          "answers": counts["answers"]})
    return erasure


def finish_erasure(uow: UnitOfWork, pid: str, now: datetime) -> None:
    """Erase a participant whose DELETE confirmation has now been sent (or given up on).

    Called by the sender in the transaction that records the send. A no-op when they are
    already erased, e.g. by `purge` while the message was being retried.
    """
    if uow.participants.get(pid) is not None:
        erase_participant(uow, pid, now, "participant")


def erase_after(payload: Mapping[str, Any]) -> bool:
    """True for an outbox payload whose delivery completes an erasure."""
    return bool(payload.get(ERASE_AFTER))
