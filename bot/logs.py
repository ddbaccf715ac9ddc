"""Structured logs that never carry a phone number, chat id or message text.

Code logs pseudonyms and counts, never addresses or bodies. As a second line of defence
the formatter scrubs anything that looks like a phone number or a long digit run (a
Telegram chat id) from messages and tracebacks, because library exceptions sometimes
quote the request that failed.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

# +44 7700 900123, 07700900123, whatsapp:+4477..., 447700900123, chat ids of 6+ digits.
_PHONE_LIKE = re.compile(r"(?:whatsapp:)?\+?\d[\d\s().-]{5,}\d")
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


_DATE_LIKE = re.compile(r"\d{4}-\d\d-\d\d(?:[ T]\d\d)?")
MIN_DIGITS = 7  # phone numbers and chat ids; IPs, times and prices have fewer


def _replace(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(ch.isdigit() for ch in found)
    if digits < MIN_DIGITS or _DATE_LIKE.fullmatch(found.strip()):
        return found
    return "[redacted-number]"


def scrub(text: str) -> str:
    """Replace phone-number-like and long digit runs (7+ digits) with a marker."""
    return _PHONE_LIKE.sub(_replace, text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v}" for k, v in vars(record).items()
            if k not in _STANDARD and not k.startswith("_")
        )
        line = f"{record.levelname.lower():7} {record.name}: {record.getMessage()} {extras}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return scrub(line.rstrip())


def configure(fmt: str = "json", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library loggers print request URLs, which for Telegram contain the bot token.
    for noisy in ("httpx", "httpcore", "telegram", "twilio", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
