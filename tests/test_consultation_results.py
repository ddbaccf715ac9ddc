"""Results, opinion groups, the draft response and the exports, with small numbers hidden.

The big test runs the example consultation with 200 simulated people through the real
service path (SQLite, once per module), as the issue asks; smaller ones check the same
code on both databases and the pure parts on their own.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from docx import Document
from sqlalchemy import Engine, select

from bot.cli.consultation import consultation as consultation_command
from bot.services.consultation import (
    Results,
    bounds,
    cluster_votes,
    compute_results,
    consensus,
    divided,
    draft,
    export_matrix,
    export_statements,
    export_votes,
    near_duplicate,
    statement_results,
    to_docx,
    to_markdown,
)
from bot.services.runtime import Runtime
from storage.models import Statement
from storage.repositories.consultations import ConsultationRepository, Tally
from surveys.suppression import Suppressor
from tests.conftest_db import TEST_VAULT_KEY
from tests.consultation_sim import (
    START,
    Person,
    Simulation,
    build_runtime,
    consultation,
    moderate,
    simulate,
)
from tests.helpers import FakeClock

K = 10
WHEN = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


# --- opinion groups ---------------------------------------------------------------------------


def planted(people: int = 60, statements: int = 20, seen: int = 12, noise: float = 0.1,
            seed: int = 4) -> tuple[list[tuple[str, int, str]], dict[str, int]]:
    """Two groups with opposite views on every statement, each person seeing only some."""
    rng = random.Random(seed)
    votes, truth = [], {}
    for n in range(people):
        person, group = f"p{n:03d}", n % 2
        truth[person] = group
        for sid in rng.sample(range(1, statements + 1), seen):
            agrees = (sid <= statements // 2) == (group == 0)
            if rng.random() < noise:
                agrees = not agrees
            votes.append((person, sid, "pass" if rng.random() < 0.1 else
                          "agree" if agrees else "disagree"))
    return votes, truth


def test_a_planted_two_group_vote_matrix_is_recovered() -> None:
    votes, truth = planted()
    found = cluster_votes(votes, min_size=K, min_participants=20)
    assert found is not None
    assert len(set(found.labels)) == 2 and found.silhouette > 0.5
    labels = dict(zip(found.participants, found.labels, strict=True))
    for group in (0, 1):
        members = {labels[p] for p, g in truth.items() if g == group}
        assert len(members) == 1  # everyone planted together ends up together
    assert {labels[p] for p in truth if truth[p] == 0} != {labels[p] for p in truth
                                                           if truth[p] == 1}


def test_no_groups_from_too_few_people_or_groups_too_small_to_show() -> None:
    votes, _truth = planted(people=14)
    assert cluster_votes(votes, min_size=K) is None  # 14 people: under 20
    lonely = planted(people=40)[0] + [(f"q{n}", sid, "agree") for n in range(3)
                                      for sid in range(1, 21)]
    found = cluster_votes(lonely, min_size=K)
    assert found is None or min(found.labels.count(g) for g in set(found.labels)) >= K


# --- suppression ------------------------------------------------------------------------------


def tally(sid: int, agree: int, disagree: int, passes: int) -> Tally:
    return Tally(sid, "coverage", f"statement {sid}", False, "approved", None, WHEN,
                 agree, disagree, passes)


def test_a_share_hidden_by_suppression_is_given_as_the_range_anyone_could_work_out() -> None:
    suppress = Suppressor(K)
    rng = random.Random(5)
    for _ in range(2000):
        counts = {"agree": rng.choice([0, rng.randint(1, 9), rng.randint(10, 90)]),
                  "disagree": rng.choice([0, rng.randint(1, 9), rng.randint(10, 40)]),
                  "pass": rng.choice([0, rng.randint(1, 9), rng.randint(10, 40)])}
        shown = suppress.partition(counts)
        for key, true in counts.items():
            found = bounds(shown, key)
            if found is None:  # nothing to work out: the total, or every cell, is hidden
                assert shown.total.hidden or all(c.hidden for c in shown.cells.values())
                continue
            low, high = found
            assert low <= true <= high, (counts, key, found)
            if shown[key].reason == "small":
                assert high <= K - 1
    result = statement_results([tally(1, 61, 2, 5)], suppress)[0]
    assert str(result.counts["agree"]) == "hidden"
    assert result.percent("agree") == "73% to 98%"  # 68 - 2 × 9 = 50 to 68 - 2 = 66, of 68


def test_findings_rest_only_on_figures_that_may_be_shown() -> None:
    suppress = Suppressor(K)
    results = statement_results([
        tally(1, 61, 2, 5),     # broad agreement, though "agree" itself is hidden
        tally(2, 8, 0, 0),      # 8 votes: nothing about it may be shown
        tally(3, 20, 18, 4),    # divided
        tally(4, 3, 60, 10),    # broad disagreement: at least 54 of 73, though hidden
        tally(5, 30, 30, 0),    # divided, evenly
    ], suppress)
    assert [r.id for r in consensus(results)] == [1]
    assert [r.id for r in consensus(results, "disagree")] == [4]
    assert [r.id for r in divided(results)] == [5, 3]
    small = results[1]
    assert small.percent("agree") == "" and str(small.counts.total) == "fewer than 10"


def test_near_repeats_are_flagged_and_different_points_are_not() -> None:
    existing = [(1, "Sick pay should start from the first day off sick."),
                (2, "Home care workers should be paid for the time they spend travelling "
                    "between visits."),
                (3, "The government should pay the full cost, not councils or people who "
                    "use care.")]
    assert near_duplicate("Sick pay should start from day one!", existing) == 1
    assert near_duplicate("TRAVEL time between visits should be paid", existing) == 2
    assert near_duplicate("The government should pay the full cost, not the councils.",
                          existing) == 3
    for different in ("Mileage should be paid at the full rate for drivers.",
                      "Care workers should choose their own representatives.",
                      "Pay rises must be funded every year, not just once."):
        assert near_duplicate(different, existing) is None, different
    assert near_duplicate("Anything at all.", []) is None


# --- 200 people through the service ------------------------------------------------------------


def say_no_to_quotes(runtime: Runtime, clock: FakeClock, view: str) -> None:
    """One more person, by SMS: a view on the first question, and no to being quoted."""
    sim = Simulation(runtime, clock, random.Random(0), prefix="late")
    person = Person(999, "worker", "sms", random.Random(0))
    sim.say(person, "FAIRPAY")
    replies = sim.say(person, "yes")
    for _ in range(40):
        last = replies[-1]["text"]
        if last.startswith("Question 1 "):
            replies = sim.say(person, view)
        elif last.startswith("Question"):
            replies = sim.say(person, "skip")
        elif last.startswith("Would you like to hear"):
            sim.say(person, "no")
            return
        elif last.startswith(("Would you like to add", "May we quote")):
            replies = sim.say(person, "no")
        else:
            replies = sim.say(person, "3")
    raise AssertionError("the conversation did not end")


@dataclass
class Run:
    runtime: Runtime
    results: Results
    markdown: str
    docx: bytes
    refused: str  # a view chosen as a quote whose author said no to quoting


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    folder = tmp_path_factory.mktemp("sim")
    clock = FakeClock(START)
    runtime = build_runtime(f"sqlite:///{folder / 'withus.db'}", folder, clock)
    try:
        simulate(runtime, clock, participants=200)
        refused = "Unions and bosses should sit down with a referee, says a carer."
        say_no_to_quotes(runtime, clock, refused)
        with runtime.sessions() as session:
            repo = ConsultationRepository(session)
            view = next(v for v in repo.views("fairpay") if v.text.startswith("Unions and"))
            assert not view.quote_ok
            repo.choose_quote("fairpay", view.answer_id, True, None, clock.now)
            session.commit()
            results = compute_results(session, consultation(runtime), K)
        blocks = draft(results, clock.now)
        yield Run(runtime, results, to_markdown(blocks), to_docx(blocks), view.text)
    finally:
        runtime.close()


@pytest.mark.slow
def test_over_200_people_every_approved_statement_got_votes(run: Run) -> None:
    approved = run.results.statements
    assert len(approved) > 20
    assert all(r.tally.total >= 1 for r in approved), [r.text for r in approved
                                                       if not r.tally.total]
    p = run.results.participation
    assert p.started >= 200 and p.votes > 1500
    assert p.statements["pending"] >= 0 and p.statements["rejected"] >= 2
    assert p.duplicates_flagged >= 1 and p.edited == 1


@pytest.mark.slow
def test_the_draft_holds_consensus_and_only_permitted_quotes(run: Run) -> None:
    md = run.markdown
    broad = [r for q in consultation(run.runtime).questions
             for r in consensus(run.results.for_question(q.id))]
    assert broad, "the planted opinions give some broad agreement"
    for result in broad:
        assert f'**"{result.text}"** {result.percent("agree")} agreed' in md
    quotes = [line[2:] for line in md.splitlines() if line.startswith("> ")]
    permitted = {v.text for v in run.results.views if v.quote_ok and v.quote_chosen}
    assert quotes and all(q.replace("\\", "") in permitted for q in quotes)
    assert run.refused not in md.replace("\\", "")
    assert "## How we gathered these views" in md and "## Opinion groups" in md
    assert "### Group A (" in md
    assert "How statements were moderated." in md and "still wait" in md
    assert not re.search(r"\+?44 ?7700|07700|\bp[a-z2-7]{24}\b", md)  # no numbers, no ids
    assert "[PHONE]" not in md  # the redacted, rejected statement stays out


@pytest.mark.slow
def test_the_word_draft_opens_and_matches(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "draft.docx"
    path.write_bytes(run.docx)
    document = Document(str(path))
    text = "\n".join(p.text for p in document.paragraphs)
    assert document.paragraphs[0].style.name == "Title"
    assert "How we gathered these views" in text
    for result in consensus(run.results.for_question("conditions")):
        assert f'"{result.text}"' in text
    assert run.refused not in text
    assert len(document.tables) == len(consultation(run.runtime).questions)
    header = [c.text for c in document.tables[0].rows[0].cells]
    assert header == ["Statement", "Agree", "Disagree", "Not sure", "Votes", "Agreeing"]


@pytest.mark.slow
def test_exports_are_shaped_like_polis(run: Run) -> None:
    with run.runtime.sessions() as session:
        approved = list(csv.DictReader(io.StringIO(export_statements(session, "fairpay"))))
        statements = list(csv.DictReader(io.StringIO(
            export_statements(session, "fairpay", "all"))))
        votes = list(csv.DictReader(io.StringIO(export_votes(session, "fairpay"))))
        matrix = list(csv.reader(io.StringIO(export_matrix(session, "fairpay",
                                                           run.results.clustering))))
        total = len(session.scalars(select(Statement)).all())
    assert list(statements[0])[:8] == ["timestamp", "datetime", "comment-id", "author-id",
                                       "agrees", "disagrees", "moderated", "comment-body"]
    assert len(statements) == total
    assert {s["moderated"] for s in statements} >= {"1", "-1"}
    assert {(s["moderated"], s["status"]) for s in statements} >= {("1", "approved"),
                                                                    ("-1", "rejected")}
    assert [s["comment-id"] for s in approved] == [s["comment-id"] for s in statements
                                                   if s["status"] == "approved"]
    assert {v["comment-id"] for v in votes} <= {s["comment-id"] for s in approved}
    assert all(s["author-id"] == "" for s in statements if s["seed"] == "1")
    assert {v["vote"] for v in votes} == {"1", "-1", "0"}
    header, rows = matrix[0], matrix[1:]
    assert header[:6] == ["participant", "group-id", "n-comments", "n-votes", "n-agree",
                          "n-disagree"]
    approved = [str(r.id) for r in run.results.statements]
    assert header[6:] == approved
    assert all(re.fullmatch(r"p[a-z2-7]{24}", row[0]) for row in rows)
    assert {cell for row in rows for cell in row[6:]} <= {"1", "-1", "0", ""}
    assert {row[1] for row in rows} >= {"A", "B"}
    for row in rows[:20]:
        cells = row[6:]
        assert int(row[3]) == sum(1 for c in cells if c)
        assert int(row[4]) == cells.count("1") and int(row[5]) == cells.count("-1")


# --- a small consultation, both databases --------------------------------------------------------


@pytest.fixture
def small(engine: Engine, tmp_path: Path) -> Iterator[Runtime]:
    clock = FakeClock(START)
    runtime = build_runtime(engine.url.render_as_string(hide_password=False), tmp_path, clock)
    simulate(runtime, clock, participants=9, seed=11, moderate_every=4)
    moderate(runtime)
    yield runtime
    runtime.close()


def test_a_small_consultation_shows_no_small_numbers(small: Runtime) -> None:
    with small.sessions() as session:
        results = compute_results(session, consultation(small), K)
    md = to_markdown(draft(results, START + timedelta(days=2)))
    assert results.groups == [] and "## Opinion groups" not in md
    assert "that is not the case yet" in md
    assert "people answered this question in their own words, so no quotes are shown" in md
    assert not [line for line in md.splitlines() if line.startswith("> ")]
    assert "fewer than 10" in md
    # No count from 1 to 9 appears next to a vote, anywhere.
    assert not re.search(r"\b(agree|disagree|not sure) [1-9]\b", md)
    assert not re.search(r"\| [1-9] \|", md)
    document = Document(io.BytesIO(to_docx(draft(results, START))))
    assert document.paragraphs[0].text.startswith("Draft response: Fair pay agreement")


def test_the_consultation_command(small: Runtime, tmp_path: Path) -> None:
    env = {"WITHUS_DATABASE_URL": small.settings.database_url,
           "WITHUS_INSTANCE_PATH": str(tmp_path / "inst"), "WITHUS_VAULT_KEYS": TEST_VAULT_KEY,
           "WITHUS_PSEUDONYM_KEY": "a-test-pseudonym-key-that-is-long-enough",
           "WITHUS_SECRET_KEY": "test", "WITHUS_LOG_FORMAT": "text"}
    cli = CliRunner()

    def withus(*args: str) -> str:
        result = cli.invoke(consultation_command, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    assert "nothing waiting" in withus("moderate", "list", "fairpay")
    with small.sessions() as session:
        from storage.repositories.people import ParticipantRepository

        ParticipantRepository(session).ensure("pcliauthor", "sms", START)
        repo = ConsultationRepository(session)
        ids = [repo.propose("fairpay", "voice", "pcliauthor", text, START) for text in (
            "Carers should be on the negotiating body.", "Something off topic.",
            "Let care workers elect their reps.")]
        session.commit()
    listed = withus("moderate", "list", "fairpay")
    assert all(str(i) in listed for i in ids)
    assert withus("moderate", "approve", str(ids[0])).startswith("approved:")
    assert withus("moderate", "reject", str(ids[1]), "--reason", "off topic").startswith(
        "rejected:")
    edited = withus("moderate", "edit", str(ids[2]), "Care workers should elect their reps.")
    assert edited == f"approved: {ids[2]}\tCare workers should elect their reps.\n"
    assert "nothing waiting" in withus("moderate", "list", "fairpay")

    withus("draft", "fairpay", "--format", "docx", "--output", str(tmp_path / "d.docx"))
    assert Document(str(tmp_path / "d.docx")).paragraphs
    withus("draft", "fairpay", "--output", str(tmp_path / "d.md"))
    assert "Care workers should elect their reps." in (tmp_path / "d.md").read_text()
    out = withus("export", "fairpay", "--output-dir", str(tmp_path / "csv"))
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == [
        "participants-votes.csv", "statements.csv", "votes.csv"]
    assert out.count("wrote") == 3
    quotable = withus("quotes", "list", "fairpay")
    if quotable.startswith("no views"):
        return
    answer = quotable.split("\t")[0]
    assert withus("quotes", "choose", "fairpay", answer) == f"chosen: {answer}\n"
    missing = cli.invoke(consultation_command, ["draft", "nope", "--output", "x.md"], env=env)
    assert missing.exit_code == 2 and "consultation 'nope' is not loaded" in missing.output
