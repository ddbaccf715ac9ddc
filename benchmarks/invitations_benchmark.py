"""How long it takes to enqueue an invitation to 100,000 people, and how much memory.

"Enqueue" is what the scheduler's invitations job does when an invitation falls due:
claim the invitation, read the cohort, work out each person's send time from their
chosen time and quiet hours, and write one outbox row each, in one transaction
(`bot.services.outreach.queue_due_invitations`). Sending is paced separately (10/s on Twilio), so
this is the part that must be quick: it holds SQLite's write lock while it runs.

Target: at most 10 s for 100,000 people. Run:

    python benchmarks/invitations_benchmark.py [--people N]

SQLite always; PostgreSQL too when WITHUS_BENCH_POSTGRES_URL points at a server where the
user may create databases (`make benchmark` does this with pg_virtualenv). The contacts
are Telegram chat ids, so no phone number, real or made up, is ever involved. Peak memory
is measured twice: Python's own allocations during the enqueue (tracemalloc, in a second
run, because tracing slows it down), and the process's peak resident size.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, update  # noqa: E402

from bot.services import outreach  # noqa: E402
from bot.services.config import Settings  # noqa: E402
from bot.services.runtime import build  # noqa: E402
from storage.db import make_engine, normalise_url, upgrade  # noqa: E402
from storage.models import OutboxMessage, Participant  # noqa: E402
from storage.repositories.outreach import chunks  # noqa: E402
from tests.helpers import load_library  # noqa: E402

TARGET_SECONDS = 10.0
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def settings(url: str, instance: Path) -> Settings:
    return Settings(
        env="benchmark", instance_path=instance, database_url=url, secret_key="bench",
        pseudonym_key=b"benchmark-pseudonym-key-of-32-bytes!!",
        vault_keys=("dGVzdC1vbmx5LWtleS1mb3Itd2l0aHVzLXRlc3RzISE=",), log_format="text",
    )


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    name = f"withus_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield normalise_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def run(kind: str, url: str, people: int, instance: Path) -> dict[str, float]:
    upgrade(url)
    clock = Clock()
    runtime = build(settings(url, instance), clock=clock, channels={})
    try:
        load_library(runtime)
        chats = "chat_id\n" + "".join(f"{900_000_000_000 + n}\n" for n in range(people))
        started = time.perf_counter()
        report = outreach.import_contacts(runtime, chats, "telegram", "everyone")
        imported = time.perf_counter() - started
        assert report.imported == people, report
        # Four in ten chose a time, so send times vary as in real life.
        with runtime.sessions.begin() as session:
            ids = list(session.scalars(select(Participant.id).order_by(Participant.id)))
            for i, choice in enumerate(("morning", "evening", "night", "07")):
                for batch in chunks(ids[i::10]):
                    session.execute(update(Participant).where(Participant.id.in_(batch))
                                    .values(preferred_time=choice))

        def enqueue() -> float:
            outreach.schedule_invitation(runtime, "fft", "everyone")
            begin = time.perf_counter()
            queued = outreach.queue_due_invitations(runtime)
            took = time.perf_counter() - begin
            assert [q.messages for q in queued] == [people], queued
            clock.now += timedelta(seconds=1)
            return took

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        seconds = enqueue()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        enqueue()
        _current, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        with runtime.sessions() as session:
            rows = session.scalar(select(func.count()).select_from(OutboxMessage))
        assert rows == 2 * people
    finally:
        runtime.close()
    return {"import": imported, "enqueue": seconds, "traced_mb": traced_peak / 2**20,
            "rss_mb": rss_after / 1024, "rss_growth_mb": (rss_after - rss_before) / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    args = parser.parse_args()
    results: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as folder:
        results.append(("sqlite", run("sqlite", f"sqlite:///{folder}/bench.db", args.people,
                                      Path(folder))))
        server = os.environ.get("WITHUS_BENCH_POSTGRES_URL")
        if server:
            with postgres_database(server) as url:
                results.append(("postgresql", run("postgresql", url, args.people,
                                                  Path(folder))))
        else:
            print("(PostgreSQL skipped: set WITHUS_BENCH_POSTGRES_URL)")
    print(f"\nEnqueue one invitation to {args.people:,} people "
          f"(target: at most {TARGET_SECONDS:.0f} s)\n")
    print(f"{'database':<11} {'enqueue':>9} {'rows/s':>9} {'peak Python':>12} "
          f"{'peak RSS':>9} {'import':>8}")
    worst = 0.0
    for kind, r in results:
        worst = max(worst, r["enqueue"])
        print(f"{kind:<11} {r['enqueue']:>8.2f}s {args.people / r['enqueue']:>9,.0f} "
              f"{r['traced_mb']:>9.1f} MB {r['rss_mb']:>6.0f} MB {r['import']:>7.1f}s")
    print("\npeak Python: tracemalloc peak during an enqueue; peak RSS: the process's "
          "high-water mark so far; import: `withus contacts import` of the same people.")
    verdict = "met" if worst <= TARGET_SECONDS else "MISSED"
    print(f"target {verdict}: slowest enqueue {worst:.2f} s")
    return 0 if worst <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
