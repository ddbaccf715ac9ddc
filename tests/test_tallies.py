"""The answer tallies (migration 1770) always equal a count of the answers themselves.

The survey page reads `answer_tallies` and `answer_pair_tallies` instead of counting a
million answers, so they must never drift: database triggers keep them through every
insert, change and delete, cascades and multi-row statements included. These tests
change answers every way the application (or an operator with SQL) can, and compare
both tables with a count made here in Python from the answers and their responses.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update

from storage.models import Answer, AnswerPairTally, AnswerTally, Participant, Response
from storage.uow import UnitOfWork

UowFactory = Callable[[], UnitOfWork]
DAY = datetime(2026, 10, 30, 23, 30, tzinfo=UTC)

#: question id → (kind of values it takes)
QUESTIONS = {"where": "choice", "paid": "yes_no", "helps": "multiple", "hours": "number",
             "words": "free"}


def _value(rng: random.Random, question: str) -> tuple[Any, str]:
    shape = QUESTIONS[question]
    if shape == "choice":
        code = rng.choice(["home", "care_home", "Caf\u00e9 \u201cbig\u201d"])
        return code, code.title()
    if shape == "yes_no":
        code = rng.choice(["yes", "no"])
        return code, code
    if shape == "multiple":
        chosen = sorted(rng.sample(["family", "breaks", "money"], rng.randint(1, 2)))
        return chosen, "; ".join(chosen)
    if shape == "number":
        number = rng.choice([0, 3, 7, 2.5])
        return number, str(number)
    return rng.choice(["Nobody asks", "Night-time is hardest \U0001F62D", "x" * 300]), ""


def _decoded(value_key: str) -> Any:
    value = json.loads(value_key) if value_key else None
    return tuple(value) if isinstance(value, list) else value


def _coded(answer: Answer) -> bool:
    """An option, a number or the options ticked: what a view may be narrowed by."""
    return (answer.kind == "value" and not answer.free
            and isinstance(answer.value, str | int | float | bool | list))


def expected(uow: UnitOfWork) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    """The two tallies, counted here from the answers and their responses."""
    rows = uow.session.execute(
        select(Answer, Response).join(Response, Response.id == Answer.response_id)
        .execution_options(populate_existing=True)).all()
    tallies: Counter[tuple[Any, ...]] = Counter()
    pairs: Counter[tuple[Any, ...]] = Counter()
    by_response: dict[int, list[Answer]] = {}
    facets: dict[int, tuple[Any, ...]] = {}
    for answer, response in rows:
        by_response.setdefault(response.id, []).append(answer)
        facets[response.id] = (response.channel, response.language,
                               response.started_at.astimezone(UTC).date(),
                               bool(response.is_test))

    def key(answer: Answer) -> tuple[Any, ...]:
        value = None
        if answer.kind == "value" and not answer.free:
            value = tuple(answer.value) if isinstance(answer.value, list) else answer.value
        return answer.question_id, answer.kind, value

    for response_id, answers in by_response.items():
        for a in answers:
            tallies[(a.survey_id, *key(a), *facets[response_id])] += 1
            for b in answers:
                if _coded(b):
                    by = tuple(b.value) if isinstance(b.value, list) else b.value
                    pairs[(a.survey_id, b.question_id, by, *key(a),
                           *facets[response_id])] += 1
    return tallies, pairs


def stored(uow: UnitOfWork) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    tallies: Counter[tuple[Any, ...]] = Counter()
    for t in uow.session.scalars(select(AnswerTally)):
        assert t.n >= 0, f"a negative tally: {t!r}"
        if t.n:
            tallies[(t.survey_id, t.question_id, t.kind, _decoded(t.value_key), t.channel,
                     t.language, t.started_on, bool(t.is_test))] += t.n
    pairs: Counter[tuple[Any, ...]] = Counter()
    for p in uow.session.scalars(select(AnswerPairTally)):
        assert p.n >= 0, f"a negative pair tally: {p!r}"
        if p.n:
            pairs[(p.survey_id, p.by_question, _decoded(p.by_value), p.question_id, p.kind,
                   _decoded(p.value_key), p.channel, p.language, p.started_on,
                   bool(p.is_test))] += p.n
    return tallies, pairs


def assert_in_step(uow: UnitOfWork) -> None:
    want_tallies, want_pairs = expected(uow)
    got_tallies, got_pairs = stored(uow)
    assert got_tallies == want_tallies
    assert got_pairs == want_pairs


class World:
    """People, responses and answers changed at random, the ways the application does."""

    def __init__(self, uow: UnitOfWork, rng: random.Random) -> None:
        self.uow, self.rng = uow, rng
        self.people: list[str] = []
        self.responses: dict[int, str] = {}

    def start(self) -> None:
        pid = f"p{len(self.people):024d}"
        self.uow.participants.ensure(pid, "sms", DAY)
        self.people.append(pid)
        for _ in range(self.rng.randint(1, 2)):
            started = DAY + timedelta(hours=self.rng.choice([0, 1, 30]))
            response_id = self.uow.responses.start(
                pid, self.rng.choice(["carers", "fft"]), 1,
                self.rng.choice(["sms", "whatsapp", "telegram"]), self.rng.choice(["en", "cy"]),
                started, is_test=self.rng.random() < 0.2)
            self.responses[response_id] = pid

    def answer(self) -> None:
        response_id = self.rng.choice(list(self.responses))
        survey = self.uow.session.get(Response, response_id)
        assert survey is not None
        question = self.rng.choice(list(QUESTIONS))
        kind = self.rng.choices(["value", "skipped", "media"], [8, 2, 1])[0]
        value, label = _value(self.rng, question) if kind == "value" else (None, None)
        if kind == "media":
            value, label = {"media": "audio"}, None
        self.uow.answers.record(response_id, self.responses[response_id], survey.survey_id,
                                question, kind, value, label, 1, DAY,
                                free=kind == "value" and QUESTIONS[question] == "free")

    def bulk_insert(self) -> None:
        """Several answers of one new response in one statement (as an import would)."""
        self.start()
        response_id = max(self.responses)
        response = self.uow.session.get(Response, response_id)
        assert response is not None
        rows = []
        for question in self.rng.sample(list(QUESTIONS), 3):
            value, label = _value(self.rng, question)
            rows.append({"response_id": response_id, "participant_id": response.participant_id,
                         "survey_id": response.survey_id, "question_id": question,
                         "kind": "value", "value": value, "label": label, "survey_version": 1,
                         "answered_at": DAY, "free": QUESTIONS[question] == "free",
                         "channel": response.channel, "language": response.language,
                         "started_at": response.started_at, "is_test": response.is_test})
        self.uow.session.execute(insert(Answer), rows)

    def bulk_update(self) -> None:
        """One UPDATE changing a question's answer in many responses at once."""
        code = self.rng.choice(["home", "care_home"])
        self.uow.session.execute(update(Answer).where(
            Answer.question_id == "where", Answer.kind == "value").values(value=code))

    def move_response(self) -> None:
        """An operator moves responses to another channel, language, day or test flag
        (the application never does, but the counts must follow)."""
        if self.rng.random() < 0.5 and self.responses:
            response_id = self.rng.choice(list(self.responses))
            self.uow.session.execute(update(Response).where(Response.id == response_id).values(
                language=self.rng.choice(["en", "cy"]),
                started_at=DAY + timedelta(days=self.rng.randint(0, 2))))
        else:
            self.uow.session.execute(update(Response).where(Response.id % 3 == 0).values(
                is_test=self.rng.random() < 0.5, channel=self.rng.choice(["sms", "telegram"])))

    def remove_one(self) -> None:
        ids = self.uow.session.scalars(select(Answer.id)).all()
        if ids:
            self.uow.session.execute(delete(Answer).where(Answer.id == self.rng.choice(ids)))

    def remove_response(self) -> None:
        if self.responses:
            response_id = self.rng.choice(list(self.responses))
            self.uow.session.execute(delete(Response).where(Response.id == response_id))
            del self.responses[response_id]

    def erase_person(self) -> None:
        """Erasure: the participant goes, and with them (by cascade) everything."""
        if self.people:
            pid = self.people.pop(self.rng.randrange(len(self.people)))
            self.uow.session.execute(delete(Participant).where(Participant.id == pid))
            self.responses = {r: p for r, p in self.responses.items() if p != pid}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tallies_stay_in_step_with_the_answers(uow_factory: UowFactory, seed: int) -> None:
    rng = random.Random(seed)
    with uow_factory() as uow:
        world = World(uow, rng)
        for _ in range(4):
            world.start()
        steps: list[tuple[Callable[[], None], int]] = [
            (world.start, 3), (world.answer, 20), (world.bulk_insert, 1),
            (world.bulk_update, 1), (world.move_response, 2), (world.remove_one, 2),
            (world.remove_response, 1), (world.erase_person, 1)]
        actions, weights = zip(*steps, strict=True)
        for step in range(160):
            if not world.responses:
                world.start()
            rng.choices(actions, weights)[0]()
            if step % 20 == 19:
                uow.session.flush()
                assert_in_step(uow)
        uow.commit()
    with uow_factory() as uow:  # and as committed
        assert_in_step(uow)


def test_a_changed_answer_moves_its_count(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.participants.ensure("p1", "sms", DAY)
        response = uow.responses.start("p1", "carers", 1, "whatsapp", "cy", DAY)
        uow.answers.record(response, "p1", "carers", "where", "value", "home", "Home", 1, DAY)
        uow.answers.record(response, "p1", "carers", "hours", "value", 7, "7", 1, DAY)
        # BACK, then a different answer; then a skip in place of the number.
        uow.answers.record(response, "p1", "carers", "where", "value", "care_home",
                           "Care home", 1, DAY)
        uow.answers.record(response, "p1", "carers", "hours", "skipped", None, None, 1, DAY)
        uow.commit()
    with uow_factory() as uow:
        tallies, pairs = stored(uow)
        facets = ("whatsapp", "cy", date(2026, 10, 30), False)
        assert tallies == Counter({("carers", "where", "value", "care_home", *facets): 1,
                                   ("carers", "hours", "skipped", None, *facets): 1})
        assert pairs == Counter({
            ("carers", "where", "care_home", "where", "value", "care_home", *facets): 1,
            ("carers", "where", "care_home", "hours", "skipped", None, *facets): 1})
        assert_in_step(uow)


def test_written_words_are_counted_but_not_by_value(uow_factory: UowFactory) -> None:
    """A written answer's words never become a tally key (they are not an option)."""
    with uow_factory() as uow:
        uow.participants.ensure("p1", "sms", DAY)
        response = uow.responses.start("p1", "carers", 1, "sms", "en", DAY)
        uow.answers.record(response, "p1", "carers", "words", "value", "My GP listens",
                           "", 1, DAY)
        uow.commit()
    with uow_factory() as uow:
        keys = uow.session.scalars(select(AnswerTally.value_key)).all()
        assert keys == [""]
        answer = uow.session.scalars(select(Answer)).one()
        assert answer.free is True
        assert (answer.channel, answer.language, answer.is_test) == ("sms", "en", False)


def test_postgresql_vacuums_the_tallies_often(uow_factory: UowFactory) -> None:
    """Migration 1780: every answer leaves dead row versions in the tallies, and a page
    reads them all until a vacuum; autovacuum comes after 1 % of a table, not 20 %."""
    with uow_factory() as uow:
        if uow.session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite reuses free pages by itself")
        options: dict[str, list[str]] = {
            table: settings for table, settings in uow.session.execute(text(
                "SELECT relname, reloptions FROM pg_class "
                "WHERE relname IN ('answer_tallies', 'answer_pair_tallies')"))}
    assert set(options) == {"answer_tallies", "answer_pair_tallies"}
    for table, settings in options.items():
        assert "autovacuum_vacuum_scale_factor=0.01" in settings, (table, settings)
        assert "autovacuum_vacuum_threshold=200" in settings, (table, settings)
