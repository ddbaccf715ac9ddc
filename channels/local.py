"""Channels for trying WithUs without a provider: the terminal, the web simulator, and
the sandbox that stands in for SMS, WhatsApp or Telegram until a provider is set up.

They go through exactly the same service path as Telegram or SMS (pseudonym, vault,
engine, outbox, sender); only delivery differs. None takes webhooks.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections import defaultdict
from typing import TextIO

import phonenumbers

from channels.base import (
    Channel,
    InboundMessage,
    OutboundMessage,
    SendResult,
    WebRequest,
    numbered,
)


def normalise_phone_like(address: str, region: str = "GB") -> str:
    """E.164 for anything that parses as a phone number, else the trimmed address."""
    address = address.strip()
    try:
        number = phonenumbers.parse(address, region)
    except phonenumbers.NumberParseException:
        return address
    if phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return address


class _NoWebhook(Channel):
    def verify(self, request: WebRequest) -> bool:
        return False  # never reachable from the internet

    def parse(self, request: WebRequest) -> list[InboundMessage]:
        return []


class ConsoleChannel(_NoWebhook):
    """A participant at a terminal: replies are printed, choices as numbered lines."""

    name = "console"
    max_buttons = 0

    def __init__(self, out: TextIO, region: str = "GB") -> None:
        self.out = out
        self.region = region
        self._ids = itertools.count(1)

    def normalise_address(self, address: str) -> str:
        return normalise_phone_like(address, self.region)

    def send(self, address: str, message: OutboundMessage) -> list[SendResult]:
        self.out.write(numbered(message) + "\n\n")
        self.out.flush()
        return [SendResult(f"console-{next(self._ids)}")]


class WebChannel(_NoWebhook):
    """The web simulator: replies wait in memory until the browser collects them."""

    name = "web"
    max_buttons = 8

    def __init__(self, *, test_data: bool = False) -> None:
        #: Responses begun here are test data (left out of figures and exports).
        self.test_data = test_data
        self._lock = threading.Lock()
        self._waiting: dict[str, list[OutboundMessage]] = defaultdict(list)
        self._ids = itertools.count(1)

    def send(self, address: str, message: OutboundMessage) -> list[SendResult]:
        with self._lock:
            self._waiting[address].append(message)
        return [SendResult(f"web-{next(self._ids)}")]

    def collect(self, address: str) -> list[OutboundMessage]:
        with self._lock:
            return self._waiting.pop(address, [])


#: What a sandbox copies from the provider it stands in for: buttons, message length.
_SANDBOX_SHAPES = {"sms": (0, 1600), "whatsapp": (3, 1600), "telegram": (8, 4096)}


class SandboxChannel(_NoWebhook):
    """SMS, WhatsApp or Telegram with no provider configured: nothing leaves the machine.

    The sender keeps each message for the sandbox inbox instead, as the person's phone
    would show it (`shown`), where an organiser reads it and can reply as them. The
    channel has the provider's name, so the people, pseudonyms and conversations are
    exactly those a real provider would have, and its button and length limits.
    """

    sandbox = True

    def __init__(self, name: str, region: str = "GB") -> None:
        if name not in _SANDBOX_SHAPES:
            raise ValueError(f"no sandbox for a channel called {name!r}")
        self.name = name
        self.max_buttons, self.max_length = _SANDBOX_SHAPES[name]
        self.region = region

    def normalise_address(self, address: str) -> str:
        if self.name == "telegram":
            return address.strip()
        return normalise_phone_like(address.removeprefix("whatsapp:"), self.region)

    def send(self, address: str, message: OutboundMessage) -> list[SendResult]:
        return [SendResult(f"sandbox-{secrets.token_hex(8)}")]

    def shown(self, message: OutboundMessage) -> OutboundMessage:
        """What the person's phone would show: buttons only where the provider would
        send them (WhatsApp up to 3, Telegram up to 8, never for several choices at
        once); otherwise, and always on SMS, the choices as numbered lines."""
        choices = message.choices
        if choices and not message.multiple and len(choices) <= self.max_buttons:
            return message
        return OutboundMessage(numbered(message), language=message.language,
                               business_initiated=message.business_initiated)
