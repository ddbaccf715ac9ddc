"""Scan for personal data where it must never be: any table but the vault, logs, exports.

Each address is searched in every form people and libraries write it (+44 7700 900123,
447700900123, 07700900123, whatsapp:+44...), so a number stored "differently" still counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import Engine, MetaData, String, cast, select

VAULT_TABLE = "vault_entries"


def forms_of(address: str) -> set[str]:
    """The spellings of a phone number or chat id worth searching for."""
    digits = re.sub(r"\D", "", address)
    forms = {address, digits}
    if digits.startswith("44") and len(digits) >= 12:
        national = "0" + digits[2:]
        forms |= {national, national[:5] + " " + national[5:], "+44 " + digits[2:],
                  digits[2:]}
    return {f for f in forms if len(f) >= 6}


def scan_database(engine: Engine, addresses: Iterable[str]) -> list[tuple[str, str, str]]:
    """(table, column, form) for every appearance of an address outside the vault."""
    needles = set().union(*(forms_of(a) for a in addresses))
    found: list[tuple[str, str, str]] = []
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name == VAULT_TABLE:
                continue
            for column in table.columns:
                values = connection.execute(select(cast(column, String))).scalars()
                for value in values:
                    if value is None:
                        continue
                    compact = value.replace(" ", "")
                    for needle in needles:
                        if needle in value or needle.replace(" ", "") in compact:
                            found.append((table.name, column.name, needle))
        vault = metadata.tables.get(VAULT_TABLE)
        if vault is not None:  # the vault holds addresses only as ciphertext
            for row in connection.execute(select(vault)).mappings():
                for key, value in row.items():
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    for needle in needles:
                        if needle in text:
                            found.append((VAULT_TABLE, key, needle))
    return found


def scan_text(text: str, addresses: Iterable[str]) -> list[str]:
    compact = text.replace(" ", "")
    return sorted(
        needle for a in addresses for needle in forms_of(a)
        if needle in text or needle.replace(" ", "") in compact
    )
