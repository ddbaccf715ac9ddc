"""Encryption for the contact vault: the only place a phone number or chat id is kept.

Fernet gives authenticated encryption, so a tampered or wrongly-keyed entry fails loudly
instead of decrypting to garbage. MultiFernet makes key rotation possible without
downtime: deploy with [new, old], run `VaultRepository.rotate_all()`, then drop the old
key. Error messages never contain key material, since they end up in logs.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from storage.errors import VaultDecryptionError


def generate_key() -> str:
    """A new random Fernet key, as the text to put in configuration."""
    return Fernet.generate_key().decode("ascii")


class ContactVault:
    """Encrypts with the first key; decrypts with any of them (newest first)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if isinstance(keys, str | bytes):
            # A lone string is a Sequence too; iterating it would try each character.
            raise ValueError("contact vault keys must be a list of keys, not a single string")
        if not keys:
            raise ValueError("no contact vault key configured; generate one with generate_key()")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip()))
            except (ValueError, TypeError, AttributeError):
                # `from None`: the underlying error could echo part of the key.
                raise ValueError(
                    f"contact vault key #{position} is not a valid Fernet key "
                    "(expected 32 url-safe base64-encoded bytes)"
                ) from None
        self._fernet = MultiFernet(fernets)

    def encrypt(self, address: str) -> bytes:
        return self._fernet.encrypt(address.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            raise VaultDecryptionError(
                "a contact vault entry could not be decrypted with any configured key"
            ) from None

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt `token` under the newest key (it may be under any configured key)."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise VaultDecryptionError(
                "a contact vault entry could not be rotated: no configured key decrypts it"
            ) from None

    # Bytes (voice notes and photos in the media store) under the same keys, so one
    # rotation covers both: `seal`, `unseal` and `reseal` are `encrypt`, `decrypt` and
    # `rotate` without the text encoding.

    def seal(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def unseal(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise VaultDecryptionError(
                "a stored file could not be decrypted with any configured key"
            ) from None

    def reseal(self, token: bytes) -> bytes:
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise VaultDecryptionError(
                "a stored file could not be rotated: no configured key decrypts it"
            ) from None

    def __repr__(self) -> str:
        return "ContactVault(keys=<hidden>)"
