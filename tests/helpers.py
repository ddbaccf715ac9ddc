"""Builders shared by the application tests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.services.config import Settings
from bot.services.runtime import Runtime, build
from channels.base import Channel
from storage.uow import UnitOfWork
from surveys.loader import library_path
from tests.conftest_db import TEST_VAULT_KEY, migrate


class FakeClock:
    """A controllable clock: tests move time on instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class SimulatedMonotonic:
    """A monotonic clock that only moves when something sleeps: pacing costs no wall time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


def settings_for(database_url: str, instance: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "instance_path": instance,
        "database_url": database_url,
        "secret_key": "test-secret-key",
        "pseudonym_key": b"test-pseudonym-key-of-32-bytes-or-more!",
        "vault_keys": (TEST_VAULT_KEY,),
        "log_format": "json",
        # A FakeClock stands still between messages unless a test moves it, and messages
        # at one instant would join into one answer (surveys.keeping): off unless a test
        # turns the windows on (tests/test_keeping_service.py).
        "join_seconds": 0.0,
        "follow_on_seconds": 0.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def load_library(runtime: Runtime, folder: Path | None = None) -> None:
    """Store the example surveys (as `withus surveys load` does)."""
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        for path in sorted((folder or library_path()).glob("*.yaml")):
            from surveys.loader import load_file

            survey = load_file(path)
            source = path.read_text(encoding="utf-8")
            uow.surveys.store(survey.id, survey.version, survey.title.get(), source,
                              hashlib.sha256(source.encode()).hexdigest(), runtime.clock())
        uow.commit()
    runtime.catalog.invalidate()


def make_runtime(database_url: str, instance: Path, *, clock: Callable[[], datetime],
                 channels: dict[str, Channel] | None = None, **overrides: object) -> Runtime:
    migrate(database_url)  # upgrade(), from a template when the database is a fresh one
    monotonic = SimulatedMonotonic()
    runtime = build(settings_for(database_url, instance, **overrides), clock=clock,
                    channels=channels, monotonic=monotonic, sleep=monotonic.sleep)
    load_library(runtime)
    return runtime


class NoLock:
    """Leadership for a scheduler whose send loop the caller drives itself."""

    def try_acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        pass

    def held_elsewhere(self) -> bool:
        return False
