"""Running the webhook's own statements straight on the driver's cursor.

Why: handling one message runs five to seven small statements, and for each the database
did less work than SQLAlchemy's execution machinery around it (compiled-cache lookup,
execution context, parameter and result set-up: about a quarter of a web worker's time,
benchmarks/README.md "Webhook hot path"). On SQLite it also lengthened the write lock
every other worker waits for. The statements themselves never change, so each is
compiled once per dialect and set of parameter names into a `Plan`: its SQL text, the
order of its parameters, and SQLAlchemy's own bind and result processors for its types
(so a value is stored and read back exactly as `Connection.execute` would). Running a
plan is then a cursor call on the session's connection, inside its transaction.

Kept exactly the same as SQLAlchemy, by construction or by falling back to it:
* errors go through the connection's own handler, so they are the usual
  `OperationalError`, `IntegrityError` ... and a lost connection is invalidated;
* a statement SQLAlchemy would change per execution (Python-side defaults, expanding
  IN, implicit RETURNING) is not planned, and runs the ordinary way;
* when anything listens for cursor executions (tests counting statements, tracing), the
  ordinary way is used, so they see every statement.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import MultipleResultsFound, NoResultFound

#: One per (statement, dialect, parameter names). The statements are the long-lived
#: ones registered with `plannable`, so their ids are never reused.
_PLANS: dict[tuple[int, str, frozenset[str]], Plan | None] = {}
_PLANNABLE: dict[int, Executable] = {}


def plannable(statement: Any) -> Any:
    """Mark a statement built once (module level or `prepared`) as safe to plan."""
    _PLANNABLE[id(statement)] = statement
    return statement


class Plan:
    """A statement compiled once, ready to run on a DBAPI cursor."""

    def __init__(self, sql: str, compiled: Any, dialect: Dialect, keys: frozenset[str]) -> None:
        self.sql = sql
        self._compiled = compiled
        self._dialect = dialect
        self._fixed = _fixed_values(compiled, keys)
        self._order: Sequence[str] | None = compiled.positiontup if compiled.positional else None
        self._binds: dict[str, Callable[[Any], Any]] = {
            name: _remembering(processor)
            for name, processor in compiled._bind_processors.items() if callable(processor)
        }  # fmt: skip
        columns = compiled._result_columns
        self._result_types = [entry[3] for entry in columns]
        if not all(hasattr(type_, "_cached_result_processor") for type_ in self._result_types):
            raise AttributeError("_cached_result_processor")  # now, not at the first run
        self._row_type: Any = (
            namedtuple("Row", [entry[0] for entry in columns]) if columns else None  # noqa: PYI024
        )
        self._results: list[Callable[[Any], Any] | None] | None = None

    def arguments(self, params: Mapping[str, Any]) -> Any:
        fixed = self._fixed
        if fixed is None:
            values = self._compiled.construct_params(dict(params))
        else:
            values = {**fixed, **params}
        binds = self._binds
        for name, processor in binds.items():
            if name in values:
                values[name] = processor(values[name])
        if self._order is not None:
            return tuple(values[name] for name in self._order)
        return values

    def rows(self, description: Any, raw: list[Any]) -> list[Any]:
        if self._row_type is None or not raw:
            return []
        if self._results is None:  # the driver's column types are known only now
            self._results = [
                type_._cached_result_processor(self._dialect, column[1])
                for type_, column in zip(self._result_types, description, strict=True)
            ]
        results = self._results
        make = self._row_type._make
        if not any(results):
            return [make(row) for row in raw]
        return [
            make(value if process is None else process(value)
                 for process, value in zip(results, row, strict=True))
            for row in raw
        ]  # fmt: skip


def _remembering(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`processor`, remembering its last datetime: one message passes the same `now` to
    most of its statements, and on SQLite each conversion formats a string. Only
    datetimes, which cannot change, are remembered; one (value, result) pair is read and
    replaced whole, so threads sharing a plan never see half of one."""
    last: tuple[Any, Any] = (None, None)

    def process(value: Any) -> Any:
        nonlocal last
        seen = last
        if seen[0] is value and value is not None:
            return seen[1]
        result = processor(value)
        if type(value) is datetime:
            last = (value, result)
        return result

    return process


def plan_for(statement: Executable, connection: Connection,
             params: Mapping[str, Any]) -> Plan | None:
    """The plan for `statement` with these parameter names, or None to run it the usual
    way (not registered, or not a statement a plan can reproduce)."""
    if id(statement) not in _PLANNABLE:
        return None
    dispatch = connection.dispatch
    if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
        return None
    dialect = connection.dialect
    key = (id(statement), dialect.name, frozenset(params))
    try:
        return _PLANS[key]
    except KeyError:
        try:
            plan = _compile(statement, dialect, params)
        except (AttributeError, TypeError, KeyError):
            # A plan reads a few of SQLAlchemy's compiled-statement internals; should a
            # release change them, the statement runs the ordinary way rather than fail.
            plan = None
        _PLANS[key] = plan
        return plan


def _compile(statement: Any, dialect: Dialect, params: Mapping[str, Any]) -> Plan | None:
    if not hasattr(Connection, "_handle_dbapi_exception"):
        return None  # errors could not be wrapped as SQLAlchemy wraps them
    compiled = statement.compile(dialect=dialect, column_keys=sorted(params))
    if (
        compiled.insert_prefetch or compiled.update_prefetch or compiled.implicit_returning
        or compiled.literal_execute_params or compiled.post_compile_params
        or compiled.escaped_bind_names or compiled.for_executemany
        or getattr(compiled, "_numeric_binds", False)
        or dialect.paramstyle not in ("qmark", "pyformat", "named", "format")
    ):
        return None
    return Plan(compiled.string, compiled, dialect, frozenset(params))


def _fixed_values(compiled: Any, keys: frozenset[str]) -> dict[str, Any] | None:
    """The values of binds the caller does not pass (a constant in a WHERE, say), when
    the parameters can be used as they are: each bind the caller passes is named by its
    own key. None when `construct_params` is needed to map them (it is several times
    slower, and also what raises for a missing value)."""
    if getattr(compiled, "_collected_params", None):  # values gathered from text() parts
        return None
    fixed: dict[str, Any] = {}
    for bind, name in compiled.bind_names.items():
        if bind.key in keys or name in keys:
            if bind.key != name:
                return None
        elif bind.required or bind.callable:
            return None
        else:
            fixed[name] = bind.value
    return fixed


class FastResult:
    """The parts of SQLAlchemy's `CursorResult` the repositories use, over fetched rows."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def all(self) -> list[Any]:
        return list(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        row = self.one_or_none()
        if row is None:
            raise NoResultFound("No row was found when one was required")
        return row

    def scalar_one_or_none(self) -> Any:
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]


def run(plan: Plan, connection: Connection, params: Mapping[str, Any]) -> FastResult:
    """Run `plan` on `connection`'s DBAPI connection, in its current transaction."""
    arguments = plan.arguments(params)
    cursor = None
    try:
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(plan.sql, arguments)
        description = cursor.description
        raw: list[Any] = list(cursor.fetchall()) if description else []
        rowcount = cursor.rowcount
    except Exception as error:
        # Wrapped as SQLAlchemy wraps it (OperationalError ...), with a lost connection
        # invalidated, the cursor closed and `hide_parameters` respected; this raises.
        connection._handle_dbapi_exception(error, plan.sql, arguments, cursor, None)
    cursor.close()
    return FastResult(plan.rows(description, raw), rowcount)
