"""Suggested themes in the browser: ask for them, untick an answer, accept, reject, all
without a page reload; and the same with JavaScript off, as plain forms.

Each test has its own server seeded with the carers' answers of tests/carers_answers.py
(what one accepts, the next would not see suggested). Every state is checked with
axe-core; screenshots at 1280 and 390 px go to test-output/screenshots/ (the whole page,
and the suggestions panel on its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage.models import ThemeRejection
from tests.browser.conftest import REVIEWER, SCREENSHOTS, serve
from tests.browser.seed import Person, add_user, seed
from tests.browser.test_dashboard_browser import check_accessibility, shot, sign_in
from tests.browser.test_tagging_browser import status_says, tags, watch_navigation
from tests.carers_answers import all_answers
from tests.helpers import FakeClock, make_runtime

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def carers(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    runtime = make_runtime(f"sqlite:///{tmp_path / 'withus.db'}", tmp_path, clock=FakeClock())
    seed(runtime, "carers", [Person({"missing": text, "time_for_me": 3})
                             for _id, text in all_answers()])
    add_user(runtime, REVIEWER, "reviewer")
    with serve(runtime) as base:
        yield base, runtime


def panel_shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#suggestions-panel").screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def still_here(page: Any, navigations: list[str], scroll_y: float) -> None:
    """No reload: the marker survives, every navigation stayed in the document (the
    address gains ?suggest=1 through the history API), and the page did not jump."""
    assert page.evaluate("window.__stillHere === true"), "the page was reloaded"
    assert all("suggest=1" in url for url in navigations), navigations
    assert abs(page.evaluate("window.scrollY") - scroll_y) <= 2, "the reader lost their place"


def click_in_place(page: Any, button: Any) -> float:
    button.scroll_into_view_if_needed()
    y = float(page.evaluate("window.scrollY"))
    button.click()
    return y


def rejections(runtime: Any) -> set[tuple[int, str]]:
    with runtime.sessions() as session:
        return set(session.execute(select(ThemeRejection.answer_id, ThemeRejection.name)))


@pytest.mark.parametrize("width", [1280, 390])
def test_accept_and_reject_a_suggestion_without_a_reload(
        browser: Any, carers: tuple[str, Any], width: int) -> None:
    base, runtime = carers
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 800})
    page = context.new_page()
    sign_in(page, base, REVIEWER)
    page.goto(f"{base}/dashboard/surveys/carers")
    navigations = watch_navigation(page)
    panel = page.locator("#suggestions-panel")
    assert panel.locator("article").count() == 0  # nothing grouped until asked

    y = click_in_place(page, panel.get_by_role("button", name="Suggest themes"))
    status_says(page, "Suggestions are ready below.")
    panel.locator("article").first.wait_for()
    still_here(page, navigations, y)
    assert "suggest=1" in page.url  # a reload keeps them
    assert tags(runtime, "anything") == set()
    count = panel.locator("article").count()
    assert count >= 4
    check_accessibility(page, f"suggested themes at {width} px")
    shot(page, f"suggestions-01-asked-{width}")
    panel_shot(page, f"suggestions-01-panel-{width}")

    # Accept a suggestion with answers on this page of answers (25 of 34 are shown),
    # renamed, with its last answer unticked.
    index = page.evaluate("""() => Array.from(document.querySelectorAll(
        '#suggestions-panel article')).findIndex(article => Array.from(
        article.querySelectorAll('input[type=checkbox]')).slice(0, -1).some(
        box => document.getElementById('answer-themes-' + box.value)))""")
    assert index >= 0
    first = panel.locator("article").nth(index)
    boxes = first.get_by_role("checkbox")
    listed = [int(boxes.nth(n).get_attribute("value") or 0) for n in range(boxes.count())]
    assert len(listed) >= 3 and all(boxes.nth(n).is_checked() for n in range(len(listed)))
    boxes.nth(len(listed) - 1).uncheck()
    first.get_by_label("Name of the new theme").fill(f"Breaks {width}")
    y = click_in_place(page, first.get_by_role("button", name="Accept: tag the ticked answers"))
    status_says(page, f"Tagged {len(listed) - 1} answers \u201cBreaks {width}\u201d.")
    assert tags(runtime, f"Breaks {width}") == set(listed[:-1])
    # The answers below show their new theme, and the theme is in the counts.
    on_page = [a for a in listed[:-1] if page.locator(f"#answer-themes-{a}").count()]
    shown = page.locator(f"#answer-themes-{on_page[0]}")
    shown.get_by_role("list", name="Themes of this answer").get_by_text(
        f"Breaks {width}").wait_for()
    assert page.locator("#themes-panel").get_by_role("link", name=f"Breaks {width}").count() == 1
    still_here(page, navigations, y)
    assert page.evaluate("document.activeElement.id") == "suggestions-heading"
    check_accessibility(page, f"after accepting a suggestion at {width} px")
    shot(page, f"suggestions-02-accepted-{width}")
    panel_shot(page, f"suggestions-02-panel-{width}")

    # Tagging an answer by hand keeps the suggestions on the page (every form now comes
    # back to the view with suggestions).
    item = page.locator("li.answer").filter(
        has_not=page.get_by_role("list", name="Themes of this answer")).first
    item.get_by_label("Add a theme").select_option(label=f"Breaks {width}")
    y = click_in_place(page, item.get_by_role("button", name="Tag this answer"))
    status_says(page, f"Tagged \u201cBreaks {width}\u201d.")
    assert panel.locator("article").count() >= 2
    still_here(page, navigations, y)

    # Reject the next new-theme suggestion: it goes, and is remembered.
    new = panel.locator("article", has_text="New theme").first
    name = new.get_by_label("Name of the new theme").input_value()
    ids = [int(v) for v in new.get_by_role("checkbox").evaluate_all(
        "boxes => boxes.map(b => b.value)")]
    before = panel.locator("article").count()
    reject = new.get_by_role("button", name=f"Reject the suggestion \u201c{name}\u201d")
    y = click_in_place(page, reject)
    status_says(page, f"Suggestion \u201c{name}\u201d rejected")
    page.wait_for_function(f"document.querySelectorAll('#suggestions-panel article').length"
                           f" === {before - 1}")
    assert rejections(runtime) == {(a, name.casefold()) for a in ids}
    still_here(page, navigations, y)
    check_accessibility(page, f"after rejecting a suggestion at {width} px")
    panel_shot(page, f"suggestions-03-panel-{width}")
    context.close()


def test_without_javascript_suggestions_are_plain_forms(
        browser: Any, carers: tuple[str, Any]) -> None:
    base, runtime = carers
    context = browser.new_context(java_script_enabled=False,
                                  viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, base, REVIEWER)
    page.goto(f"{base}/dashboard/surveys/carers")
    with page.expect_navigation():
        page.get_by_role("button", name="Suggest themes").click()
    assert "suggest=1" in page.url and page.url.endswith("#suggestions-heading")
    first = page.locator("#suggestions-panel article").first
    boxes = first.get_by_role("checkbox")
    listed = [int(boxes.nth(n).get_attribute("value") or 0) for n in range(boxes.count())]
    with page.expect_navigation():
        first.get_by_role("button", name="Accept: tag the ticked answers").click()
    assert page.url.endswith("#suggestions-heading") and "suggest=1" in page.url
    assert page.get_by_role("status").get_by_text(f"Tagged {len(listed)} answers").is_visible()
    with runtime.sessions() as session:
        from storage.models import AnswerTheme
        assert set(session.scalars(select(AnswerTheme.answer_id))) == set(listed)
    context.close()
