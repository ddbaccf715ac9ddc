"""Contact details exist only encrypted in the vault: not in other tables, files or reprs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, select

from storage.models import VaultEntry
from storage.pseudonyms import Pseudonymiser
from storage.uow import UnitOfWork

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
NUMBER = "+447700900123"
# The number as it might appear in other forms: without +, national, bare digits.
FORMS = (NUMBER, NUMBER[1:], "07700900123", "7700900123", "07700 900123")


def as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def assert_no_number(text: str, where: str) -> None:
    for form in FORMS:
        assert form not in text, f"contact detail found in {where}"


#: The tables the message path writes for one person; each must hold a row in the scan.
EXERCISED = frozenset({
    "participants", "vault_entries", "inbound_messages", "survey_definitions", "responses",
    "consents", "answers", "conversations", "outbox_messages", "outbox_provider_ids",
})


def use_every_table(uow: UnitOfWork) -> tuple[str, int]:
    """Do what the service layer does for one person, touching every table."""
    pid = Pseudonymiser(b"pseudonym-key-for-tests-only-32b")("sms", NUMBER)
    uow.participants.ensure(pid, "sms", NOW)
    uow.vault.store(pid, "sms", NUMBER, NOW, expires_at=NOW + timedelta(days=90))
    inbound = uow.inbound.claim("sms", "SM0123456789abcdef", pid, NOW)
    uow.surveys.store("carers", 1, "Carers", "id: carers\n", "a" * 64, NOW)
    response_id = uow.responses.start(pid, "carers", 1, "sms", "en", NOW)
    uow.consents.record(pid, "carers", 1, "given", "sms", NOW)
    uow.responses.set_status(response_id, "consented", NOW)
    uow.answers.record(response_id, pid, "carers", "hours", "value", 20, "20 hours", 1, NOW)
    uow.conversations.save(pid, {"survey": "carers", "at": "hours"}, response_id, NOW)
    message_id = uow.outbox.add(pid, "sms", {"text": "Thank you"}, NOW, in_reply_to=inbound)
    uow.outbox.claim_due(NOW, 10)
    # A provider error quoting the number must not carry it into the database.
    uow.outbox.mark_retry(message_id, f"The 'To' number {NUMBER} is not valid", NOW)
    uow.outbox.claim_due(NOW, 10)
    uow.outbox.mark_sent(message_id, ["SMfeedface"], NOW)
    uow.commit()
    return pid, message_id


def test_address_is_only_in_the_vault_and_only_encrypted(
    uow_factory: Callable[[], UnitOfWork], engine: Engine
) -> None:
    with uow_factory() as uow:
        pid, _ = use_every_table(uow)
        assert uow.vault.address(pid) == NUMBER  # it is there, encrypted

    metadata = MetaData()
    metadata.reflect(engine)  # every table in the database, not just the models'
    assert "vault_entries" in metadata.tables
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = connection.execute(select(table)).all()
            if table.name in EXERCISED:
                assert rows, f"{table.name} was not exercised"
            for row in rows:
                for column, value in zip(table.columns, row, strict=True):
                    assert_no_number(as_text(value), f"{table.name}.{column.name}")


def test_sqlite_file_holds_no_plaintext_number(
    uow_factory: Callable[[], UnitOfWork], engine: Engine
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("reads the SQLite database file directly")
    with uow_factory() as uow:
        use_every_table(uow)
    assert engine.url.database is not None
    path = Path(engine.url.database)
    engine.dispose()
    for file in (path, path.with_name(path.name + "-wal")):
        if file.exists():
            assert_no_number(file.read_bytes().decode("latin-1"), file.name)


def test_reprs_show_no_ciphertext_or_contents(uow_factory: Callable[[], UnitOfWork]) -> None:
    with uow_factory() as uow:
        pid, message_id = use_every_table(uow)
        entry = uow.session.get(VaultEntry, pid)
        assert entry is not None
        objects: list[Any] = [entry, uow.participants.get(pid), uow.outbox.get(message_id)]
        response_id = uow.conversations.get_for_update(pid).response_id  # type: ignore[union-attr]
        assert response_id is not None
        objects += [uow.responses.get(response_id), uow.conversations.get_for_update(pid)]
        objects += uow.answers.for_response(response_id)
        objects += [uow.surveys.get("carers")]
        for obj in objects:
            text = repr(obj)
            assert_no_number(text, type(obj).__name__)
            assert repr(entry.ciphertext) not in text
            assert entry.ciphertext.decode("latin-1")[:20] not in text
            for secret in ("Thank you", "20 hours", "id: carers", 'hours"'):
                assert secret not in text
        assert repr(entry) == f"VaultEntry(participant_id={pid!r})"


def test_repr_never_queries(uow_factory: Callable[[], UnitOfWork]) -> None:
    # Logged after the session closed, an expired object must not raise or reconnect.
    with uow_factory() as uow:
        pid, _ = use_every_table(uow)
        participant = uow.participants.get(pid)
        assert participant is not None
        uow.session.expire(participant)
    assert repr(participant) == "Participant(id=?, channel=?)"
