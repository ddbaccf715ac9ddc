"""Consultations on real channels: signed webhooks in, the real service and sender, and
exactly what the fake Twilio and Telegram APIs receive; then moderation in the database.

SMS shows the vote as numbered lines (1 Agree, 2 Disagree, 3 Not sure); Telegram as
buttons, whose presses come back as callback queries. Both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bot.services.runtime import Runtime
from storage.models import Answer, Statement, Vote
from storage.repositories.consultations import ConsultationRepository
from surveys.consultation import Consultation
from tests.consultation_sim import consultation, load_consultations
from tests.privacy import scan_database
from tests.webhook_harness import (
    OUR_SMS,
    TELEGRAM_WARNINGS,
    ChannelConfig,
    FakeProviders,
    WebhookClient,
    fake_providers_fixture,
    inline_keyboard,
    open_runtime,
)

pytestmark = TELEGRAM_WARNINGS

PERSON = "+447700900321"  # Ofcom's drama range: never a real person
CHAT = 424242
CONSULTATION_CHANNELS = ChannelConfig(
    telegram_token="7000000009:AAE-consultation-test-token",
    telegram_secret="consultation-webhook-secret-0123456789",
    twilio_account="AC" + "9" * 32,
    twilio_auth="consultation-test-auth-token",
    sms_from=OUR_SMS,
)  # no WhatsApp, no default survey: people start a consultation by its keyword

VOTE_SMS = "\n\n1 Agree\n2 Disagree\n3 Not sure\n\nReply with a number from 1 to 3"

Buttons = list[tuple[str, str]]


class Phone(WebhookClient):
    """One person on SMS or Telegram, and the replies each of their messages got."""

    def sms(self, body: str, frm: str = PERSON) -> list[str]:
        before = len(self.twilio.messages)
        self.send_sms(body, frm)
        return [m["Body"] for m in self.twilio.messages[before:]]

    def tg_text(self, text: str, chat: int = CHAT) -> list[tuple[str, Buttons]]:
        before = len(self.telegram.messages)
        self.send_telegram(text, chat)
        return self._telegram_replies(before)

    def tg_press(self, data: str, chat: int = CHAT) -> list[tuple[str, Buttons]]:
        before = len(self.telegram.messages)
        self.press_button(data, chat)
        return self._telegram_replies(before)

    def _telegram_replies(self, before: int) -> list[tuple[str, Buttons]]:
        return [(sent["text"], [button for row in inline_keyboard(sent) for button in row])
                for sent in self.telegram.messages[before:]]


fakes = fake_providers_fixture(CONSULTATION_CHANNELS)


@pytest.fixture
def runtime(engine: Engine, tmp_path: Path, fakes: FakeProviders) -> Iterator[Runtime]:
    with open_runtime(engine, tmp_path, fakes, load=load_consultations) as opened:
        yield opened


@pytest.fixture
def phone(runtime: Runtime, fakes: FakeProviders) -> Phone:
    return Phone(runtime, fakes)


def seed_ids(runtime: Runtime) -> dict[str, int]:
    with runtime.sessions() as session:
        return {s.text: s.id for s in session.scalars(select(Statement))}


def order_by_file(runtime: Runtime, fair: Consultation) -> None:
    """Give the seeds 0, 1, 2... votes in file order, so the order they are offered in
    (fewest votes first) is known and the transcript can be exact."""
    ids = seed_ids(runtime)
    with runtime.sessions() as session:
        from storage.repositories.people import ParticipantRepository

        people = ParticipantRepository(session)
        for n in range(4):
            people.ensure(f"pvoter{n}", "sms", runtime.clock())
        repo = ConsultationRepository(session)
        for question in fair.questions:
            for position, seed in enumerate(question.seeds):
                for n in range(position):
                    repo.vote(fair.id, ids[seed.get()], f"pvoter{n}", "pass", runtime.clock())
        session.commit()


def test_a_consultation_by_sms_with_numbered_votes_a_statement_and_more(
        runtime: Runtime, phone: Phone) -> None:
    fair = consultation(runtime)
    order_by_file(runtime, fair)
    coverage, conditions = fair.questions[0], fair.questions[1]
    seeds = [s.get() for s in coverage.seeds]

    intro = phone.sms("FAIRPAY")
    assert intro == ["Hello from WithUs.\n" + fair.intro.get(),
                     fair.consent.get() + "\n\n1 Yes, I agree\n2 No, thank you\n\nReply 1 or 2"]
    summary = phone.sms("1")
    assert len(summary) == 2  # "yes" brings the summary and the first question, no more
    assert summary[:1] == [m.get() for m in fair.summary]
    assert summary[1] == ("Question 1 of 4\n" + coverage.text.get()
                          + "\n(Reply in your own words, or SKIP.)")
    first = phone.sms("Everyone in the home, my name is Dawn and I work at Oakfield House.")
    assert first == ["Now some points from others, one at a time.\n"
                     f'"{seeds[0]}"\nDo you agree?' + VOTE_SMS]
    assert phone.sms("1") == [f'"{seeds[1]}"\nDo you agree?' + VOTE_SMS]
    assert phone.sms("maybe later") == [
        "Please reply 1 if you agree, 2 if you disagree or 3 if you're not sure."]
    assert phone.sms("2") == [f'"{seeds[2]}"\nDo you agree?' + VOTE_SMS]
    assert phone.sms("MORE") == ["This is the last point for now.",
                                 f'"{seeds[2]}"\nDo you agree?' + VOTE_SMS]
    offer = phone.sms("3")
    assert offer == ["Would you like to add a point of your own for others to agree or disagree "
                     "with? Write it in one short sentence (up to 140 characters), or reply NO "
                     "to move on."]
    proposed = phone.sms("Bank staff should be covered too, ring me on 07700 900654.")
    assert proposed == [
        "Thank you. Someone from the group will check it, then others can agree or disagree "
        "with it.",
        "Question 2 of 4\n" + conditions.text.get() + "\n(Reply in your own words, or SKIP.)"]
    assert phone.sms("SKIP")[0].endswith(f'"{conditions.seeds[0].get()}"\nDo you agree?'
                                         + VOTE_SMS)

    ids = seed_ids(runtime)
    with runtime.sessions() as session:
        pid = runtime.service.pseudonym("sms", PERSON)
        votes = {(v.statement_id, v.vote) for v in session.scalars(
            select(Vote).where(Vote.participant_id == pid))}
        mine = session.scalars(select(Statement).where(Statement.author_id == pid)).one()
        view = session.scalars(select(Answer).where(Answer.participant_id == pid,
                                                    Answer.question_id == "coverage")).one()
    assert votes == {(ids[seeds[0]], "agree"), (ids[seeds[1]], "disagree"),
                     (ids[seeds[2]], "pass")}
    assert mine.status == "pending" and mine.question_id == "coverage" and not mine.seed
    assert mine.text == "Bank staff should be covered too, ring me on [PHONE]."  # redacted
    assert view.value == "Everyone in the home, my name is [NAME] and I work at [PLACE]."
    assert scan_database(runtime.engine, [PERSON, "+447700900654"]) == []


def test_a_consultation_on_telegram_with_buttons(runtime: Runtime, phone: Phone) -> None:
    fair = consultation(runtime)
    order_by_file(runtime, fair)
    seeds = [s.get() for s in fair.questions[0].seeds]
    ids = seed_ids(runtime)
    intro = phone.tg_text("/start fairpay")
    assert intro[1] == (fair.consent.get(), [("Yes, I agree", "consent:yes"),
                                             ("No, thank you", "consent:no")])
    assert phone.tg_press("consent:yes")[-1][0].startswith("Question 1 of 4")
    statement = phone.tg_text("Cooks and cleaners, they care too.")
    buttons = [("Agree", f"vote:{ids[seeds[0]]}:agree"),
               ("Disagree", f"vote:{ids[seeds[0]]}:disagree"),
               ("Not sure", f"vote:{ids[seeds[0]]}:pass")]
    assert statement == [("Now some points from others, one at a time.\n"
                          f'"{seeds[0]}"\nDo you agree?', buttons)]
    second = phone.tg_press(f"vote:{ids[seeds[0]]}:agree")
    assert second[0][0] == f'"{seeds[1]}"\nDo you agree?'
    # An old button from the first statement: said so, and the current one again.
    stale = phone.tg_press(f"vote:{ids[seeds[0]]}:disagree")
    assert stale[0] == ("That button was for an earlier point.", [])
    assert stale[1][0] == f'"{seeds[1]}"\nDo you agree?'
    assert phone.tg_press(f"vote:{ids[seeds[1]]}:pass")[0][0] == f'"{seeds[2]}"\nDo you agree?'
    assert phone.tg_text("more")[0] == ("This is the last point for now.", [])
    offer = phone.tg_press(f"vote:{ids[seeds[2]]}:disagree")
    assert offer[0][0].startswith("Would you like to add a point of your own")
    assert phone.tg_text("no")[0][0].startswith("Question 2 of 4")
    with runtime.sessions() as session:
        pid = runtime.service.pseudonym("telegram", str(CHAT))
        votes = {(v.statement_id, v.vote) for v in session.scalars(
            select(Vote).where(Vote.participant_id == pid))}
    assert votes == {(ids[seeds[0]], "agree"), (ids[seeds[1]], "pass"),
                     (ids[seeds[2]], "disagree")}  # the stale press changed nothing
    acknowledged = [c["callback_query_id"] for c in phone.telegram.calls("answerCallbackQuery")]
    assert len(acknowledged) >= 4


def _through_first_question(phone: Phone, frm: str, statement: str = "no") -> list[str]:
    """Start by SMS, give a view, vote on whatever is offered, answer the offer to add one."""
    phone.sms("FAIRPAY", frm)
    phone.sms("yes", frm)
    shown = [phone.sms("My view.", frm)[-1]]
    while VOTE_SMS in shown[-1]:
        shown.append(phone.sms("1", frm)[-1])
    phone.sms(statement, frm)
    return [s.split('"')[1] for s in shown if VOTE_SMS in s]


def _finish(phone: Phone, frm: str) -> list[str]:
    """Carry on to the end (votes "1", skips the rest), then ask for MORE until nothing is
    left; every statement shown on the way."""
    replies = phone.sms("REPEAT", frm)
    shown: list[str] = []
    for _ in range(200):
        last = replies[-1] if replies else ""
        if VOTE_SMS in last:
            shown.append(last)
            replies = phone.sms("1", frm)
        elif last.startswith(("Question", "Would you like to add", "May we quote",
                              "Would you like to hear", "FAIRPAY")):
            replies = phone.sms("skip" if last.startswith("Question") else "no", frm)
        elif "agree to take part?" in last:
            replies = phone.sms("yes", frm)
        elif last.startswith("You've seen every point"):
            return shown
        elif "Text MORE" in last:
            replies = phone.sms("MORE", frm)
        else:
            replies = phone.sms("FAIRPAY", frm)
    raise AssertionError("never ran out of statements")


def test_moderation_decides_what_others_see(runtime: Runtime, phone: Phone) -> None:
    fair = consultation(runtime)
    author = "+447700900401"
    _through_first_question(phone, author, "Night staff in supported living should be covered.")
    with runtime.sessions() as session:
        repo = ConsultationRepository(session)
        pending = repo.queue(fair.id)
    assert [item.text for item in pending] == [
        "Night staff in supported living should be covered."]
    # Before a reviewer approves it, nobody is offered it.
    seen = _through_first_question(phone, "+447700900402")
    assert "Night staff in supported living should be covered." not in seen
    with runtime.sessions() as session:
        ConsultationRepository(session).moderate(
            pending[0].id, "edit", None, runtime.clock(),
            text="Night staff in supported living should be covered by the agreement.")
        session.commit()
    # Approved (and edited): now it has the fewest votes, so the next person sees it first...
    seen = _through_first_question(phone, "+447700900403")
    assert seen[0] == "Night staff in supported living should be covered by the agreement."
    # ...but its author never does, even when they ask for MORE after finishing.
    shown = _finish(phone, author)
    assert shown and all("Night staff" not in m for m in shown)
    assert "Night staff" in " ".join(_finish(phone, "+447700900405"))  # others do
    with runtime.sessions() as session:
        repo = ConsultationRepository(session)
        statement = repo.get(pending[0].id)
        assert statement is not None and statement.status == "approved"
        rejected = repo.moderate(statement.id, "reject", None, runtime.clock(),
                                 reason="changed our minds")
        session.commit()
    assert rejected.status == "rejected"
    assert "Night staff" not in " ".join(_through_first_question(phone, "+447700900404"))


def test_a_near_repeat_is_flagged_to_reviewers(runtime: Runtime, phone: Phone) -> None:
    fair = consultation(runtime)
    _through_first_question(phone, "+447700900411",
                            "Agency staff should get the same pay as the provider's own staff.")
    _through_first_question(phone, "+447700900412", "Pay cleaners properly.")
    with runtime.sessions() as session:
        queue = ConsultationRepository(session).queue(fair.id)
    flagged = {item.text: item.duplicate_text for item in queue}
    assert flagged["Agency staff should get the same pay as the provider's own staff."] == (
        fair.questions[0].seeds[2].get())
    assert flagged["Pay cleaners properly."] is None


def test_a_vote_on_an_unapproved_or_own_statement_is_not_stored(runtime: Runtime) -> None:
    fair = consultation(runtime)
    with runtime.sessions() as session:
        from storage.repositories.people import ParticipantRepository

        ParticipantRepository(session).ensure("pauthor", "sms", runtime.clock())
        ParticipantRepository(session).ensure("pother", "sms", runtime.clock())
        repo = ConsultationRepository(session)
        sid = repo.propose(fair.id, "coverage", "pauthor", "A pending point.", runtime.clock())
        assert repo.vote(fair.id, sid, "pother", "agree", runtime.clock()) is False
        repo.moderate(sid, "approve", None, runtime.clock())
        assert repo.vote(fair.id, sid, "pauthor", "agree", runtime.clock()) is False
        assert repo.vote("another", sid, "pother", "agree", runtime.clock()) is False
        assert repo.vote(fair.id, sid, "pother", "agree", runtime.clock()) is True
        assert repo.vote(fair.id, sid, "pother", "disagree", runtime.clock()) is True
        assert [(t.agree, t.disagree) for t in repo.tallies(fair.id) if t.id == sid] == [(0, 1)]
        assert [c.id for c in repo.candidates(fair.id, "pauthor")].count(sid) == 0
        assert [c.id for c in repo.candidates(fair.id, "pother")].count(sid) == 0  # voted
        session.commit()


def test_seeds_load_once_and_a_new_version_adds_only_new_ones(runtime: Runtime) -> None:
    fair = consultation(runtime)
    with runtime.sessions() as session:
        repo = ConsultationRepository(session)
        assert repo.upsert_seeds(fair.id, fair.seed_statements(), runtime.clock()) == 0
        more = [*fair.seed_statements(), ("cost", "A new seed in version 2.")]
        assert repo.upsert_seeds(fair.id, more, runtime.clock()) == 1
        session.commit()
        assert len(repo.tallies(fair.id)) == len(fair.seed_statements()) + 1
