"""Engines, sessions and schema upgrades for SQLite and PostgreSQL.

SQLite suits a small deployment on one machine; PostgreSQL suits several web workers and
senders. The differences are absorbed here so the repositories are the same for both:

* SQLite: every transaction starts with BEGIN IMMEDIATE, which takes the write lock up
  front. Python's sqlite3 would otherwise begin lazily, and two transactions that both
  read and then write deadlock, one failing at once with "database is locked" instead of
  waiting `busy_timeout`. WAL lets readers proceed while one writer works. Writers queue
  for that lock on a file beside the database first (`storage/sqlite_turns.py`), which
  hands it on as soon as it is free, where SQLite's own waiting sleeps in growing steps.
* PostgreSQL: URLs of the forms hosting platforms hand out (postgres://, postgresql://)
  are pointed at psycopg 3, and connections are pinged before use so a restarted server
  costs no failed request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from storage.sqlite_turns import TurnTakingConnection, take_turn, turn_path_for

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Alembic keeps the running migration in module-level state, so two upgrades in one
# process must not overlap; across processes the database locks serialise them.
_alembic_lock = threading.Lock()

#: Milliseconds a SQLite writer waits for the lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalise_url(url: str | URL) -> URL:
    """Parse `url`, pointing bare PostgreSQL URLs at the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine configured for this application; `kwargs` go to `create_engine`."""
    parsed = normalise_url(url)
    # Error messages must not quote SQL parameters: they hold answers and pseudonyms.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"factory": TurnTakingConnection, **kwargs.get("connect_args", {})}
        engine = create_engine(parsed, **kwargs)
        _configure_sqlite(engine, foreign_keys=True, turns=turn_path_for(parsed.database))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def migration_engine(url: str | URL) -> Engine:
    """An engine for schema migrations only: on SQLite, foreign keys are not enforced.

    SQLite cannot ALTER most things, so Alembic's batch mode copies a table, drops the
    original and renames the copy. With foreign keys on, that DROP first deletes every
    row, and ON DELETE CASCADE would delete every child row with it: changing the
    participants table would erase all responses. SQLite's documented procedure is to
    turn enforcement off (impossible inside a transaction, hence a separate engine) and
    to run PRAGMA foreign_key_check afterwards, which env.py does.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed)
        _configure_sqlite(engine, foreign_keys=False)
        return engine
    return make_engine(parsed)


def _configure_sqlite(engine: Engine, *, foreign_keys: bool, turns: str | None = None) -> None:
    """`turns`: the lock file writers queue on (storage/sqlite_turns.py), if any."""

    # SQLAlchemy's documented recipe for taking transaction control away from sqlite3.
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop sqlite3 from emitting its own (deferred) BEGIN; `on_begin` emits ours.
        dbapi_connection.isolation_level = None
        if isinstance(dbapi_connection, TurnTakingConnection):
            dbapi_connection.turn_path = turns
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL itself may have to wait for a lock.
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            # Off by default in SQLite, which would mean no cascades and no integrity.
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
            cursor.execute("PRAGMA synchronous = NORMAL")  # safe with WAL, much faster
            # Deleted rows are overwritten with zeros, not left in free space: erased words
            # must not be readable in the file. (Builds differ in their default.)
            cursor.execute("PRAGMA secure_delete = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        dbapi_connection: Any = connection.connection.dbapi_connection
        waited_out = not take_turn(dbapi_connection, SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            # On the driver directly: every transaction starts here, and the statement
            # needs none of `exec_driver_sql`'s result handling.
            if waited_out:  # the whole busy timeout is spent: SQLite must not wait again
                dbapi_connection.execute("PRAGMA busy_timeout = 0")
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
            finally:
                if waited_out:
                    dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        except Exception as error:  # wrapped as SQLAlchemy wraps it ("database is locked")
            connection._handle_dbapi_exception(error, "BEGIN IMMEDIATE", (), None, None)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (they are handed to callers).

    On SQLite, a transaction that set CHECKPOINT_AFTER_COMMIT in its session's `info`
    (an erasure does) is followed by `checkpoint`.
    """
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    if engine.dialect.name == "sqlite":
        event.listen(factory, "after_commit", _checkpoint_if_asked)
    return factory


#: Set to True in a session's `info` to checkpoint SQLite's write-ahead log after commit.
CHECKPOINT_AFTER_COMMIT = "withus.checkpoint_after_commit"


def _checkpoint_if_asked(session: Session) -> None:
    if session.info.pop(CHECKPOINT_AFTER_COMMIT, False):
        bind = session.get_bind()
        checkpoint(bind.engine if isinstance(bind, Connection) else bind)


def checkpoint(engine: Engine) -> bool:
    """Move everything in SQLite's write-ahead log into the database file and empty the log
    (`PRAGMA wal_checkpoint(TRUNCATE)`), so that what was just erased (overwritten with
    zeros by secure_delete) is not left behind in old log frames. True when complete.

    It waits up to the busy timeout for transactions still reading older pages; if some
    are, SQLite's next automatic checkpoint finishes the job. Never raises: the erasure it
    follows is already committed.
    """
    try:
        raw = engine.raw_connection()  # no BEGIN: a checkpoint cannot run in a transaction
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = cursor.fetchone()
            busy = row[0] if row else 1
            cursor.close()
        finally:
            raw.close()
    except (SQLAlchemyError, engine.dialect.loaded_dbapi.Error, OSError):
        log.warning("checkpoint failed; SQLite's next automatic checkpoint will do it",
                    exc_info=True)
        return False
    if busy:
        log.info("checkpoint incomplete: a reader was busy; the next one finishes it")
    return not busy


def check(engine: Engine) -> bool:
    """True when the database answers; for health checks, so it never raises."""
    try:
        # A raw DBAPI connection: on SQLite this reads without BEGIN IMMEDIATE, so a health
        # check never queues behind (or blocks) a writer.
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            cursor.close()
        finally:
            raw.close()
    except (SQLAlchemyError, engine.dialect.loaded_dbapi.Error, OSError):
        # Raw connections raise the driver's own errors, unwrapped by SQLAlchemy.
        return False
    return True


def alembic_config(url: str | URL) -> Config:
    """Alembic settings in code, so upgrades work from any directory and from a wheel."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = normalise_url(url)
    return config


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Bring the schema at `url` up to `revision` (the latest by default)."""
    _migrate(url, command.upgrade, revision)


def downgrade(url: str | URL, revision: str) -> None:
    """Take the schema at `url` down to `revision` ("base" drops every table)."""
    _migrate(url, command.downgrade, revision)


def _migrate(url: str | URL, run: Callable[[Config, str], None], revision: str) -> None:
    engine = migration_engine(url)
    try:
        # One transaction for all of it, so a failed migration leaves the schema as it
        # was. It also queues concurrent upgrades (SQLite's write lock; an advisory lock
        # taken in env.py on PostgreSQL): the later ones find nothing left to do.
        with _alembic_lock, engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            run(config, revision)
    finally:
        engine.dispose()


def current_revision(url: str | URL) -> str | None:
    """The migration the database at `url` is at, or None if it has never been upgraded."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest migration shipped with this code."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
