"""Database setup, migrations and column types, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    CheckConstraint,
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    UniqueConstraint,
    delete,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, StatementError

from storage.db import (
    check,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    migration_engine,
    normalise_url,
    session_factory,
    upgrade,
)
from storage.models import Base, Participant, Response

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def schema_differences(engine: Engine, metadata: MetaData = Base.metadata) -> list[object]:
    """What the database lacks or has beyond the models' schema, as the models would be
    created on its dialect (an index marked `ddl_if(dialect=...)` exists only there)."""

    def on_this_dialect(item: Any, _name: Any, type_: str, _reflected: bool,
                        _compare_to: Any) -> bool:
        condition = getattr(item, "_ddl_if", None) if type_ == "index" else None
        return condition is None or condition.dialect in (None, engine.dialect.name)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "include_object": on_this_dialect})
        return list(compare_metadata(context, metadata))


# ------------------------------------------------------------------------------ URLs


@pytest.mark.parametrize(
    "url",
    [
        "postgres://u:pw@db.example:5432/withus",
        "postgresql://u:pw@db.example:5432/withus",
        "postgresql+psycopg://u:pw@db.example:5432/withus",
    ],
)
def test_postgres_urls_use_psycopg3(url: str) -> None:
    parsed = normalise_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.host, parsed.port, parsed.database) == ("db.example", 5432, "withus")
    # Creating the engine does not connect, and must not choke on the "postgres" scheme.
    engine = make_engine(url)
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


def test_sqlite_url_is_left_alone() -> None:
    assert normalise_url("sqlite:///withus.db").drivername == "sqlite"


# ------------------------------------------------------------------------- migrations


def test_migrations_produce_the_models_schema(database_url: str) -> None:
    assert current_revision(database_url) is None
    upgrade(database_url)
    assert current_revision(database_url) == head_revision() == "1780"
    engine = make_engine(database_url)
    try:
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_schema_comparison_notices_a_model_without_migration(engine: Engine) -> None:
    # Guards the test above: the comparison must be able to fail.
    drifted = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    Table("new_table", drifted, Column("id", Integer, primary_key=True))
    assert schema_differences(engine, drifted) != []


def test_upgrade_twice_is_harmless(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    assert current_revision(database_url) == head_revision()


def test_downgrade_to_base_and_up_again(database_url: str) -> None:
    upgrade(database_url)
    downgrade(database_url, "base")
    engine = make_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(database_url)
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_concurrent_upgrades_of_an_empty_database(database_url: str) -> None:
    # Several workers starting at once (separate processes, as in production) must not
    # both try to create the tables: the database lock makes the later ones no-ops.
    code = "import sys; from storage.db import upgrade; upgrade(sys.argv[1])"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code, database_url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outcomes = [(worker.wait(timeout=120), worker.communicate()[1]) for worker in workers]
    assert [code for code, _ in outcomes] == [0, 0, 0], [err.decode() for _, err in outcomes]
    assert current_revision(database_url) == head_revision()


def test_concurrent_upgrades_in_one_process(database_url: str) -> None:
    # Alembic's state is process-global; upgrade() serialises in-process callers.
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        try:
            upgrade(database_url)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert current_revision(database_url) == head_revision()


def test_constraint_names_match_the_models(engine: Engine) -> None:
    # compare_metadata ignores CHECK constraints and most names; later migrations refer
    # to constraints by name, so check them here.
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        expected_checks = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
        found_checks = {c["name"] for c in inspector.get_check_constraints(table.name)}
        assert found_checks == expected_checks, table.name
        expected_fks = {fk.name for fk in table.foreign_key_constraints}
        found_fks = {fk["name"] for fk in inspector.get_foreign_keys(table.name)}
        assert found_fks == expected_fks, table.name
        expected_uniques = {c.name for c in table.constraints if isinstance(c, UniqueConstraint)}
        found_uniques = {c["name"] for c in inspector.get_unique_constraints(table.name)}
        assert found_uniques == expected_uniques, table.name
        assert inspector.get_pk_constraint(table.name)["name"] == table.primary_key.name


def test_migrations_work_from_any_directory(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    upgrade(database_url)
    assert current_revision(database_url) == head_revision()


def test_sqlite_table_rebuilds_keep_child_rows(engine: Engine) -> None:
    # A future migration altering `participants` on SQLite rebuilds the table; with
    # foreign keys enforced, dropping the old copy would cascade-delete all responses.
    if engine.dialect.name != "sqlite":
        pytest.skip("batch table rebuilds are how SQLite alters tables")
    sessions = session_factory(engine)
    with sessions() as session:
        session.add(Participant(id="p1", channel="sms", created_at=NOW))
        session.flush()
        session.add(
            Response(
                participant_id="p1",
                survey_id="s",
                survey_version=1,
                channel="sms",
                language="en",
                status="started",
                started_at=NOW,
                updated_at=NOW,
            )
        )
        session.commit()
    migrator = migration_engine(engine.url)
    try:
        with migrator.begin() as connection:
            operations = Operations(MigrationContext.configure(connection))
            with operations.batch_alter_table("participants", recreate="always") as batch:
                batch.add_column(Column("nickname", Integer, nullable=True))
    finally:
        migrator.dispose()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 1


# ------------------------------------------------------------------ engine behaviour


def test_check_reports_a_working_database(engine: Engine) -> None:
    assert check(engine) is True


def test_check_reports_an_unreachable_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
    assert check(engine) is False
    engine.dispose()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 10_000
        assert pragma("synchronous") == 1  # NORMAL
    engine.dispose()


def test_sqlite_transactions_take_the_write_lock_at_begin(tmp_path: Path) -> None:
    # BEGIN IMMEDIATE: even a transaction that has only read holds the write lock, so a
    # second writer queues at BEGIN instead of failing later with "database is locked".
    path = tmp_path / "lock.db"
    engine = make_engine(f"sqlite:///{path}")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again once the transaction ended
        other.execute("ROLLBACK")
    finally:
        other.close()
        engine.dispose()


def test_foreign_keys_cascade(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions() as session:
        session.add(Participant(id="p1", channel="sms", created_at=NOW))
        session.flush()
        session.add(
            Response(
                participant_id="p1",
                survey_id="s",
                survey_version=1,
                channel="sms",
                language="en",
                status="started",
                started_at=NOW,
                updated_at=NOW,
            )
        )
        session.commit()
        session.execute(delete(Participant))
        session.commit()
        assert session.scalars(select(Response)).all() == []


def test_check_constraints_reject_unknown_statuses(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions() as session:
        session.add(Participant(id="p1", channel="sms", created_at=NOW))
        session.add(
            Response(
                participant_id="p1",
                survey_id="s",
                survey_version=1,
                channel="sms",
                language="en",
                status="finished",
                started_at=NOW,
                updated_at=NOW,
            )
        )
        with pytest.raises(IntegrityError):
            session.commit()


# ------------------------------------------------------------------------ UTCDateTime


def test_datetimes_come_back_aware_utc(engine: Engine) -> None:
    sessions = session_factory(engine)
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 1, 5, 14, 0, tzinfo=plus_two)  # == NOW
    with sessions() as session:
        session.add(Participant(id="p1", channel="sms", created_at=local))
        session.commit()
    with sessions() as session:
        participant = session.get(Participant, "p1")
        assert participant is not None
        assert participant.created_at == NOW
        assert participant.created_at.tzinfo is UTC
        # Comparisons in SQL work the same on both databases.
        found = session.scalars(
            select(Participant.id).where(Participant.created_at > NOW - timedelta(seconds=1))
        ).all()
        assert found == ["p1"]


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions() as session:
        session.add(Participant(id="p1", channel="sms", created_at=datetime(2026, 1, 5)))
        with pytest.raises(StatementError, match="naive datetime"):
            session.flush()
