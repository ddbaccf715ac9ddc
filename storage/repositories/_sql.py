"""SQL helpers shared by the repositories: dialect-specific INSERTs and small utilities."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Result
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.models import Base

# Provider error texts can quote the number they failed to reach ("The 'To' number
# +447700900123 is not valid"); a run of 7+ digits is replaced before it is stored.
_DIGIT_RUN = re.compile(r"[+\-]?\d[\d\s().\-]{5,}\d")


def insert(session: Session, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT supporting ON CONFLICT, in the dialect of the session's database.

    Both dialects spell ON CONFLICT the same way in SQLAlchemy, so callers need not care
    which one they got (on SQLite, DO NOTHING is INSERT OR IGNORE's modern form).
    """
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(model)
    if name == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"unsupported database: {name}")


def run_upsert(
    session: Session, stmt: postgresql.Insert | sqlite.Insert, model: type[Base]
) -> None:
    """Run an INSERT ... ON CONFLICT DO UPDATE and refresh any copy the session holds.

    RETURNING the entity with populate_existing keeps the identity map in step with a
    statement that otherwise bypasses the ORM.
    """
    session.scalars(stmt.returning(model), execution_options={"populate_existing": True}).all()


def rowcount(result: Result[Any]) -> int:
    """Rows affected by an UPDATE or DELETE (Session.execute is typed as a plain Result)."""
    return cast(CursorResult[Any], result).rowcount


def check_one_of(value: str, allowed: Sequence[str], what: str) -> None:
    """ValueError unless `value` is allowed: fails before the database's CHECK would."""
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")


def safe_error(text: str, limit: int = 200) -> str:
    """`text` with phone-number-like digit runs removed, cut to fit `last_error`."""

    def redact(match: re.Match[str]) -> str:
        digits = sum(ch.isdigit() for ch in match.group())
        return "[number]" if digits >= 7 else match.group()

    return _DIGIT_RUN.sub(redact, text)[:limit]
