"""Safeguarding: every message checked, help signposted, the lead told, the queue acted on.

The service calls `screen` on the raw text of every inbound message (in memory, before
anything is stored or the engine replies) and, when it finds a possible disclosure,
`record_disclosure`: the flag (the redacted words, encrypted), an alert to the lead, and
the signposting text that goes out first. `contact_wanted` follows the person's choice at
the pause (surveys.signposting). The dashboard and `withus safeguarding` call
`acknowledge_flag` and `request_contact`; the scheduler calls `email_alerts`. None of
them commits except `email_alerts`, which records each email it sends.

docs/privacy.md says what a safeguarding lead does with a flag.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.services.config import ConfigError, Settings
from bot.services.mail import Mailer
from bot.services.privacy import _read_yaml
from storage.pseudonyms import Pseudonymiser
from storage.repositories.privacy import PrivacyRepository
from storage.repositories.safeguarding import FlagWords, SafeguardingRepository
from storage.uow import UnitOfWork
from storage.vault import ContactVault
from surveys.conversation import Step
from surveys.redaction import Redactor
from surveys.safeguarding import CATEGORIES, Detector, Disclosure, RuleError, load_rules
from surveys.signposting import SIGNPOSTING, check_local_contact, signposting
from surveys.sms import segments

log = logging.getLogger(__name__)

#: Most characters of a message a flag keeps (redacted).
MAX_FLAG_WORDS = 2000
#: Flags older than this are not emailed when email alerts are first switched on.
EMAIL_LOOKBACK = timedelta(days=2)
#: Roles that see the safeguarding queue.
QUEUE_ROLES = ("organiser", "lead")

#: Where a person was when they wrote, as stored in `safeguarding_flags.stage`, and how
#: the queue describes it.
STAGES: dict[str, str] = {
    "first": "in their first message",
    "menu": "while choosing a survey",
    "language": "while choosing a language",
    "consent": "at the consent question",
    "asking": "answering a question",
    "view": "giving their view on a question",
    "vote": "while voting on a point",
    "propose": "while adding a point of their own",
    "more": "while voting on more points",
    "quote": "at the quote question",
    "shareback": "at the share-back question",
    "done": "after finishing",
    "declined": "after saying no",
    "closed": "in a closed survey",
    "paused": "while paused",
    "pause": "at the pause after an earlier disclosure",
    "stopped": "after STOP",
    "idle": "between surveys",
}


# --- Settings --------------------------------------------------------------------------


@dataclass(frozen=True)
class SafeguardingSettings:
    """Safeguarding settings, from the environment (and `Settings.extra`, which tests use)."""

    #: Where text alerts go, "channel:address", e.g. "telegram:123456" or "sms:+44...".
    lead: str = ""
    #: Dashboard users (emails) who may act on flags and get email alerts. Empty: every
    #: organiser and lead.
    lead_emails: tuple[str, ...] = ()
    #: The local contact added to the signposting (a survey's own comes first).
    local_contact: str = ""
    signposting_file: str = ""
    rules_file: str = ""
    #: The old, regular-expression patterns file: no longer read; a warning says so.
    patterns_file: str = ""
    smtp_url: str = ""
    public_url: str = ""

    @classmethod
    def from_settings(cls, settings: Settings | None) -> SafeguardingSettings:
        env: Mapping[str, str] = {**os.environ, **(settings.extra if settings else {})}
        lead = env.get("WITHUS_SAFEGUARDING_LEAD", "").strip()
        if lead and (":" not in lead or not lead.split(":", 1)[1].strip()):
            raise ConfigError("WITHUS_SAFEGUARDING_LEAD must look like 'telegram:CHAT_ID' or "
                              "'sms:+44...' (channel, colon, address).")
        public_url = (settings.public_url if settings else "") or env.get("WITHUS_PUBLIC_URL", "")
        return cls(
            lead=lead,
            lead_emails=tuple(e.strip().lower() for e in
                              env.get("WITHUS_SAFEGUARDING_LEAD_EMAILS", "").split(",")
                              if e.strip()),
            local_contact=env.get("WITHUS_SAFEGUARDING_PHONE", "").strip(),
            signposting_file=env.get("WITHUS_SIGNPOSTING_FILE", "").strip(),
            rules_file=env.get("WITHUS_SAFEGUARDING_RULES", "").strip(),
            patterns_file=env.get("WITHUS_SAFEGUARDING_PATTERNS_FILE", "").strip(),
            smtp_url=env.get("WITHUS_SMTP_URL", "").strip(),
            public_url=public_url.rstrip("/"),
        )

    @property
    def lead_channel(self) -> str:
        return self.lead.split(":", 1)[0].strip().lower() if self.lead else ""

    @property
    def lead_address(self) -> str:
        return self.lead.split(":", 1)[1].strip() if self.lead else ""

    def flag_url(self, flag_id: int) -> str:
        return f"{self.public_url}/dashboard/safeguarding/{flag_id}"


def settings_of(settings: Settings | None) -> SafeguardingSettings:
    return SafeguardingSettings.from_settings(settings)


# --- Detection --------------------------------------------------------------------------


_detectors: dict[tuple[str, float], Detector] = {}
_detectors_lock = threading.Lock()


def detector(settings: Settings | None) -> Detector:
    """The built-in rules, plus the deployment's own file (WITHUS_SAFEGUARDING_RULES).

    Read again when the file changes. A file that cannot be used is reported (here in the
    log, and by `safeguarding_warnings`) and the built-in rules go on working: a typo in a
    local phrase must never stop every message being checked.
    """
    path = settings_of(settings).rules_file
    try:
        stamp = Path(path).stat().st_mtime if path else 0.0
    except OSError:
        stamp = -1.0
    with _detectors_lock:
        found = _detectors.get((path, stamp))
        if found is None:
            found = Detector()
            if path:
                try:
                    found = Detector.with_extra([load_rules(path)])
                except RuleError as exc:
                    log.error("WITHUS_SAFEGUARDING_RULES not used; the built-in rules still "
                              "apply", extra={"problem": str(exc)})
            _detectors[(path, stamp)] = found
        return found


def screen(settings: Settings | None, text: str) -> Disclosure | None:
    """A possible disclosure in `text` (raw, in memory only), or None."""
    return detector(settings).screen(text) if text else None


def detect_harm(settings: Settings | None, text: str) -> list[str]:
    """The harm categories `text` touches, most urgent first."""
    found = screen(settings, text)
    return found.categories if found else []


# --- Signposting ------------------------------------------------------------------------


def local_contact(settings: Settings | None, survey: Any = None) -> str:
    """The survey's own safeguarding contact, else the deployment's, else "" (only real
    numbers are ever sent). A deployment setting that is not usable is left out."""
    own = getattr(survey, "safeguarding_phone", "") if survey is not None else ""
    if own:
        return str(own)
    try:
        return check_local_contact(settings_of(settings).local_contact)
    except ValueError:
        return ""


def signposting_text(settings: Settings | None, category: str, language: str,
                     survey: Any = None) -> str:
    """Where to get help after a possible disclosure of `category`, in `language`.

    The deployment's own text (WITHUS_SIGNPOSTING_FILE) when it has one for this language
    and category and the local contact it names with {phone} is set; otherwise the
    built-in text (surveys.signposting), with the local contact when there is one.
    """
    return signposting(category, language, local_contact(settings, survey),
                       custom_signposting(settings))


def custom_signposting(settings: Settings | None) -> dict[str, Any]:
    """The deployment's own signposting texts (WITHUS_SIGNPOSTING_FILE), {} when there
    are none or the file cannot be used (logged)."""
    path = settings_of(settings).signposting_file
    if not path:
        return {}
    try:
        return read_signposting(path)
    except ConfigError as exc:
        log.error("WITHUS_SIGNPOSTING_FILE not used", extra={"problem": str(exc)})
        return {}


def read_signposting(path: str) -> dict[str, Any]:
    """Plain text (any language and category), or YAML by language, each either one text
    or texts by category: {en: {self_harm: ..., abuse: ..., neglect: ...}, cy: ...}.

    A file not named .yaml or .yml that does not read as texts by language is taken as
    the plain text it is, even where its words would be YAML of another shape ("Local
    help: {phone}." is not valid YAML at all); in a .yaml file, a key that is not a
    language code is an error, naming it."""
    plain = Path(path).suffix.lower() not in (".yaml", ".yml")
    try:
        data = _read_yaml(path, "WITHUS_SIGNPOSTING_FILE")
    except ConfigError:
        if not plain or not Path(path).is_file():
            raise
        data = None  # not YAML: plain text
    if isinstance(data, str) and data.strip():
        return {"*": data.strip()}

    def valid(value: Any) -> bool:
        if isinstance(value, str):
            return bool(value.strip())
        return isinstance(value, dict) and bool(value) and all(
            k in CATEGORIES and isinstance(v, str) and v.strip() for k, v in value.items())

    by_language = isinstance(data, dict) and bool(data) and all(
        isinstance(k, str) and _LANGUAGE_KEY.fullmatch(k) for k in data)
    if by_language and all(valid(v) for v in data.values()):
        return {k: v.strip() if isinstance(v, str) else {c: t.strip() for c, t in v.items()}
                for k, v in data.items()}
    if not by_language and plain:
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"WITHUS_SIGNPOSTING_FILE cannot be read ({exc}).") from None
        if text:
            return {"*": text}
    if isinstance(data, dict) and not by_language:
        odd = next(str(k) for k in data if not (isinstance(k, str)
                                                 and _LANGUAGE_KEY.fullmatch(k)))
        raise ConfigError(f"WITHUS_SIGNPOSTING_FILE: {odd[:40]!r} is not a language code "
                          "(en, cy, ...). For one plain text, put it in quotes or use a "
                          ".txt file.")
    raise ConfigError("WITHUS_SIGNPOSTING_FILE must hold the signposting text, or texts by "
                      "language (en: ..., cy: ...), each one text or one per category "
                      "(self_harm, abuse, neglect).")


#: A key of a signposting file by language: "en", "cy", "pt-BR", or "*" for every one.
_LANGUAGE_KEY = re.compile(r"\*|[a-z]{2,3}(?:[-_][A-Za-z]{2,4})?")


def local_contact_warnings(surveys: Sequence[Any] = (),
                           settings: Settings | None = None) -> list[str]:
    """A warning when someone who discloses harm would get no local contact: neither
    WITHUS_SAFEGUARDING_PHONE nor the survey's own `safeguarding_phone` (for `surveys`,
    or, with none given, for the deployment as a whole)."""
    config = settings_of(settings)
    try:
        check_local_contact(config.local_contact)
    except ValueError as exc:
        return [f"WITHUS_SAFEGUARDING_PHONE {exc}: it is left out of the signposting."]
    if config.local_contact:
        return []
    without = [s.id for s in surveys if not getattr(s, "safeguarding_phone", "")]
    if surveys and not without:
        return []
    which = f" for {', '.join(without)}" if without else ""
    return ["No local safeguarding contact is configured" + which + ": people who disclose "
            "harm are given national helplines only. Set WITHUS_SAFEGUARDING_PHONE, or "
            "safeguarding_phone in the survey file."]


def safeguarding_warnings(settings: Settings, surveys: Sequence[Any] = ()) -> list[str]:
    """What is missing for safeguarding to work as intended: `withus serve`, `withus web`
    and `withus scheduler` print these at start."""
    config = settings_of(settings)
    warnings = local_contact_warnings(surveys, settings)
    if config.rules_file:
        try:
            load_rules(config.rules_file)
        except RuleError as exc:
            warnings.append(f"WITHUS_SAFEGUARDING_RULES is not used: {exc}")
    if config.patterns_file:
        warnings.append("WITHUS_SAFEGUARDING_PATTERNS_FILE is no longer read: put your "
                        "phrases in a rules file (see surveys/safeguarding_rules/en.yaml) "
                        "and name it in WITHUS_SAFEGUARDING_RULES.")
    if config.signposting_file:
        try:
            read_signposting(config.signposting_file)
        except ConfigError as exc:
            warnings.append(str(exc))
        else:
            for category in SIGNPOSTING:
                for language in ("en", "cy"):
                    text = signposting_text(settings, category, language)
                    if segments(text) > 2:
                        warnings.append(f"The signposting for {category} in {language} takes "
                                        f"{segments(text)} text messages; keep it to 2.")
    if not config.smtp_url and not config.lead:
        warnings.append("Neither WITHUS_SMTP_URL nor WITHUS_SAFEGUARDING_LEAD is set: "
                        "possible disclosures are flagged on the dashboard and in the log, "
                        "but nobody is sent an alert.")
    if config.lead:
        enabled = {"telegram": settings.telegram_enabled, "sms": settings.sms_enabled,
                   "whatsapp": settings.whatsapp_enabled}
        if not enabled.get(config.lead_channel, False):
            warnings.append(f"WITHUS_SAFEGUARDING_LEAD uses '{config.lead_channel}', which is "
                            "not configured: alerts will be held, not sent.")
    if config.smtp_url:
        try:
            Mailer.from_url(config.smtp_url)
        except ValueError as exc:
            warnings.append(f"WITHUS_SMTP_URL {exc}")
    if not config.public_url:
        warnings.append("WITHUS_PUBLIC_URL is not set: safeguarding alerts cannot link to the "
                        "dashboard.")
    return warnings


# --- Flags ------------------------------------------------------------------------------


def where_said(state: Mapping[str, Any] | None) -> tuple[str | None, str | None, str]:
    """(survey, question, stage) of a conversation state, for the flag."""
    if not state:
        return None, None, "first"
    survey = state.get("survey") or None
    stage = str(state.get("stage") or "idle")
    question = state.get("q") if stage == "asking" else None
    values = state.get("values") or {}
    if stage == "asking" and isinstance(values, Mapping) and values.get("phase") in STAGES:
        stage = str(values["phase"])  # a consultation: view, vote, propose, more
    if state.get("stopped"):
        stage = "stopped"
    elif state.get("safeguarding") == "pause" and state.get("paused"):
        stage = "pause"
    elif state.get("paused"):
        stage = "paused"
    return survey, (str(question) if question else None), stage


def record_disclosure(uow: UnitOfWork, settings: Settings | None, redactor: Redactor, *,
                      pid: str, channel: str, state: Mapping[str, Any] | None, result: Step,
                      response_id: int | None, disclosure: Disclosure, text: str,
                      language: str, survey: Any, now: datetime) -> str:
    """Flag a possible disclosure, alert the lead, and return the signposting to send first.

    `text` is the raw message, in memory: only its redacted form is kept, encrypted.
    `state` is the conversation as it was when they wrote, `result` the engine's step.
    """
    survey_id, question_id, stage = where_said(state)
    answer_id = None
    if response_id is not None and question_id is not None and any(
        getattr(r, "question_id", None) == question_id and getattr(r, "free_text", False)
        for r in result.records
    ):
        answer_id = next((a.id for a in uow.answers.for_response(response_id)
                          if a.question_id == question_id and a.kind == "value"), None)
    repo = SafeguardingRepository(uow.session, uow.contact_vault)
    words = FlagWords(redactor.redact(text)[:MAX_FLAG_WORDS], tuple(disclosure.phrases))
    flag_id = repo.add_flag(pid, categories=disclosure.categories, words=words,
                            channel=channel, language=language, now=now, survey_id=survey_id,
                            question_id=question_id, stage=stage, answer_id=answer_id)
    log.warning("safeguarding flag raised", extra={
        "flag_id": flag_id, "categories": disclosure.categories, "channel": channel,
        "survey": survey_id, "stage": stage})
    alert_lead(uow, settings, flag_id, now)
    return signposting_text(settings, disclosure.category, language, survey)


def contact_wanted(uow: UnitOfWork, settings: Settings | None, pid: str,
                   now: datetime) -> int | None:
    """At the pause they asked to be contacted: mark their newest flag and alert the lead."""
    repo = SafeguardingRepository(uow.session, uow.contact_vault)
    flag_id = repo.mark_contact_wanted(pid, now)
    if flag_id is None:
        return None
    log.warning("safeguarding: the person asked to be contacted", extra={"flag_id": flag_id})
    alert_lead(uow, settings, flag_id, now, contact=True)
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


def alert_text(title: str | None, flag_id: int, config: SafeguardingSettings, *,
               contact: bool = False) -> str:
    """An alert: which survey, that it may need a response, the link. Never the words,
    the category, a pseudonym or an address: it goes to a phone others may see."""
    where = f' in the survey "{title}"' if title else ""
    what = (f"Someone who wrote{where} asked to be contacted" if contact
            else f"A message{where} may need a safeguarding response")
    if config.public_url:
        return f"{what}. Open it: {config.flag_url(flag_id)}"
    return f"{what}. Open safeguarding flag {flag_id} on the WithUs dashboard."


def alert_lead(uow: UnitOfWork, settings: Settings | None, flag_id: int, now: datetime, *,
               contact: bool = False) -> int | None:
    """Queue a text alert to WITHUS_SAFEGUARDING_LEAD; its outbox id, or None without one.

    (Email alerts, when WITHUS_SMTP_URL is set, go from the scheduler: `email_alerts`.)
    """
    config = settings_of(settings)
    repo = SafeguardingRepository(uow.session, uow.contact_vault)
    flag = repo.flag(flag_id)
    if flag is None:
        raise LookupError("no safeguarding flag with that id")
    if not config.lead or settings is None:
        return None
    channel = config.lead_channel
    address = _normalise_lead_address(settings, channel, config.lead_address)
    pid = lead_pseudonym(settings, channel, address)
    uow.participants.ensure(pid, channel, now)
    uow.vault.store(pid, channel, address, now)  # refreshed on every alert: never expires
    title = PrivacyRepository(uow.session).survey_title(flag.survey_id) if flag.survey_id else None
    payload = {"text": alert_text(title, flag_id, config, contact=contact), "choices": [],
               "multiple": False, "business_initiated": True, "allow_opted_out": True}
    outbox_id = uow.outbox.add(pid, channel, payload, now, kind="alert")
    log.info("safeguarding alert queued", extra={"flag_id": flag_id, "outbox_id": outbox_id})
    return outbox_id


def email_alerts(sessions: sessionmaker[Session], vault: ContactVault,
                 settings: Settings | None, now: datetime,
                 mailer: Mailer | None = None) -> int:
    """Email the lead about each new flag and each request to be contacted; how many sent.

    Run by the scheduler every few seconds when WITHUS_SMTP_URL is set. Each email is
    recorded as sent in its own transaction, so one that fails is tried again next time
    and none is sent twice. The email holds the link, the category and the survey: never
    the words, a pseudonym or an address.
    """
    config = settings_of(settings)
    if mailer is None:
        if not config.smtp_url:
            return 0
        mailer = Mailer.from_url(config.smtp_url)
    sent = 0
    with sessions() as session:
        repo = SafeguardingRepository(session, vault)
        due = [(f.id, f.emailed_at is None,
                f.contact_wanted_at is not None and f.contact_emailed_at is None)
               for f in repo.awaiting_email(now - EMAIL_LOOKBACK)]
        recipients = repo.lead_emails(config.lead_emails)
        rows = {r.flag.id: r for r in repo.rows(ids=[d[0] for d in due])} if due else {}
    if not due:
        return 0
    if not recipients:
        log.warning("safeguarding email alerts: no recipient (no active organiser or lead)")
        return 0
    for flag_id, new, contact in due:
        row = rows.get(flag_id)
        if row is None:
            continue
        for is_contact in [c for c, due_now in ((False, new), (True, contact)) if due_now]:
            subject, body = _email(row.flag.id, row.flag.categories, row.survey_title,
                                   row.flag.created_at, config, contact=is_contact)
            try:
                mailer.send(recipients, subject, body)
            except OSError as exc:
                log.warning("safeguarding email alert failed; will try again",
                            extra={"flag_id": flag_id, "error": type(exc).__name__})
                return sent
            with sessions() as session:
                SafeguardingRepository(session, vault).mark_emailed(flag_id, now,
                                                                    contact=is_contact)
                session.commit()
            sent += 1
            log.info("safeguarding email alert sent", extra={"flag_id": flag_id,
                                                            "recipients": len(recipients)})
    return sent


def _email(flag_id: int, categories: Sequence[str], title: str | None, when: datetime,
           config: SafeguardingSettings, *, contact: bool) -> tuple[str, str]:
    kinds = ", ".join(c.replace("_", "-") for c in categories) or "possible harm"
    if contact:
        subject = f"WithUs safeguarding: someone asked to be contacted (flag {flag_id})"
        first = ("Someone whose message was flagged has asked, at the pause after the "
                 "signposting, for someone to contact them.")
    else:
        subject = f"WithUs safeguarding: a message may need a response (flag {flag_id})"
        first = "A message may disclose harm. They have been sent where to get help."
    link = config.flag_url(flag_id) if config.public_url else (
        f"safeguarding flag {flag_id} on the WithUs dashboard")
    body = "\n".join([
        first, "",
        f"Category: {kinds}",
        f"Survey: {title or 'none (not in a survey)'}",
        f"Received: {when:%Y-%m-%d %H:%M} UTC", "",
        f"Open it: {link}", "",
        "The words, and the contact details if you need them, are on the dashboard only.",
    ])
    return subject, body + "\n"


# --- Acting on a flag -------------------------------------------------------------------


def may_see_queue(role: str | None) -> bool:
    return role in QUEUE_ROLES


def may_act(uow_or_session: UnitOfWork | Session, user_id: int | None,
            settings: Settings | None) -> bool:
    """Whether `user_id` may acknowledge flags and ask for contact details: an active
    organiser or lead, and, with WITHUS_SAFEGUARDING_LEAD_EMAILS set, one of those."""
    session = uow_or_session.session if isinstance(uow_or_session, UnitOfWork) else (
        uow_or_session)
    if user_id is None:
        return False
    user = PrivacyRepository(session).user(user_id)
    if user is None or user.disabled_at is not None or user.role not in QUEUE_ROLES:
        return False
    allowed = settings_of(settings).lead_emails
    return not allowed or user.email.lower() in allowed


def acknowledge_flag(uow: UnitOfWork, flag_id: int, user_id: int | None, note: str | None,
                     now: datetime, *, settings: Settings | None = None) -> None:
    """The lead has seen the flag; `note` records what they did about it. Audit-logged.

    `user_id` None is the command line (`withus safeguarding acknowledge`), which only
    someone with the server's keys can run. Raises LookupError for an unknown flag,
    PermissionError for a user who may not act on flags.
    """
    repo = SafeguardingRepository(uow.session, uow.contact_vault)
    if repo.flag(flag_id) is None:
        raise LookupError("no safeguarding flag with that id")
    if user_id is not None and not may_act(uow, user_id, settings):
        raise PermissionError("only the safeguarding lead can act on safeguarding flags")
    cleaned = " ".join((note or "").split()) or None
    repo.acknowledge(flag_id, user_id, cleaned, now)
    PrivacyRepository(uow.session).audit(
        now, user_id, "safeguarding_acknowledge", f"safeguarding_flag:{flag_id}",
        detail={"note_added": bool(cleaned),
                "via": "command line" if user_id is None else "dashboard"})


def request_contact(uow: UnitOfWork, flag_id: int, user_id: int, reason: str, now: datetime,
                    *, settings: Settings | None = None) -> tuple[str, str | None]:
    """The flagged person's (channel, address), for the lead to make contact; needs a reason.

    Every request is stored (contact_requests) and audit-logged with its reason before the
    address is decrypted. Raises ValueError without a reason, LookupError for an unknown
    flag or when no address is held any more (erased or expired), PermissionError for a
    user who is not a safeguarding lead.
    """
    cleaned = " ".join((reason or "").split())
    if len(cleaned) < 10:
        raise ValueError("say why you need the contact details (at least a short sentence)")
    repo = SafeguardingRepository(uow.session, uow.contact_vault)
    flag = repo.flag(flag_id)
    if flag is None:
        raise LookupError("no safeguarding flag with that id")
    if not may_act(uow, user_id, settings):
        raise PermissionError("only the safeguarding lead can act on safeguarding flags")
    privacy = PrivacyRepository(uow.session)
    channel = privacy.vault_channel(flag.participant_id)
    address = uow.vault.address(flag.participant_id)
    if address is None:
        raise LookupError("no contact details are held for this flag any more")
    request_id = repo.add_contact_request(flag_id, user_id, cleaned, now)
    privacy.audit(now, user_id, "contact_request", f"safeguarding_flag:{flag_id}", cleaned,
                  {"contact_request_id": request_id, "channel": channel})
    log.warning("contact details released to safeguarding lead",
                extra={"flag_id": flag_id, "user_id": user_id})
    return address, channel


def describe_stage(stage: str | None) -> str:
    return STAGES.get(stage or "", stage or "unknown")

