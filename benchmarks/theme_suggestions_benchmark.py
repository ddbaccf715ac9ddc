"""Suggested themes: how long grouping one question's written answers takes.

    python benchmarks/theme_suggestions_benchmark.py [--sizes 1000 10000] [--rounds 3]
    python benchmarks/theme_suggestions_benchmark.py --page 10000


The answers are made from tests/carers_answers.py: each is one of the carers' answers
there (respite, money, GP appointments, information, loneliness), with an opening and a
closing phrase drawn from a list so that few are identical, and one in eight is an odd one
out. The figure is the wall time of `suggest_themes` with an empty cache (the first
"Suggest themes" click on a question; the page after an accept or reject reuses the
grouping), best and median of the rounds, the CPU time of this process (steadier on a
busy machine), the time again with the grouping kept (the page after an accept or a
reject), and how many suggestions it made. Not a test:
it prints.

--page N seeds N such answers into a fresh SQLite database (the carers survey) and times
the survey page through the real app: an ordinary load, the first "Suggest themes" (the
grouping and, the first time in a worker, importing scikit-learn included) and the same
page again (the grouping kept, as after an accept).
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


def page_timings(count: int) -> None:
    import tempfile

    from bot.web.app import create_app
    from tests.browser.seed import Person, add_user, seed
    from tests.helpers import FakeClock, make_runtime

    folder = Path(tempfile.mkdtemp(prefix="withus-suggest-"))
    runtime = make_runtime(f"sqlite:///{folder / 'withus.db'}", folder, clock=FakeClock())
    try:
        started = time.perf_counter()
        seed(runtime, "carers", [Person({"missing": text, "time_for_me": 3})
                                 for _id, text in answers(count)])
        print(f"seeding {count:,} answers: {time.perf_counter() - started:.1f} s")
        add_user(runtime, "bench@example.org", "reviewer")
        client = create_app(runtime=runtime).test_client()
        login = client.get("/dashboard/login").get_data(as_text=True)
        csrf = login.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/dashboard/login", data={"email": "bench@example.org",
                                              "password": "correct horse battery staple",
                                              "csrf_token": csrf})
        client.get("/dashboard/surveys/carers")  # the first request sets things up
        print("| page | wall | CPU | size |")
        print("|---|---|---|---|")
        plain, asked = "/dashboard/surveys/carers", "/dashboard/surveys/carers?suggest=1"
        for label, url, forget in (
                ("ordinary load", plain, False),
                ("Suggest themes, the first in this worker (imports scikit-learn)", asked, True),
                ("Suggest themes (scikit-learn already imported)", asked, True),
                ("the page after an accept (grouping kept)", asked, False)):
            if forget:
                theme_suggestions._cache.clear()
            started, started_cpu = time.perf_counter(), time.process_time()
            reply = client.get(url)
            took, cpu = time.perf_counter() - started, time.process_time() - started_cpu
            assert reply.status_code == 200, reply.status_code
            print(f"| {label} | {took:.2f} s | {cpu:.2f} s | {len(reply.data) // 1024:,} KB |")
    finally:
        runtime.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--page", type=int, default=0,
                        help="time the survey page with this many answers instead")
    args = parser.parse_args()
    if args.page:
        page_timings(args.page)
        return 0
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
