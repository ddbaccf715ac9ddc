"""The one small interface every messaging channel implements.

A channel turns a provider's webhook request into plain `InboundMessage`s, checks that the
request really came from the provider, and delivers an `OutboundMessage`. Channels never
import Flask or the database: the web layer hands them a `WebRequest`, a plain snapshot of
the HTTP request, and the service layer decides what to say.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from surveys import render

EventKind = Literal["start", "text", "button", "media"]


@dataclass(frozen=True)
class WebRequest:
    """What a channel may know about an HTTP request, without Flask."""

    method: str
    path: str
    headers: Mapping[str, str]  # case-insensitive lookups: use `header()`
    body: bytes
    form: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@dataclass(frozen=True)
class MediaRef:
    """Where a provider keeps something a person sent (a voice note, a photo), so that it
    can be fetched after the webhook has answered: a Twilio MediaUrl or a Telegram file
    id in `source`. It can fetch personal data: never log it."""

    kind: str  # the channel's media type: "audio", "image", "voice", "photo", ...
    source: str
    content_type: str = ""
    size: int | None = None

    def __repr__(self) -> str:
        return f"MediaRef(kind={self.kind!r}, content_type={self.content_type!r})"


@dataclass(frozen=True)
class FetchedMedia:
    data: bytes
    content_type: str

    def __repr__(self) -> str:
        return f"FetchedMedia(bytes={len(self.data)}, content_type={self.content_type!r})"


class MediaError(Exception):
    """A fetch failed. `problem` is a short code (too_large, wrong_type, foreign_host,
    timeout, not_found, refused, unavailable); `permanent` means trying again is useless.
    The reason is ours, never the provider's text (which may quote a URL)."""

    def __init__(self, problem: str, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.problem = problem
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class InboundMessage:
    """One thing a person did: sent text, pressed a button, sent media, or started via a link.

    `address` is the person's phone number (E.164), WhatsApp number or chat id. It is
    personal data: the service layer turns it into a pseudonym and keeps it only in the
    encrypted contact vault. Never log it.
    """

    channel: str
    address: str
    provider_message_id: str
    kind: EventKind
    text: str = ""
    payload: str = ""
    media_type: str = ""
    start_param: str = ""
    #: Provider-specific data needed to acknowledge the event (e.g. a Telegram callback id).
    ack: str = ""
    #: What was attached, to fetch later if the survey takes it as an answer.
    media: tuple[MediaRef, ...] = ()

    def __repr__(self) -> str:  # keep addresses and text out of tracebacks and logs
        return (
            f"InboundMessage(channel={self.channel!r}, kind={self.kind!r}, "
            f"provider_message_id={self.provider_message_id!r})"
        )


@dataclass(frozen=True)
class Choice:
    payload: str
    label: str


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one person, channel-neutral: text plus optional choices.

    Channels without buttons render the choices as numbered lines ("Reply 1, 2 or 3").
    """

    text: str
    choices: Sequence[Choice] = ()
    #: Choices may be picked several at once (multiple choice): never render as buttons
    #: that submit one value.
    multiple: bool = False
    #: The message starts a conversation rather than answering one (invitations, reminders):
    #: on WhatsApp it must go as an approved template outside the 24-hour window.
    business_initiated: bool = False
    #: The person's language, for the words a channel adds (e.g. "Reply 1 or 2").
    language: str | None = None

    def __repr__(self) -> str:
        return f"OutboundMessage(chars={len(self.text)}, choices={len(self.choices)})"


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


class SendError(Exception):
    """A delivery failed. `retry_after` set means try again later; `permanent` means don't."""

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        opted_out: bool = False,
        window_closed: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent
        self.opted_out = opted_out
        self.window_closed = window_closed


class Channel(ABC):
    """A provider behind the same three verbs."""

    #: Name stored with messages, used in pseudonyms and URLs: "sms", "whatsapp", "telegram".
    name: str = ""
    #: How many buttons a message may carry; 0 means render choices as numbered text.
    max_buttons: int = 0
    #: Longest text in one message; longer texts are split at sentence boundaries.
    max_length: int = 4096
    #: People can send a voice note or photo here (so prompts say they may).
    carries_media: bool = False

    @abstractmethod
    def verify(self, request: WebRequest) -> bool:
        """True when the request provably came from the provider."""

    @abstractmethod
    def parse(self, request: WebRequest) -> list[InboundMessage]:
        """Turn a verified request into messages; raise `BadRequest` when malformed."""

    @abstractmethod
    def send(self, address: str, message: OutboundMessage) -> list[SendResult]:
        """Deliver one message (maybe as several parts); raise `SendError` on failure."""

    def fetch_media(self, source: str, max_bytes: int, timeout: float) -> FetchedMedia:
        """Download what a `MediaRef.source` points to, at most `max_bytes` of it;
        raise `MediaError`. Called by the media job, never inside a webhook."""
        raise MediaError("refused", f"the {self.name or 'this'} channel carries no media",
                         permanent=True)

    def normalise_address(self, address: str) -> str:
        """The canonical form used for the pseudonym, so one person maps to one id."""
        return address.strip()

    def accepted_since(
        self, address: str, since: datetime, known: Collection[str]
    ) -> list[str] | None:
        """Ask the provider which messages to `address` it accepted from us at or after
        `since`, leaving out the ids in `known`: after a sender died mid-send, this tells
        whether the provider got that message. None when this provider cannot be asked
        (the message is then sent again: at least once rather than perhaps never).
        Raise `SendError` when the provider could not answer just now.
        """
        return None


class BadRequest(ValueError):
    """The request is malformed: answer 4xx, store nothing."""


def numbered(message: OutboundMessage) -> str:
    """Render choices as numbered lines for channels without buttons (SMS, console).

    The "Reply 1 or 2" line is in the person's language, like everything else we say.
    """
    return render.numbered(message.text, [c.label for c in message.choices],
                           message.multiple, message.language)
