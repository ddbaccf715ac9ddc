"""The service layer: one function turns an inbound message into stored answers and replies.

For every message, in one transaction:
  1. derive the pseudonym (the address itself goes only into the encrypted vault);
  2. claim the provider message id, so a retried or duplicated webhook is handled once;
  3. load the conversation state (locked, so two messages from one person queue up);
  4. run the pure engine;
  5. save the state, the answers (free text redacted first) and the replies as outbox rows.
Only after the commit does anything get sent, so a reply never goes out for an answer that
was not stored.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.services import consultation as consultations
from bot.services import media, privacy, safeguarding
from bot.services.catalog import CatalogCache
from bot.services.config import Settings
from channels.base import Channel, InboundMessage
from storage.pseudonyms import Pseudonymiser
from storage.repositories.kept import KeptRepository
from storage.repositories.outreach import OutreachRepository
from storage.uow import UnitOfWork
from storage.vault import ContactVault
from surveys import signposting
from surveys.commands import Command, command
from surveys.consultation import Consultation
from surveys.conversation import (
    MENU_PREFIX,
    AnswerAdded,
    AnswerGiven,
    Completed,
    ConsentDecision,
    ConsultationRecord,
    ContactWanted,
    DataRequested,
    ErasureRequested,
    Event,
    LanguageChosen,
    OptedIn,
    OptedOut,
    OtherReply,
    PreferredTime,
    QuotePermission,
    Record,
    Reply,
    ShareBackChoice,
    Started,
    Step,
    SurveyClosed,
)
from surveys.dates import long_date
from surveys.engine import Catalog
from surveys.i18n import gettext as _
from surveys.keeping import FOLLOW_ON_SECONDS, JOIN_SECONDS, Windows, converse
from surveys.keywords import Keyword, keyword
from surveys.model import Survey
from surveys.parsing import normalise
from surveys.redaction import Redactor
from surveys.safeguarding import Disclosure
from surveys.timing import parse_timezone

log = logging.getLogger(__name__)

#: How many (channel, address) -> (normalised address, pseudonym) pairs each process
#: remembers (`WithUsService.identity`); a few hundred kilobytes at most.
IDENTITY_CACHE_SIZE = 4096


@dataclass
class Handled:
    """What happened to one inbound message."""

    participant: str
    duplicate: bool = False
    outbox_ids: list[int] = field(default_factory=list)
    opted_out: bool = False


def to_event(message: InboundMessage) -> Event:
    if message.kind == "start":
        return Event("start", survey_id=message.start_param)
    if message.kind == "button":
        return Event("button", payload=message.payload)
    if message.kind == "media":
        return Event("media", media_type=message.media_type, text=message.text)
    return Event("text", text=message.text, media_type=message.media_type)


def reply_payload(reply: Reply, *, business_initiated: bool = False,
                  confirms_opt_out: bool = False, carries_media: bool = False) -> dict[str, Any]:
    """An outbox row's payload: everything a channel needs, and no address.

    `carries_media`: the channel can carry a voice note, so the reply's note saying one
    may be sent is added (never on SMS)."""
    text = reply.text
    if reply.media_note and carries_media:
        text += "\n" + reply.media_note
    payload: dict[str, Any] = {
        "text": text,
        "choices": [[c.payload, c.label] for c in reply.choices],
        "multiple": reply.multiple,
        "business_initiated": business_initiated,
    }
    if confirms_opt_out:
        payload["allow_opted_out"] = True  # the one message that may follow STOP
    return payload


class WithUsService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        vault: ContactVault,
        pseudonymiser: Pseudonymiser,
        catalog: CatalogCache,
        channels: Mapping[str, Channel],
        clock: Callable[[], datetime],
        redactor: Redactor | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.vault = vault
        self.pseudonymiser = pseudonymiser
        self.catalog = catalog
        self.channels = dict(channels)
        self.clock = clock
        self.redactor = redactor or Redactor()
        # Both steps are pure functions of their arguments (phone-number parsing, then a
        # keyed hash) and cost more than anything else outside the transaction, while a
        # person sends several messages in a row. Bounded, in memory only, never logged.
        self.identity = functools.lru_cache(maxsize=IDENTITY_CACHE_SIZE)(self._identity)
        #: How close together messages join into one answer (WITHUS_JOIN_SECONDS), or
        #: count as more of the last one (WITHUS_FOLLOW_ON_SECONDS).
        self.windows = Windows(
            timedelta(seconds=settings.join_seconds if settings else JOIN_SECONDS),
            timedelta(seconds=settings.follow_on_seconds if settings else FOLLOW_ON_SECONDS))

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.vault)

    def _identity(self, channel: str, address: str) -> tuple[str, str]:
        """The normalised address and the pseudonym for `address` on `channel`."""
        normalised = self.channels[channel].normalise_address(address)
        return normalised, self.pseudonymiser(channel, normalised)

    def pseudonym(self, channel: str, address: str) -> str:
        return self.identity(channel, address)[1]

    def handle(self, message: InboundMessage) -> Handled:
        """Store what the person said and queue our replies; idempotent per provider id."""
        channel = self.channels[message.channel]
        address, pid = self.identity(message.channel, message.address)
        now = self.clock()
        # Read the catalogue before the write transaction: on SQLite a second connection
        # inside it would wait on our own lock.
        catalog = self.catalog.get()
        with self.uow() as uow:
            # Creates or touches the participant, returning their opt-out; on PostgreSQL
            # it also locks their row, so two messages from one person queue up here.
            # On SQLite the same statement also reads what `arrival` below would.
            opted_out_at, arrival = uow.participants.arrive_and_read(pid, message.channel, now)
            if arrival is None:  # PostgreSQL: the claim reads it, now that their row is locked
                inbound_id, arrival = uow.inbound.claim_and_read(
                    message.channel, message.provider_message_id, pid, now)
            else:
                inbound_id = uow.inbound.claim(
                    message.channel, message.provider_message_id, pid, now)
            if inbound_id is None:
                log.info("duplicate inbound ignored",
                         extra={"channel": message.channel, "participant": pid})
                return Handled(pid, duplicate=True)
            # Their conversation, vault entry, and whether the writes below could change
            # anything, read with the upsert or the claim (their row is locked already):
            # each statement costs more in Python than in the database, so ones that would
            # find nothing are not run.
            if arrival is None:  # not reached: one of the two above read it
                arrival = uow.conversations.arrival(pid, now)
            uow.vault.refresh(pid, message.channel, address, now, arrival.vault)
            if arrival.outreach_waiting:
                # They wrote: invitations and reminders still waiting for quiet hours would
                # now only interrupt them.
                OutreachRepository(uow.session).cancel_waiting(pid, now)
            if message.channel == "whatsapp" and arrival.held:
                # Their message reopens WhatsApp's 24-hour window: held replies can go.
                uow.outbox.release_held(pid, now)
            conversation = arrival.conversation
            state = dict(conversation.state) if conversation else None
            response_id = conversation.response_id if conversation else None
            if opted_out_at is not None and state is not None:
                # Opted out at the provider (e.g. Twilio error 21610): the engine must
                # stay silent until they say START, just as after our own STOP.
                state["stopped"] = True
            context = self._context(uow, catalog, pid, state)
            invited = self._invited(uow, catalog, pid, message, now)
            if invited:
                context = {**(context or {}), "invited": invited}
            result = converse(catalog, state, to_event(message), now, context, self.windows)
            # Every text, whatever they were asked, is checked for a possible disclosure
            # (raw, in memory); if there is one, help comes first and the survey pauses.
            disclosure = safeguarding.screen(self.settings, message.text)
            if disclosure is not None:
                result, language = self._pause(state, result, disclosure)
            response_id = self._apply(uow, pid, message.channel, result.records, response_id,
                                      now, may_have_skips=arrival.skipped_answers)
            if message.media and (taken := media.accepted_media(result.records)):
                media.queue(uow, self.vault, pid, message, taken, response_id, now)
            handled = Handled(pid)
            stopping = any(isinstance(r, OptedOut) for r in result.records)
            handled.opted_out = bool(result.state.get("stopped"))
            provider_confirms = stopping and provider_confirmed(channel, message.text)
            if provider_confirms:  # and blocks every message from us until START
                result.state["blocked"] = True
            replies = self._privacy(uow, catalog, pid, result, response_id, now)
            replies = self._promised(uow, pid, message, state, result, replies, now)
            if disclosure is not None:
                signposting = safeguarding.record_disclosure(
                    uow, self.settings, self.redactor, pid=pid, channel=message.channel,
                    state=state, result=result, response_id=response_id,
                    disclosure=disclosure, text=message.text, language=language,
                    survey=catalog.item(result.state.get("survey")), now=now)
                replies.insert(0, (Reply(signposting), {"allow_opted_out": True}))
            else:
                language = str(result.state.get("lang") or "en")
            payloads = []
            for reply, extra in replies:
                if provider_confirms:
                    continue  # Twilio already confirmed STOP by SMS: no second message
                payload = reply_payload(reply, confirms_opt_out=stopping,
                                        carries_media=channel.carries_media) | extra
                payload["language"] = language
                payloads.append(payload)
            # The replies (ids in their order) and the new state: on PostgreSQL, one
            # statement.
            handled.outbox_ids = uow.outbox.add_and_save_state(
                pid, message.channel, payloads, now, inbound_id, result.state, response_id,
                self._next_reminder(catalog, result, now))
            uow.commit()
        log.info("inbound handled", extra={
            "channel": message.channel, "participant": pid, "kind": message.kind,
            "replies": len(handled.outbox_ids), "records": len(result.records),
        })
        return handled

    def _apply(self, uow: UnitOfWork, pid: str, channel: str, records: list[Record],
               response_id: int | None, now: datetime, *,
               may_have_skips: bool = True) -> int | None:
        """Store the engine's records. `may_have_skips` False: the response holds no
        skipped answer, so a value needs no skip of its question removed first."""
        for record in records:
            if isinstance(record, Started):
                response_id = uow.responses.start(
                    pid, record.survey_id, record.version, channel, record.language, now,
                    # A rehearsal in the sandbox is test data (bot/services/sandbox.py),
                    # and so is the simulator in production (bot/web/simulator.py).
                    is_test=bool(getattr(self.channels.get(channel), "sandbox", False)
                                 or getattr(self.channels.get(channel), "test_data", False)),
                )
                may_have_skips = False  # a new response holds no answers at all
            elif isinstance(record, ConsentDecision):
                uow.consents.record(pid, record.survey_id, record.consent_version,
                                    "given" if record.given else "declined", channel, now)
                if response_id is not None:
                    uow.responses.set_status(
                        response_id, "consented" if record.given else "declined", now
                    )
            elif isinstance(record, AnswerGiven):
                if response_id is None:
                    continue  # cannot happen via the engine: answers follow a start
                value, label = record.value, record.label
                if record.free_text and isinstance(value, str):
                    value = self.redactor.redact(value)  # raw text is never stored
                uow.answers.record(response_id, pid, record.survey_id, record.question_id,
                                   record.kind, value, label, record.version, now,
                                   may_have_other=record.kind != "value" or may_have_skips,
                                   free=record.kind == "value" and record.free_text)
                may_have_skips = may_have_skips or record.kind == "skipped"
            elif isinstance(record, AnswerAdded | OtherReply):
                self._keep(uow, pid, record, response_id, now)
            elif isinstance(record, Completed):
                if response_id is not None:
                    uow.responses.set_status(response_id, "completed", now)
            elif isinstance(record, OptedOut):
                uow.participants.set_opted_out(pid, now)
                if response_id is not None:  # part-way through: it ends here, answers kept
                    uow.responses.stop(response_id, now)
            elif isinstance(record, OptedIn):
                uow.participants.set_opted_out(pid, None)
                uow.outbox.release_held(pid, now)
                if response_id is not None:  # START carries on where they stopped
                    uow.responses.resume(response_id, now)
            elif isinstance(record, QuotePermission) and response_id is not None:
                uow.responses.set_quote_ok(response_id, record.allowed)
            elif isinstance(record, ShareBackChoice) and response_id is not None:
                uow.responses.set_share_back(response_id, record.wanted)
            elif isinstance(record, PreferredTime):
                uow.participants.set_preferred_time(pid, record.value)
            elif isinstance(record, LanguageChosen):
                uow.participants.set_language(pid, record.language)
            elif isinstance(record, ConsultationRecord):
                consultations.record(uow.session, self.redactor, pid, record, now)
        return response_id

    def _keep(self, uow: UnitOfWork, pid: str, record: AnswerAdded | OtherReply,
              response_id: int | None, now: datetime) -> None:
        """More words for the last free-text answer, or an other reply: redacted, kept."""
        kept = KeptRepository(uow.session)
        text = self.redactor.redact(record.text)
        if isinstance(record, AnswerAdded):
            if response_id is not None and kept.append_to_answer(
                    response_id, record.question_id, text, now):
                return
            record = OtherReply(record.survey_id, record.question_id, record.text)
        kept.add_other(pid, response_id, record.survey_id, record.question_id, text, now)

    def _promised(self, uow: UnitOfWork, pid: str, message: InboundMessage,
                  state: Mapping[str, Any] | None, result: Step,
                  replies: list[tuple[Reply, dict[str, Any]]],
                  now: datetime) -> list[tuple[Reply, dict[str, Any]]]:
        """Promises about data rights after STOP.

        - After STOP, DELETE's question and its answer go where the channel can still
          reply (Telegram, WhatsApp, a Welsh STOPIO by SMS that Twilio does not act on).
        - After an English STOP by SMS, Twilio delivers nothing until START: DELETE YES
          in one message erases at once, and a note (the pseudonym only) lets the next
          START say so (docs/privacy.md).
        """
        before = state or {}
        erasing = any(isinstance(r, ErasureRequested) for r in result.records)
        if before.get("stopped") and not before.get("blocked") and (
                before.get("pending") == "delete" or erasing
                or command(message.text) is Command.DELETE):
            replies = [(reply, extra | {"allow_opted_out": True}) for reply, extra in replies]
        if erasing and before.get("blocked"):
            KeptRepository(uow.session).note_erasure(
                pid, str(result.state.get("lang") or "en"), now)
        starting = message.kind == "start" or keyword(message.text) is Keyword.START
        if starting and state is None:  # someone new, or someone who was erased
            notice = KeptRepository(uow.session).take_erasure_notice(pid)
            if notice is not None:
                told = _(notice.language, "As you asked, we deleted everything we held about "
                                          "you on {date}.",
                         date=long_date(notice.erased_at, notice.language))
                replies.insert(0, (Reply(told), {}))
        return replies

    @staticmethod
    def _pause(state: Mapping[str, Any] | None, result: Step,
               disclosure: Disclosure) -> tuple[Step, str]:
        """The engine's step with its replies replaced by the gentle pause, and the
        language to answer in: theirs, or that of their words if they wrote in another
        (or had not chosen one yet, which then becomes theirs)."""
        chosen = (state or {}).get("lang")
        language = disclosure.language(chosen if isinstance(chosen, str) else None)
        if not chosen:
            result.state["lang"] = language
        return signposting.pause_after_disclosure(result, language), language

    @staticmethod
    def _context(uow: UnitOfWork, catalog: Catalog, pid: str,
                 state: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """In a consultation, the statements this person may vote on next (the engine
        cannot look them up itself)."""
        consultation = catalog.consultations.get((state or {}).get("survey") or "")
        if consultation is None:
            return None
        return consultations.statement_context(uow.session, consultation, state, pid)

    @staticmethod
    def _invited(uow: UnitOfWork, catalog: Catalog, pid: str, message: InboundMessage,
                 now: datetime) -> dict[str, str]:
        """For a message that starts a survey (its keyword, the invitation's Start button
        or a deep link), whether an invitation to it, carrying its intro, reached them
        lately: {survey id: the invitation's language}, for the engine's context."""
        item = started_by(catalog, message)
        if item is None:
            return {}
        language = OutreachRepository(uow.session).invitation_heard(
            pid, item.id, now - INTRO_REMEMBERED)
        if language is None:
            return {}
        return {item.id: language if language in item.languages else item.default_language}

    def _privacy(self, uow: UnitOfWork, catalog: Catalog, pid: str, result: Step,
                 response_id: int | None, now: datetime) -> list[tuple[Reply, dict[str, Any]]]:
        """The step's replies, with what privacy and safeguarding add to them.

        - Someone who asks, at the pause after a possible disclosure, to be contacted is
          marked on their flag, and the safeguarding lead is alerted.
        - MYDATA gets a summary of what is held; DELETE's goodbye carries `erase_after`,
          so the sender erases the person once it has been delivered.
        Both may go to someone who has opted out: they asked.
        """
        replies: list[tuple[Reply, dict[str, Any]]] = [(r, {}) for r in result.replies]
        lang = str(result.state.get("lang") or "en")
        for record in result.records:
            if isinstance(record, ContactWanted):
                safeguarding.contact_wanted(uow, self.settings, pid, now)
            elif isinstance(record, DataRequested):
                titles = {**{sid: s.title for sid, s in catalog.surveys.items()},
                          **{cid: c.title for cid, c in catalog.consultations.items()}}
                zone = parse_timezone(self.settings.timezone) if self.settings else None
                summary = privacy.data_summary(uow, pid, lang, titles, zone)
                replies.append((Reply(summary), {"allow_opted_out": True}))
            elif isinstance(record, SurveyClosed):
                shared = OutreachRepository(uow.session).latest_sent_shareback(record.survey_id)
                if shared:  # reciprocity: what came of it, even for those who missed it
                    replies.append((Reply(shared.text), {}))
            elif isinstance(record, ErasureRequested) and replies:
                goodbye, extra = replies[-1]
                replies[-1] = (goodbye, extra | {"erase_after": True, "allow_opted_out": True})
        return replies

    @staticmethod
    def _next_reminder(catalog: Catalog, result: Step, now: datetime) -> datetime | None:
        """When to nudge someone who has started but not finished, if at all.

        After LATER and a time, the one reminder promised: due in an hour, which the
        scheduler then moves into the window they chose (surveys.timing)."""
        state = result.state
        survey = catalog.item(state.get("survey"))
        if (survey is not None and state.get("later") and state.get("paused")
                and not state.get("stopped")
                and state.get("stage") in ("consent", "asking", "quote", "shareback")):
            return now + LATER_DELAY
        if (
            survey is None or state.get("stopped") or state.get("paused")
            or state.get("stage") not in ("consent", "asking")
            or int(state.get("reminders") or 0) >= survey.reminders
        ):
            return None
        return now + timedelta(hours=survey.reminder_after_hours)

    def remind(self, pid: str) -> list[int]:
        """Send a due reminder (the engine's timeout event); returns the outbox ids.

        The scheduler calls this for conversations whose next_reminder_at has passed.
        Reminders start a conversation, so they are business-initiated messages.
        """
        catalog = self.catalog.get()
        now = self.clock()
        with self.uow() as uow:
            conversation = uow.conversations.get_for_update(pid)
            participant = uow.participants.get(pid)
            if conversation is None or participant is None:
                return []
            if participant.opted_out_at is not None:
                uow.conversations.save(pid, conversation.state, conversation.response_id, now)
                uow.commit()
                return []
            context = self._context(uow, catalog, pid, conversation.state)
            result = converse(catalog, conversation.state, Event("timeout"), now, context)
            carries = getattr(self.channels.get(participant.channel), "carries_media", False)
            ids = [
                uow.outbox.add(pid, participant.channel,
                               reply_payload(reply, business_initiated=True,
                                             carries_media=carries)
                               | {"language": str(result.state.get("lang") or "en")}, now,
                               kind="reminder")
                for reply in result.replies
            ]
            uow.conversations.save(pid, result.state, conversation.response_id, now,
                                   self._next_reminder(catalog, result, now))
            uow.commit()
        log.info("reminder queued", extra={"participant": pid, "replies": len(ids)})
        return ids

    def opt_out(self, channel: str, address: str) -> None:
        """The provider says this person no longer wants messages (e.g. blocked the bot)."""
        pid = self.pseudonym(channel, address)
        now = self.clock()
        with self.uow() as uow:
            participant = uow.participants.get(pid)
            if participant is not None and participant.opted_out_at is None:
                uow.participants.set_opted_out(pid, now)
                conversation = uow.conversations.get_for_update(pid)
                if conversation is not None and conversation.response_id is not None:
                    uow.responses.stop(conversation.response_id, now)  # as after STOP
            uow.commit()
        log.info("opted out by the provider", extra={"channel": channel, "participant": pid})

    def record_status(self, provider_message_id: str, status: str, error_code: int | None,
                      *, opted_out: bool = False) -> None:
        """Apply a provider's delivery report to the outbox (and opt-outs to the person)."""
        mapped = PROVIDER_STATUS.get(status.lower())
        if mapped is None:
            return  # queued, accepted, sending: nothing we act on
        now = self.clock()
        with self.uow() as uow:
            outbox_id = uow.outbox.mark_status_by_provider_id(provider_message_id, mapped,
                                                              error_code)
            message = uow.outbox.get(outbox_id) if outbox_id is not None else None
            if message is not None and opted_out:
                uow.participants.set_opted_out(message.participant_id, now)
            if outbox_id is not None and error_code == WINDOW_CLOSED and mapped == "failed":
                # Outside WhatsApp's 24-hour window: resend when they next write to us.
                uow.outbox.mark_held(outbox_id, f"provider error {WINDOW_CLOSED}")
            uow.commit()
        log.info("delivery status", extra={"status": mapped, "error_code": error_code})


def provider_confirmed(channel: Channel, text: str) -> bool:
    """Did the provider itself confirm this STOP (Twilio does on SMS, for its own English
    words only), so that a second confirmation from us would be one too many?"""
    if not getattr(channel, "provider_confirms_opt_out", False):
        return False
    acts_on = getattr(channel, "provider_opt_out_word", None)
    return acts_on(text) if callable(acts_on) else True


def started_by(catalog: Catalog, message: InboundMessage) -> Survey | Consultation | None:
    """The survey or consultation this message would start, by its words alone: a keyword
    or id, a menu or Start button, a deep link. (The engine still decides: a keyword
    typed as the answer to a free-text question is an answer.)"""
    if message.kind == "start":
        found = catalog.started_by(normalise(message.start_param))
    elif message.kind == "button":
        if not message.payload.startswith(MENU_PREFIX):
            return None
        return catalog.item(message.payload.removeprefix(MENU_PREFIX))
    elif message.kind == "text" and message.text:
        found = catalog.started_by(normalise(message.text))
    else:
        return None
    return found[0] if found is not None else None


#: How long an invitation's intro counts as read: a reply to it within this time goes
#: straight on to consent; later, the intro is sent again.
INTRO_REMEMBERED = timedelta(days=30)

#: After LATER and a chosen time, the reminder is due no sooner than this.
LATER_DELAY = timedelta(hours=1)

#: Twilio's "outside the WhatsApp 24-hour window" error.
WINDOW_CLOSED = 63016

#: Twilio's message statuses, as the outbox records them.
PROVIDER_STATUS = {
    "sent": "sent", "delivered": "delivered", "read": "delivered",
    "undelivered": "failed", "failed": "failed",
}
