"""Exports and the survey page over a million answers: time and peak memory.

    python benchmarks/export_benchmark.py [--answers 1000000] [--formats csv,xlsx,jsonl]
                                          [--database URL [--reuse]] [--keep]
                                          [--rounds 3] [--profile VIEW]

Builds a database (SQLite in a temporary folder unless --database or
WITHUS_BENCH_POSTGRES_URL names a PostgreSQL server) holding the `carers` survey from
the library with about --answers answers, stored in bulk through SQLAlchemy Core. Then:

* each export format runs in its own child process (`withus export`'s code path), and
  its wall time and peak RSS are read from os.wait4 for that child alone;
* the survey page is requested through the Flask test client as a signed-in reviewer,
  unfiltered and with each filter (`PAGE_VIEWS`), three times each, and the median is
  reported, with the time of the unfiltered page's SQL alone. Beside each time is the CPU
  it took: this process's (which on SQLite includes the database's work) plus, for a local
  PostgreSQL server whose /proc entries are readable, the server's. On a shared machine
  the CPU figure is the steadier one.

Targets (issue 5): CSV export within 30 s and 250 MB; the survey page within 1 s, with
counts done in SQL. Not a test: it prints figures, and writes them to
benchmarks/results/exports-<database>.json (ignored by git; --results names another folder).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SURVEY = "carers"
WORDS = ["Respite is hard to get", "The council never called back", "My GP listens",
         "I have no time for myself", "Money is the worst part", "Night-time is hardest",
         "The carers group saves me", "Nobody asks how I am", "=SUM(1,2)",
         "I would like a break once a month", "Transport to appointments"]
TARGETS = {"csv": (30.0, 250.0)}


def _settings(url: str, instance: Path) -> Any:
    from bot.services.config import Settings
    from tests.conftest_db import TEST_VAULT_KEY

    return Settings(env="benchmark", instance_path=instance, database_url=url,
                    secret_key="benchmark", pseudonym_key=b"benchmark-pseudonym-key-32-bytes!!",
                    vault_keys=(TEST_VAULT_KEY,))


def build(url: str, instance: Path, answers: int, seed: int = 5) -> dict[str, float]:
    """Create and fill the database; returns how long each step took."""
    from sqlalchemy import insert

    from bot.services.runtime import build as build_runtime
    from storage.db import upgrade
    from storage.models import Answer, Participant, Response
    from surveys.model import QuestionType
    from tests.helpers import load_library

    started = time.perf_counter()
    upgrade(url)
    runtime = build_runtime(_settings(url, instance))
    load_library(runtime)
    survey = runtime.catalog.get().surveys[SURVEY]
    questions = [q for q in survey.questions if q.is_answerable]
    rng = random.Random(seed)
    base = datetime(2026, 9, 1, tzinfo=UTC)
    channels = ["sms", "sms", "sms", "whatsapp", "telegram"]
    batch = 5000
    written = answer_id = responses = 0
    with runtime.engine.begin() as connection:
        while written < answers:
            people, rows, given = [], [], []
            for n in range(responses, responses + batch):
                if written >= answers:
                    break
                responses += 1
                pid = f"p{n:024d}"
                channel = rng.choice(channels)
                at = base + timedelta(minutes=n)
                completed = rng.random() < 0.85
                people.append({"id": pid, "channel": channel, "created_at": at})
                rows.append({"id": n + 1, "participant_id": pid, "survey_id": SURVEY,
                             "survey_version": survey.version, "channel": channel,
                             "language": "cy" if n % 10 == 0 else "en",
                             "status": "completed" if completed else "consented",
                             "started_at": at, "consented_at": at,
                             "completed_at": at + timedelta(minutes=4) if completed else None,
                             "updated_at": at, "quote_ok": rng.random() < 0.5})
                asked = questions if completed else questions[:rng.randrange(len(questions))]
                for q in asked:
                    if written >= answers:
                        break
                    value: Any
                    if q.type is QuestionType.FREE_TEXT:
                        value, label = rng.choice(WORDS), ""
                    elif q.type is QuestionType.MULTIPLE_CHOICE:
                        picked = rng.sample(q.options, rng.randint(1, 3))
                        value = [o.code for o in q.options if o in picked]
                        label = "; ".join(o.label.get() for o in q.options if o in picked)
                    elif q.type is QuestionType.SCALE:
                        option = rng.choice(q.options)
                        value, label = int(option.code), option.label.get()
                    else:
                        option = rng.choice(q.options)
                        value, label = option.code, option.label.get()
                    answer_id += 1
                    written += 1
                    given.append({"id": answer_id, "response_id": n + 1, "participant_id": pid,
                                  "survey_id": SURVEY, "question_id": q.id, "kind": "value",
                                  "value": value, "label": label,
                                  "survey_version": survey.version, "answered_at": at,
                                  "free": q.type is QuestionType.FREE_TEXT,
                                  # the response's facets, as AnswerRepository.record copies
                                  "channel": channel, "language": rows[-1]["language"],
                                  "started_at": at, "is_test": False})
            connection.execute(insert(Participant), people)
            connection.execute(insert(Response), rows)
            if given:
                connection.execute(insert(Answer), given)
    if runtime.engine.dialect.name == "postgresql":
        # Loaded 5,000 answers a statement, the tallies' rows were each rewritten
        # hundreds of times faster than autovacuum frees the old versions: they would
        # stay several times the size of their live rows (89 and 503 MB against 6 and
        # 100 MB at a million answers). Answers that arrive one at a time, vacuumed after
        # every 1 % changed (migration 1780), keep them near live size, as a rewrite
        # does here; then ANALYZE, as autovacuum would before long.
        with runtime.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM FULL answer_tallies, answer_pair_tallies")
            connection.exec_driver_sql("ANALYZE")
    runtime.close()
    return {"responses": responses, "answers": written,
            "build_s": round(time.perf_counter() - started, 1)}


def export_child(url: str, instance: Path, fmt: str, output: Path) -> None:
    """Run in the child process: the export exactly as `withus export` does it."""
    from bot.services.runtime import build as build_runtime
    from storage.exports import ExportPlan, export, load_versions

    runtime = build_runtime(_settings(url, instance))
    with runtime.sessions() as session:
        plan = ExportPlan(load_versions(session, SURVEY))
    with output.open("wb") as out:
        rows = export(runtime.sessions, plan, fmt, out,  # type: ignore[arg-type]
                      xlsx_path=output if fmt == "xlsx" else None)
    runtime.close()
    print(json.dumps({"rows": rows}))


def measure_export(url: str, instance: Path, fmt: str, folder: Path) -> dict[str, Any]:
    output = folder / f"export.{fmt}"
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", fmt, "--database", url,
         "--instance", str(instance), "--output", str(output)],
        stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    out = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{fmt} export failed ({child.returncode})")
    rows = json.loads(out.strip().splitlines()[-1])["rows"]
    peak_mb = usage.ru_maxrss / 1024  # Linux reports kilobytes
    return {"format": fmt, "rows": rows, "seconds": round(seconds, 1),
            "peak_rss_mb": round(peak_mb, 1), "size_mb": round(output.stat().st_size / 2**20, 1)}


#: The survey page's views: the whole survey and each filter a reader can choose. Each
#: narrowed view is worked out together with the rest of its partition (every channel,
#: every language, the days before and after a date range), so this is what it costs.
PAGE_VIEWS: list[tuple[str, str]] = [
    ("unfiltered", ""),
    ("date range", "?from=2026-10-01&to=2026-10-31"),
    ("channel", "?channel=whatsapp"),
    ("language", "?language=cy"),
    ("channel and language", "?channel=sms&language=en"),
    ("theme", "?theme={theme}"),
    ("another answer", "?answer=hours:h20_49"),
    ("answer and channel", "?answer=hours:h20_49&channel=sms"),
    ("cross-tab", "/crosstab?rows=hours&columns=helps"),
    ("a ticked option", "?answer=helps:ticked:family"),
    ("cross-tab in a channel", "/crosstab?rows=hours&columns=helps&channel=whatsapp"),
    ("summary of a channel", "/summary?channel=whatsapp"),
]
THEME = "Respite"


def add_themes(url: str, instance: Path, every: int = 50) -> int:
    """A theme with every `every`th written answer tagged (once; kept when --reuse)."""
    from sqlalchemy import select

    from bot.services.runtime import build as build_runtime
    from storage.models import Answer, AnswerTheme, Theme
    from storage.repositories.dashboard import DashboardRepository
    from surveys.model import QuestionType

    runtime = build_runtime(_settings(url, instance))
    survey = runtime.catalog.get().surveys.get(SURVEY)
    if survey is None:  # a reused database: the library is in it, load it again
        from tests.helpers import load_library

        load_library(runtime)
        survey = runtime.catalog.get().surveys[SURVEY]
    free = [q.id for q in survey.questions if q.type is QuestionType.FREE_TEXT]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with runtime.sessions() as session:
        existing = session.scalar(select(Theme.id).where(Theme.survey_id == SURVEY,
                                                         Theme.name == THEME))
        if existing is None:
            theme_id = DashboardRepository(session).create_theme(SURVEY, THEME, None, now)
            ids = session.scalars(
                select(Answer.id).where(Answer.survey_id == SURVEY,
                                        Answer.question_id.in_(free), Answer.kind == "value")
                .order_by(Answer.id)).all()
            session.execute(AnswerTheme.__table__.insert(), [
                {"answer_id": answer_id, "theme_id": theme_id, "tagged_at": now}
                for answer_id in ids[::every]])
            session.commit()
            existing = theme_id
    runtime.close()
    return existing


def _server_cpu(engine: Any) -> Any:
    """A function returning the CPU seconds a local PostgreSQL server has used so far (its
    backends, and the parallel workers it has reaped), or None where that is not readable
    (SQLite: the work is in this process; a remote server)."""
    if engine.dialect.name != "postgresql":
        return None
    try:
        with engine.connect() as connection:
            folder = connection.exec_driver_sql("SHOW data_directory").scalar_one()
        postmaster = int((Path(folder) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    tick = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(entry.name), int(fields[1])
            if pid == postmaster:  # its own, and its children's that have exited
                total += sum(int(f) for f in fields[11:15])
            elif ppid == postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / tick

    try:
        used()
    except OSError:
        return None
    return used


def _print_statements(engine: Any, request: Any, most: int = 8) -> None:
    """Run `request` once and print its slowest SQL statements, with their times."""
    from sqlalchemy import event

    timings: list[tuple[float, str]] = []

    def before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        conn.info.setdefault("started", []).append(time.perf_counter())

    def after(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        timings.append((time.perf_counter() - conn.info["started"].pop(), statement))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        request()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    print(f"{len(timings)} statements, {sum(t for t, _ in timings):.3f} s in all; slowest:")
    for seconds, statement in sorted(timings, reverse=True)[:most]:
        print(f"--- {seconds:.3f} s\n{' '.join(statement.split())[:900]}")


def measure_page(url: str, instance: Path, theme_id: int, rounds: int = 3,
                 profile: str = "") -> dict[str, Any]:
    """The survey page for a signed-in reviewer, end to end, unfiltered and with each
    filter (median of `rounds`), and the SQL of the unfiltered counts alone."""
    from bot.dashboard.results import funnel, question_results
    from bot.services.runtime import build as build_runtime
    from storage.repositories.dashboard import DashboardRepository
    from surveys.suppression import Suppressor
    from tests.browser.seed import add_user
    from tests.helpers import dashboard_client

    runtime = build_runtime(_settings(url, instance))
    if SURVEY not in runtime.catalog.get().surveys:
        from tests.helpers import load_library

        load_library(runtime)
    email = f"bench{time.time_ns()}@example.org"
    add_user(runtime, email, "reviewer")
    client = dashboard_client(runtime, signed_in_as=email)
    client.get(f"/dashboard/surveys/{SURVEY}")  # not timed: templates compile, caches fill
    server = _server_cpu(runtime.engine)
    views: dict[str, float] = {}
    views_cpu: dict[str, float] = {}
    for name, query in PAGE_VIEWS:
        path = f"/dashboard/surveys/{SURVEY}" + query.format(theme=theme_id)
        if profile and name == profile:
            import cProfile
            import pstats

            with cProfile.Profile() as profiler:
                client.get(path)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
            _print_statements(runtime.engine, lambda p=path: client.get(p))
        timings, cpu = [], []
        for _ in range(rounds):
            started, cpu_started = time.perf_counter(), time.process_time()
            server_started = server() if server else 0.0
            reply = client.get(path)
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started
                       + (server() - server_started if server else 0.0))
            assert reply.status_code == 200, (path, reply.status_code)
        if "answer=" in path:  # the filter was understood, not ignored
            assert 'id="answer-view"' in reply.get_data(as_text=True), path
        views[name] = round(statistics.median(timings), 3)
        views_cpu[name] = round(statistics.median(cpu), 3)
        print(f"  {name:24} {views[name]:6.3f} s   (CPU {views_cpu[name]:.3f} s)", flush=True)
    survey = runtime.catalog.get().surveys[SURVEY]
    sql = []
    for _ in range(rounds):
        started = time.perf_counter()
        with runtime.sessions() as session:
            repo = DashboardRepository(session)
            funnel(repo, survey, Suppressor())
            question_results(repo, survey, Suppressor())
        sql.append(time.perf_counter() - started)
    listing = time.perf_counter()
    client.get("/dashboard/")
    listing_s = time.perf_counter() - listing
    runtime.close()
    return {"views": views, "views_cpu": views_cpu, "survey_page_s": views["unfiltered"],
            "counts_sql_s": round(statistics.median(sql), 3),
            "surveys_list_s": round(listing_s, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,jsonl,xlsx")
    parser.add_argument("--database", default=os.environ.get("WITHUS_BENCH_POSTGRES_URL", ""))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--reuse", action="store_true",
                        help="the --database given already holds a benchmark survey: "
                             "skip building it")
    parser.add_argument("--rounds", type=int, default=3, help="requests per view (median)")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results",
                        help="folder for exports-<database>.json")
    parser.add_argument("--profile", default="",
                        help="print a cProfile profile of one view's request, by name, "
                        "and its slowest SQL statements")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        export_child(args.database, Path(args.instance), args.child, Path(args.output))
        return

    folder = Path(tempfile.mkdtemp(prefix="withus-export-bench-"))
    url = args.database or f"sqlite:///{folder / 'bench.db'}"
    kind = url.split(":", 1)[0].split("+")[0]
    if args.reuse:
        if not args.database:
            raise SystemExit("--reuse needs --database (or WITHUS_BENCH_POSTGRES_URL)")
        from sqlalchemy import create_engine, func, select

        from storage.models import Answer

        engine = create_engine(url)
        with engine.connect() as connection:
            count = connection.scalar(select(func.count()).select_from(Answer))
        engine.dispose()
        built = {"responses": None, "answers": count, "build_s": 0.0}
        print(f"reusing {count:,} answers on {kind}", flush=True)
    else:
        if args.database:  # a fresh schema on the server given
            from storage.db import downgrade

            downgrade(url, "base")
        print(f"building {args.answers:,} answers on {kind} in {folder} ...", flush=True)
        built = build(url, folder, args.answers)
        print(f"  {built['answers']:,} answers in {built['responses']:,} responses, "
              f"{built['build_s']} s", flush=True)
    theme_id = add_themes(url, folder)
    results: dict[str, Any] = {"database": kind, **built, "exports": []}
    formats = [f for f in args.formats.split(",") if f]
    if formats:
        print(f"\n{'format':7} {'rows':>9} {'seconds':>8} {'peak RSS MB':>12} {'file MB':>8}")
    for fmt in formats:
        figures = measure_export(url, folder, fmt, folder)
        results["exports"].append(figures)
        verdict = ""
        if fmt in TARGETS:
            seconds, mb = TARGETS[fmt]
            ok = figures["seconds"] <= seconds and figures["peak_rss_mb"] <= mb
            verdict = f"  target <= {seconds:.0f} s, <= {mb:.0f} MB: {'met' if ok else 'MISSED'}"
        print(f"{fmt:7} {figures['rows']:>9,} {figures['seconds']:>8} "
              f"{figures['peak_rss_mb']:>12} {figures['size_mb']:>8}{verdict}", flush=True)
    print(f"\nsurvey page on {kind}, {built['answers']:,} answers (reviewer, whole request, "
          f"median of {args.rounds}; CPU: this process and a local database server's):",
          flush=True)
    page = measure_page(url, folder, theme_id, args.rounds, args.profile)
    results["page"] = page
    slowest = max(page["views"].values())
    print(f"  slowest view: {slowest} s; target <= 1 s: {'met' if slowest <= 1 else 'MISSED'}")
    print(f"counts in SQL alone (funnel and every question): {page['counts_sql_s']} s")
    print(f"surveys list:                                    {page['surveys_list_s']} s")
    out = args.results
    out.mkdir(parents=True, exist_ok=True)
    (out / f"exports-{kind}.json").write_text(json.dumps(results, indent=2))
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
