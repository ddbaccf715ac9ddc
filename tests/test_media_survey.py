"""Surveys that take voice notes and photos: the YAML, the engine's turns, and lint.

Pure: no database, no channel. The end-to-end tests (test_media_e2e.py) cover the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from surveys.conversation import AnswerGiven, Completed, Event, new_state
from surveys.engine import Catalog, converse, step
from surveys.lint import lint_survey
from surveys.loader import load_text
from surveys.model import Survey
from surveys.reading import SurveyError

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
CONSENT_OK = ("Your words are private. A voice note is kept encrypted. Only the organisers "
              "and reviewers hear it. We delete it after a year, or if you reply DELETE. "
              "Do you agree?")


def survey_yaml(accepts: str = "[text, audio]", consent: str = CONSENT_OK,
                qtype: str = "free_text", extra: str = "") -> str:
    return f"""
id: talk
version: 1
language: en
title: Talk to us
intro: Hello. Two questions. Reply STOP to stop.
consent: "{consent}"
thank_you: Thank you.
ask_quote_permission: false
offer_share_back: false
{extra}
questions:
  - id: story
    type: {qtype}
    text: What happened?
    accepts: {accepts}
  - id: more
    type: free_text
    text: Anything else?
    optional: true
"""


def load(text: str) -> Survey:
    survey = load_text(text)
    assert isinstance(survey, Survey)
    return survey


def asking(survey: Survey, question: str = "story") -> dict[str, object]:
    state = new_state()
    state.update(survey=survey.id, version=survey.version, lang="en", stage="asking",
                 q=question, asked=[question])
    return state


def test_accepts_is_read_and_defaults_to_text() -> None:
    survey = load(survey_yaml("[text, audio, image]"))
    story = survey.question("story")
    more = survey.question("more")
    assert story is not None and more is not None
    assert story.accepts == {"text", "audio", "image"} and more.accepts == {"text"}
    assert survey.accepts_media == {"audio", "image"}


@pytest.mark.parametrize(("accepts", "qtype", "message"), [
    ("[audio]", "free_text", "must include text"),
    ("[text, video]", "free_text", "'accepts' has video"),
    ("text", "free_text", "must be a list"),
    ("[text, audio]", "yes_no", "only a free_text question"),
])
def test_accepts_mistakes_are_explained(accepts: str, qtype: str, message: str) -> None:
    with pytest.raises(SurveyError, match=message):
        load_text(survey_yaml(accepts, qtype=qtype))


def test_a_voice_note_is_the_answer_and_the_next_question_follows() -> None:
    survey = load(survey_yaml())
    result = step(survey, asking(survey), Event("media", media_type="voice"), NOW)
    assert [r.text for r in result.replies] == ["Thank you, we got your voice note.",
                                                "Anything else?\n(You can reply SKIP.)"]
    assert result.records == [AnswerGiven("talk", 1, "story", "media",
                                          {"media": "audio", "accepted": True})]
    assert result.state["q"] == "more" and result.state["wrote"] is True


def test_a_photo_to_a_voice_only_question_is_not_an_answer() -> None:
    survey = load(survey_yaml())
    result = step(survey, asking(survey), Event("media", media_type="photo"), NOW)
    assert result.state["q"] == "story"
    assert result.records == [AnswerGiven("talk", 1, "story", "media", {"media": "photo"})]


def test_the_prompt_offers_a_voice_note_beside_the_question() -> None:
    survey = load(survey_yaml("[text, audio, image]"))
    reply = step(survey, asking(survey), Event("text", text="REPEAT"), NOW).replies[-1]
    assert reply.text == "What happened?"
    assert reply.media_note == "You can also send a voice note or a photo."
    welsh = asking(survey)
    welsh["lang"] = "cy"
    note = step(survey, welsh, Event("text", text="REPEAT"), NOW).replies[-1].media_note
    assert note == "Gallwch hefyd anfon neges llais neu lun."


def test_a_failed_voice_note_is_asked_for_again() -> None:
    survey = load(survey_yaml())
    catalog = Catalog({"talk": survey})
    answered = step(survey, asking(survey), Event("media", media_type="voice"), NOW)
    finished = step(survey, answered.state, Event("text", text="skip"), NOW)
    assert finished.state["stage"] == "done"
    assert any(isinstance(r, Completed) for r in finished.records)
    failed = converse(catalog, finished.state, Event("media_failed", payload="story",
                                                     survey_id="talk", media_type="audio"), NOW)
    assert [r.text for r in failed.replies] == [
        "Sorry, your voice note didn't reach us, so we haven't kept it. Please send it "
        "again, or answer in words.", "What happened?"]
    assert (failed.state["stage"], failed.state["q"]) == ("asking", "story")
    again = step(survey, failed.state, Event("text", text="The bus never came."), NOW)
    assert again.state["q"] == "more"  # and on through the rest, as before


def test_a_failure_after_they_left_the_survey_only_apologises() -> None:
    survey = load(survey_yaml())
    state = asking(survey)
    state.update(stage="declined", q=None)
    failed = converse(Catalog({"talk": survey}), state,
                      Event("media_failed", payload="story", survey_id="talk",
                            media_type="audio"), NOW)
    assert len(failed.replies) == 1 and failed.state["stage"] == "declined"
    stopped = dict(state, stopped=True)
    assert converse(Catalog({"talk": survey}), stopped,
                    Event("media_failed", payload="story", survey_id="talk"), NOW).replies == []


def consent_errors(survey: Survey) -> list[str]:
    return sorted({e for c in lint_survey(survey) if c.id == "consent" for e in c.errors})


def test_lint_requires_consent_to_say_what_happens_to_a_voice_note() -> None:
    assert consent_errors(load(survey_yaml())) == []
    vague = load(survey_yaml(consent="Your answers are private. Do you agree?"))
    errors = consent_errors(vague)
    assert len(errors) == 4
    assert any("kept encrypted" in e for e in errors)
    assert any("when it is deleted" in e for e in errors)
    no_media = load(survey_yaml(accepts="[text]", consent="Your answers are private. Agree?"))
    assert consent_errors(no_media) == []


def test_lint_checks_welsh_consent_too() -> None:
    welsh_ok = ("Caiff neges llais ei hamgryptio, a dim ond trefnwyr ac adolygwyr sy'n ei "
                "chlywed. Caiff ei dileu ymhen blwyddyn. Ydych chi'n cytuno?")
    text = survey_yaml(consent="x", extra="languages: [en, cy]").replace(
        'consent: "x"', f'consent:\n  en: "{CONSENT_OK}"\n  cy: "{welsh_ok}"')
    assert consent_errors(load(text)) == []
    bad = text.replace("ei hamgryptio", "ei chadw")
    assert consent_errors(load(bad)) == [
        "this survey accepts voice notes or photos, so its consent must say it is kept "
        "encrypted"]


def test_lint_shows_the_voice_note_offer_on_whatsapp_and_telegram_not_sms() -> None:
    checks = [c for c in lint_survey(load(survey_yaml())) if c.id == "story"]
    offered = {c.channel: "voice note" in c.text for c in checks}
    assert offered == {"sms": False, "whatsapp": True, "telegram": True}


def test_the_shipped_carers_survey_takes_voice_notes_and_lints_clean() -> None:
    from surveys.loader import library_path

    carers = load((library_path() / "carers.yaml").read_text(encoding="utf-8"))
    assert carers.accepts_media == {"audio"}
    assert [e for c in lint_survey(carers) for e in c.errors] == []
