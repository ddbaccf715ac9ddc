"""Simulated participants for the example consultation, through the real service path.

Each simulated person texts (SMS: numbers) or taps buttons (WhatsApp, Telegram) exactly as
a real one would, through `WithUsService.handle`, so the votes, statements, redaction and
moderation in the database are the ones a real consultation would produce. Two opinion
groups are planted (care workers; people who draw on care, families and small providers)
so the analysis has something real to find. Every person, view and statement here is
made up.

Run it to regenerate the example draft:

    python -m tests.consultation_sim --participants 200 --output docs/examples/fair_pay_draft.md
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.services.consultation import compute_results, draft, store_seeds, to_markdown
from bot.services.runtime import Runtime, build
from channels.base import Channel, InboundMessage, OutboundMessage, SendResult, WebRequest
from storage.models import OutboxMessage
from storage.repositories.consultations import ConsultationRepository
from storage.repositories.dashboard import DashboardRepository
from storage.uow import UnitOfWork
from surveys.consultation import Consultation
from surveys.loader import library_path, load_file
from tests.conftest_db import migrate
from tests.helpers import FakeClock, load_library, settings_for

FAIRPAY = "fairpay"
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


class QuietChannel(Channel):
    """A provider channel that accepts everything and sends nowhere: the simulation reads
    replies from the outbox instead."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.max_buttons = 0 if name == "sms" else 3

    def verify(self, request: WebRequest) -> bool:
        return True

    def parse(self, request: WebRequest) -> list[InboundMessage]:
        return []

    def send(self, address: str, message: OutboundMessage) -> list[SendResult]:
        return [SendResult("quiet")]


def load_consultations(runtime: Runtime) -> None:
    """Store the library (as `withus surveys load` does) and the consultations' seeds."""
    load_library(runtime)
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        for path in sorted(library_path().glob("*.yaml")):
            loaded = load_file(path)
            if isinstance(loaded, Consultation):
                store_seeds(uow.session, loaded, runtime.clock())
        uow.commit()
    runtime.catalog.invalidate()


def consultation(runtime: Runtime, consultation_id: str = FAIRPAY) -> Consultation:
    return runtime.catalog.get().consultations[consultation_id]


# --- The planted opinions ---------------------------------------------------------------------

#: Chance of (agree, disagree) per persona for each seed, by its first words; the rest
#: of the time the person is not sure. "worker": care workers; "family": people who draw on
#: care, their families and small providers.
SEED_OPINIONS: dict[str, dict[str, tuple[float, float]]] = {
    "It should cover everyone": {"worker": (0.9, 0.05), "family": (0.7, 0.1)},
    "Personal assistants": {"worker": (0.85, 0.05), "family": (0.25, 0.6)},
    "Agency staff": {"worker": (0.85, 0.1), "family": (0.2, 0.65)},
    "Home care workers should be paid": {"worker": (0.95, 0.02), "family": (0.85, 0.05)},
    "Sick pay": {"worker": (0.9, 0.05), "family": (0.6, 0.2)},
    "Pay should rise": {"worker": (0.9, 0.05), "family": (0.65, 0.1)},
    "Anyone who wants guaranteed": {"worker": (0.85, 0.05), "family": (0.3, 0.5)},
    "People who draw on care": {"worker": (0.45, 0.35), "family": (0.95, 0.02)},
    "Care workers who are not in a union": {"worker": (0.75, 0.1), "family": (0.7, 0.1)},
    "Small care providers": {"worker": (0.2, 0.6), "family": (0.85, 0.05)},
    "The government should pay": {"worker": (0.85, 0.05), "family": (0.8, 0.1)},
    "People who pay for their own care": {"worker": (0.3, 0.5), "family": (0.95, 0.02)},
    "Councils should have to pay": {"worker": (0.8, 0.05), "family": (0.8, 0.05)},
    "It should be brought in quickly": {"worker": (0.9, 0.05), "family": (0.15, 0.7)},
}


@dataclass(frozen=True)
class Proposal:
    """A statement a simulated person may write, and how each group would vote on it."""

    question: str
    text: str
    worker: tuple[float, float]
    family: tuple[float, float]
    by: str  # which persona writes it


PROPOSALS: tuple[Proposal, ...] = (
    Proposal("coverage", "Night staff in supported living should be covered as well.",
             (0.9, 0.02), (0.6, 0.1), "worker"),
    Proposal("coverage", "Live-in carers should be covered, with pay for every hour on duty.",
             (0.85, 0.05), (0.35, 0.4), "worker"),
    Proposal("coverage", "Disabled people who employ their own PAs need support to pay more.",
             (0.6, 0.1), (0.9, 0.05), "family"),
    Proposal("coverage", "All care home staff, cooks and cleaners included, should be covered.",
             (0.8, 0.05), (0.6, 0.1), "worker"),  # close to a seed, but not flagged
    Proposal("conditions", "Mileage should be paid at the full rate for drivers.",
             (0.9, 0.02), (0.6, 0.1), "worker"),
    Proposal("conditions", "Care workers need paid time for training, not their days off.",
             (0.9, 0.02), (0.7, 0.05), "worker"),
    Proposal("conditions", "Visits must be long enough to give proper care, not 15 minutes.",
             (0.85, 0.05), (0.95, 0.02), "family"),
    Proposal("conditions", "Sick pay should start from day one.", (0.9, 0.05), (0.6, 0.2),
             "worker"),  # a near-repeat of a seed
    Proposal("conditions", "Paid breaks on long shifts.", (0.9, 0.02), (0.55, 0.1),
             "worker"),  # edited by a reviewer into a clearer statement
    Proposal("voice", "Unpaid carers should have a seat at the table, not only a survey.",
             (0.4, 0.3), (0.95, 0.02), "family"),
    Proposal("voice", "Care workers should choose their own representatives.",
             (0.85, 0.05), (0.5, 0.15), "worker"),
    Proposal("voice", "My name is Sandra Okafor, call me on 07700 900982 about this.",
             (0.1, 0.1), (0.1, 0.1), "worker"),  # personal details: redacted, then rejected
    Proposal("cost", "Self-funders already pay more than councils, that has to stop.",
             (0.35, 0.4), (0.95, 0.02), "family"),
    Proposal("cost", "Pay rises must be funded every year, not just once.",
             (0.95, 0.02), (0.7, 0.1), "worker"),
    Proposal("cost", "The government should pay the full cost, not the councils.",
             (0.85, 0.05), (0.8, 0.1), "worker"),  # a near-repeat of a seed
    Proposal("cost", "Managers are all crooks and this survey is pointless.",
             (0.1, 0.5), (0.1, 0.5), "family"),  # rejected: not a point to weigh
)
#: What a reviewer does with proposals that are not simply approved.
REJECT = {"Managers are all crooks"}
EDITS = {"Paid breaks on long shifts.":
         "Care workers should get paid breaks on shifts longer than six hours."}

#: Views in people's own words, per question and persona: (text, theme, worth quoting).
VIEWS: dict[str, dict[str, tuple[tuple[str, str, bool], ...]]] = {
    "coverage": {
        "worker": (
            ("Everyone in the home. The cleaners sit with residents more than anyone.",
             "Whole care team", True),
            ("Home care and care homes the same. We do the same job in different places.",
             "Whole care team", True),
            ("I'm a senior carer in Doncaster and the night staff always get forgotten.",
             "Night and live-in work", True),
            ("Agency staff too or providers will just use more agency.",
             "Agency work", False),
        ),
        "family": (
            ("My son's PAs deserve more but his budget can't pay it without help.",
             "Personal assistants", True),
            ("Care workers first. I'm not sure about everyone else yet.",
             "Whole care team", False),
            ("The lady who cleans mum's home knows her best of all.",
             "Whole care team", True),
        ),
    },
    "conditions": {
        "worker": (
            ("Travel time. I lose two hours a day driving between calls unpaid.",
             "Travel time", True),
            ("Sick pay from day one. We come in ill because we can't afford not to.",
             "Sick pay", True),
            ("Contracted hours. I never know what I'll earn from one week to the next.",
             "Guaranteed hours", True),
            ("Pay for training and for the extra responsibility of medication.",
             "Training and progression", False),
        ),
        "family": (
            ("Longer visits. Dad gets 15 minutes and the carer is always rushing.",
             "Time to care", True),
            ("Keep the same carers. Mum gets confused by new faces every week.",
             "Continuity", True),
            ("Pay them for travel so they are not late to everyone.",
             "Travel time", False),
        ),
    },
    "voice": {
        "worker": (
            ("Frontline staff, not just managers and union officials.",
             "Frontline voice", True),
            ("The union should negotiate, that's what it is for.",
             "Unions", False),
        ),
        "family": (
            ("People who get care and their families, we see what works.",
             "People who draw on care", True),
            ("Small local providers like ours, not just the big chains.",
             "Small providers", True),
            ("Unpaid carers are part of the care system too.",
             "People who draw on care", False),
        ),
    },
    "cost": {
        "worker": (
            ("The government has to fund it properly or councils will cut hours.",
             "Government funding", True),
            ("Bring it in now. Staff are leaving every month.",
             "Pace", True),
        ),
        "family": (
            ("I already pay for mum's care and the fees went up 9% this year.",
             "Fees for self-funders", True),
            ("Do it in stages so small providers don't close.",
             "Pace", True),
            ("The council must pay a fair rate, it is the council's job.",
             "Council fees", False),
        ),
    },
}


# --- One person ----------------------------------------------------------------------------------


@dataclass
class Person:
    """A simulated participant: who they are, how they reply, and what they would say."""

    number: int
    persona: str
    channel: str
    rng: random.Random
    views: dict[str, tuple[str, str, bool]] = field(default_factory=dict)

    @property
    def address(self) -> str:
        if self.channel == "telegram":
            return str(900_000_000 + self.number)
        return f"+4477009{self.number:05d}"


@dataclass
class Simulation:
    runtime: Runtime
    clock: FakeClock
    rng: random.Random
    proposals_made: set[str] = field(default_factory=set)
    messages: int = 0
    prefix: str = "sim"  # provider message ids must not repeat, or they count as retries
    seen: dict[str, list[int]] = field(default_factory=dict)  # pseudonym -> statement ids

    def say(self, person: Person, text: str = "", payload: str = "",
            start: str = "") -> list[dict[str, Any]]:
        """Send one message as `person`; the replies' payloads, from the outbox."""
        self.messages += 1
        self.clock.advance(seconds=self.rng.randint(1, 4))  # the catalogue stays cached
        kind = "start" if start else ("button" if payload else "text")
        handled = self.runtime.service.handle(InboundMessage(
            person.channel, person.address, f"{self.prefix}-{self.messages}",
            kind,  # type: ignore[arg-type]
            text=text, payload=payload, start_param=start))
        with self.runtime.sessions() as session:
            rows = session.scalars(select(OutboxMessage.payload)
                                   .where(OutboxMessage.id.in_(handled.outbox_ids))
                                   .order_by(OutboxMessage.id))
            return list(rows)


def _vote_for(statement_text: str, persona: str, rng: random.Random) -> str:
    odds = next((o[persona] for prefix, o in SEED_OPINIONS.items()
                 if statement_text.startswith(prefix)), None)
    if odds is None:
        proposal = next((p for p in PROPOSALS if p.text[:25] in statement_text
                         or statement_text.startswith(p.text[:25])), None)
        odds = (proposal.worker if persona == "worker" else proposal.family) if proposal else (
            0.5, 0.2)
    roll = rng.random()
    return "agree" if roll < odds[0] else "disagree" if roll < odds[0] + odds[1] else "pass"


def _statement_text(reply: dict[str, Any]) -> str:
    lines = [line for line in reply["text"].splitlines() if line.startswith('"')]
    return lines[0].strip('"') if lines else ""


def take_part(sim: Simulation, person: Person, consultation_: Consultation) -> None:
    """One person's whole conversation: consent, views, votes, maybe a statement, quotes."""
    rng = person.rng
    if person.channel == "telegram":  # a t.me/...?start=fairpay link
        sim.say(person, start=FAIRPAY)
    else:
        sim.say(person, "FAIRPAY")
    if rng.random() < 0.04:  # a few decline
        sim.say(person, "no")
        return
    replies = sim.say(person, "yes" if person.channel == "sms" else "",
                      payload="" if person.channel == "sms" else "consent:yes")
    question = ""
    for _guard in range(80):
        last = replies[-1]
        choices = [c[0] for c in last.get("choices", [])]
        text = last["text"]
        if any(c.startswith("vote:") for c in choices):
            vote = _vote_for(_statement_text(last), person.persona, rng)
            if rng.random() < 0.03:
                replies = sim.say(person, "skip")
            elif person.channel == "sms":
                replies = sim.say(person, {"agree": "1", "disagree": "2", "pass": "3"}[vote])
            else:
                payload = next(c for c in choices if c.endswith(":" + vote))
                replies = sim.say(person, payload=payload)
        elif text.startswith("Question "):
            question = consultation_.questions[int(text.split()[1]) - 1].id
            if rng.random() < 0.12:
                replies = sim.say(person, "skip")
                continue
            view = rng.choice(VIEWS[question][person.persona])
            person.views[question] = view
            replies = sim.say(person, view[0])
        elif text.startswith("Would you like to add a point"):
            mine = [p for p in PROPOSALS if p.question == question and p.by == person.persona
                    and p.text not in sim.proposals_made]
            if mine and rng.random() < 0.25:
                sim.proposals_made.add(mine[0].text)
                replies = sim.say(person, mine[0].text)
            else:
                replies = sim.say(person, "no")
        elif text.startswith("May we quote"):
            replies = sim.say(person, "yes" if rng.random() < 0.65 else "no")
        elif text.startswith("Would you like to hear"):
            replies = sim.say(person, "yes" if rng.random() < 0.7 else "no")
            if rng.random() > 0.15:
                return
            replies = sim.say(person, "more")  # some come back for more
        elif text.startswith(("You've seen every point", "Thank you. Text MORE")):
            return
        else:
            raise AssertionError(f"the simulation did not expect: {text!r}")
    raise AssertionError("a simulated conversation did not end")


# --- The reviewers ------------------------------------------------------------------------------


def moderate(runtime: Runtime, consultation_id: str = FAIRPAY) -> None:
    """What a reviewer does with the queue: repeats and abuse rejected, one edit, the rest
    approved. Personal details a participant typed are gone before anyone sees them."""
    now = runtime.clock()
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        repo = ConsultationRepository(uow.session)
        for item in repo.queue(consultation_id):
            if item.duplicate_of is not None:
                repo.moderate(item.id, "reject", None, now, reason="repeats another statement")
            elif any(word in item.text for word in REJECT) or "[PHONE]" in item.text:
                repo.moderate(item.id, "reject", None, now, reason="not a point to vote on")
            elif item.text in EDITS:
                repo.moderate(item.id, "edit", None, now, text=EDITS[item.text])
            else:
                repo.moderate(item.id, "approve", None, now)
        uow.commit()


def review_views(runtime: Runtime, people: Iterable[Person],
                 consultation_id: str = FAIRPAY) -> None:
    """Reviewers tag every view with a theme and choose up to three quotes per question
    from people who agreed to be quoted, plus, by mistake, one from someone who did not
    (with words nobody else used): the draft must leave that one out."""
    now = runtime.clock()
    wanted = {view[0]: view for person in people for view in person.views.values()}
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        dashboard = DashboardRepository(uow.session)
        repo = ConsultationRepository(uow.session)
        views = repo.views(consultation_id)
        chosen: dict[str, set[str]] = defaultdict(set)
        for view in views:
            known = wanted.get(view.text)
            if known is None:
                continue
            theme = dashboard.create_theme(consultation_id, known[1], None, now)
            dashboard.tag(view.answer_id, theme, None, now)
            if (known[2] and view.quote_ok and len(chosen[view.question_id]) < 3
                    and view.text not in chosen[view.question_id]):
                repo.choose_quote(consultation_id, view.answer_id, True, None, now)
                chosen[view.question_id].add(view.text)
        for question in {v.question_id for v in views}:
            allowed = {v.text for v in views if v.question_id == question and v.quote_ok}
            mistaken = next((v for v in views if v.question_id == question
                             and not v.quote_ok and v.text not in allowed), None)
            if mistaken is not None:
                repo.choose_quote(consultation_id, mistaken.answer_id, True, None, now)
        uow.commit()


# --- The whole run ------------------------------------------------------------------------------


def simulate(runtime: Runtime, clock: FakeClock, participants: int = 200, seed: int = 7,
             moderate_every: int = 15) -> list[Person]:
    """`participants` people take part, over about three weeks, with moderation rounds."""
    rng = random.Random(seed)
    sim = Simulation(runtime, clock, rng)
    consultation_ = consultation(runtime)
    people = []
    for n in range(participants):
        clock.now = START + timedelta(minutes=150 * n)
        persona = "worker" if rng.random() < 0.55 else "family"
        channel = rng.choices(["sms", "whatsapp", "telegram"], weights=[5, 3, 2])[0]
        person = Person(n, persona, channel, random.Random(rng.random()))
        people.append(person)
        take_part(sim, person, consultation_)
        if (n + 1) % moderate_every == 0:
            moderate(runtime)
    # What the last few people proposed still waits for a reviewer: a draft shows that.
    review_views(runtime, people)
    return people


def build_runtime(database_url: str, instance: Path, clock: FakeClock) -> Runtime:
    migrate(database_url)
    channels: dict[str, Channel] = {name: QuietChannel(name)
                                    for name in ("sms", "whatsapp", "telegram")}
    runtime = build(settings_for(database_url, instance), clock=clock, channels=channels,
                    sleep=lambda _s: None)
    load_consultations(runtime)
    return runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        clock = FakeClock(START)
        runtime = build_runtime(f"sqlite:///{folder}/withus.db", Path(folder), clock)
        try:
            simulate(runtime, clock, args.participants, args.seed)
            finished = clock.now + timedelta(days=1)
            with runtime.sessions() as session:
                results = compute_results(session, consultation(runtime), k=10)
                args.output.write_text(to_markdown(draft(results, finished)), encoding="utf-8")
        finally:
            runtime.close()
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
