"""Database fixtures: every storage test runs against SQLite and a real PostgreSQL.

The two behave differently exactly where it matters (locking, ON CONFLICT, time zones),
so a test that passes on one proves little about the other. Tests that ask for any of
these fixtures run twice, as `[sqlite]` and `[postgres]`.

* SQLite: files under the test's tmp_path (not :memory:, so several connections and
  threads share one database).
* PostgreSQL: set WITHUS_TEST_POSTGRES_URL to a server where the user may create
  databases (`make test` does, via pg_virtualenv). Two scratch databases are created per
  test session (per xdist worker: each worker is a session of its own, and the names
  carry the worker's id) and dropped at the end. Without the variable the PostgreSQL
  cases are skipped, not failed.

Migrating takes 0.3-1 s per database, too slow to repeat for every test of a growing
suite, so each session migrates once and tests start from a copy (SQLite) or an emptied
schema (PostgreSQL). Only `database_url` gives a truly empty database, for migration tests;
`migrate(database_url)` (what tests.helpers.make_runtime calls) fills it with a copy of a
database that upgrade() migrated once per session (SQLite: the file; PostgreSQL:
CREATE DATABASE ... TEMPLATE), and migrates it when it is no longer empty.

Fixtures:
  database_url  URL of an empty, unmigrated database
  engine        Engine on a database migrated to head, with no rows
  sessions      sessionmaker bound to `engine`
  contact_vault ContactVault with a test-only key
  uow_factory   () -> UnitOfWork on `engine`, a new session (and connection) per call
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from storage.db import head_revision, make_engine, normalise_url, session_factory, upgrade
from storage.models import Base
from storage.uow import UnitOfWork
from storage.vault import ContactVault

POSTGRES_URL_VARIABLE = "WITHUS_TEST_POSTGRES_URL"

#: A Fernet key for tests only; never used outside this suite.
TEST_VAULT_KEY = "dGVzdC1vbmx5LWtleS1mb3Itd2l0aHVzLXRlc3RzISE="


@dataclass(frozen=True)
class ScratchDatabases:
    empty: URL  # reset to an empty schema for each test that asks for it
    migrated: URL  # migrated once, emptied of rows for each test
    template: URL  # migrated once and never connected to: `migrate` copies it into `empty`
    admin: Engine = field(compare=False)  # on the server's own database, AUTOCOMMIT

    def refill_empty(self) -> bool:
        """Replace `empty` with a copy of `template`; False (and `empty` left empty) when
        another connection holds it."""
        empty, template = self.empty.database, self.template.database
        with self.admin.connect() as connection:
            try:
                connection.exec_driver_sql(f'DROP DATABASE "{empty}"')
            except DBAPIError:  # in use: a test's own engine is still connected
                return False
            try:
                connection.exec_driver_sql(f'CREATE DATABASE "{empty}" TEMPLATE "{template}"')
            except DBAPIError:
                connection.exec_driver_sql(f'CREATE DATABASE "{empty}"')
                return False
        return True


#: The databases `database_url` handed out that `migrate` may still fill from a template,
#: by URL: each a function that does it, or answers False when it cannot.
_FILLERS: dict[str, Callable[[], bool]] = {}


def migrate(url: str) -> None:
    """upgrade(url), quicker on a `database_url` database that is still empty: that one
    becomes a copy of a database upgrade() migrated to head earlier in the session."""
    fill = _FILLERS.pop(url, None)
    if fill is None or not fill():
        upgrade(url)


@pytest.fixture(scope="session")
def postgres_scratch() -> Iterator[ScratchDatabases]:
    """Databases created for this test session on the server in WITHUS_TEST_POSTGRES_URL."""
    server_url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server_url:
        pytest.skip(
            f"{POSTGRES_URL_VARIABLE} is not set; PostgreSQL tests need a server "
            "(run `make test`, or pg_virtualenv, to provide one)"
        )
    server = normalise_url(server_url)
    # Unique per session; under pytest-xdist each worker has its own pair, named after it.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    prefix = f"withus_test_{worker}_{uuid.uuid4().hex[:10]}"
    names = (f"{prefix}_empty", f"{prefix}_migrated", f"{prefix}_template")
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            for name in names:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        scratch = ScratchDatabases(*(server.set(database=name) for name in names), admin=admin)
        upgrade(scratch.migrated)
        upgrade(scratch.template)  # disposes its engine: no connection stays on the template
        yield scratch
        with admin.connect() as connection:
            for name in names:
                # FORCE: a failed test may have left a connection open.
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("template") / "withus.db"
    upgrade(f"sqlite:///{path}")
    # upgrade() disposed its engine: the last connection closed, so SQLite checkpointed
    # the WAL into the main file and removed it. Copying the one file is a full copy.
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_kind(request: pytest.FixtureRequest) -> str:
    """ "sqlite" or "postgres": every database fixture is parametrised through this one."""
    return str(request.param)


@pytest.fixture
def database_url(
    database_kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """The URL of an empty database that has never been migrated."""
    if database_kind == "sqlite":
        path = tmp_path / "empty.db"
        template: Path = request.getfixturevalue("sqlite_template")
        url = f"sqlite:///{path}"
        _FILLERS[url] = lambda: _copy_sqlite(template, path)
    else:
        scratch: ScratchDatabases = request.getfixturevalue("postgres_scratch")
        engine = make_engine(scratch.empty)
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql("DROP SCHEMA public CASCADE")
                connection.exec_driver_sql("CREATE SCHEMA public")
        finally:
            engine.dispose()
        url = scratch.empty.render_as_string(hide_password=False)
        _FILLERS[url] = lambda: _postgres_is_empty(url) and scratch.refill_empty()
    yield url
    _FILLERS.pop(url, None)


def _copy_sqlite(template: Path, path: Path) -> bool:
    if path.exists():  # the test has written to it already: migrate it as it is
        return False
    shutil.copyfile(template, path)
    return True


def _postgres_is_empty(url: str) -> bool:
    """Nothing at all in the public schema (no table, sequence or type)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(text(
                "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n"
                "        ON n.oid = c.relnamespace WHERE n.nspname = 'public')"
                "     + (SELECT count(*) FROM pg_type t JOIN pg_namespace n"
                "        ON n.oid = t.typnamespace WHERE n.nspname = 'public')"
            )).scalar()
    finally:
        engine.dispose()
    return found == 0


@pytest.fixture
def engine(database_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database migrated to the latest schema, with no rows."""
    if database_kind == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "withus.db"
        shutil.copyfile(template, path)
        engine = make_engine(f"sqlite:///{path}")
    else:
        scratch: ScratchDatabases = request.getfixturevalue("postgres_scratch")
        engine = make_engine(scratch.migrated)
        _empty_migrated_postgres(engine, scratch.migrated)
    yield engine
    engine.dispose()


def _empty_migrated_postgres(engine: Engine, url: URL) -> None:
    with engine.begin() as connection:
        at_head = connection.execute(
            text(
                "SELECT to_regclass('alembic_version') IS NOT NULL"
                " AND (SELECT max(version_num) FROM alembic_version) = :head"
            ),
            {"head": head_revision()},
        ).scalar()
        if at_head:
            # DELETE, children first: ten times faster than TRUNCATE on tables this small.
            # Ids keep counting up across tests, which no test may rely on anyway.
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
            return
    # A test changed the schema; rebuild it rather than let the next test inherit that.
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    upgrade(url)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def contact_vault() -> ContactVault:
    return ContactVault([TEST_VAULT_KEY])


@pytest.fixture
def uow_factory(
    sessions: sessionmaker[Session], contact_vault: ContactVault
) -> Callable[[], UnitOfWork]:
    """Call it for a new UnitOfWork (its own session and connection) on `engine`."""
    return lambda: UnitOfWork(sessions, contact_vault)
