"""The web simulator in a real browser: every question's options can be clicked, not only
read inside "As an SMS". One choice is a button per option; a scale's buttons read "1" to
"5" (never "1. 1"); several choices are ticked, then sent together, as their numbers.

axe-core checks the page at each step; screenshots at 1280 and 390 pixels go to
test-output/screenshots/.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.services.runtime import Runtime
from storage.models import Answer
from tests.browser.test_dashboard_browser import check_accessibility, shot

pytestmark = pytest.mark.timeout(120)


def _answers(runtime: Runtime, question: str) -> list[Any]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Answer.value).where(
            Answer.survey_id == "carers", Answer.question_id == question,
            Answer.kind == "value").order_by(Answer.id)))


def _bot_says(page: Any, text: str) -> None:
    page.locator("#log .bubble.bot", has_text=text).last.wait_for()


@pytest.mark.parametrize("width", [1280, 390])
def test_every_question_s_options_can_be_clicked(browser: Any, server: tuple[str, Runtime],
                                                 width: int) -> None:
    base, runtime = server
    before = len(_answers(runtime, "helps"))
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/simulator?survey=carers")
    page.get_by_role("button", name="Start").click()
    log = page.locator("#log")
    log.get_by_role("button", name="English").click()
    _bot_says(page, "Do you agree")
    log.get_by_role("button", name="Yes, I agree").last.click()
    _bot_says(page, "how many hours a week")
    log.get_by_role("button", name="1. Under 20 hours").click()

    # Multiple choice: a box per option, ticked, then sent as "1 3".
    _bot_says(page, "Which of these help you most?")
    ticks = log.get_by_role("group", name="Tick all that apply, then send")
    assert ticks.get_by_role("checkbox").count() == 6
    check_accessibility(page, f"simulator multiple choice {width}")
    shot(page, f"simulator-multiple-{width}")
    ticks.get_by_role("button", name="Send ticked").click()  # nothing ticked yet
    _bot_says(page, "Tick at least one")
    assert len(_answers(runtime, "helps")) == before
    ticks.get_by_label("1. Family or friends").check()
    ticks.get_by_label("3. Carers groups").check()
    ticks.get_by_role("button", name="Send ticked").click()
    page.locator("#log .bubble.me", has_text="Family or friends; Carers groups").wait_for()
    _bot_says(page, "What support is missing")
    assert _answers(runtime, "helps")[before:] == [["family", "groups"]]

    page.get_by_label("Your reply").fill("SKIP")
    page.get_by_role("button", name="Send", exact=True).click()
    # A scale: its own numbers as buttons, once each.
    _bot_says(page, "How much time do you get for yourself?")
    scale = log.locator(".choices").last
    assert [b.strip() for b in scale.get_by_role("button").all_inner_texts()] == [
        "1", "2", "3", "4", "5"]
    scale.get_by_role("button", name="4", exact=True).click()
    _bot_says(page, "carer's assessment")
    log.get_by_role("button", name="1. Yes").last.click()
    _bot_says(page, "Would you like to hear what we learn?")
    assert _answers(runtime, "time_for_me")[-1] == 4
    assert _answers(runtime, "assessment")[-1] == "yes"
    check_accessibility(page, f"simulator after answers {width}")
    shot(page, f"simulator-answers-{width}")
    context.close()
