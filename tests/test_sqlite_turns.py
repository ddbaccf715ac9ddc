"""SQLite writers queue on `<database>-writer.lock` (storage/sqlite_turns.py).

The turn must be held exactly while a write transaction is open, given back however it
ends (COMMIT, ROLLBACK, an exception, the connection closing), and a writer that cannot
get it within the busy timeout must fail the way SQLite would have, not wait twice as
long. Two engines on one file stand in for two web workers: each has its own pool and
its own open lock file, exactly as separate processes have.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

import storage.db
from storage.db import make_engine
from storage.sqlite_turns import turn_path_for


def _turn_is_free(lock: Path) -> bool:
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # also gives back the lock if it was taken
    return True


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    path = tmp_path / "turns.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine, Path(f"{path}-writer.lock")
    engine.dispose()


def test_the_turn_is_held_for_the_transaction_and_given_back_at_its_end(
    database: tuple[Engine, Path],
) -> None:
    engine, lock = database
    with engine.connect() as connection:
        assert _turn_is_free(lock)
        connection.execute(text("INSERT INTO t VALUES (1)"))
        assert not _turn_is_free(lock)
        connection.commit()
        assert _turn_is_free(lock)
        connection.execute(text("INSERT INTO t VALUES (2)"))
        assert not _turn_is_free(lock)
        connection.rollback()
        assert _turn_is_free(lock)
    with pytest.raises(RuntimeError), engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (3)"))
        raise RuntimeError("the request failed")
    assert _turn_is_free(lock)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT n FROM t")).scalars().all() == [1]


def test_a_second_writer_waits_for_the_turn_and_then_writes(tmp_path: Path,
                                                            database: tuple[Engine, Path]) -> None:
    engine, _lock = database
    other = make_engine(engine.url)
    started, wrote = threading.Event(), threading.Event()

    def second_worker() -> None:
        started.set()
        with other.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (20)"))
        wrote.set()

    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (10)"))
            worker = threading.Thread(target=second_worker)
            worker.start()
            started.wait(5)
            assert not wrote.wait(0.3)  # it queues behind our transaction
        worker.join(10)
        assert wrote.is_set()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT n FROM t ORDER BY rowid")).scalars().all() \
                == [10, 20]
    finally:
        other.dispose()


def test_a_writer_that_waits_out_the_busy_timeout_fails_once_and_recovers(
    database: tuple[Engine, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, lock = database
    monkeypatch.setattr(storage.db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    impatient = make_engine(engine.url)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
            with pytest.raises(OperationalError, match="locked"), impatient.begin() as late:
                late.execute(text("INSERT INTO t VALUES (2)"))
        with impatient.begin() as late:  # its busy timeout is back, and the turn free
            assert late.exec_driver_sql("PRAGMA busy_timeout").scalar() == 300
            late.execute(text("INSERT INTO t VALUES (3)"))
        assert _turn_is_free(lock)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT n FROM t")).scalars().all() == [1, 3]
    finally:
        impatient.dispose()


def test_only_database_files_have_turns() -> None:
    assert turn_path_for("/srv/withus/withus.db") == "/srv/withus/withus.db-writer.lock"
    assert turn_path_for(":memory:") is None and turn_path_for("") is None
    engine = make_engine("sqlite://")  # in memory: one connection, nothing to queue on
    with engine.begin() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()


def test_without_a_usable_lock_file_writers_still_write(tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "nolock.db"
    Path(f"{path}-writer.lock").mkdir()  # cannot be opened as a file
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (n INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT n FROM t")).scalar() == 1
    finally:
        engine.dispose()
    assert "will not take turns" in caplog.text
