"""Background work, in exactly one active process: the outbox sender and the periodic jobs.

`withus scheduler` runs this in its own process in production; `withus serve` runs it in
threads for local use. Web workers never start it. Its work:

* the outbox sender loop: replies first, then invitations, reminders and share-backs,
  paced per provider (`bot.services.sender`);
* due invitations become outbox rows (`bot.services.outreach.queue_due_invitations`), every few
  seconds;
* due reminders are sent, outside each person's quiet hours (`send_due_reminders`);
* messages left 'sending' by a crashed sender are put back;
* the retention purge (`bot.services.retention.purge`);
* voice notes and photos fetched and stored, and deleted files removed from the media
  store (`bot.services.media_jobs.MediaJob`), every few seconds; once an hour, files no
  record points to (left by a crash between writing and recording one).
* safeguarding email alerts, when WITHUS_SMTP_URL is set (`bot.services.safeguarding`).

**Exactly one active scheduler.** Pacing only holds if one process sends, so a scheduler
first becomes the leader: on PostgreSQL by holding a session-level advisory lock, on
SQLite by holding an exclusive `flock` on a file next to the database (SQLite deployments
are one machine, so only one scheduler may run there, which the file lock enforces). A
second scheduler started by mistake, or on purpose as a standby, waits and polls the lock
every second; when the leader dies, even by kill -9, its database session (or file
descriptor) closes, the lock is freed, and the standby takes over within seconds. If the
leader loses its database connection it stops sending at once and becomes a standby.

Leadership is the first guard, not the only one. All due work lives in database rows that
are claimed safely (FOR UPDATE SKIP LOCKED on PostgreSQL, the single writer on SQLite), so
even two active schedulers would never send one message twice; they would only exceed the
provider's rate together.
"""

from __future__ import annotations

import logging
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from bot.services.clock import utcnow
from bot.services.outreach import queue_due_invitations, send_due_reminders
from bot.services.runtime import Runtime
from bot.services.safeguarding import SafeguardingSettings, email_alerts
from bot.services.sandbox import release_due
from bot.services.sender import SendReport
from storage.repositories.outreach import OutreachRepository
from storage.uow import UnitOfWork

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, so no protection on SQLite
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

PurgeFn = Callable[[Runtime, datetime], Mapping[str, int]]
RemindFn = Callable[[str], list[int]]

#: The PostgreSQL advisory lock the active scheduler holds ("WithUsSc" in ASCII); distinct
#: from the lock that serialises migrations.
SCHEDULER_LOCK_KEY = 0x5769_7468_5573_5363
IDLE_WAIT = 1.0  # seconds between outbox polls when nothing wakes the loop
#: Messages claimed per pass: about a second's worth at Twilio's 10/s, so a reply that
#: arrives during a big invitation run waits at most about a second.
SEND_BATCH = 10
#: Replies per pass. A pass ends by waiting for chats that have had their burst (see
#: Sender._deliver_all), so a larger batch shares that wait among more people.
REPLY_BATCH = 50
#: A message still 'sending' this long after it was claimed had a sender that died (a
#: live sender settles its own interrupted passes; see Sender.settle). Requeuing risks one
#: duplicate, the message that was mid-send when the process died, so only rows clearly
#: past any real send (a pass of 100 at 10/s takes 10 s) are put back. The fault harness
#: found the old 10-minute cut-off left people waiting for their next question.
STUCK_AT_TAKEOVER = timedelta(minutes=2)
STUCK_WHILE_RUNNING = timedelta(minutes=10)
#: How often the active sender settles other senders' unfinished claims (`Sender.recover`),
#: and how old they must be: a console or a deposed leader may still finish younger ones.
#: At takeover it settles all of them at once, without waiting.
RECOVER_EVERY = timedelta(seconds=30)
RECOVER_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class Intervals:
    """Seconds between runs of each job, and how often leadership is checked."""

    invitations: float = 5.0
    reminders: float = 60.0
    requeue: float = 600.0
    purge: float = 3600.0
    media: float = 2.0
    media_orphans: float = 3600.0
    safeguarding_email: float = 15.0
    standby_poll: float = 1.0
    heartbeat: float = 5.0


# --- Leadership ------------------------------------------------------------------------------


class Leadership(ABC):
    """A lock that at most one scheduler holds at a time, and that dies with its holder."""

    @abstractmethod
    def try_acquire(self) -> bool:
        """Take the lock if it is free; True if this process now holds it."""

    @abstractmethod
    def still_held(self) -> bool:
        """False once the lock may have been lost (e.g. the database connection died)."""

    @abstractmethod
    def release(self) -> None:
        """Let go (a no-op unless held)."""

    @abstractmethod
    def held_elsewhere(self) -> bool:
        """Whether some other process holds it: is a scheduler running?"""


class AdvisoryLock(Leadership):
    """A PostgreSQL session-level advisory lock on a dedicated connection.

    The lock lives as long as the session: when the process dies the server closes the
    session and frees it, with no lease to expire. AUTOCOMMIT keeps the connection from
    sitting "idle in transaction".
    """

    def __init__(self, engine: Engine, key: int = SCHEDULER_LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._connection: Connection | None = None
        self._held = False

    def _connect(self) -> Connection:
        if self._connection is None:
            self._connection = self._engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
        return self._connection

    def _drop(self) -> None:
        connection, self._connection, self._held = self._connection, None, False
        if connection is not None:
            try:
                connection.invalidate()
                connection.close()
            except SQLAlchemyError:
                pass

    def try_acquire(self) -> bool:
        if self._held:
            return True
        try:
            got = self._connect().scalar(text("SELECT pg_try_advisory_lock(:key)"),
                                         {"key": self._key})
        except SQLAlchemyError:
            log.warning("scheduler lock: database unavailable")
            self._drop()
            return False
        self._held = bool(got)
        return self._held

    def still_held(self) -> bool:
        if not self._held or self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            self._drop()
            return False
        return True

    def release(self) -> None:
        if self._connection is None:
            return
        try:
            if self._held:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                         {"key": self._key})
            self._connection.close()
        except SQLAlchemyError:
            self._drop()
        self._connection, self._held = None, False

    def held_elsewhere(self) -> bool:
        key = self._key
        with self._engine.connect() as connection:
            found = connection.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                     " AND classid::bigint = :high AND objid::bigint = :low"
                     " AND objsubid = 1 AND pid <> pg_backend_pid()"),
                {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},
            )
        return bool(found)


class FileLock(Leadership):
    """An exclusive flock on a file: for SQLite, where everything runs on one machine.

    The kernel releases it when the holder's process ends, however it ends.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def _lock(self) -> int | None:
        if fcntl is None:
            log.warning("no file locking on this system: run only one scheduler")
            return os.open(os.devnull, os.O_RDONLY)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd

    def try_acquire(self) -> bool:
        if self._fd is None:
            self._fd = self._lock()
            if self._fd is not None:
                os.ftruncate(self._fd, 0)
                os.write(self._fd, f"{os.getpid()}\n".encode())  # for a curious operator
        return self._fd is not None

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def held_elsewhere(self) -> bool:
        if self._fd is not None:
            return False
        fd = self._lock()
        if fd is None:
            return True
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        return False


def leadership_for(runtime: Runtime) -> Leadership:
    """The advisory lock on PostgreSQL; a lock file beside the database on SQLite."""
    url = runtime.engine.url
    if url.get_backend_name() == "postgresql":
        return AdvisoryLock(runtime.engine)
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        return FileLock(Path(database + ".scheduler-lock"))
    return FileLock(runtime.settings.instance_path / "scheduler.lock")


# --- The scheduler ---------------------------------------------------------------------------


def _retention_purge(runtime: Runtime, now: datetime) -> Mapping[str, int]:
    from bot.services.retention import purge

    return purge(runtime, now)


class Scheduler:
    """Becomes the active scheduler (or waits as a standby), then sends and runs the jobs.

    `purge` and `remind` are injectable so tests can run the jobs without the privacy
    module or a real service; pass `purge=None` to run no purge at all.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        purge: PurgeFn | None = _retention_purge,
        remind: RemindFn | None = None,
        leadership: Leadership | None = None,
        intervals: Intervals | None = None,
    ) -> None:
        self.runtime = runtime
        self.purge = purge
        self.remind = remind
        self.leadership = leadership or leadership_for(runtime)
        self.intervals = intervals or Intervals()
        #: Set while this process is the active scheduler (and until its work has stopped).
        self.leading = threading.Event()
        self._stop = threading.Event()
        self._sending = threading.Event()
        self._leader_thread: threading.Thread | None = None
        self._sender_thread: threading.Thread | None = None
        self._jobs: BackgroundScheduler | None = None
        self._media: Any = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Return at once; leadership is sought (and held) in a background thread."""
        self._leader_thread = threading.Thread(target=self._lead, name="withus-leadership",
                                               daemon=True)
        self._leader_thread.start()
        log.info("scheduler started")

    def stop(self) -> None:
        self._stop.set()
        self._sending.clear()
        self.runtime.wake_sender()
        if self._leader_thread:
            self._leader_thread.join(timeout=15)
        log.info("scheduler stopped")

    def wait(self) -> None:
        """Block until stopped (Ctrl-C or SIGTERM in the scheduler process)."""
        while not self._stop.wait(0.5):
            pass

    def _lead(self) -> None:
        standing_by = False
        try:
            while not self._stop.is_set():
                if not self.leadership.try_acquire():
                    if not standing_by:
                        # try_acquire also fails while the database is down (and logs it).
                        log.info("the scheduler lock is held elsewhere or unavailable; "
                                 "standing by")
                        standing_by = True
                    self._stop.wait(self.intervals.standby_poll)
                    continue
                standing_by = False
                self._take_over()
                try:
                    while not self._stop.wait(self.intervals.heartbeat):
                        if not self.leadership.still_held():
                            log.error("lost the scheduler lock; stopping work and standing by")
                            break
                finally:
                    self._step_down()
        except Exception:
            log.exception("scheduler leadership failed")
        finally:
            self.leadership.release()

    def _take_over(self) -> None:
        log.info("this scheduler is now the active one")
        # Before this leader sends anything: the last leader's claims go back (or, for the
        # one it had in flight, are confirmed with the provider) without waiting.
        self._run("recover", lambda _now: self.runtime.sender.recover())
        self._run("requeue", lambda now: self.requeue_stuck(now, STUCK_AT_TAKEOVER))
        self._sending.set()
        self._sender_thread = threading.Thread(target=self._send_loop, name="withus-sender",
                                               daemon=True)
        self._sender_thread.start()
        jobs = BackgroundScheduler(timezone="UTC")
        for name, (seconds, job) in self.jobs().items():
            jobs.add_job(self._run, "interval", args=(name, job), seconds=seconds, id=name,
                         max_instances=1, coalesce=True, next_run_time=utcnow())
        jobs.start()
        self._jobs = jobs
        self.leading.set()

    def _step_down(self) -> None:
        self._sending.clear()
        self.runtime.wake_sender()
        if self._jobs is not None and self._jobs.running:
            self._jobs.shutdown(wait=False)
        self._jobs = None
        if self._sender_thread is not None:
            self._sender_thread.join(timeout=30)
            self._sender_thread = None
        self.leading.clear()  # only now: nothing of this leader's is still running

    # -- the work -------------------------------------------------------------------------------

    def jobs(self) -> dict[str, tuple[float, Callable[[datetime], Any]]]:
        """Each periodic job: (seconds between runs, function of now)."""
        every = self.intervals
        jobs: dict[str, tuple[float, Callable[[datetime], Any]]] = {
            "invitations": (every.invitations,
                            lambda now: queue_due_invitations(self.runtime, now)),
            # Rehearsals go at once, not after quiet hours (bot/services/sandbox.py).
            "sandbox": (every.invitations, lambda _now: release_due(self.runtime)),
            "reminders": (every.reminders,
                          lambda now: send_due_reminders(self.runtime, now, self.remind)),
            "requeue": (every.requeue,
                        lambda now: self.requeue_stuck(now, STUCK_WHILE_RUNNING)),
        }
        if SafeguardingSettings.from_settings(self.runtime.settings).smtp_url:
            jobs["safeguarding email"] = (every.safeguarding_email, lambda now: email_alerts(
                self.runtime.sessions, self.runtime.vault, self.runtime.settings, now))
        if self.purge is not None:
            purge = self.purge
            jobs["purge"] = (every.purge, lambda now: purge(self.runtime, now))
        media = self._media_job()
        jobs["media"] = (every.media, lambda _now: media.run_once())
        jobs["media-orphans"] = (every.media_orphans, lambda _now: media.delete_orphans())
        return jobs

    def _media_job(self) -> Any:
        """One media job for this scheduler: its fetching and orphan sweeps never overlap."""
        if self._media is None:
            from bot.services.media_jobs import MediaJob

            self._media = MediaJob(self.runtime)
        return self._media

    def run_jobs_once(self) -> None:
        """Run every periodic job now, in this thread (tests, and `withus serve` at start)."""
        for name, (_seconds, job) in self.jobs().items():
            self._run(name, job)

    def _run(self, name: str, job: Callable[[datetime], Any]) -> None:
        try:
            job(self.runtime.clock())
        except Exception:  # the next run tries again; a job never kills the scheduler
            log.exception("scheduled job failed", extra={"job": name})

    def requeue_stuck(self, now: datetime, older_than: timedelta) -> int:
        with UnitOfWork(self.runtime.sessions, self.runtime.vault) as uow:
            count = uow.outbox.requeue_stuck(now - older_than)
            uow.commit()
        if count:
            log.warning("requeued messages a sender left unfinished", extra={"count": count})
            self.runtime.wake_sender()
        return count

    def send_step(self) -> bool:
        """One pass of the sender: due replies first, then a batch of anything due.

        True when it did something, so the loop goes straight on.
        """
        sender = self.runtime.sender
        with UnitOfWork(self.runtime.sessions, self.runtime.vault) as uow:
            replies = OutreachRepository(uow.session).due_reply_ids(self.runtime.clock(),
                                                                    REPLY_BATCH)
        first = sender.deliver(replies) if replies else SendReport()
        rest = sender.run_once(limit=SEND_BATCH)
        return any((first.sent, first.retried, first.dead, first.held,
                    rest.sent, rest.retried, rest.dead, rest.held))

    def _send_loop(self) -> None:
        signal = self.runtime.outbox_signal
        recovered_at = self.runtime.clock()
        while self._sending.is_set():
            try:
                if self.runtime.clock() - recovered_at >= RECOVER_EVERY:
                    recovered_at = self.runtime.clock()
                    self.runtime.sender.recover(RECOVER_GRACE)  # here: no send of ours in flight
                busy = self.send_step()
            except Exception:
                log.exception("sender loop error")  # e.g. database restarting; try again
                busy = False
            if not busy:
                signal.wait(IDLE_WAIT)
                signal.clear()
