"""Redaction throughput: messages per second on one core, on a realistic mix.

    python benchmarks/redaction_benchmark.py [--rounds 20] [--root DIR]

Every free-text answer is redacted in the web worker before it is stored, so this
is on the hot path. The mix is every message of both labelled corpora
(tests/data/redaction_corpus*.yaml): survey answers, clean sentences in English
and Welsh, and messages full of names, places, numbers and links, from one word
to a few lines, redacted with the corpora's organiser place lists, as a
deployment would. The figure is messages per CPU second of this one process
(time.process_time), so other work on the machine barely moves it.

--root DIR imports `surveys` from another checkout, to compare with an older
version (`git archive <commit> surveys | tar -x -C DIR`). Not a test: it prints.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CORPORA = sorted((ROOT / "tests" / "data").glob("redaction_corpus*.yaml"))


def load_mix() -> tuple[list[str], list[str]]:
    texts: list[str] = []
    places: list[str] = []
    for path in CORPORA:
        corpus = yaml.safe_load(path.read_text(encoding="utf-8"))
        texts += [item["text"] for item in corpus["items"]]
        places += corpus.get("places") or []
    return texts, places


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="passes over the mix")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to import surveys from")
    args = parser.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    texts, places = load_mix()

    start = time.process_time()
    from surveys.redaction import Redactor  # noqa: E402  (from --root)

    redactor = Redactor(places)
    redactor.redact("warm up: my mum Jean in Leeds")  # loads any word lists
    cold = time.process_time() - start

    per_round: list[float] = []
    slowest = 0.0
    for _ in range(args.rounds):
        begin = time.process_time()
        for text in texts:
            t0 = time.perf_counter()
            redactor.redact(text)
            slowest = max(slowest, time.perf_counter() - t0)
        per_round.append(time.process_time() - begin)
    best = min(per_round)
    median = statistics.median(per_round)
    chars = sum(len(t) for t in texts) / len(texts)
    print(f"Redaction throughput: {len(texts)} messages (mean {chars:.0f} characters), "
          f"{args.rounds} rounds, one core, surveys from {args.root}")
    print(f"{'messages/s (median round)':<28}{len(texts) / median:>10,.0f}")
    print(f"{'messages/s (best round)':<28}{len(texts) / best:>10,.0f}")
    print(f"{'mean per message':<28}{median / len(texts) * 1e6:>9,.0f} µs")
    print(f"{'slowest message':<28}{slowest * 1e3:>9.2f} ms")
    print(f"{'import and first call':<28}{cold * 1e3:>9.0f} ms")


if __name__ == "__main__":
    main()
