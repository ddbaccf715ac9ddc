"""Background work: the outbox sender loop and periodic jobs, in exactly one process.

`withus scheduler` runs this in its own process in production; `withus serve` runs it in
a thread for local use. Web workers never start it, so there is one sender per
deployment, and due work lives in database rows that are claimed safely.
"""

from __future__ import annotations

import logging
import threading

from apscheduler.schedulers.background import BackgroundScheduler

from bot.runtime import Runtime

log = logging.getLogger(__name__)

IDLE_WAIT = 1.0  # seconds between outbox polls when nothing wakes the loop


class Scheduler:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._jobs = BackgroundScheduler(timezone="UTC")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._send_loop, name="withus-sender",
                                        daemon=True)
        self._thread.start()
        self._jobs.start()
        log.info("scheduler started")

    def stop(self) -> None:
        self._stop.set()
        self.runtime.wake_sender()
        if self._thread:
            self._thread.join(timeout=10)
        if self._jobs.running:
            self._jobs.shutdown(wait=False)
        log.info("scheduler stopped")

    def wait(self) -> None:
        """Block until stopped (Ctrl-C or SIGTERM in the scheduler process)."""
        while not self._stop.wait(0.5):
            pass

    def _send_loop(self) -> None:
        signal = self.runtime.outbox_signal
        while not self._stop.is_set():
            try:
                report = self.runtime.sender.run_once(limit=100)
                busy = report.sent + report.retried + report.dead + report.held > 0
            except Exception:
                log.exception("sender loop error")  # e.g. database restarting; try again
                busy = False
            if not busy:
                signal.wait(IDLE_WAIT)
                signal.clear()
