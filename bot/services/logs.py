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


# SQLAlchemy errors quote the statement's parameters (ciphertext, answers, pseudonyms), and
# PostgreSQL's own messages quote the row: "DETAIL:  Failing row contains (..., 'answer')".
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\n|$)", re.DOTALL)
_SQL_DETAIL = re.compile(r"DETAIL: .*")


def scrub(text: str) -> str:
    """Replace phone-number-like and long digit runs (7+ digits), and quoted SQL data."""
    # Each pattern needs a literal the cheap `in` test finds first: most log lines (a
    # pseudonym, a channel name, a count) have nothing to scrub, and are written for
    # every message a person sends.
    if "[parameters: " in text:
        text = _SQL_PARAMETERS.sub("[parameters: hidden]", text)
    if "DETAIL: " in text:
        text = _SQL_DETAIL.sub("DETAIL: [hidden]", text)
    if len(text) < MIN_DIGITS:
        return text
    return _PHONE_LIKE.sub(_replace, text)


def scrub_value(value: Any) -> Any:
    """`scrub` applied inside an `extra` value: strings, whole numbers, lists and dicts.

    A chat id passed as an int (extra={"chat": 987654321}) would otherwise reach the log
    untouched; whole numbers are judged by the same 7-digit rule as text.
    """
    if isinstance(value, str):
        return scrub(value)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if scrub(str(value)) == str(value) else "[redacted-number]"
    if isinstance(value, dict):
        return {str(k): scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_value(v) for v in value]
    return scrub(str(value))


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
                entry[key] = scrub_value(value)
        if record.exc_info:
            entry["error"] = scrub(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = scrub(self.formatStack(record.stack_info))
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
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
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
