"""The one place the application reads the wall clock; everything else is given `now`."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
