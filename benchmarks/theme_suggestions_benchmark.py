"""Suggested themes: how long grouping one question's written answers takes.

    python benchmarks/theme_suggestions_benchmark.py [--sizes 1000 10000] [--rounds 3]

The answers are made from tests/carers_answers.py: each is one of the carers' answers
there (respite, money, GP appointments, information, loneliness), with an opening and a
closing phrase drawn from a list so that few are identical, and one in eight is an odd one
out. The figure is the wall time of `suggest_themes` with an empty cache (the first
"Suggest themes" click on a question; the page after an accept or reject reuses the
grouping), best and median of the rounds, the CPU time of this process (steadier on a
busy machine), the time again with the grouping kept (the page after an accept or a
reject), and how many suggestions it made. Not a test:
it prints.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.services import theme_suggestions  # noqa: E402
from tests.carers_answers import CARERS_ANSWERS, ODD_ONES_OUT  # noqa: E402

OPENINGS = ["", "", "Honestly, ", "To be honest ", "For me, ", "I think ", "Mainly ",
            "As a carer, ", "Probably ", "Most of all "]
CLOSINGS = ["", "", " It has been a hard year.", " Thank you for asking.",
            " That would help us both.", " We are struggling.", " Please listen.",
            " It is the same for everyone I know.", " I am exhausted.", " Nothing else."]
ODD_WORDS = ["parking", "ramp", "garden", "bus", "hospital", "dog", "weather", "kitchen",
             "letter", "stairs", "train", "shopping", "phone", "window", "radio", "chair"]


def answers(count: int, seed: int = 1) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    groups = list(CARERS_ANSWERS.values())
    made: list[tuple[int, str]] = []
    for answer_id in range(1, count + 1):
        if rng.random() < 0.125:
            middle = rng.choice(ODD_ONES_OUT) if rng.random() < 0.5 else (
                "The " + " and the ".join(rng.sample(ODD_WORDS, 2)) + ".")
        else:
            middle = rng.choice(rng.choice(groups))
        made.append((answer_id, rng.choice(OPENINGS) + middle + rng.choice(CLOSINGS)))
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    import sklearn.cluster  # noqa: F401  (the import is paid once per process, not per click)
    print(f"importing scikit-learn: {time.perf_counter() - started:.2f} s")
    print("| answers | best | median | CPU (best) | grouping kept | suggestions "
          "| answers offered |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        made = answers(size)
        times: list[float] = []
        cpu: list[float] = []
        found = theme_suggestions.Suggestions(())
        for _ in range(args.rounds):
            theme_suggestions._cache.clear()
            started, started_cpu = time.perf_counter(), time.process_time()
            found = theme_suggestions.suggest_themes(made, {}, {}, {})
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        started = time.perf_counter()
        theme_suggestions.suggest_themes(made, {}, {}, {})  # as after an accept: cached
        cached = time.perf_counter() - started
        offered = sum(len(s.answer_ids) + s.more for s in found.suggestions)
        print(f"| {size:,} | {min(times):.2f} s | {statistics.median(times):.2f} s "
              f"| {min(cpu):.2f} s | {cached:.3f} s | {len(found.suggestions)} "
              f"| {offered:,} |")
        for s in found.suggestions:
            print(f"    {s.name!r}: {len(s.answer_ids) + s.more} answers, "
                  f"terms {', '.join(s.terms)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
