"""How fast the scheduler empties the outbox when the provider takes a while to answer.

Why: the fault harness's fakes answer at once, so they say nothing about the time a real
provider takes per request (Twilio: 100-300 ms). One send at a time, that time alone caps
the outbox at a few messages a second, below Twilio's own limit. This queues one
invitation to N people (SMS, through the real Twilio client) on a fresh SQLite database,
lets the fake Twilio API take `--latency` seconds per answer, and times the scheduler's
send loop (`Scheduler.send_step`) for each `WITHUS_SEND_CONCURRENCY` value. Provider rate
limits are set high so they don't hide the effect. Every message must arrive exactly once.

    python benchmarks/send_throughput.py                       # 100 people, 150 ms, 1/4/8
    python benchmarks/send_throughput.py --people 400 --latency 0.3 --concurrency 1 8 16

Exit status 1 when a message was lost or sent twice.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # tests.fakes is not installed
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from bot.services import outreach  # noqa: E402
from bot.services.runtime import build  # noqa: E402
from bot.services.scheduler import Scheduler  # noqa: E402
from channels.twilio import TwilioChannel  # noqa: E402
from storage.db import upgrade  # noqa: E402
from tests.fakes import FakeTwilioAPI  # noqa: E402
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN  # noqa: E402
from tests.helpers import NoLock, load_library, settings_for  # noqa: E402


def measure(people: int, latency: float, concurrency: int, workdir: Path) -> tuple[float, int]:
    """Seconds to send one invitation to `people`, and how many arrived more than once."""
    url = f"sqlite:///{workdir / f'c{concurrency}.db'}"
    upgrade(url)
    with FakeTwilioAPI(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        sms = TwilioChannel("sms", ACCOUNT_SID, AUTH_TOKEN, "https://withus.example",
                            from_number="+447700900000", api_base_url=twilio.base_url)
        settings = settings_for(url, workdir / f"instance{concurrency}", quiet_hours="",
                                rate_twilio=10_000.0, send_concurrency=concurrency)
        runtime = build(settings, clock=lambda: datetime.now(UTC), channels={"sms": sms})
        try:
            load_library(runtime)
            numbers = "phone\n" + "".join(f"+4420794{n:05d}\n" for n in range(people))
            outreach.import_contacts(runtime, numbers, "sms", "everyone")
            outreach.schedule_invitation(runtime, "fft", "everyone")
            outreach.queue_due_invitations(runtime)
            scheduler = Scheduler(runtime, purge=None, leadership=NoLock())  # type: ignore[arg-type]
            twilio.latency = latency
            started = time.perf_counter()
            while scheduler.send_step():
                pass
            seconds = time.perf_counter() - started
        finally:
            runtime.close()
        per_person = Counter(str(m["To"]) for m in twilio.messages)
    if len(per_person) != people:
        raise SystemExit(f"lost: {people - len(per_person)} of {people} people got nothing")
    return seconds, sum(n - 1 for n in per_person.values())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.15, help="seconds per provider answer")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    args = parser.parse_args(argv)
    print(f"Send {args.people} invitations over SMS; the provider answers in "
          f"{args.latency * 1000:.0f} ms")
    print(f"{'concurrency':>11} {'seconds':>8} {'messages/s':>11} {'doubled':>8}")
    doubled_any = False
    with tempfile.TemporaryDirectory(prefix="withus-send-") as tmp:
        for concurrency in args.concurrency:
            seconds, doubled = measure(args.people, args.latency, concurrency, Path(tmp))
            doubled_any |= doubled > 0
            print(f"{concurrency:>11} {seconds:>8.2f} {args.people / seconds:>11.1f} "
                  f"{doubled:>8}", flush=True)
    return 1 if doubled_any else 0


if __name__ == "__main__":
    sys.exit(main())
