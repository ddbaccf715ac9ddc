"""Channels for trying WithUs without a provider: the terminal and the web simulator.

They go through exactly the same service path as Telegram or SMS (pseudonym, vault,
engine, outbox, sender); only delivery differs. Neither takes webhooks.
"""

from __future__ import annotations

import itertools
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

    def __init__(self) -> None:
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
