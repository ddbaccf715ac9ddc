"""The log scrubber: numbers that could be a person's go, ordinary figures stay."""

from __future__ import annotations

import json
import logging

import pytest

from bot.services.logs import JsonFormatter, scrub


@pytest.mark.parametrize("text", [
    "call +44 7700 900123 now", "07700900123", "447700900123", "whatsapp:+447700900123",
    "chat 987654321 blocked", "(0113) 496 0000", "+1-202-555-0182",
])
def test_numbers_that_could_identify_someone_are_scrubbed(text: str) -> None:
    cleaned = scrub(text)
    assert "[redacted-number]" in cleaned
    assert not any(run in cleaned for run in ("7700", "900123", "987654321", "4960000"))


@pytest.mark.parametrize("text", [
    "127.0.0.1 - - [23/Nov/2026 12:09:12] GET /healthz", "2026-11-23 12:00", "took 12.5 ms",
    "outbox_id 42 attempts 3", "£10.50 an hour",
])
def test_ordinary_figures_are_kept(text: str) -> None:
    assert scrub(text) == text


def test_tracebacks_and_extra_fields_are_scrubbed() -> None:
    try:
        raise ValueError("The 'To' number +447700900123 is not a valid phone number")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "send failed to %s",
                                   ("+447700900123",), exc_info=True)
        import sys

        record.exc_info = sys.exc_info()
    record.detail = "chat 987654321"
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert "7700900123" not in line and "987654321" not in line
    assert entry["event"] == "send failed to [redacted-number]"
    assert "ValueError" in entry["error"]
