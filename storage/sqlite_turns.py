"""Writers on one SQLite file take turns through a lock file, not SQLite's busy sleeps.

Why: every WithUs transaction on SQLite is a writer (BEGIN IMMEDIATE), and with several
web workers they often meet. SQLite's own busy handler does not queue the one that
finds the lock taken: it sleeps 1, 2, 5, 10, 15, 20, 25 ... 100 ms and tries again, and
a worker that keeps writing can win every time meanwhile. Under a burst of replies that
showed up as a p99 two and a half times the bare INSERT's, and the write lock lying idle
while a worker slept. Here a writer first takes `flock` on `<database>-writer.lock`,
polling at well under a millisecond, and gives it back once its COMMIT or ROLLBACK has
finished, so the next writer starts as soon as the database is free.

The turn is only an optimisation: SQLite's lock still decides who writes. A writer that
cannot get its turn within the busy timeout goes on to BEGIN IMMEDIATE regardless and
meets SQLite's lock with no further wait (the busy timeout is spent), so a process that
holds a turn while waiting on a second connection of its own fails as it did before the
turns, after the same busy timeout: it costs time, never a deadlock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import time
from typing import Any

log = logging.getLogger(__name__)

#: The longest sleep between two tries: short, because a write transaction here takes
#: about a millisecond and the point is to start the moment the last one ends.
MAX_POLL_SECONDS = 0.0005


class TurnTakingConnection(sqlite3.Connection):
    """A sqlite3 connection that queues for its write turn (`take_turn`) and ends the
    turn after each COMMIT or ROLLBACK. Passed to sqlite3.connect as `factory`."""

    turn_path: str | None = None
    _turn_fd: int | None = None
    _has_turn: bool = False

    def take_turn(self, wait_seconds: float) -> bool:
        """Wait up to `wait_seconds` for this connection's turn to write; True if taken."""
        if self.turn_path is None:
            return True  # an in-memory database: one connection, nobody to queue behind
        if self._has_turn:
            return True
        if self._turn_fd is None:
            try:
                # Read-only is enough for flock, so a file another user created serves too.
                self._turn_fd = os.open(self.turn_path, os.O_RDONLY | os.O_CREAT, 0o644)
            except OSError as error:
                # Turns are an optimisation: without the file, SQLite's lock alone decides.
                log.warning("SQLite writers will not take turns: cannot open the lock file",
                            extra={"error": type(error).__name__})
                self.turn_path = None
                return True
        deadline = time.monotonic() + wait_seconds
        delay = 0.00005
        while True:
            try:
                fcntl.flock(self._turn_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(delay)
                delay = min(delay * 2, MAX_POLL_SECONDS)
                continue
            self._has_turn = True
            return True

    def end_turn(self) -> None:
        if self._has_turn and self._turn_fd is not None:
            self._has_turn = False
            fcntl.flock(self._turn_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._has_turn = False
            if self._turn_fd is not None:
                os.close(self._turn_fd)  # closing the file ends any turn still held
                self._turn_fd = None


def turn_path_for(database: str | None) -> str | None:
    """The lock file beside a SQLite database file; None for in-memory databases."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database + "-writer.lock"


def take_turn(dbapi_connection: Any, wait_seconds: float) -> bool:
    """Take the write turn when `dbapi_connection` is one of ours; False only when it
    waited `wait_seconds` in vain (a connection without turns: True, nothing to wait)."""
    if isinstance(dbapi_connection, TurnTakingConnection):
        return dbapi_connection.take_turn(wait_seconds)
    return True
