"""SQL helpers shared by the repositories: dialect-specific INSERTs and small utilities."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, CursorResult, Executable, Result, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from storage.models import Base
from storage.repositories._fast import FastResult, plan_for, plannable, run

_Statement = TypeVar("_Statement", bound=Executable)
#: Statements built once per (dialect, name); see `prepared`.
_PREPARED: dict[tuple[str, str], Any] = {}
_CONNECTION_KEY = "withus.connection"

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


def table_of(model: type[Base]) -> Table:
    """The model's table, for Core statements."""
    return cast(Table, model.__table__)


def dialect_insert(dialect: str, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """`insert` for a dialect name rather than a session, for statements built once."""
    if dialect == "postgresql":
        return postgresql.insert(table_of(model))
    if dialect == "sqlite":
        return sqlite.insert(table_of(model))
    raise NotImplementedError(f"unsupported database: {dialect}")


def prepared(session: Session, name: str, build: Callable[[str], _Statement]) -> _Statement:
    """The statement `name`, built by `build(dialect name)` once per dialect and reused.

    Why: on the webhook hot path, building an INSERT ... ON CONFLICT (and its `excluded`
    alias) for every call and running it through the ORM cost 250-600 µs a statement,
    several times the database's own work; a statement built once, with the values passed
    as parameters, costs 25-80 µs (benchmarks/README.md, "Webhook hot path").
    """
    dialect = session.get_bind().dialect.name
    statement = _PREPARED.get((dialect, name))
    if statement is None:
        statement = _PREPARED[(dialect, name)] = plannable(build(dialect))
    return cast(_Statement, statement)


def execute(
    session: Session, statement: Executable, params: Mapping[str, Any]
) -> CursorResult[Any] | FastResult:
    """Run a Core statement in the session's transaction, bypassing the ORM layer.

    Pending ORM changes are flushed first, exactly as `Session.execute` would autoflush,
    so statement order is what the code says. Objects the session already holds are not
    updated: callers that change a row use `refresh_copy` afterwards.
    """
    if session.autoflush:
        session.flush()
    connection = connection_of(session)
    plan = plan_for(statement, connection, params)
    if plan is not None:  # a statement of the webhook hot path: see _fast.py
        return run(plan, connection, params)
    return connection.execute(statement, dict(params))


def connection_of(session: Session) -> Connection:
    """`session.connection()`, remembered for the rest of the session's transaction.

    Why: `Session.connection` walks the session's transaction state machine on every
    call, which on the webhook hot path cost more than some of the statements run on
    the connection it returned. The connection is the same until the transaction ends,
    so it is kept in `session.info` with the transaction it belongs to.
    """
    transaction = session.get_transaction()
    known = session.info.get(_CONNECTION_KEY)
    if transaction is not None and known is not None and known[0] is transaction:
        connection: Connection = known[1]
        if not connection.closed:
            return connection
    connection = session.connection()
    session.info[_CONNECTION_KEY] = (session.get_transaction(), connection)
    return connection


def refresh_copy(
    session: Session, model: type[Base], ident: Any, values: Mapping[str, Any]
) -> None:
    """Give the session's copy of a row (if it holds one) the values just written.

    The ORM's own UPDATE and `run_upsert` keep the identity map in step with the
    database; a Core statement does not, so a later read in the same session would
    otherwise see the old values.
    """
    instance = session.identity_map.get(identity_key(model, ident))
    if instance is not None:
        for key, value in values.items():
            set_committed_value(instance, key, value)


def holds_copy(session: Session, model: type[Base], ident: Any) -> bool:
    """True when the session holds an object for this row (see `refresh_copy`): callers
    skip preparing values for a copy that is not there."""
    return session.identity_map.get(identity_key(model, ident)) is not None


def holds(session: Session, model: type[Base]) -> bool:
    """True when the session holds any object of `model`.

    A Core DELETE leaves such objects in the session as if the rows still existed; the
    ORM's own DELETE finds and removes them, at several times the cost. Callers use the
    ORM only when this is true.
    """
    return any(isinstance(instance, model) for instance in session.identity_map.values())


def run_upsert(
    session: Session, stmt: postgresql.Insert | sqlite.Insert, model: type[Base]
) -> None:
    """Run an INSERT ... ON CONFLICT DO UPDATE and refresh any copy the session holds.

    RETURNING the entity with populate_existing keeps the identity map in step with a
    statement that otherwise bypasses the ORM.
    """
    session.scalars(stmt.returning(model), execution_options={"populate_existing": True}).all()


def rowcount(result: Result[Any] | FastResult) -> int:
    """Rows affected by an UPDATE or DELETE (Session.execute is typed as a plain Result)."""
    if isinstance(result, FastResult):
        return result.rowcount
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
