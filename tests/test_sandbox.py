"""The sandbox: a channel with no provider delivers to an inbox an organiser can read and
answer as each cohort member; their responses are test data, out of figures and exports.

Everything runs unmocked through the real services and Flask's test client.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.services import outreach, sandbox
from bot.services.config import Settings
from bot.services.runtime import Runtime, build
from bot.services.scheduler import Scheduler
from bot.web.app import create_app
from storage.exports import ExportPlan, count_rows, load_versions
from storage.models import OutboxMessage, Response
from tests.browser.seed import PASSWORD, add_user
from tests.helpers import FakeClock, NoLock, make_runtime, settings_for
from tests.test_service import RecordingChannel

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
NUMBERS = "phone\n020 7946 0011\n020 7946 0012\n"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 22, 30, tzinfo=UTC))  # in quiet hours


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Runtime]:
    rt = make_runtime(database_url, tmp_path, clock=clock, channels={}, sandbox=True)
    add_user(rt, "org@example.org", "organiser")
    add_user(rt, "rev@example.org", "reviewer")
    yield rt
    rt.close()


def run_scheduler(runtime: Runtime) -> None:
    scheduler = Scheduler(runtime, purge=None, leadership=NoLock())
    scheduler.run_jobs_once()
    while scheduler.send_step():
        pass


def invite(runtime: Runtime) -> int:
    outreach.import_contacts(runtime, NUMBERS, "sms", "rehearsal")
    scheduled = outreach.schedule_invitation(runtime, "fft", "rehearsal")
    assert scheduled.sandboxed == ("sms",)
    run_scheduler(runtime)
    return scheduled.invitation_id


def test_invitations_arrive_in_the_sandbox_at_once_even_in_quiet_hours(
        runtime: Runtime) -> None:
    invitation_id = invite(runtime)
    people = sandbox.people(runtime)
    assert [(p.number, p.channel, p.cohorts) for p in people] == [
        (1, "sms", ("rehearsal",)), (2, "sms", ("rehearsal",))]
    first = sandbox.conversation(runtime, 1).messages
    assert len(first) == 1 and first[0].kind == "invitation"
    assert "To start, reply FFT." in first[0].text
    assert first[0].due_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # after quiet hours
    progress = outreach.invitation_progress(runtime, invitation_id)
    assert (progress.counts["sandbox"], progress.counts["queued"]) == (2, 0)


def test_replies_as_a_member_go_through_the_service_and_are_test_data(
        runtime: Runtime) -> None:
    invite(runtime)
    sandbox.reply_as(runtime, 1, "FFT")
    view = sandbox.conversation(runtime, 1)
    assert [m.direction for m in view.messages][:2] == ["out", "in"]
    assert view.messages[-1].direction == "out"  # WithUs answered, into the sandbox
    with runtime.sessions() as session:
        responses = session.scalars(select(Response)).all()
        assert [(r.channel, r.is_test) for r in responses] == [("sms", True)]
    sandbox.reply_as(runtime, 1, "ENGLISH")
    sandbox.reply_as(runtime, 1, "YES")  # consent
    with runtime.sessions() as session:
        assert count_rows(session, "fft") == 0  # left out unless asked
        assert count_rows(session, "fft", include_test=True) == 1
        plan = ExportPlan(load_versions(session, "fft"), include_test=True)
    assert "test" in [c.key for c in plan.columns]
    with pytest.raises(sandbox.SandboxError, match="no person 9"):
        sandbox.reply_as(runtime, 9, "hello")
    with pytest.raises(sandbox.SandboxError, match="write a reply"):
        sandbox.reply_as(runtime, 1, "   ")


def test_nobody_on_a_channel_with_a_provider_can_be_answered_for(
        runtime: Runtime, database_url: str, tmp_path: Path, clock: FakeClock) -> None:
    invite(runtime)
    real = build(settings_for(database_url, tmp_path, sandbox=True), clock=clock,
                 channels={"sms": RecordingChannel("sms")})  # a provider stand-in
    try:
        with pytest.raises(sandbox.SandboxError, match="sms has a provider now"):
            sandbox.reply_as(real, 1, "FFT")
    finally:
        real.close()


def test_production_has_no_sandbox_unless_it_is_switched_on(tmp_path: Path) -> None:
    env = {"WITHUS_ENV": "production", "WITHUS_DATABASE_URL": "sqlite://",
           "WITHUS_SECRET_KEY": "s", "WITHUS_PSEUDONYM_KEY": "k" * 32,
           "WITHUS_VAULT_KEYS": "dGVzdC1vbmx5LWtleS1mb3Itd2l0aHVzLXRlc3RzISE=",
           "WITHUS_INSTANCE_PATH": str(tmp_path)}
    assert Settings.from_env(env).sandbox is False
    assert Settings.from_env({**env, "WITHUS_SANDBOX": "on"}).sandbox is True
    assert Settings.from_env({**env, "WITHUS_ENV": "development"}).sandbox is True


def _token(client: FlaskClient, path: str) -> str:
    found = TOKEN.search(client.get(path).get_data(as_text=True))
    assert found
    return found.group(1)


def _sign_in(client: FlaskClient, email: str) -> None:
    reply = client.post("/dashboard/login", data={
        "email": email, "password": PASSWORD,
        "csrf_token": _token(client, "/dashboard/login")})
    assert reply.status_code == 302


def test_the_inbox_page_shows_labels_not_numbers_and_replies_as_the_member(
        runtime: Runtime) -> None:
    invite(runtime)
    client = create_app(runtime=runtime).test_client()
    assert client.get("/simulator/sandbox").status_code == 302  # sign in first
    _sign_in(client, "org@example.org")
    html = client.get("/simulator/sandbox?person=1").get_data(as_text=True)
    assert "Person 1" in html and "Person 2" in html
    assert "7946" not in html  # never a phone number
    assert client.post("/simulator/sandbox/1/reply", data={"text": "FFT"}).status_code == 400
    sent = client.post("/simulator/sandbox/1/reply", data={
        "text": "FFT", "csrf_token": _token(client, "/simulator/sandbox?person=1")})
    assert sent.status_code == 302
    html = client.get("/simulator/sandbox?person=1").get_data(as_text=True)
    assert "You, as Person 1" in html
    assert client.get("/simulator/sandbox?person=7").status_code == 404
    reviewer = create_app(runtime=runtime).test_client()
    _sign_in(reviewer, "rev@example.org")
    assert reviewer.get("/simulator/sandbox").status_code == 403
    with runtime.sessions() as session:
        held = session.scalars(select(OutboxMessage).where(OutboxMessage.status == "held"))
        assert list(held) == []  # nothing "channel not configured"


def test_export_refuses_to_overwrite_without_force_and_logs_stay_quiet(
        runtime: Runtime, database_url: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import main
    from tests.conftest_db import TEST_VAULT_KEY

    env = {"WITHUS_DATABASE_URL": database_url, "WITHUS_INSTANCE_PATH": str(tmp_path / "i"),
           "WITHUS_VAULT_KEYS": TEST_VAULT_KEY, "WITHUS_SECRET_KEY": "test",
           "WITHUS_PSEUDONYM_KEY": "a-test-pseudonym-key-that-is-long-enough",
           "WITHUS_LOG_LEVEL": None, "WITHUS_LOG_FORMAT": None}
    out = tmp_path / "fft.csv"
    first = CliRunner().invoke(main, ["export", "fft", "--output", str(out)], env=env)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("wrote 0 responses to")
    assert "alembic" not in first.stderr and '"level": "info"' not in first.stderr
    again = CliRunner().invoke(main, ["export", "fft", "--output", str(out)], env=env)
    assert again.exit_code == 2
    assert again.stderr == (f"error: {out} already exists; choose another --output, or add "
                            "--force to replace it\n")
    forced = CliRunner().invoke(main, ["export", "fft", "--output", str(out), "--force"],
                                env=env)
    assert forced.exit_code == 0, forced.output
    bad = CliRunner().invoke(main, ["surveys", "list"], env={**env, "WITHUS_LOG_LEVEL": "loud"})
    assert bad.exit_code == 2 and "WITHUS_LOG_LEVEL must be one of" in bad.output
