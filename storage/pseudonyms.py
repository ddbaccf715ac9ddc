"""Stable pseudonyms for participants.

A participant's id is a keyed hash (HMAC-SHA256) of their channel and address: the same
person on the same channel always maps to the same id, so the bot recognises them without
storing their number in the clear, and without the key (kept outside the database) an id
cannot be turned back into a number by hashing every possible phone number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

#: Shorter keys make the HMAC guessable; 32 random bytes is the recommendation.
MIN_KEY_BYTES = 16
#: 15 bytes = 120 bits, exactly 24 base32 characters: no padding, collisions negligible.
DIGEST_BYTES = 15


class Pseudonymiser:
    """Turns (channel, normalised address) into an id like "p" + 24 base32 characters."""

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray):
            raise TypeError("the pseudonym key must be bytes")
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the pseudonym key must be at least {MIN_KEY_BYTES} bytes long")
        self._key = bytes(key)

    def __call__(self, channel: str, normalised_address: str) -> str:
        # The unit separator cannot occur in a channel name, so ("ab", "c") and ("a", "bc")
        # can never produce the same message.
        message = f"{channel}\x1f{normalised_address}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()[:DIGEST_BYTES]
        return "p" + base64.b32encode(digest).decode("ascii").lower()

    def __repr__(self) -> str:
        return "Pseudonymiser(key=<hidden>)"
