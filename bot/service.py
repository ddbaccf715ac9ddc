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

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.catalog import CatalogCache
from channels.base import Channel, InboundMessage
from storage.pseudonyms import Pseudonymiser
from storage.uow import UnitOfWork
from storage.vault import ContactVault
from surveys.engine import (
    AnswerGiven,
    Completed,
    ConsentDecision,
    Event,
    LanguageChosen,
    OptedIn,
    OptedOut,
    PreferredTime,
    QuotePermission,
    Record,
    Reply,
    ShareBackChoice,
    Started,
    Step,
    converse,
)
from surveys.model import Survey
from surveys.redaction import Redactor

log = logging.getLogger(__name__)


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
    return Event("text", text=message.text)


def reply_payload(reply: Reply, *, business_initiated: bool = False,
                  confirms_opt_out: bool = False) -> dict[str, Any]:
    """An outbox row's payload: everything a channel needs, and no address."""
    payload: dict[str, Any] = {
        "text": reply.text,
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
    ) -> None:
        self.sessions = sessions
        self.vault = vault
        self.pseudonymiser = pseudonymiser
        self.catalog = catalog
        self.channels = dict(channels)
        self.clock = clock
        self.redactor = redactor or Redactor()

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.vault)

    def pseudonym(self, channel: str, address: str) -> str:
        normalised = self.channels[channel].normalise_address(address)
        return self.pseudonymiser(channel, normalised)

    def handle(self, message: InboundMessage) -> Handled:
        """Store what the person said and queue our replies; idempotent per provider id."""
        channel = self.channels[message.channel]
        address = channel.normalise_address(message.address)
        pid = self.pseudonymiser(message.channel, address)
        now = self.clock()
        # Read the catalogue before the write transaction: on SQLite a second connection
        # inside it would wait on our own lock.
        catalog = self.catalog.get()
        with self.uow() as uow:
            participant = uow.participants.ensure(pid, message.channel, now)
            inbound_id = uow.inbound.claim(message.channel, message.provider_message_id, pid, now)
            if inbound_id is None:
                log.info("duplicate inbound ignored",
                         extra={"channel": message.channel, "participant": pid})
                return Handled(pid, duplicate=True)
            uow.vault.store(pid, message.channel, address, now)
            uow.participants.touch(pid, now)
            if message.channel == "whatsapp":
                # Their message reopens WhatsApp's 24-hour window: held replies can go.
                uow.outbox.release_held(pid, now)
            conversation = uow.conversations.get_for_update(pid)
            state = dict(conversation.state) if conversation else None
            response_id = conversation.response_id if conversation else None
            if participant.opted_out_at is not None and state is not None:
                # Opted out at the provider (e.g. Twilio error 21610): the engine must
                # stay silent until they say START, just as after our own STOP.
                state["stopped"] = True
            result = converse(catalog, state, to_event(message), now)
            response_id = self._apply(uow, pid, message.channel, result.records, response_id,
                                      now)
            handled = Handled(pid)
            stopping = any(isinstance(r, OptedOut) for r in result.records)
            handled.opted_out = bool(result.state.get("stopped"))
            provider_confirms = getattr(channel, "provider_confirms_opt_out", False)
            for reply in result.replies:
                if stopping and provider_confirms:
                    continue  # Twilio already confirmed STOP by SMS: no second message
                handled.outbox_ids.append(uow.outbox.add(
                    pid, message.channel, reply_payload(reply, confirms_opt_out=stopping), now,
                    in_reply_to=inbound_id,
                ))
            uow.conversations.save(pid, result.state, response_id, now,
                                   self._next_reminder(catalog.surveys, result, now))
            uow.commit()
        log.info("inbound handled", extra={
            "channel": message.channel, "participant": pid, "kind": message.kind,
            "replies": len(handled.outbox_ids), "records": len(result.records),
        })
        return handled

    def _apply(self, uow: UnitOfWork, pid: str, channel: str, records: list[Record],
               response_id: int | None, now: datetime) -> int | None:
        for record in records:
            if isinstance(record, Started):
                response_id = uow.responses.start(
                    pid, record.survey_id, record.version, channel, record.language, now
                )
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
                                   record.kind, value, label, record.version, now)
            elif isinstance(record, Completed):
                if response_id is not None:
                    uow.responses.set_status(response_id, "completed", now)
            elif isinstance(record, OptedOut):
                uow.participants.set_opted_out(pid, now)
            elif isinstance(record, OptedIn):
                uow.participants.set_opted_out(pid, None)
                uow.outbox.release_held(pid, now)
            elif isinstance(record, QuotePermission) and response_id is not None:
                uow.responses.set_quote_ok(response_id, record.allowed)
            elif isinstance(record, ShareBackChoice) and response_id is not None:
                uow.responses.set_share_back(response_id, record.wanted)
            elif isinstance(record, PreferredTime):
                uow.participants.set_preferred_time(pid, record.value)
            elif isinstance(record, LanguageChosen):
                uow.participants.set_language(pid, record.language)
        return response_id

    @staticmethod
    def _next_reminder(surveys: Mapping[str, Survey], result: Step,
                       now: datetime) -> datetime | None:
        """When to nudge someone who has started but not finished, if at all."""
        state = result.state
        survey = surveys.get(state.get("survey") or "")
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
            result = converse(catalog, conversation.state, Event("timeout"), now)
            ids = [
                uow.outbox.add(pid, participant.channel,
                               reply_payload(reply, business_initiated=True), now,
                               kind="reminder")
                for reply in result.replies
            ]
            uow.conversations.save(pid, result.state, conversation.response_id, now,
                                   self._next_reminder(catalog.surveys, result, now))
            uow.commit()
        log.info("reminder queued", extra={"participant": pid, "replies": len(ids)})
        return ids

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
            uow.commit()
        log.info("delivery status", extra={"status": mapped, "error_code": error_code})


#: Twilio's message statuses, as the outbox records them.
PROVIDER_STATUS = {
    "sent": "sent", "delivered": "delivered", "read": "delivered",
    "undelivered": "failed", "failed": "failed",
}
