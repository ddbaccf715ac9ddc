"""The sandbox: rehearse an engagement before paying for a single text message.

When SMS, WhatsApp or Telegram has no provider configured and the sandbox is on
(`WITHUS_SANDBOX`, on by default in development and off in production), that channel
is a `channels.local.SandboxChannel`: the sender keeps each message in the sandbox
inbox instead of handing it to a provider. Everything else is real: the cohort, the
pseudonyms, the invitation, the outbox, the conversation. An organiser reads the inbox
as each person would see their phone, and replies as them through the same inbound
service path a provider's webhook uses.

Rehearsals are not evidence, so:
- every response begun on a sandboxed channel is marked `is_test`, and figures and
  exports leave test responses out unless asked (`withus export --include-test`, the
  results page's "include test responses");
- invitations, reminders and share-backs do not wait for quiet hours in the sandbox:
  they arrive at once, each noting when a real phone would have got it;
- a reply can only be made as someone whose channel is sandboxed now: never as a
  person a real provider reaches.

In production the sandbox is off unless WITHUS_SANDBOX=on is set, and an invitation
to people whose channel has no provider is refused with the reason
(`bot.services.outreach.schedule_invitation`), so real contacts are never quietly
"sent" to a sandbox.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from bot.services.runtime import Runtime, sandboxed
from channels.base import InboundMessage
from storage.repositories.sandbox import SandboxEntry, SandboxPerson, SandboxRepository
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

#: The longest reply an organiser may type as someone (as the web simulator).
MAX_REPLY = 2000

__all__ = ["MAX_REPLY", "SandboxError", "SandboxView", "conversation", "people",
           "release_due", "reply_as", "sandboxed"]


class SandboxError(ValueError):
    """A sandbox request that cannot be done; the message says why."""


@dataclass(frozen=True)
class SandboxView:
    person: SandboxPerson
    messages: list[SandboxEntry]


def release_due(runtime: Runtime) -> int:
    """Let invitations, reminders and share-backs on sandboxed channels go now, not
    after quiet hours: a rehearsal at 10 pm should not wait until 8 am."""
    channels = sandboxed(runtime.channels)
    if not channels:
        return 0
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        count = SandboxRepository(uow.session).release(channels, runtime.clock())
        uow.commit()
    if count:
        runtime.wake_sender()
    return count


def people(runtime: Runtime) -> list[SandboxPerson]:
    """Everyone the sandbox has had messages for, labelled Person 1, 2, ..."""
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        return SandboxRepository(uow.session).people()


def conversation(runtime: Runtime, number: int) -> SandboxView:
    """Person `number`'s messages, oldest first; SandboxError if there is no such person."""
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        repo = SandboxRepository(uow.session)
        found = next((p for p in repo.people() if p.number == number), None)
        if found is None:
            raise SandboxError(f"there is no person {number} in the sandbox")
        return SandboxView(found, repo.conversation(found.participant_id))


def reply_as(runtime: Runtime, number: int, text: str = "", payload: str = "") -> int:
    """Send `text` (or press the button `payload`) as Person `number`, through the real
    inbound path, and deliver the replies into the sandbox. Returns how many replies."""
    text = text.strip()
    if not text and not payload:
        raise SandboxError("write a reply first")
    if len(text) > MAX_REPLY or len(payload) > 200:
        raise SandboxError(f"a reply is at most {MAX_REPLY:,} characters")
    person = conversation(runtime, number).person
    if person.channel not in sandboxed(runtime.channels):
        # A provider reaches this channel now: these are real people's conversations.
        raise SandboxError(f"{person.channel} has a provider now, so nobody on it can be "
                           "answered for from the sandbox")
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        address = uow.vault.address(person.participant_id)
    if address is None:
        raise SandboxError(f"person {number} has been erased")
    inbound = InboundMessage(person.channel, address, f"sandbox-{uuid.uuid4().hex}",
                             "button" if payload else "text", text=text or payload,
                             payload=payload)
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        SandboxRepository(uow.session).replied(person.participant_id, person.channel,
                                               text or _label(number, payload, runtime),
                                               runtime.clock())
        uow.commit()
    handled = runtime.service.handle(inbound)
    runtime.sender.deliver(handled.outbox_ids)
    log.info("sandbox reply", extra={"channel": person.channel,
                                     "participant": person.participant_id,
                                     "replies": len(handled.outbox_ids)})
    return len(handled.outbox_ids)


def _label(number: int, payload: str, runtime: Runtime) -> str:
    """What a pressed button said, for the inbox (the last message offering it)."""
    view = conversation(runtime, number)
    for entry in reversed(view.messages):
        for choice_payload, label in entry.choices:
            if choice_payload == payload:
                return label
    return payload
