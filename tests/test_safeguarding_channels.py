"""A disclosure at every point of a conversation, on SMS, WhatsApp and Telegram.

Through the real webhooks, service, outbox, sender and client libraries to the fake
providers (tests/webhook_harness.py): the person gets somewhere in the `fft` survey (or
the fair pay consultation), then writes words that may disclose harm. The very next
message they receive must be the signposting for that category, in their language, with
no placeholder, then the gentle pause; and nothing the survey would have said instead
("Sorry, do you agree to take part?", the menu, "May we quote your words?").
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services.safeguarding import signposting_text
from storage.models import Answer, SafeguardingFlag
from storage.repositories.safeguarding import SafeguardingRepository
from surveys.sms import segments
from tests.webhook_harness import (
    SURVEY_CHANNELS,
    TELEGRAM_WARNINGS,
    Harness,
    fake_providers_fixture,
    harness_fixture,
    quick_reply,
)

pytestmark = TELEGRAM_WARNINGS
fakes = fake_providers_fixture(SURVEY_CHANNELS)
harness = harness_fixture()

CHANNELS = ("sms", "whatsapp", "telegram")
#: What a person says to get to each point of the `fft` survey, after choosing a language.
STATES: dict[str, list[str]] = {
    "first message": [],
    "language question": ["hello"],
    "consent question": ["hello", "{lang}"],
    "choice question": ["hello", "{lang}", "1"],
    "free-text question": ["hello", "{lang}", "1", "2"],
    "quote question": ["hello", "{lang}", "1", "2", "Kind staff, but always rushed."],
    "share-back question": ["hello", "{lang}", "1", "2", "Kind staff.", "1"],
    "finished": ["hello", "{lang}", "1", "2", "Kind staff.", "1", "1"],
    "paused": ["hello", "{lang}", "1", "PAUSE"],
    "after HELP": ["hello", "{lang}", "1", "HELP"],
    "asked to confirm DELETE": ["hello", "{lang}", "DELETE"],
    "after STOP": ["hello", "{lang}", "STOP"],
}
DISCLOSURES = {
    "en": ("I can't cope anymore, I want to end it", "self_harm"),
    "cy": ("Does neb wedi dod i'w newid hi ers ddoe", "neglect"),
}
PAUSE = {"en": "Would you like to carry on with the questions, stop for now, or ask someone "
               "to contact you?",
         "cy": "Hoffech chi barhau gyda'r cwestiynau, stopio am nawr, neu ofyn i rywun "
               "gysylltu gyda chi?"}


def received(h: Harness, channel: str) -> list[str]:
    """The texts the person got on `channel`, in order (buttons as "[a | b]")."""
    if channel == "telegram":
        return [m["text"] for m in h.telegram.messages]
    out = []
    for sent in h.twilio.messages:
        buttons = quick_reply(h.twilio, sent)
        out.append(sent["Body"] if buttons is None else buttons[0])
    return out


def drive(h: Harness, channel: str, texts: list[str], lang: str) -> None:
    """Say `texts`, choosing English (1) or Cymraeg (2) where they say {lang}."""
    for text in texts:
        h.say(channel, text.replace("{lang}", "1" if lang == "en" else "2"))


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("lang", ["en", "cy"])
def test_a_disclosure_anywhere_gets_signposting_next(harness: Harness, channel: str,
                                                     state: str, lang: str) -> None:
    # At the first message no language is chosen yet: the words decide (Welsh, Welsh).
    drive(harness, channel, STATES[state], lang)
    harness.forget_replies()
    words, category = DISCLOSURES[lang]
    harness.say(channel, words)

    got = received(harness, channel)
    survey = harness.runtime.catalog.get().surveys["fft"]
    expected = signposting_text(harness.runtime.settings, category, lang, survey)
    assert got, f"nothing was sent after a disclosure ({state}, {channel})"
    assert got[0] == expected  # the very next message, in their language
    assert "[" not in got[0] and "{" not in got[0]  # never a placeholder
    assert segments(got[0]) <= 2
    if state == "after STOP":
        assert got == [expected]  # signposting only: no questions after STOP
    else:
        assert got[1].startswith(PAUSE[lang])
        assert len(got) == 2  # nothing else: no next question, no quote question
    with harness.runtime.sessions() as session:
        flag = session.scalars(select(SafeguardingFlag)).one()
    assert flag.categories[0] == category and flag.channel == channel
    assert flag.language == lang


@pytest.mark.parametrize("channel", CHANNELS)
def test_carry_on_returns_to_the_question_and_never_asks_to_quote(harness: Harness,
                                                                  channel: str) -> None:
    drive(harness, channel, STATES["choice question"], "en")
    harness.forget_replies()
    harness.say(channel, "honestly I just want it all to stop")
    harness.forget_replies()
    harness.say(channel, "1")  # carry on
    got = received(harness, channel)
    assert got[0] == "Thank you. Let's carry on."
    assert got[1].startswith("Overall, how was your experience of our service?")
    harness.say(channel, "2")
    harness.say(channel, "Kind staff.")
    later = received(harness, channel)
    assert not any("May we quote" in text for text in later)
    assert later[-1].startswith("Would you like to hear what we learn?")


def test_stop_for_now_then_welcome_back_and_contact_me_reaches_the_flag(
        harness: Harness) -> None:
    drive(harness, "sms", STATES["free-text question"], "cy")
    harness.forget_replies()
    harness.say("sms", "Mae fy ngŵr yn fy nharo i")
    assert received(harness, "sms")[0] == signposting_text(
        harness.runtime.settings, "abuse", "cy", harness.runtime.catalog.get().surveys["fft"])
    harness.forget_replies()
    harness.say("sms", "3")  # please contact me
    got = received(harness, "sms")
    assert got[0].startswith("Diolch. Rydyn ni wedi gofyn i'n harweinydd diogelu")
    with harness.runtime.sessions() as session:
        flag = session.scalars(select(SafeguardingFlag)).one()
        answer = session.scalars(select(Answer).where(Answer.question_id == "why")).one()
    assert flag.contact_wanted_at is not None
    assert flag.answer_id == answer.id  # the words were their answer, and are kept
    harness.forget_replies()
    harness.say("sms", "helo")  # later: the survey carries on where it was
    got = received(harness, "sms")
    assert got[0] == "Helo eto."  # "Welcome back."
    # Their words answered the last question; "may we quote you?" is never asked after a
    # disclosure, so next is "would you like to hear what we learn?".
    assert got[1].startswith("Hoffech chi glywed beth rydym yn ei ddysgu?")


@pytest.mark.parametrize("channel", ["sms", "telegram"])
def test_a_disclosure_in_a_consultation_view_and_vote(harness: Harness, channel: str) -> None:
    for text in ("FAIRPAY", "yes"):
        harness.say(channel, text)
    harness.forget_replies()
    harness.say(channel, "I'm not safe at home, he threatens me")  # the view question
    got = received(harness, channel)
    expected = signposting_text(harness.runtime.settings, "abuse", "en")
    assert got[0] == expected and got[1].startswith(PAUSE["en"]) and len(got) == 2
    harness.say(channel, "carry on")  # their view was kept: now a point to vote on
    harness.forget_replies()
    harness.say(channel, "nobody has fed her since yesterday")  # a vote, or their own point
    got = received(harness, channel)
    assert got[0] == signposting_text(harness.runtime.settings, "neglect", "en")
    with harness.runtime.sessions() as session:
        stages = [f.stage for f in session.scalars(
            select(SafeguardingFlag).order_by(SafeguardingFlag.id))]
    assert stages[0] == "view" and stages[1] in ("vote", "propose")


def test_back_and_a_new_answer_never_change_what_was_flagged(harness: Harness) -> None:
    for text in ("carers", "1", "yes", "1", "1"):  # to "What support is missing for you?"
        harness.say("sms", text)
    harness.say("sms", "Nothing, I just want it all to stop")
    harness.say("sms", "1")  # carry on
    harness.say("sms", "BACK")
    harness.forget_replies()
    harness.say("sms", "More respite, please")  # a new answer to the same question
    with harness.runtime.sessions() as session:
        flag = session.scalars(select(SafeguardingFlag)).one()
        answer = session.scalars(select(Answer).where(Answer.question_id == "missing")).one()
        words = SafeguardingRepository(session, harness.runtime.vault).words(flag)
    assert answer.value == "More respite, please"
    assert words is not None and words.text == "Nothing, I just want it all to stop"
    assert (flag.survey_id, flag.question_id) == ("carers", "missing")
