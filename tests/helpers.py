"""Builders shared by the application tests."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask.testing import FlaskClient

from bot.services.config import Settings
from bot.services.runtime import Runtime, build
from bot.web.app import create_app
from channels.base import Channel
from storage.uow import UnitOfWork
from surveys.loader import library_path
from tests.browser.seed import PASSWORD, add_user
from tests.conftest_db import TEST_VAULT_KEY, migrate

ORGANISER, REVIEWER = "org@example.org", "rev@example.org"
#: The dashboard accounts most page tests sign in with: email and role, in the order added.
STAFF = {ORGANISER: "organiser", REVIEWER: "reviewer"}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


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


@contextmanager
def dashboard_runtime(database_url: str, instance: Path,
                      users: Mapping[str, str] | None = None, *,
                      clock: Callable[[], datetime] | None = None,
                      **overrides: object) -> Iterator[Runtime]:
    """A runtime (`make_runtime`, at a FakeClock unless one is given) with dashboard accounts,
    email to role in the order given (a reviewer alone by default); closed on leaving."""
    runtime = make_runtime(database_url, instance, clock=clock or FakeClock(), **overrides)
    try:
        for email, role in (users if users is not None else {REVIEWER: "reviewer"}).items():
            add_user(runtime, email, role)
        yield runtime
    finally:
        runtime.close()


def token(client: FlaskClient, path: str = "/dashboard/login") -> str:
    page = client.get(path).get_data(as_text=True)
    found = TOKEN.search(page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/dashboard/login", data={
        "email": email, "password": password, "csrf_token": token(client)})


def signed_in(client: FlaskClient, email: str) -> None:
    """Sign in, and insist it worked (the dashboard redirects onwards)."""
    reply = sign_in(client, email)
    assert reply.status_code == 302, reply.status_code


def dashboard_client(runtime: Runtime, signed_in_as: str | None = None) -> FlaskClient:
    """A test client of a new app on `runtime`, signed in (`sign_in`) when an email is given."""
    client = create_app(runtime=runtime).test_client()
    if signed_in_as is not None:
        sign_in(client, signed_in_as)
    return client
