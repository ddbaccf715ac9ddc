"""`withus keys rotate`: after it, the vault (and every safeguarding flag's words) is
readable with the new key alone.

Run as users run it, in a subprocess, between a runtime on the old key and one on the
new key, on both databases.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services.runtime import Runtime
from bot.services.safeguarding import lead_pseudonym
from storage.errors import VaultDecryptionError
from storage.models import VaultEntry
from storage.repositories import VaultRepository
from storage.repositories.safeguarding import FlagWords, SafeguardingRepository
from storage.vault import ContactVault, generate_key
from tests.helpers import FakeClock
from tests.test_privacy import LEAD, RecordingChannel, privacy_runtime, say

WITHUS = Path(sys.executable).with_name("withus")
COMMAND = [str(WITHUS)] if WITHUS.exists() else [sys.executable, "-m", "bot.cli"]
PEOPLE = {"07700 900301": "+447700900301", "07700 900302": "+447700900302",
          "07700 900303": "+447700900303"}


def withus(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, "--log-format", "json", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def read_all(runtime: Runtime, keys: list[str]) -> dict[str, str]:
    """Every vault entry, decrypted with exactly `keys`."""
    vault = ContactVault(keys)
    with runtime.sessions() as session:
        repo = VaultRepository(session, vault)
        ids = session.scalars(select(VaultEntry.participant_id)).all()
        return {pid: repo.address(pid) or "" for pid in ids}


def flag_words(runtime: Runtime, keys: list[str]) -> list[FlagWords]:
    """Every safeguarding flag's words, decrypted with exactly `keys`."""
    with runtime.sessions() as session:
        repo = SafeguardingRepository(session, ContactVault(keys))
        return [words for row in repo.rows() if (words := repo.words(row.flag)) is not None]


def ciphertexts(session: Session) -> dict[str, bytes]:
    rows = session.execute(select(VaultEntry.participant_id, VaultEntry.ciphertext))
    return {pid: bytes(token) for pid, token in rows}


def test_rotation_leaves_the_vault_readable_with_the_new_key_alone(
    database_url: str, tmp_path: Path
) -> None:
    old, new = generate_key(), generate_key()
    clock, fake = FakeClock(), RecordingChannel()
    runtime = privacy_runtime(database_url, tmp_path, clock, fake, vault_keys=(old,))
    try:
        for phone in PEOPLE:
            say(runtime, "hello", address=phone)
        say(runtime, "I can't go on, I want to end it", address="07700 900301")
        expected = {runtime.service.pseudonym("sms", phone): e164
                    for phone, e164 in PEOPLE.items()}
        expected[lead_pseudonym(runtime.settings, "sms", LEAD)] = LEAD  # the alert's
        assert read_all(runtime, [old]) == expected
        words = flag_words(runtime, [old])
        assert words and "end it" in words[0].text
        with runtime.sessions() as session:
            before = ciphertexts(session)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WITHUS_")}
        env.update(WITHUS_DATABASE_URL=database_url,
                   WITHUS_INSTANCE_PATH=str(tmp_path / "cli"),
                   WITHUS_PSEUDONYM_KEY=runtime.settings.pseudonym_key.decode(),
                   WITHUS_SECRET_KEY="test")

        # Without the old key nothing can be rotated, and nothing is half-done.
        failed = withus(["keys", "rotate"], env | {"WITHUS_VAULT_KEYS": new})
        assert failed.returncode != 0
        assert "could not be rotated" in failed.stderr
        assert old not in failed.stderr and new not in failed.stderr
        assert read_all(runtime, [old]) == expected

        rotated = withus(["keys", "rotate"], env | {"WITHUS_VAULT_KEYS": f"{new},{old}"})
        assert rotated.returncode == 0, rotated.stderr
        assert ("re-encrypted 4 vault entries, 1 safeguarding flags and 0 voice notes and "
                "photos under the newest key"
                in rotated.stdout)
        for stream in (rotated.stdout, rotated.stderr):
            assert old not in stream and new not in stream
            assert "7700900301" not in stream.replace(" ", "")

        assert read_all(runtime, [new]) == expected  # the new key alone reads every entry
        with pytest.raises(VaultDecryptionError):
            read_all(runtime, [old])  # and the old one no longer does
        assert flag_words(runtime, [new]) == words  # the flags' words too
        with pytest.raises(VaultDecryptionError):
            flag_words(runtime, [old])
        with runtime.sessions() as session:
            after = ciphertexts(session)
        assert all(after[pid] != before[pid] for pid in before)
    finally:
        runtime.close()

    # A runtime configured with only the new key still reaches everyone.
    fresh = RecordingChannel()
    runtime = privacy_runtime(database_url, tmp_path, clock, fresh, vault_keys=(new,))
    try:
        say(runtime, "REPEAT", address="07700 900302")
        assert fresh.sent and {a for a, _m in fresh.sent} == {"+447700900302"}
    finally:
        runtime.close()


def test_rotating_without_the_old_key_says_what_to_do_without_a_traceback(
    database_url: str, tmp_path: Path
) -> None:
    old, new = generate_key(), generate_key()
    runtime = privacy_runtime(database_url, tmp_path, FakeClock(), RecordingChannel(),
                              vault_keys=(old,))
    try:
        say(runtime, "hello", address="07700 900301")
        env = {k: v for k, v in os.environ.items() if not k.startswith("WITHUS_")}
        env.update(WITHUS_DATABASE_URL=database_url, WITHUS_VAULT_KEYS=new,
                   WITHUS_INSTANCE_PATH=str(tmp_path / "cli"), WITHUS_SECRET_KEY="test",
                   WITHUS_PSEUDONYM_KEY=runtime.settings.pseudonym_key.decode())
        failed = withus(["keys", "rotate"], env)
    finally:
        runtime.close()
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert "WITHUS_VAULT_KEYS" in failed.stderr  # tells them to keep the old key listed
