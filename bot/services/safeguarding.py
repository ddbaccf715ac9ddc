"""Safeguarding: notice a possible disclosure, signpost help, alert the lead, record acts.

The service calls `detect_harm`, `flag_disclosure`, `alert_lead` and `signposting_text`
inside its one transaction per message; the dashboard and the CLI call
`acknowledge_flag` and `request_contact`. None of them commits. docs/privacy.md says what
a safeguarding lead does with a flag.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from bot.services.config import ConfigError, Settings
from bot.services.privacy import PrivacySettings, _read_yaml, privacy_settings
from storage.pseudonyms import Pseudonymiser
from storage.repositories.privacy import PrivacyRepository
from storage.uow import UnitOfWork
from surveys.i18n import gettext as _
from surveys.safeguarding import DEFAULT_PATTERNS, Detector, merge_patterns

log = logging.getLogger(__name__)

#: Shown until a deployment sets its own number; `withus serve` warns while it is.
SAFEGUARDING_PHONE_PLACEHOLDER = "[your local adult safeguarding number]"
#: The default signposting text. `{phone}` is the local adult safeguarding number.
DEFAULT_SIGNPOSTING = (
    "Thank you for telling us. If you or someone you care for is in danger now, call 999. "
    "Samaritans are there day or night, free, on 116 123. For urgent health advice, call "
    "NHS 111. To raise a worry about an adult's safety, call {phone}."
)


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
