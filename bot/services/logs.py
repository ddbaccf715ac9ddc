"""Structured logs that never carry a phone number, chat id or message text, and that
cannot follow one person from day to day.

Code logs pseudonyms and counts, never addresses or bodies. As a second line of defence
the formatter scrubs anything that looks like a phone number or a long digit run (a
Telegram chat id) from messages and tracebacks, because library exceptions sometimes
quote the request that failed.

A pseudonym is the same for a person forever, so logs kept for weeks would let anyone
reading them follow one person's activity from day to day, even after that person asked
to be erased. So above debug level every pseudonym in a log line becomes a day tag: "p~"
and ten hex characters of a keyed hash of the pseudonym and the UTC date. The same person
has the same tag all day, in every process (the key comes from WITHUS_SECRET_KEY, via
`use_key`), so one conversation can still be traced, and a different tag the next day.
Debug logs, for a developer's own machine, keep the pseudonym.

Who reads them decides their shape: on a terminal, one readable line each; otherwise
(a service manager, a container, a file) JSON, one object a line. A command prints its
own results as plain text on stdout; its logs reach stderr only at warning and above,
unless asked for (`withus --verbose`, `WITHUS_LOG_LEVEL`). The servers (`withus serve`,
`scheduler`, `web`) log at info by default: their logs are what an operator watches.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

# +44 7700 900123, 07700900123, whatsapp:+4477..., 447700900123, chat ids of 6+ digits.
_PHONE_LIKE = re.compile(r"(?:whatsapp:)?\+?\d[\d\s().-]{5,}\d")
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


#: Terminal colour codes (werkzeug colours its request lines): never inside a log line.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}


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


#: A participant's pseudonym (storage/pseudonyms.py): "p" and 24 base32 characters.
_PSEUDONYM = re.compile(r"\bp[a-z2-7]{24}\b")
#: Keys the day tags. Random until `use_key` is called, so tags never fall back to plain.
_tag_key = secrets.token_bytes(32)


def use_key(secret: str) -> None:
    """Key the day tags from the deployment's secret, so that every process gives one
    person the same tag on the same day."""
    global _tag_key
    _tag_key = hmac.new(secret.encode(), b"withus log day tags", hashlib.sha256).digest()


def day_tag(pseudonym: str, day: str) -> str:
    """The tag that stands for `pseudonym` in logs written on `day` (YYYY-MM-DD, UTC)."""
    digest = hmac.new(_tag_key, f"{day}\x1f{pseudonym}".encode(), hashlib.sha256)
    return "p~" + digest.hexdigest()[:10]


def hide_pseudonyms(text: str, created: float) -> str:
    """Every pseudonym in `text` replaced by its tag for the day `created` falls on."""
    if not _PSEUDONYM.search(text):
        return text
    day = datetime.fromtimestamp(created, UTC).date().isoformat()
    return _PSEUDONYM.sub(lambda m: day_tag(m.group(0), day), text)


def _hide_in(value: Any, created: float) -> Any:
    if isinstance(value, str):
        return hide_pseudonyms(value, created)
    if isinstance(value, dict):
        return {k: _hide_in(v, created) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_in(v, created) for v in value]
    return value


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
            "event": scrub(_ANSI.sub("", record.getMessage())),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = scrub_value(value)
        if record.exc_info:
            entry["error"] = scrub(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = scrub(self.formatStack(record.stack_info))
        if record.levelno > logging.DEBUG:
            entry = _hide_in(entry, record.created)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v}" for k, v in vars(record).items()
            if k not in _STANDARD and not k.startswith("_")
        )
        message = _ANSI.sub("", record.getMessage())
        line = f"{record.levelname.lower():7} {record.name}: {message} {extras}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        if record.levelno > logging.DEBUG:
            line = hide_pseudonyms(line, record.created)
        return scrub(line.rstrip())


#: Whether the level was chosen (--verbose, WITHUS_LOG_LEVEL): then servers keep it.
_level_chosen = False


def choose_format(option: str | None, environ: dict[str, str] | None = None) -> str:
    """json or text: the option, else WITHUS_LOG_FORMAT, else text on a terminal."""
    env = os.environ if environ is None else environ
    chosen = (option or env.get("WITHUS_LOG_FORMAT", "")).strip().lower()
    if chosen in ("json", "text"):
        return chosen
    return "text" if sys.stderr.isatty() else "json"


def choose_level(verbose: bool, environ: dict[str, str] | None = None) -> tuple[int, bool]:
    """(level, whether it was chosen): info with --verbose, else WITHUS_LOG_LEVEL, else
    warning. An unknown WITHUS_LOG_LEVEL is a ValueError naming the choices."""
    env = os.environ if environ is None else environ
    if verbose:
        return logging.INFO, True
    named = env.get("WITHUS_LOG_LEVEL", "").strip().lower()
    if not named:
        return logging.WARNING, False
    if named not in LEVELS:
        raise ValueError(f"WITHUS_LOG_LEVEL must be one of {', '.join(LEVELS)}, "
                         f"not {named!r}")
    return LEVELS[named], True


def configure(fmt: str = "json", level: int = logging.INFO, *, chosen: bool = True) -> None:
    global _level_chosen
    _level_chosen = chosen
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library loggers print request URLs, which for Telegram contain the bot token;
    # Alembic announces every migration step, which is nothing a person needs to read.
    for noisy in ("httpx", "httpcore", "telegram", "twilio", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.DEBUG if level <= logging.DEBUG
                                          else logging.WARNING)


def server_defaults() -> None:
    """A server logs at info unless a level was chosen: its logs are what is watched."""
    if not _level_chosen:
        logging.getLogger().setLevel(logging.INFO)
