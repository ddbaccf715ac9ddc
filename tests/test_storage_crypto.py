"""Pseudonyms and contact-vault encryption (no database needed)."""

from __future__ import annotations

import re

import pytest

from storage.errors import VaultDecryptionError
from storage.pseudonyms import Pseudonymiser
from storage.vault import ContactVault, generate_key

KEY = b"k" * 32
NUMBER = "+447700900123"


# ------------------------------------------------------------------------- pseudonyms


def test_pseudonym_shape() -> None:
    pid = Pseudonymiser(KEY)("sms", NUMBER)
    assert re.fullmatch(r"p[a-z2-7]{24}", pid)
    assert len(pid) == 25


def test_pseudonym_is_stable() -> None:
    assert Pseudonymiser(KEY)("sms", NUMBER) == Pseudonymiser(KEY)("sms", NUMBER)


def test_pseudonym_depends_on_channel_address_and_key() -> None:
    pseudonym = Pseudonymiser(KEY)
    base = pseudonym("sms", NUMBER)
    assert pseudonym("whatsapp", NUMBER) != base
    assert pseudonym("sms", "+447700900124") != base
    assert Pseudonymiser(b"j" * 32)("sms", NUMBER) != base


def test_pseudonym_fields_cannot_run_together() -> None:
    pseudonym = Pseudonymiser(KEY)
    assert pseudonym("ab", "c") != pseudonym("a", "bc")


def test_pseudonym_known_value() -> None:
    # Pins the algorithm (checked with openssl dgst -mac HMAC): changing it would orphan
    # every stored participant.
    assert Pseudonymiser(KEY)("sms", NUMBER) == "p6lnmpcbioeqtmlsrdbrinvgt"


def test_pseudonym_does_not_contain_the_address() -> None:
    pid = Pseudonymiser(KEY)("telegram", "123456789")
    assert "123456789" not in pid


@pytest.mark.parametrize("key", [b"", b"short"])
def test_pseudonym_key_must_be_long_enough(key: bytes) -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Pseudonymiser(key)


def test_pseudonym_key_must_be_bytes() -> None:
    with pytest.raises(TypeError):
        Pseudonymiser("a text key of sufficient length")  # type: ignore[arg-type]


def test_pseudonymiser_repr_hides_key() -> None:
    assert "k" * 8 not in repr(Pseudonymiser(KEY))


# ----------------------------------------------------------------------------- vault


def test_vault_roundtrip() -> None:
    vault = ContactVault([generate_key()])
    token = vault.encrypt(NUMBER)
    assert NUMBER.encode() not in token
    assert vault.decrypt(token) == NUMBER


def test_vault_tokens_differ_each_time() -> None:
    # Fernet uses a random IV: equal ciphertexts would reveal that two people share a number.
    vault = ContactVault([generate_key()])
    assert vault.encrypt(NUMBER) != vault.encrypt(NUMBER)


def test_vault_wrong_key_fails_without_revealing_anything() -> None:
    token = ContactVault([generate_key()]).encrypt(NUMBER)
    with pytest.raises(VaultDecryptionError) as caught:
        ContactVault([generate_key()]).decrypt(token)
    assert NUMBER not in str(caught.value)


def test_vault_rotation() -> None:
    old, new = generate_key(), generate_key()
    token = ContactVault([old]).encrypt(NUMBER)
    during = ContactVault([new, old])
    assert during.decrypt(token) == NUMBER  # old entries stay readable mid-rotation
    rotated = during.rotate(token)
    assert ContactVault([new]).decrypt(rotated) == NUMBER  # the new key alone suffices
    with pytest.raises(VaultDecryptionError):
        ContactVault([old]).decrypt(rotated)


def test_vault_encrypts_with_the_first_key() -> None:
    old, new = generate_key(), generate_key()
    token = ContactVault([new, old]).encrypt(NUMBER)
    assert ContactVault([new]).decrypt(token) == NUMBER


def test_vault_rotate_refuses_unknown_tokens() -> None:
    token = ContactVault([generate_key()]).encrypt(NUMBER)
    with pytest.raises(VaultDecryptionError):
        ContactVault([generate_key()]).rotate(token)


def test_vault_needs_a_key() -> None:
    with pytest.raises(ValueError, match="no contact vault key"):
        ContactVault([])


def test_vault_bad_key_message_has_no_key_material() -> None:
    bad = "not-a-fernet-key-but-a-secret-1234"
    with pytest.raises(ValueError) as caught:
        ContactVault([generate_key(), bad])
    message = str(caught.value)
    assert "#2" in message
    assert bad not in message and "secret" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_vault_refuses_a_single_string() -> None:
    with pytest.raises(ValueError, match="list of keys"):
        ContactVault(generate_key())


def test_vault_tolerates_surrounding_whitespace() -> None:
    key = generate_key()
    token = ContactVault([key]).encrypt(NUMBER)
    assert ContactVault([f" {key}\n"]).decrypt(token) == NUMBER


def test_vault_repr_hides_keys() -> None:
    key = generate_key()
    assert key not in repr(ContactVault([key]))
