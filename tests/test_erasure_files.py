"""After an erasure, the erased words are gone from the SQLite files themselves.

A DELETE only marks rows free: without `secure_delete` their bytes stay in the database
file's free space, and with WAL the pages that held them stay in the -wal file until a
checkpoint (issue 18, finding 8). Here a participant answers in words nobody else uses,
asks to be deleted by text, and the bytes of withus.db and withus.db-wal are searched.
SQLite only: PostgreSQL's files are the server's (docs/privacy.md says what VACUUM does).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.services.runtime import Runtime
from storage.db import checkpoint, make_engine
from storage.models import Participant
from tests.helpers import FakeClock
from tests.test_privacy import (
    OTHER,
    RecordingChannel,
    complete,
    count,
    pid_of,
    privacy_runtime,
    say,
)

WORDS = "Marigold zebra lanterns on Thursday"
OTHER_WORDS = "The carers always came on time"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = privacy_runtime(f"sqlite:///{tmp_path / 'withus.db'}", tmp_path, FakeClock(),
                         RecordingChannel())
    yield rt
    rt.close()


def files(tmp_path: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in tmp_path.glob("withus.db*")
            if path.suffix != ".turns"}


def test_erased_words_are_not_left_in_the_database_or_its_log(runtime: Runtime,
                                                              tmp_path: Path) -> None:
    complete(runtime, address=OTHER, why=OTHER_WORDS)  # someone who stays
    complete(runtime, why=WORDS)
    pid = pid_of(runtime)
    before = files(tmp_path)
    assert any(WORDS.encode() in data for data in before.values())  # the search can find
    assert "withus.db-wal" in before

    assert "Delete it all?" in say(runtime, "DELETE")[-1]
    assert say(runtime, "YES")[-1].startswith("Done. We have deleted")
    assert count(runtime, Participant, id=pid) == 0

    after = files(tmp_path)
    assert {name: WORDS.encode() in data for name, data in after.items()} == {
        name: False for name in after}
    assert {name: pid.encode() in data for name, data in after.items()} == {
        name: False for name in after}
    assert any(OTHER_WORDS.encode() in data for data in after.values())  # nothing else lost
    assert after.get("withus.db-wal", b"") == b""  # the log was emptied


def test_secure_delete_is_on_for_every_connection(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA secure_delete")).scalar() == 1
        assert checkpoint(engine)
    finally:
        engine.dispose()
