"""The fault harness, small: nothing lost and nothing doubled while processes die.

Why: the promise that an answer is stored once and a reply reaches the person once must
hold when a web worker is killed, PostgreSQL restarts and the scheduler is killed and
replaced, with providers resending and duplicating. `benchmarks/fault_harness.py` checks
that at scale (1,000 participants); this runs the same script with a few participants and
all three faults, so a change that breaks the promise fails `make test`. It starts its own
PostgreSQL cluster (Debian's initdb and pg_ctl), `withus web --workers 4`, `withus
scheduler` and the fake Twilio and Telegram APIs, all on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "fault_harness.py"
PARTICIPANTS = 30


def _postgres_installed() -> bool:
    return any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


@pytest.mark.slow
@pytest.mark.skipif(not _postgres_installed(), reason="needs Debian's postgresql (make test)")
def test_nothing_is_lost_or_doubled_through_a_worker_kill_a_database_restart_and_a_new_scheduler(
    tmp_path: Path,
) -> None:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("WITHUS_", "TWILIO_", "TELEGRAM_"))}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--participants", str(PARTICIPANTS), "--concurrency", "12",
         "--max-seconds", "120", "--drain-seconds", "120", "--keep-logs", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=420, check=False,
    )  # fmt: skip
    out = completed.stdout
    detail = out + completed.stderr[-3000:]
    assert completed.returncode == 0, detail
    figures = dict(re.findall(r"^(lost|duplicated)\s+(\d+)$", out, re.MULTILINE))
    assert figures == {"lost": "0", "duplicated": "0"}, detail
    # All three faults really happened, or the run proves nothing.
    assert "SIGKILL web worker" in out and "PostgreSQL stopped" in out, detail
    assert "SIGKILL scheduler, new one started" in out, detail
    answers = re.search(r"^answers\s+stored (\d+) of (\d+): lost 0, doubled 0", out, re.MULTILINE)
    assert answers and answers[1] == answers[2] and int(answers[2]) >= PARTICIPANTS, detail
    assert re.search(r"^5xx count\s+\d+ \(0 outside", out, re.MULTILINE), detail
    # Telegram cannot be asked whether a send cut off by the kill arrived, so that message
    # goes again: at most one per send in flight (WITHUS_SEND_CONCURRENCY, 4). Those are
    # the only deliveries beyond what the ledger expects.
    again = re.search(r"^sent again\s+(\d+)", out, re.MULTILINE)
    assert again and int(again[1]) <= 4, detail
    outbound = re.search(r"^outbound\s+delivered (\d+) of (\d+): missing 0, doubled 0", out,
                         re.MULTILINE)
    assert outbound and int(outbound[2]) > 0, detail
    assert int(outbound[1]) == int(outbound[2]) + int(again[1]), detail
