"""The webhook benchmark still runs end to end, and loses nothing on the way (and the
survey page benchmark runs every view).

Why: a benchmark nobody runs rots, and a load generator that silently drops requests or a
server that silently drops answers makes every figure it prints a lie. This runs the real
harness (`benchmarks/webhook_load.py --quick`: `withus web` and the bare INSERT app under
gunicorn, 50 participants through the whole `fft` survey, signed requests) on SQLite and
checks the counts at the database. It does not judge the speed: that belongs to the
benchmark, on a quiet machine, not to CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "webhook_load.py"
PARTICIPANTS, WARMUP = 50, 4


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "figures.json"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("WITHUS_", "TWILIO_", "TELEGRAM_"))}
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--databases", "sqlite", "--json", str(out),
         "--max-seconds", "60"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    assert "ratio" in completed.stdout
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def _run(figures: dict[str, Any], endpoint: str) -> dict[str, Any]:
    (run,) = [r for r in figures["runs"] if r["endpoint"] == endpoint]
    return run


def _script(figures: dict[str, Any]) -> tuple[int, int]:
    """Messages per participant and the answers they leave, as the harness worked out."""
    script = figures["options"]["script"]
    return len(script["messages"]), script["answers"]


def test_the_script_takes_a_participant_through_the_whole_survey(
    figures: dict[str, Any],
) -> None:
    messages, answers = _script(figures)
    # fft: start, consent, two questions, quote permission, share-back (and maybe language)
    assert messages >= 6 and answers >= 2, figures["options"]["script"]


def test_every_request_was_answered_and_timed(figures: dict[str, Any]) -> None:
    messages, _answers = _script(figures)
    for endpoint in ("withus", "bare"):
        run = _run(figures, endpoint)
        assert run["requests"] == PARTICIPANTS * messages, run
        assert (run["errors"], run["log_errors"], run["incomplete"]) == (0, 0, False), run
        assert 0 < run["p50_ms"] <= run["p99_ms"] <= run["max_ms"], run
        assert run["per_second"] > 0 and run["peak_rss_mb"] > 0, run


def test_every_answer_was_stored_exactly_once(figures: dict[str, Any]) -> None:
    messages, answers = _script(figures)
    withus = _run(figures, "withus")
    everyone = PARTICIPANTS + WARMUP
    assert (withus["lost"], withus["duplicates"]) == (0, 0), withus
    assert withus["stored"] == withus["expected"] == everyone * answers, withus
    assert withus["detail"] == {
        "inbound_sent": everyone * messages, "inbound_stored": everyone * messages,
        "responses_completed": everyone, "participants": everyone,
    }  # fmt: skip
    bare = _run(figures, "bare")
    assert bare["stored"] == bare["expected"] == everyone * messages, bare
    assert (bare["lost"], bare["duplicates"]) == (0, 0), bare


def test_the_ratio_is_reported(figures: dict[str, Any]) -> None:
    ratio = figures["ratios"]["sqlite"]
    assert ratio == pytest.approx(
        _run(figures, "withus")["per_second"] / _run(figures, "bare")["per_second"]
    )


def test_the_survey_page_benchmark_runs_every_view(tmp_path: Path) -> None:
    """`benchmarks/export_benchmark.py` at a small size: it builds the survey in bulk,
    exports it and requests the survey page with every filter and the cross-tab, each
    a 200 (an answer filter also shows that it was applied). No timing is judged."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("WITHUS_", "TWILIO_", "TELEGRAM_"))}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "export_benchmark.py"), "--answers", "3000",
         "--formats", "csv", "--rounds", "1", "--results", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    result = json.loads((tmp_path / "exports-sqlite.json").read_text(encoding="utf-8"))
    assert result["answers"] == 3000
    assert [e["format"] for e in result["exports"]] == ["csv"]
    assert result["exports"][0]["rows"] == result["responses"]
    from benchmarks.export_benchmark import PAGE_VIEWS

    assert list(result["page"]["views"]) == [name for name, _path in PAGE_VIEWS]
    assert all(seconds > 0 for seconds in result["page"]["views"].values())
    for name, _path in PAGE_VIEWS:
        assert name in completed.stdout


def test_the_tally_cost_benchmark_runs_both_ways() -> None:
    """`benchmarks/tally_cost.py` records answers with and without the tallies' triggers
    (so the triggers it drops still exist by those names) and prints the difference."""
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "tally_cost.py"), "--answers", "30"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    assert completed.stdout.count("with the tallies' triggers") == 2
    assert "the triggers' cost" in completed.stdout
