"""Consultation mode in the pure engine: what is offered, to whom, and how often.

A small in-memory stand-in for the service (`Pool`) plays the database's part, through
the same `build_context` the real service uses, so these run in milliseconds and can
simulate hundreds of people.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from surveys.consultation import (
    Candidate,
    Consultation,
    StatementProposed,
    VoteCast,
    build_context,
    select_statements,
)
from surveys.conversation import ConsentDecision, Event, Record, Started
from surveys.engine import Catalog, converse
from surveys.loader import library_path, load_file

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FAIRPAY = load_file(library_path() / "fair_pay.yaml")
assert isinstance(FAIRPAY, Consultation)
CATALOG = Catalog({}, None, {"fairpay": FAIRPAY})


def text(words: str) -> Event:
    return Event("text", text=words)


# --- choosing statements ------------------------------------------------------------------


def candidates(*specs: tuple[int, str | None]) -> list[Candidate]:
    return [Candidate(sid, "coverage", f"statement {sid}", author) for sid, author in specs]


def test_statements_with_the_fewest_votes_come_first() -> None:
    pool = candidates((1, None), (2, None), (3, "pB"), (4, None))
    chosen = select_statements(pool, {1: 5, 2: 0, 3: 1, 4: 2}, seen=set(), author="pA", limit=3)
    assert [c.id for c in chosen] == [2, 3, 4]


def test_nothing_seen_and_nothing_of_ones_own_is_chosen() -> None:
    pool = candidates((1, None), (2, "pA"), (3, None), (4, "pB"))
    chosen = select_statements(pool, {}, seen={3}, author="pA", limit=10)
    assert sorted(c.id for c in chosen) == [1, 4]
    assert select_statements(pool, {}, seen=set(), author="pA", limit=0) == []


def test_ties_break_the_same_way_each_time_but_differently_for_each_person() -> None:
    pool = candidates(*((n, None) for n in range(1, 21)))
    first = [c.id for c in select_statements(pool, {}, set(), "pA", 5, seed="pA")]
    assert first == [c.id for c in select_statements(pool, {}, set(), "pA", 5, seed="pA")]
    others = {tuple(c.id for c in select_statements(pool, {}, set(), p, 5, seed=p))
              for p in ("pB", "pC", "pD", "pE")}
    assert len(others | {tuple(first)}) > 1  # people who arrive together spread out


def test_the_context_keeps_the_statement_being_asked_about() -> None:
    pool = candidates(*((n, None) for n in range(1, 16)))
    votes = {n: 10 for n in range(1, 16)} | {15: 99}
    state = {"values": {"statement": 15}, "shown": [1, 2]}
    context = build_context(FAIRPAY, state, pool, votes, "pA", voted={3}, limit=4)
    offered = [sid for sid, _text in context["statements"]["coverage"]]
    assert 15 in offered and not {1, 2, 3} & set(offered)
    assert context["statements"]["cost"] == []


# --- a crowd of people, in memory ------------------------------------------------------------


@dataclass
class Row:
    id: int
    question: str
    text: str
    author: str | None
    status: str = "approved"


@dataclass
class Pool:
    """The service's part, in memory: statements, votes, and what each person was shown."""

    rows: list[Row] = field(default_factory=list)
    votes: dict[int, dict[str, str]] = field(default_factory=dict)
    shown: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def seeded(cls, consultation: Consultation) -> Pool:
        pool = cls()
        for question, words in consultation.seed_statements():
            pool.add(question, words, None, "approved")
        return pool

    def add(self, question: str, words: str, author: str | None, status: str) -> Row:
        row = Row(len(self.rows) + 1, question, words, author, status)
        self.rows.append(row)
        return row

    def row(self, statement_id: int) -> Row:
        return next(r for r in self.rows if r.id == statement_id)

    def context(self, state: dict[str, Any] | None, pid: str) -> dict[str, Any] | None:
        if (state or {}).get("survey") != FAIRPAY.id:
            return None
        approved = [Candidate(r.id, r.question, r.text, r.author)
                    for r in self.rows if r.status == "approved"]
        counts = {sid: len(v) for sid, v in self.votes.items()}
        voted = {sid for sid, v in self.votes.items() if pid in v}
        return build_context(FAIRPAY, state, approved, counts, pid, voted)

    def apply(self, pid: str, records: list[Record]) -> None:
        for record in records:
            if isinstance(record, VoteCast):
                self.votes.setdefault(record.statement_id, {})[pid] = record.vote
            elif isinstance(record, StatementProposed):
                self.add(record.question_id, record.text, pid, "pending")

    def saw(self, pid: str, replies: list[Any]) -> None:
        for reply in replies:
            for choice in reply.choices:
                if choice.payload.startswith("vote:") and choice.payload.endswith(":agree"):
                    self.shown.setdefault(pid, []).append(int(choice.payload.split(":")[1]))


@dataclass
class Person:
    pid: str
    pool: Pool
    now: datetime = NOW
    state: dict[str, Any] | None = None
    replies: list[Any] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)

    def send(self, event: Event) -> list[str]:
        self.now += timedelta(minutes=1)
        result = converse(CATALOG, self.state, event, self.now,
                          self.pool.context(self.state, self.pid))
        self.pool.apply(self.pid, result.records)
        self.pool.saw(self.pid, result.replies)
        self.state, self.replies = result.state, result.replies
        self.records += result.records
        return [r.text for r in result.replies]

    def vote_choices(self) -> list[str]:
        return [c.payload for r in self.replies for c in r.choices
                if c.payload.startswith("vote:")]


def take_part(person: Person, rng: random.Random, propose: float = 0.3) -> None:
    """Answer everything a consultation asks, as people do: numbers, buttons, SKIP, MORE."""
    person.send(text("FAIRPAY"))
    person.send(text("yes"))
    for _ in range(100):
        last = person.replies[-1].text if person.replies else ""
        choices = person.vote_choices()
        if choices:
            roll = rng.random()
            if roll < 0.05:
                person.send(text("skip"))
            elif roll < 0.08:
                person.send(text("more"))
            elif roll < 0.5:
                person.send(Event("button", payload=rng.choice(choices)))
            else:
                person.send(text(rng.choice(["1", "2", "3", "agree", "not sure"])))
        elif "Question" in last:
            person.send(text(rng.choice(["skip", "Pay should match the NHS for the same work."])))
        elif last.startswith("Would you like to add a point"):
            said = f"Point number {rng.randrange(10**6)} from {person.pid}." if (
                rng.random() < propose) else "no"
            person.send(text(said))
        elif last.startswith(("May we quote", "Would you like to hear")):
            person.send(text("yes"))
        else:
            return
    raise AssertionError("the conversation did not end")


def test_unapproved_and_own_statements_are_never_offered_and_none_twice() -> None:
    pool = Pool.seeded(FAIRPAY)
    pending = pool.add("coverage", "Not yet checked by a reviewer.", "someone", "pending")
    rejected = pool.add("coverage", "Rejected by a reviewer.", "someone", "rejected")
    rng = random.Random(1)
    people = [Person(f"p{n}", pool) for n in range(30)]
    for n, person in enumerate(people):
        take_part(person, rng, propose=0.6)
        if n % 5 == 4:  # a reviewer approves what came in, now and then
            for row in pool.rows:
                if row.status == "pending" and row is not pending:
                    row.status = "approved"
    for person in people:
        shown = pool.shown.get(person.pid, [])
        # REPEAT and MORE re-send the statement in hand; it is still one showing of it.
        distinct = [sid for i, sid in enumerate(shown) if i == 0 or shown[i - 1] != sid]
        assert len(distinct) == len(set(distinct)), person.pid
        assert pending.id not in shown and rejected.id not in shown
        assert all(pool.row(sid).author != person.pid for sid in shown)
    assert any(pool.row(sid).author for p in people for sid in pool.shown.get(p.pid, []))


def test_over_200_people_every_approved_statement_gets_a_vote() -> None:
    pool = Pool.seeded(FAIRPAY)
    rng = random.Random(2)
    for n in range(200):
        if n and n % 20 == 0:  # a reviewer approves what came in, every 20 people
            for row in pool.rows:
                if row.status == "pending":
                    row.status = "approved"
        take_part(Person(f"p{n:03d}", pool), rng, propose=0.15)
    approved = [r for r in pool.rows if r.status == "approved"]
    assert len(approved) > len(FAIRPAY.seed_statements()) + 20  # many were added on the way
    counts = {r.id: len(pool.votes.get(r.id, {})) for r in approved}
    assert min(counts.values()) >= 1, [r.text for r in approved if not counts[r.id]]
    seeds = [counts[r.id] for r in approved if r.author is None]
    assert max(seeds) - min(seeds) <= max(seeds) // 2  # seen evenly, not first come


def test_the_state_holds_statement_ids_never_anyone_elses_words() -> None:
    pool = Pool.seeded(FAIRPAY)
    for row in pool.rows:
        pool.votes[row.id] = {"pZ": "agree"}
    other = pool.add("coverage", "A distinctive sentence from someone else.", "pB", "approved")
    person = Person("pA", pool)
    person.send(text("FAIRPAY"))
    person.send(text("yes"))
    person.send(text("Everyone who cares for people."))
    assert any(other.text in r.text for r in person.replies)  # fewest votes: shown first
    saved = json.dumps(person.state)
    assert other.text not in saved and str(other.id) in saved
    assert "Everyone who cares" not in saved  # their own words are not kept either


def test_more_after_finishing_offers_statements_approved_since() -> None:
    pool = Pool.seeded(FAIRPAY)
    person = Person("pA", pool)
    take_part(person, random.Random(3), propose=0)
    assert person.state is not None and person.state["stage"] == "done"
    while person.send(text("MORE"))[-1].startswith("About"):  # what they had not seen yet
        person.send(text("3"))
    assert person.replies[-1].text.startswith("You've seen every point for now.")
    late = pool.add("cost", "A point approved after they finished.", "pB", "approved")
    person.send(text("MORE"))
    assert any(late.text in r.text for r in person.replies)
    assert "About how it is paid for:" in person.replies[-1].text
    assert person.replies[-1].choices[0].payload == f"vote:{late.id}:agree"
    person.send(text("1"))
    assert VoteCast("fairpay", late.id, "agree") in person.records


def test_voting_buttons_and_words_mean_the_same() -> None:
    pool = Pool.seeded(FAIRPAY)
    person = Person("pA", pool)
    person.send(text("FAIRPAY"))
    person.send(text("yes"))
    person.send(text("skip"))
    labels = [c.label for c in person.replies[-1].choices]
    assert labels == ["Agree", "Disagree", "Not sure"]
    said = {"1": "agree", "Disagree": "disagree", "not sure": "pass"}
    for words, vote in said.items():
        statement = int(person.vote_choices()[0].split(":")[1])
        person.send(text(words))
        assert person.records[-1] == VoteCast("fairpay", statement, vote)  # type: ignore[arg-type]


@pytest.mark.parametrize("view", ["fft", "FAIRPAY", "More pay, more staff"])
def test_words_that_look_like_commands_are_a_view_while_writing(view: str) -> None:
    catalog = Catalog({"fft": load_file(library_path() / "fft.yaml")},  # type: ignore[dict-item]
                      None, {"fairpay": FAIRPAY})
    result = converse(catalog, None, text("FAIRPAY"), NOW)
    result = converse(catalog, result.state, text("yes"), NOW)
    result = converse(catalog, result.state, text(view), NOW)
    assert result.records[0].survey_id == "fairpay"  # type: ignore[union-attr]
    assert result.records[0].value == view  # type: ignore[union-attr]


def test_a_consultation_is_on_the_menu_and_closes_on_its_date() -> None:
    menu = converse(CATALOG, None, text("hello"), NOW)
    assert [c.label for c in menu.replies[0].choices] == ["Fair pay for care workers"]
    chosen = converse(CATALOG, menu.state, text("1"), NOW)
    assert isinstance(chosen.records[0], Started) and chosen.records[0].survey_id == "fairpay"
    after = FAIRPAY.closes_at + timedelta(minutes=1)
    closed = converse(CATALOG, chosen.state, text("yes"), after)
    assert closed.replies[0].text == ('"Fair pay for care workers" has now closed. Thank you '
                                      "for your interest.")
    assert not [r for r in closed.records if isinstance(r, ConsentDecision | VoteCast)]


def test_seed_statements_are_offered_in_the_persons_language() -> None:
    """Seeds are stored in the default language; someone who chose Welsh reads the Welsh
    the file gives. What a participant wrote stays as they wrote it."""
    import dataclasses

    from surveys.model import Text

    question = FAIRPAY.questions[0]
    english = question.seeds[0].get()
    welsh = "Dylai gynnwys pawb sy'n gweithio mewn cartref gofal."
    bilingual_seed = Text({"en": english, "cy": welsh}, "en")
    bilingual = dataclasses.replace(
        FAIRPAY, languages=("en", "cy"),
        questions=(dataclasses.replace(question, seeds=(bilingual_seed, *question.seeds[1:])),
                   *FAIRPAY.questions[1:]))
    pool = [Candidate(1, question.id, english), Candidate(2, question.id, english, "pB")]

    def offered(lang: str | None) -> dict[int, str]:
        context = build_context(bilingual, {"lang": lang}, pool, {}, "pA")
        return dict((sid, words) for sid, words in context["statements"][question.id])

    assert offered("cy") == {1: welsh, 2: english}  # the participant's own words unchanged
    assert offered("en") == {1: english, 2: english}
    assert offered(None) == {1: english, 2: english}
