"""What the answer tallies' triggers (migration 1770) cost each answer a person sends.

    python benchmarks/tally_cost.py [--answers 20000] [--database URL]

Records answers the way the webhook does (`AnswerRepository.record`, one transaction and
commit per answer, a response of six answers each: choices, a multiple choice, a number
and written words, with one in ten changed after BACK) into a database migrated to the
head, twice: with the triggers, and with them dropped. Prints microseconds of CPU per
answer (this process, plus a local PostgreSQL server's backends read from /proc) and
wall time, and the difference the triggers make. Not a test: it prints figures.
PostgreSQL runs take `--database postgresql+psycopg://...` and drop its schema first:
never point it at real data.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [("where", "value", ["home", "care_home", "hospital"]),
             ("paid", "value", ["yes", "no"]),
             ("helps", "multiple", ["family", "breaks", "money", "none"]),
             ("hours", "number", None),
             ("time_for_me", "value", [1, 2, 3, 4, 5]),
             ("words", "free", None)]
DROP = {
    "sqlite": ["DROP TRIGGER answers_tally_insert", "DROP TRIGGER answers_tally_delete",
               "DROP TRIGGER answers_tally_update_old", "DROP TRIGGER answers_tally_update_new"],
    "postgresql": ["DROP TRIGGER answers_tally_insert ON answers",
                   "DROP TRIGGER answers_tally_delete ON answers",
                   "DROP TRIGGER answers_tally_update ON answers"],
}


def _server_cpu() -> float:
    """CPU seconds of the local PostgreSQL server's processes (0 if unreadable)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        if name.startswith("postgres"):
            total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick
    return total


def run(url: str, answers: int, with_triggers: bool) -> tuple[float, float]:
    """(CPU µs per answer, wall µs per answer)."""
    from sqlalchemy import text

    from storage.db import make_engine, session_factory, upgrade
    from storage.uow import UnitOfWork
    from storage.vault import ContactVault
    from tests.conftest_db import TEST_VAULT_KEY

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        engine = make_engine(url)
        with engine.begin() as c:
            c.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    if not with_triggers:
        with engine.begin() as c:
            for statement in DROP[engine.dialect.name]:
                c.execute(text(statement))
    sessions = session_factory(engine)
    vault = ContactVault([TEST_VAULT_KEY])
    rng = random.Random(7)
    now = datetime(2026, 10, 30, 12, tzinfo=UTC)
    people = answers // len(QUESTIONS) + 1
    with UnitOfWork(sessions, vault) as uow:
        for n in range(people):
            uow.participants.ensure(f"p{n:024d}", "sms", now)
        uow.commit()
    with UnitOfWork(sessions, vault) as uow:
        responses = [uow.responses.start(f"p{n:024d}", "carers", 1,
                                         rng.choice(["sms", "whatsapp", "telegram"]),
                                         rng.choice(["en", "cy"]), now)
                     for n in range(people)]
        uow.commit()
    cpu0, server0, wall0 = time.process_time(), _server_cpu(), time.perf_counter()
    done = 0
    for n, response_id in enumerate(responses):
        for qid, shape, options in QUESTIONS:
            if done >= answers:
                break
            for _again in range(2 if rng.random() < 0.1 else 1):  # BACK, then again
                value: object
                if shape == "value":
                    value = rng.choice(options or [])
                    label = str(value)
                elif shape == "multiple":
                    value = sorted(rng.sample(options or [], 2))
                    label = "; ".join(str(v) for v in value)
                elif shape == "number":
                    value = rng.randint(0, 80)
                    label = str(value)
                else:
                    value, label = rng.choice(["Nobody asks", "Night-time is hardest"]), ""
                with UnitOfWork(sessions, vault) as uow:
                    uow.answers.record(response_id, f"p{n:024d}", "carers", qid, "value",
                                       value, label, 1, now, free=shape == "free")
                    uow.commit()
            done += 1
    cpu = time.process_time() - cpu0 + (_server_cpu() - server0)
    wall = time.perf_counter() - wall0
    engine.dispose()
    return cpu / done * 1e6, wall / done * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=20_000)
    parser.add_argument("--database", help="a database URL (default: a temporary SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{folder}/tally.db"
        kind = url.split(":")[0].split("+")[0]
        print(f"{args.answers:,} answers, one transaction each, on {kind}", flush=True)
        results = {}
        for with_triggers in (False, True, False, True):  # alternate: a busy machine drifts
            cpu, wall = run(url, args.answers, with_triggers)
            results.setdefault(with_triggers, []).append((cpu, wall))
            label = "with the tallies' triggers" if with_triggers else "without them"
            print(f"  {label:28s} CPU {cpu:7.0f} µs/answer   wall {wall:7.0f} µs/answer",
                  flush=True)
        best = {k: min(v) for k, v in results.items()}
        print(f"  the triggers' cost: CPU {best[True][0] - best[False][0]:+.0f} µs per answer "
              f"({best[True][0] / best[False][0] - 1:+.0%}), best of two each")


if __name__ == "__main__":
    main()
