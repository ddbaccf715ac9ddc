"""Privacy and safeguarding rules: data rights by text, erasure, retention, safeguarding.

The service calls these from inside its one transaction per message, the sender calls
`finish_erasure`, the scheduler calls `purge`, and the dashboard calls the safeguarding
functions. None of them commits: the caller's unit of work decides.

Erasure is by cascade: every row about a participant hangs off their `participants` row,
so deleting it removes the vault entry, conversation, responses, answers, consents,
outbox rows, cohort memberships and safeguarding flags in one statement. What remains is
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
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bot.config import ConfigError, Settings
from storage.models import Erasure
from storage.pseudonyms import Pseudonymiser
from storage.repositories.privacy import ERASE_AFTER, PrivacyRepository, SurveyHolding
from storage.uow import UnitOfWork
from surveys.i18n import gettext as _
from surveys.safeguarding import DEFAULT_PATTERNS, Detector, merge_patterns

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

#: How long a DELETE confirmation may wait for the sender before we erase regardless.
ERASE_GRACE = timedelta(hours=1)
#: Shown until a deployment sets its own number; `withus serve` warns while it is.
SAFEGUARDING_PHONE_PLACEHOLDER = "[your local adult safeguarding number]"
#: The default signposting text. `{phone}` is the local adult safeguarding number.
DEFAULT_SIGNPOSTING = (
    "Thank you for telling us. If you or someone you care for is in danger now, call 999. "
    "Samaritans are there day or night, free, on 116 123. For urgent health advice, call "
    "NHS 111. To raise a worry about an adult's safety, call {phone}."
)
#: Most surveys named in a MYDATA reply, and the longest title shown, so the reply fits
#: in two concatenated text messages (`SMS_LIMIT` characters).
SUMMARY_SURVEYS = 3
SUMMARY_TITLE_CHARS = 32
SMS_LIMIT = 306


# --- Settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PrivacySettings:
    """Privacy and safeguarding settings, from the environment (and `Settings.extra`).

    Kept here rather than in `bot.config.Settings` so this feature can change without
    touching the settings every process loads; the names are documented in
    docs/privacy.md.
    """

    #: Where alerts go, "channel:address", e.g. "telegram:123456" or "sms:+447700900999".
    lead: str = ""
    #: Dashboard users (emails) who may acknowledge flags and ask for contact details.
    #: Empty: any active organiser may.
    lead_emails: tuple[str, ...] = ()
    safeguarding_phone: str = ""
    signposting_file: str = ""
    patterns_file: str = ""
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
        lead = env.get("WITHUS_SAFEGUARDING_LEAD", "").strip()
        if lead and (":" not in lead or not lead.split(":", 1)[1].strip()):
            raise ConfigError("WITHUS_SAFEGUARDING_LEAD must look like 'telegram:CHAT_ID' or "
                              "'sms:+44...' (channel, colon, address).")
        return cls(
            lead=lead,
            lead_emails=tuple(
                e.strip().lower() for e in env.get("WITHUS_SAFEGUARDING_LEAD_EMAILS", "").split(",")
                if e.strip()
            ),
            safeguarding_phone=env.get("WITHUS_SAFEGUARDING_PHONE", "").strip(),
            signposting_file=env.get("WITHUS_SIGNPOSTING_FILE", "").strip(),
            patterns_file=env.get("WITHUS_SAFEGUARDING_PATTERNS_FILE", "").strip(),
            default_retention_days=_days(env, "WITHUS_RETENTION_DAYS", 365),
            inbound_retention_days=_days(env, "WITHUS_INBOUND_RETENTION_DAYS", 90),
            public_url=(public_url or env.get("WITHUS_PUBLIC_URL", "")).rstrip("/"),
        )

    @property
    def lead_channel(self) -> str:
        return self.lead.split(":", 1)[0].strip().lower() if self.lead else ""

    @property
    def lead_address(self) -> str:
        return self.lead.split(":", 1)[1].strip() if self.lead else ""

    def signposting(self) -> dict[str, str]:
        """The deployment's signposting texts by language ("*": any); {} for the default.

        Read when needed rather than at startup, so a broken file cannot stop an
        acknowledgement or a contact request (`safeguarding_warnings` reports it).
        """
        return _read_signposting(self.signposting_file) if self.signposting_file else {}


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


def _read_signposting(path: str) -> dict[str, str]:
    """Plain text (any language), or YAML mapping languages to texts ({en: ..., cy: ...})."""
    data = _read_yaml(path, "WITHUS_SIGNPOSTING_FILE")
    if isinstance(data, str) and data.strip():
        return {"*": data.strip()}
    if isinstance(data, dict) and data and all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in data.items()
    ):
        return {k: v.strip() for k, v in data.items()}
    raise ConfigError("WITHUS_SIGNPOSTING_FILE must hold the signposting text, or a mapping "
                      "of language codes to texts (en: ..., cy: ...).")


def privacy_settings(settings: Settings) -> PrivacySettings:
    return PrivacySettings.from_settings(settings)


# --- MYDATA -----------------------------------------------------------------------------


def _date(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def _contact_words(channel: str | None, language: str) -> str:
    if channel == "telegram":
        return _(language, "your Telegram chat id")
    if channel in ("sms", "whatsapp"):
        return _(language, "your phone number")
    return _(language, "how to reach you")


def data_summary(uow: UnitOfWork, pid: str, language: str) -> str:
    """The MYDATA reply: what we hold, in plain words, in at most two text messages.

    Says how many answers, from when to when, in which surveys (by title), and that the
    address is kept encrypted and apart from the answers. Never repeats an answer: the
    phone may not be theirs alone. Titles are dropped, most recent first, if they would
    make it longer than two messages.
    """
    repo = PrivacyRepository(uow.session)
    channel = repo.vault_channel(pid)
    holdings = repo.holdings(pid)
    head = []
    if channel is not None:
        head.append(_(language, "We hold {contact}, encrypted and kept apart from your answers.",
                      contact=_contact_words(channel, language)))
    tail = _(language, "Reply DELETE to delete it all.")
    if not holdings:
        return "\n".join([*head, _(language, "We hold no answers from you."), tail])
    for named in range(min(SUMMARY_SURVEYS, len(holdings)), -1, -1):
        text = "\n".join([*head, _answers_line(holdings, named, language), tail])
        if len(text) <= SMS_LIMIT:
            break
    return text


def _answers_line(holdings: list[SurveyHolding], named: int, language: str) -> str:
    total = sum(h.answers for h in holdings)
    first = min(h.first for h in holdings)
    last = max(h.last for h in holdings)
    if first.date() == last.date():
        when = _(language, "on {date}", date=_date(first))
    else:
        when = _(language, "from {first} to {last}", first=_date(first), last=_date(last))
    names = [f'"{_short(h.title)}" ({h.answers})' for h in holdings[:named]]
    rest = len(holdings) - named
    if rest:
        names.append(_(language, "{n} more surveys", n=rest) if rest > 1
                     else _(language, "1 more survey"))
    if len(names) > 1:
        where = _(language, "{items} and {last}", items=", ".join(names[:-1]), last=names[-1])
    else:
        where = names[0]
    return _(language, "Your answers: {total}, {when}, in {where}.", total=total, when=when,
             where=where)


def _short(title: str) -> str:
    if len(title) <= SUMMARY_TITLE_CHARS:
        return title
    return title[: SUMMARY_TITLE_CHARS - 3].rstrip() + "..."


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


# --- Retention ----------------------------------------------------------------------------


def purge(runtime: Runtime, now: datetime) -> dict[str, int]:
    """Delete what retention says is due; returns counts of what was deleted.

    * erasures whose confirmation has waited longer than ERASE_GRACE;
    * vault entries past their own `expires_at`;
    * for people inactive for longer than the longest retention of any survey they took
      part in (or WITHUS_RETENTION_DAYS if none): their address, conversation state and
      message history. Their pseudonymised responses and answers stay, for aggregates
      and exports;
    * provider message ids older than WITHUS_INBOUND_RETENTION_DAYS.
    """
    settings = privacy_settings(runtime.settings)
    retention = {sid: s.retention_days for sid, s in runtime.catalog.get().surveys.items()}
    default = settings.default_retention_days
    counts = {"erasures": 0, "vault_entries": 0, "conversations": 0, "outbox_messages": 0,
              "inbound_messages": 0}
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
        uow.commit()
    log.info("purge done", extra=counts)
    return counts


# --- Safeguarding ---------------------------------------------------------------------------


_detectors: dict[tuple[str, float], Detector] = {}
_detectors_lock = threading.Lock()


def detector(settings: Settings) -> Detector:
    """The deployment's detector: the defaults, with categories from the patterns file.

    The file (WITHUS_SAFEGUARDING_PATTERNS_FILE, YAML) maps category names to lists of
    regular expressions; a category it names replaces the default one, and an empty list
    switches a category off. Compiled once per file version.
    """
    path = privacy_settings(settings).patterns_file
    try:
        stamp = Path(path).stat().st_mtime if path else 0.0
    except OSError as exc:
        raise ConfigError(
            f"WITHUS_SAFEGUARDING_PATTERNS_FILE cannot be read ({exc.strerror})."
        ) from None
    with _detectors_lock:
        found = _detectors.get((path, stamp))
        if found is None:
            overrides: Mapping[str, Sequence[str]] = {}
            if path:
                data = _read_yaml(path, "WITHUS_SAFEGUARDING_PATTERNS_FILE") or {}
                if not isinstance(data, dict) or not all(
                    isinstance(v, list) and all(isinstance(p, str) for p in v)
                    for v in data.values()
                ):
                    raise ConfigError("WITHUS_SAFEGUARDING_PATTERNS_FILE must map category "
                                      "names to lists of patterns.")
                overrides = data
            try:
                found = Detector(merge_patterns(DEFAULT_PATTERNS, overrides))
            except ValueError as exc:
                raise ConfigError(f"WITHUS_SAFEGUARDING_PATTERNS_FILE: {exc}") from None
            _detectors[(path, stamp)] = found
        return found


def detect_harm(settings: Settings, text: str) -> list[str]:
    """The harm categories a free-text answer touches (run on the raw text, in memory)."""
    return detector(settings).detect(text)


def signposting_text(settings: Settings, language: str) -> str:
    """Where to get help, added to the reply that follows a possible disclosure.

    From WITHUS_SIGNPOSTING_FILE if set (per language, or one text for all), else the
    default: 999, Samaritans 116 123, NHS 111 and the local adult safeguarding number
    (WITHUS_SAFEGUARDING_PHONE, or a placeholder that `withus serve` warns about).
    """
    privacy = privacy_settings(settings)
    phone = privacy.safeguarding_phone or SAFEGUARDING_PHONE_PLACEHOLDER
    texts = privacy.signposting()
    custom = texts.get(language) or texts.get("*") or texts.get("en")
    if custom:
        return custom.replace("{phone}", phone)
    return _(language, DEFAULT_SIGNPOSTING, phone=phone)


def safeguarding_warnings(settings: Settings) -> list[str]:
    """What is missing for safeguarding to work as intended; `withus serve` prints these."""
    try:
        privacy = privacy_settings(settings)
        detector(settings)
        texts = list(privacy.signposting().values()) or [DEFAULT_SIGNPOSTING]
    except ConfigError as exc:
        return [str(exc)]
    warnings = []
    if not privacy.safeguarding_phone and any("{phone}" in t for t in texts):
        warnings.append(
            "Safeguarding signposting tells people to call "
            f"'{SAFEGUARDING_PHONE_PLACEHOLDER}': set WITHUS_SAFEGUARDING_PHONE to your "
            "local adult safeguarding number."
        )
    if not privacy.lead:
        warnings.append("WITHUS_SAFEGUARDING_LEAD is not set: possible disclosures are flagged "
                        "but nobody is alerted.")
    else:
        enabled = {"telegram": settings.telegram_enabled, "sms": settings.sms_enabled,
                   "whatsapp": settings.whatsapp_enabled}
        if not enabled.get(privacy.lead_channel, False):
            warnings.append(f"WITHUS_SAFEGUARDING_LEAD uses '{privacy.lead_channel}', which is "
                            "not configured: alerts will be held, not sent.")
    if not privacy.public_url:
        warnings.append("WITHUS_PUBLIC_URL is not set: safeguarding alerts cannot link to the "
                        "dashboard.")
    return warnings


def flag_disclosure(uow: UnitOfWork, pid: str, answer_id: int | None, survey_id: str,
                    question_id: str, categories: Sequence[str], now: datetime) -> int:
    """Record a possible disclosure for the safeguarding lead; the flag's id."""
    flag_id = PrivacyRepository(uow.session).add_flag(pid, answer_id, survey_id, question_id,
                                                      categories, now)
    log.warning("safeguarding flag raised", extra={"flag_id": flag_id, "survey": survey_id,
                                                   "categories": list(categories)})
    return flag_id


def lead_pseudonym(settings: Settings, channel: str, address: str) -> str:
    """The lead's id: separate from the pseudonym they would have as a participant.

    If the lead also took part from the same phone, their DELETE or STOP as a participant
    must not erase or silence the alerts they receive as lead.
    """
    return Pseudonymiser(settings.pseudonym_key)(f"safeguarding-lead/{channel}", address)


def _normalise_lead_address(settings: Settings, channel: str, address: str) -> str:
    if channel in ("sms", "whatsapp"):
        from channels.local import normalise_phone_like

        return normalise_phone_like(address.removeprefix("whatsapp:"), settings.default_region)
    return address.strip()


def alert_lead(uow: UnitOfWork, settings: Settings, flag_id: int, now: datetime) -> int | None:
    """Queue an alert to the safeguarding lead; its outbox id, or None with no lead set.

    The alert says only that a reply in which survey may need a response, and links to
    the flag on the dashboard: no pseudonym, no answer text, no address, since it travels
    by SMS or chat to a phone others may see.
    """
    privacy = privacy_settings(settings)
    repo = PrivacyRepository(uow.session)
    flag = repo.flag(flag_id)
    if flag is None:
        raise LookupError("no safeguarding flag with that id")
    if not privacy.lead:
        log.warning("no safeguarding lead configured; flag not alerted",
                    extra={"flag_id": flag_id})
        return None
    channel = privacy.lead_channel
    address = _normalise_lead_address(settings, channel, privacy.lead_address)
    pid = lead_pseudonym(settings, channel, address)
    uow.participants.ensure(pid, channel, now)
    uow.vault.store(pid, channel, address, now)  # refreshed on every alert: never expires
    title = repo.survey_title(flag.survey_id)
    if privacy.public_url:
        where = f"Open the dashboard: {privacy.public_url}/safeguarding/{flag_id}"
    else:
        where = f"Open safeguarding flag {flag_id} on the WithUs dashboard."
    text = f'A reply in the survey "{title}" may need a safeguarding response. {where}'
    payload = {"text": text, "choices": [], "multiple": False, "business_initiated": True,
               "allow_opted_out": True}
    outbox_id = uow.outbox.add(pid, channel, payload, now, kind="alert")
    log.info("safeguarding alert queued", extra={"flag_id": flag_id, "outbox_id": outbox_id})
    return outbox_id


def _may_act_on_flags(uow: UnitOfWork, user_id: int, privacy: PrivacySettings) -> None:
    """PermissionError unless `user_id` is an active safeguarding lead.

    With WITHUS_SAFEGUARDING_LEAD_EMAILS set, only those users; otherwise any organiser.
    """
    user = PrivacyRepository(uow.session).user(user_id)
    if user is None or user.disabled_at is not None:
        raise PermissionError("only an active dashboard user can act on safeguarding flags")
    allowed = (user.email.lower() in privacy.lead_emails if privacy.lead_emails
               else user.role == "organiser")
    if not allowed:
        raise PermissionError("only the safeguarding lead can act on safeguarding flags")


def acknowledge_flag(uow: UnitOfWork, flag_id: int, user_id: int, note: str | None,
                     now: datetime, *, settings: Settings | None = None) -> None:
    """The lead has seen the flag; `note` (if given) records what they did about it.

    Raises LookupError for an unknown flag and PermissionError for a user who is not a
    safeguarding lead. Audit-logged.
    """
    privacy = privacy_settings(settings) if settings else PrivacySettings.from_env()
    repo = PrivacyRepository(uow.session)
    if repo.flag(flag_id) is None:
        raise LookupError("no safeguarding flag with that id")
    _may_act_on_flags(uow, user_id, privacy)
    cleaned = note.strip() if note else None
    repo.acknowledge(flag_id, user_id, cleaned or None, now)
    repo.audit(now, user_id, "safeguarding_acknowledge", f"safeguarding_flag:{flag_id}",
               detail={"note_added": bool(cleaned)})


def request_contact(uow: UnitOfWork, flag_id: int, user_id: int, reason: str, now: datetime,
                    *, settings: Settings | None = None) -> str:
    """The flagged participant's address, for the lead to make contact; needs a reason.

    Every request is stored (contact_requests) and audit-logged with its reason before the
    address is decrypted. Raises ValueError without a reason, LookupError for an unknown
    flag or when no address is held any more (erased or expired), PermissionError for a
    user who is not a safeguarding lead.
    """
    cleaned = (reason or "").strip()
    if len(cleaned) < 10:
        raise ValueError("say why you need the contact details (at least a short sentence)")
    privacy = privacy_settings(settings) if settings else PrivacySettings.from_env()
    repo = PrivacyRepository(uow.session)
    flag = repo.flag(flag_id)
    if flag is None:
        raise LookupError("no safeguarding flag with that id")
    _may_act_on_flags(uow, user_id, privacy)
    address = uow.vault.address(flag.participant_id)
    if address is None:
        raise LookupError("no contact details are held for this flag any more")
    request_id = repo.add_contact_request(flag_id, user_id, cleaned, now)
    repo.audit(now, user_id, "contact_request", f"safeguarding_flag:{flag_id}", cleaned,
               {"contact_request_id": request_id, "channel": repo.vault_channel(
                   flag.participant_id)})
    log.warning("contact details released to safeguarding lead",
                extra={"flag_id": flag_id, "user_id": user_id})
    return address
