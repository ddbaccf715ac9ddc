"""Exactly one active scheduler: leadership locks, standby takeover, and no double sends.

In-process tests drive the jobs with a FakeClock. Where threads or processes are involved
(a standby taking over), the test waits on an event or polls a subprocess, always with a
bound, never a fixed sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.services import outreach
from bot.services.runtime import Runtime
from bot.services.scheduler import (
    AdvisoryLock,
    FileLock,
    Intervals,
    Leadership,
    Scheduler,
    leadership_for,
)
from channels.base import InboundMessage
from storage.db import make_engine
from storage.repositories.outreach import OutreachRepository
from storage.uow import UnitOfWork
from tests.conftest_db import TEST_VAULT_KEY, ScratchDatabases
from tests.fakes import FakeTwilioAPI
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN
from tests.helpers import FakeClock, make_runtime
from tests.test_outreach import Recorder

FAST = Intervals(invitations=3600, reminders=3600, requeue=3600, purge=3600,
                 standby_poll=0.02, heartbeat=0.02)


# --- the locks -------------------------------------------------------------------------------


def test_a_file_lock_has_one_holder_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "withus.db.scheduler-lock"
    first, second, observer = FileLock(path), FileLock(path), FileLock(path)
    assert not observer.held_elsewhere()
    assert first.try_acquire() and first.still_held()
    assert not second.try_acquire()
    assert observer.held_elsewhere()
    first.release()
    assert second.try_acquire()
    second.release()
    assert not observer.held_elsewhere()


def test_a_file_lock_dies_with_its_process(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from bot.services.scheduler import FileLock; "
         f"lock = FileLock(Path({str(path)!r})); assert lock.try_acquire(); "
         "print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert not FileLock(path).try_acquire()
        holder.kill()
        holder.wait(timeout=10)
        assert FileLock(path).try_acquire()
    finally:
        holder.kill()
        holder.wait(timeout=10)


@pytest.fixture
def pg_engine(postgres_scratch: ScratchDatabases) -> Iterator[object]:
    engine = make_engine(postgres_scratch.migrated)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_the_advisory_lock_has_one_holder_and_is_freed_when_its_session_dies(
    pg_engine: object,
) -> None:
    first, second, observer = (AdvisoryLock(pg_engine) for _ in range(3))  # type: ignore[arg-type]
    try:
        assert not observer.held_elsewhere()
        assert first.try_acquire() and first.still_held()
        assert not second.try_acquire()
        assert observer.held_elsewhere()
        # The server ends the leader's session (as when its process is killed).
        with pg_engine.connect() as admin:  # type: ignore[attr-defined]
            admin.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND granted AND pid <> pg_backend_pid()"))
            admin.commit()
        assert not first.still_held()  # the old leader notices and must stop
        assert second.try_acquire()
        first.release()
        assert second.still_held()
    finally:
        for lock in (first, second, observer):
            lock.release()


@pytest.mark.postgres
@pytest.mark.parametrize("database_kind", ["postgres"])
def test_a_second_scheduler_skips_an_invitation_the_first_is_queuing(
    database_url: str, tmp_path: Path
) -> None:
    """Without leadership, the row lock alone keeps an invitation from being queued twice."""
    clock = FakeClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))
    rt = make_runtime(database_url, tmp_path, clock=clock, channels={"sms": Recorder()})
    try:
        outreach.import_contacts(rt, "phone\n020 7946 0001\n", "sms", "leeds")
        outreach.schedule_invitation(rt, "fft", "leeds")
        with UnitOfWork(rt.sessions, rt.vault) as first:
            assert OutreachRepository(first.session).claim_due_invitation(clock.now)
            with UnitOfWork(rt.sessions, rt.vault) as second:  # another scheduler, meanwhile
                assert OutreachRepository(second.session).claim_due_invitation(clock.now) is None
                assert outreach.queue_due_invitations(rt) == []
    finally:
        rt.close()


def test_the_lock_suits_the_database(tmp_path: Path, database_url: str) -> None:
    rt = make_runtime(database_url, tmp_path, clock=FakeClock(), channels={})
    try:
        lock = leadership_for(rt)
        if database_url.startswith("sqlite"):
            assert isinstance(lock, FileLock)
            assert lock.path == Path(str(tmp_path / "empty.db") + ".scheduler-lock")
        else:
            assert isinstance(lock, AdvisoryLock)
    finally:
        rt.close()


# --- the scheduler in one process ---------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))


def runtime_for(database_url: str, tmp_path: Path, clock: FakeClock,
                sms: Recorder) -> Runtime:
    return make_runtime(database_url, tmp_path, clock=clock, channels={"sms": sms})


def test_one_of_two_schedulers_is_active_and_the_standby_takes_over(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    runtimes = [runtime_for(database_url, tmp_path, clock, Recorder()) for _ in range(2)]
    schedulers = [Scheduler(rt, purge=None, intervals=FAST) for rt in runtimes]
    try:
        for scheduler in schedulers:
            scheduler.start()
        assert _wait_for(lambda: any(s.leading.is_set() for s in schedulers))
        leader, standby = sorted(schedulers, key=lambda s: not s.leading.is_set())
        assert leader.leading.is_set() and not standby.leading.is_set()
        leader.stop()
        assert standby.leading.wait(timeout=10)
        assert not leader.leading.is_set()
    finally:
        for scheduler in schedulers:
            scheduler.stop()
        for rt in runtimes:
            rt.close()


class Flaky(Leadership):
    """A lock that is lost when the test says so (a dropped database connection)."""

    def __init__(self) -> None:
        self.held = True
        self.acquired = 0

    def try_acquire(self) -> bool:
        self.acquired += 1
        return self.held

    def still_held(self) -> bool:
        return self.held

    def release(self) -> None:
        pass

    def held_elsewhere(self) -> bool:
        return False


def test_a_leader_that_loses_its_lock_stops_sending(database_url: str, tmp_path: Path,
                                                    clock: FakeClock) -> None:
    rt = runtime_for(database_url, tmp_path, clock, Recorder())
    lock = Flaky()
    scheduler = Scheduler(rt, purge=None, leadership=lock, intervals=FAST)
    try:
        scheduler.start()
        assert scheduler.leading.wait(timeout=10)
        lock.held = False
        assert _wait_for(lambda: not scheduler.leading.is_set())
        assert scheduler._sender_thread is None  # the sender loop has ended
        lock.held = True
        assert scheduler.leading.wait(timeout=10)  # and it may lead again later
    finally:
        scheduler.stop()
        rt.close()


def test_the_jobs_queue_invitations_send_reminders_and_purge(database_url: str,
                                                             tmp_path: Path,
                                                             clock: FakeClock) -> None:
    sms = Recorder()
    rt = runtime_for(database_url, tmp_path, clock, sms)
    purged: list[datetime] = []
    try:
        outreach.import_contacts(rt, "phone\n020 7946 0001\n020 7946 0002\n", "sms", "leeds")
        outreach.schedule_invitation(rt, "fft", "leeds")
        scheduler = Scheduler(rt, purge=lambda _rt, now: purged.append(now) or {},
                              leadership=Flaky())
        scheduler.run_jobs_once()
        while scheduler.send_step():
            pass
        assert sorted(a for a, _m in sms.sent) == ["+442079460001", "+442079460002"]
        assert purged == [clock.now]
    finally:
        rt.close()


def test_a_failing_job_does_not_stop_the_others(database_url: str, tmp_path: Path,
                                                clock: FakeClock) -> None:
    rt = runtime_for(database_url, tmp_path, clock, Recorder())
    purged: list[datetime] = []
    reminded: list[str] = []

    def broken(pid: str) -> list[int]:
        reminded.append(pid)
        raise RuntimeError("remind broke")

    try:
        rt.service.handle(InboundMessage("sms", "020 7946 0001", "m1", "text", text="fft"))
        rt.service.handle(InboundMessage("sms", "020 7946 0001", "m2", "text", text="1"))
        clock.advance(hours=25)  # a reminder is due, and reminding fails
        scheduler = Scheduler(rt, purge=lambda _rt, now: purged.append(now) or {},
                              remind=broken, leadership=Flaky())
        assert list(scheduler.jobs()).index("reminders") < list(scheduler.jobs()).index("purge")
        scheduler.run_jobs_once()  # logs the failure, raises nothing
        assert len(reminded) == 1 and purged == [clock.now]
    finally:
        rt.close()


def test_messages_abandoned_by_a_dead_sender_are_sent_after_takeover(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    sms = Recorder()
    rt = runtime_for(database_url, tmp_path, clock, sms)
    try:
        outreach.import_contacts(rt, "phone\n020 7946 0001\n", "sms", "leeds")
        outreach.schedule_invitation(rt, "fft", "leeds")
        outreach.queue_due_invitations(rt)
        with rt.sessions.begin() as session:  # a sender claimed it, then died
            session.execute(text("UPDATE outbox_messages SET status = 'sending'"))
        clock.advance(minutes=11)
        scheduler = Scheduler(rt, purge=None, leadership=Flaky())
        scheduler._take_over()  # what happens when a scheduler becomes the leader
        scheduler._step_down()
        while scheduler.send_step():
            pass
        assert len(sms.sent) == 1
    finally:
        rt.close()


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# --- two `withus scheduler` processes against one PostgreSQL database ------------------------

WITHUS = Path(sys.executable).with_name("withus")
#: `withus` with the outreach commands registered, whether or not bot.cli does it yet.
CLI = [sys.executable, "-c",
       "import sys; from bot.cli import main; from bot.cli.outreach import COMMANDS\n"
       "for c in COMMANDS: main.add_command(c)\n"
       "sys.exit(main())"]
PHONES = [f"020 7946 {n:04d}" for n in range(100, 120)]


def _env(database_url: str, tmp_path: Path, twilio: FakeTwilioAPI) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WITHUS_", "TWILIO_", "TELEGRAM_"))}
    env.update(
        WITHUS_DATABASE_URL=database_url, WITHUS_INSTANCE_PATH=str(tmp_path / "instance"),
        WITHUS_VAULT_KEYS=TEST_VAULT_KEY, WITHUS_SECRET_KEY="test",
        WITHUS_PSEUDONYM_KEY="a-test-pseudonym-key-that-is-long-enough",
        WITHUS_PUBLIC_URL="https://withus.example", WITHUS_QUIET_HOURS="",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_SMS_FROM="+442079460999", TWILIO_API_BASE_URL=twilio.base_url,
        NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
    )
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*CLI, "--log-format", "text", *args], env=env, text=True,
                            capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result


def _poll(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until `condition`; how long it took. Fails after `timeout` seconds."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - start


ACTIVE = "this scheduler is now the active one"


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("database_kind", ["postgres"])
def test_two_scheduler_processes_send_each_invitation_exactly_once_and_fail_over(
    database_url: str, tmp_path: Path
) -> None:
    with FakeTwilioAPI() as twilio:
        env = _env(database_url, tmp_path, twilio)
        _run(["db", "upgrade"], env)
        _run(["surveys", "load", str(Path(__file__).parents[1] / "surveys" / "library")], env)
        contacts = tmp_path / "contacts.csv"
        contacts.write_text("phone\n" + "\n".join(PHONES) + "\n")
        imported = _run(["contacts", "import", str(contacts), "--channel", "sms",
                         "--cohort", "carers"], env)
        assert "imported 20, duplicates 0, invalid 0" in imported.stdout

        logs = [tmp_path / f"scheduler-{n}.log" for n in range(2)]
        processes = [
            subprocess.Popen([str(WITHUS) if WITHUS.exists() else sys.executable,
                              *([] if WITHUS.exists() else ["-m", "bot.cli"]),
                              "--log-format", "text", "scheduler"],
                             env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))
            for log in logs
        ]
        try:
            def active() -> list[int]:
                return [n for n, log in enumerate(logs) if ACTIVE in log.read_text()]

            _poll(lambda: len(active()) == 1
                  and "standing by" in logs[1 - active()[0]].read_text(),
                  30, "one active scheduler and one standby")
            leader = active()[0]

            # An invitation in the past: due at once. The CLI returns at once; the
            # running scheduler sends.
            invited = _run(["invite", "fft", "--cohort", "carers",
                            "--at", "2020-01-01T09:00:00+00:00"], env)
            assert "fft to carers (20 people)" in invited.stdout
            assert "the running scheduler sends them" in invited.stdout
            _poll(lambda: len(twilio.messages) >= 20, 30, "20 invitations")

            # The leader dies without warning; the standby must take over within seconds.
            processes[leader].send_signal(signal.SIGKILL)
            processes[leader].wait(timeout=10)
            took = _poll(lambda: ACTIVE in logs[1 - leader].read_text(), 15, "takeover")
            assert took < 10
            _run(["invite", "carers", "--cohort", "carers",
                  "--at", "2020-01-01T09:00:00+00:00"], env)
            _poll(lambda: len(twilio.messages) >= 40, 30, "20 more invitations")
            # Give a double send the chance to show itself before counting.
            processes[1 - leader].send_signal(signal.SIGTERM)
            processes[1 - leader].wait(timeout=20)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=10)
        sent = Counter((m["To"], "reply FFT" in m["Body"]) for m in twilio.messages)
    expected = {f"+44207946{n:04d}" for n in range(100, 120)}
    assert set(sent) == {(to, first) for to in expected for first in (True, False)}
    assert set(sent.values()) == {1}, "some number got the same invitation twice"
    for log in logs:
        assert "7946" not in log.read_text()  # no phone number in any log
