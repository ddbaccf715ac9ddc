"""The send benchmark still runs, and sending concurrently loses and doubles nothing.

`benchmarks/send_throughput.py` times the scheduler against a slow (fake) provider; its
figures belong in benchmarks/README.md, not here. This runs it small, with several sends
at once, through the real Twilio client: it exits 1 if anyone got a message twice and
stops if anyone got none.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "send_throughput.py"


def test_the_send_benchmark_runs_and_every_invitation_arrives_once(
    capsys: object,
) -> None:
    spec = importlib.util.spec_from_file_location("send_throughput", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--people", "12", "--latency", "0.01", "--concurrency", "1", "4"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [(row[0], row[3]) for row in rows] == [("1", "0"), ("4", "0")]
