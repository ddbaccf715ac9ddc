"""The per-process cache of who an address is (`WithUsService.identity`).

Normalising a phone number and deriving the pseudonym are pure functions, so the service
remembers them per (channel, address); the cache must give exactly what computing afresh
gives, for every channel, and stay bounded.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from unittest.mock import MagicMock

from bot.services.catalog import CatalogCache
from bot.services.inbound import IDENTITY_CACHE_SIZE, WithUsService
from channels.base import Channel
from channels.local import ConsoleChannel
from channels.twilio import TwilioChannel
from storage.pseudonyms import Pseudonymiser
from storage.vault import ContactVault, generate_key

KEY = b"identity-cache-test-key-of-32-bytes!"
ADDRESSES = [
    "+447700900123", "07700 900123", "whatsapp:+447700900123", "07700900124", "72404",
    "WithUs", " +44 (0)7700 900125 ", "+12025550123", "not a number", "",
]  # fmt: skip


def service() -> WithUsService:
    url = "https://withus.example.org"
    channels: dict[str, Channel] = {
        "sms": TwilioChannel("sms", "AC" + "1" * 32, "token", url, from_number="+447700900001"),
        "whatsapp": TwilioChannel("whatsapp", "AC" + "1" * 32, "token", url,
                                  from_number="+447700900002"),
        "console": ConsoleChannel(io.StringIO()),
    }
    return WithUsService(MagicMock(), ContactVault([generate_key()]), Pseudonymiser(KEY),
                         MagicMock(spec=CatalogCache), channels,
                         lambda: datetime(2026, 11, 23, tzinfo=UTC))


def test_the_cache_gives_what_computing_afresh_gives() -> None:
    cached = service()
    uncached = Pseudonymiser(KEY)
    for _round in range(2):  # the first fills the cache, the second reads it
        for channel_name, channel in cached.channels.items():
            for address in ADDRESSES:
                normalised = channel.normalise_address(address)
                expected = (normalised, uncached(channel_name, normalised))
                assert cached.identity(channel_name, address) == expected
                assert cached.pseudonym(channel_name, address) == expected[1]
    info = cached.identity.cache_info()
    assert info.hits >= len(ADDRESSES) * len(cached.channels)  # the second round was cached


def test_one_person_on_two_channels_is_two_pseudonyms() -> None:
    cached = service()
    assert cached.pseudonym("sms", "+447700900123") != cached.pseudonym(
        "whatsapp", "whatsapp:+447700900123"
    )
    # ... and two spellings of one number on one channel are one.
    assert cached.pseudonym("sms", "07700 900123") == cached.pseudonym("sms", "+447700900123")


def test_the_cache_is_bounded() -> None:
    cached = service()
    for n in range(IDENTITY_CACHE_SIZE + 50):
        cached.identity("sms", f"+4477009{n:05d}")
    info = cached.identity.cache_info()
    assert info.maxsize == IDENTITY_CACHE_SIZE and info.currsize == IDENTITY_CACHE_SIZE
    # An address pushed out is computed again, the same as before.
    assert cached.identity("sms", "+447700900000") == (
        "+447700900000", Pseudonymiser(KEY)("sms", "+447700900000")
    )
