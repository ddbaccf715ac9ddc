"""Welsh throughout: a Welsh speaker pays no more than an English one to reach the FFT's
question, whether they choose Welsh from the language question or text PROFIAD; and the
menu, with Welsh titles and keywords, stays within two SMS segments."""

from __future__ import annotations

from datetime import timedelta

import pytest

from surveys.conversation import Event
from surveys.engine import Catalog
from surveys.keeping import converse
from surveys.model import Survey
from surveys.organisation import Organisation
from tests.personas import CHANNELS, START, library

ITEMS = library()
SURVEYS = {i.id: i for i in ITEMS if isinstance(i, Survey)}
SMS = next(c for c in CHANNELS if c.name == "sms")


def cost_to_question(messages: list[str], channel_name: str = "sms") -> tuple[int, int]:
    """(segments for the whole exchange, segments after the first message) until the
    FFT's first question is asked."""
    channel = next(c for c in CHANNELS if c.name == channel_name)
    catalog = Catalog({"fft": SURVEYS["fft"]}, "fft",
                      organisation=Organisation(name="Cwm Taf Carers"))
    state, now, costs = None, START, []
    for text in messages:
        step = converse(catalog, state, Event("text", text=text), now)
        state, now = step.state, now + timedelta(minutes=5)
        lang = str(state.get("lang") or "en")
        costs.append(sum(channel.cost(r, lang) for r in step.replies))
        if state.get("q") == "overall":
            return sum(costs), sum(costs[1:])
    raise AssertionError(f"never reached the question: {messages}")


@pytest.mark.parametrize(("messages", "language"), [
    (["Hi", "1", "yes"], "en"), (["Helo", "2", "ie"], "cy"), (["Helo", "Cymraeg", "ydw"], "cy")])
def test_after_choosing_a_language_fft_asks_its_question_in_three_segments(
        messages: list[str], language: str) -> None:
    whole, after_choice = cost_to_question(messages)
    assert after_choice <= 3, language
    assert whole <= 4


def test_a_welsh_keyword_reaches_the_fft_question_in_three_segments_all_told() -> None:
    whole, _after = cost_to_question(["PROFIAD", "ie"])
    assert whole <= 3


@pytest.mark.parametrize("language", ["en", "cy"])
def test_the_menu_with_titles_and_keywords_fits_two_sms(language: str) -> None:
    catalog = Catalog(SURVEYS, None, {i.id: i for i in ITEMS if not isinstance(i, Survey)})
    step = converse(catalog, {"lang": language, "stage": "done"}, Event("text", text="MENU"),
                    START)
    menu = step.replies[-1]
    words = {"en": ["CARERS", "FFT", "WORKFORCE"], "cy": ["GOFALWYR", "PROFIAD", "GWEITHLU"]}
    for word in words[language]:
        assert f"({word})" in SMS.render(menu, language)[0]
    assert SMS.cost(menu, language) <= 2
