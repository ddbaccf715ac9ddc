"""Logs cannot follow an erased person from day to day (issue 18, finding 8: 74 log lines
kept an erased person's pseudonym).

A participant takes part and asks to be erased, through the real service and sender; the
log records of all that are formatted as production writes them. Their pseudonym is in
none of the lines; one tag stands for them all day, and the same records written on
another day carry a different tag, so nothing links the two days.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.services import logs
from bot.services.logs import JsonFormatter, TextFormatter, day_tag, hide_pseudonyms
from bot.services.runtime import Runtime
from tests.helpers import FakeClock
from tests.test_privacy import RecordingChannel, complete, pid_of, privacy_runtime, say

DAY = 24 * 60 * 60
TAG = re.compile(r"p~[0-9a-f]{10}")


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    rt = privacy_runtime(database_url, tmp_path, FakeClock(), RecordingChannel())
    yield rt
    rt.close()


def written(records: list[logging.LogRecord], days_later: int = 0) -> str:
    lines = []
    for record in records:
        moved = copy.copy(record)
        moved.created += days_later * DAY
        lines += [JsonFormatter().format(moved), TextFormatter().format(moved)]
    return "\n".join(lines)


def test_an_erased_person_cannot_be_followed_across_days(
        runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    complete(runtime, why="Fine")
    pid = pid_of(runtime)
    say(runtime, "DELETE")
    say(runtime, "YES")
    records = [r for r in caplog.records if pid in str(vars(r))]
    assert len(records) >= 5  # their activity was logged, under their pseudonym
    today, tomorrow = written(records), written(records, days_later=1)
    assert pid not in today and pid not in tomorrow
    tags_today, tags_tomorrow = set(TAG.findall(today)), set(TAG.findall(tomorrow))
    assert len(tags_today) == 1 and len(tags_tomorrow) == 1  # one person, one tag a day
    assert tags_today != tags_tomorrow


def test_debug_lines_keep_the_pseudonym_and_tags_need_the_key() -> None:
    pid = "p" + "a" * 24
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "looked at %s", (pid,), None)
    record.participant = pid
    assert pid in JsonFormatter().format(record) and pid in TextFormatter().format(record)
    record.levelno, record.levelname = logging.INFO, "INFO"
    assert pid not in JsonFormatter().format(record)
    day = "2026-11-23"
    before = day_tag(pid, day)
    logs.use_key("one deployment's secret")
    one = day_tag(pid, day)
    logs.use_key("another deployment's secret")
    assert len({before, one, day_tag(pid, day)}) == 3
    assert hide_pseudonyms(f"sent to {pid}.", 0) == f"sent to {day_tag(pid, '1970-01-01')}."
    assert hide_pseudonyms("nothing here", 0) == "nothing here"
