"""Tagging that flows: themes, tags, notes and bulk tags without a page reload.

With JavaScript, every form on the written answers posts with fetch and only the parts
that changed are swapped in: the test asserts that no navigation happened (a marker set
on `window` survives, and the main frame never navigates) and that the scroll position
stays where the reviewer was. Without JavaScript the same forms post and come back to the
same answer. Every state is checked with axe-core; screenshots at 1280 and 390 px go to
test-output/screenshots/.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from storage.models import AnswerTheme, Note, Theme
from tests.browser.conftest import REVIEWER
from tests.browser.test_dashboard_browser import check_accessibility, shot, sign_in

pytestmark = pytest.mark.timeout(180)


def watch_navigation(page: Any) -> list[str]:
    """Mark the page, and record every navigation of its main frame from now on."""
    page.evaluate("window.__stillHere = true")
    navigations: list[str] = []
    page.on("framenavigated",
            lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    return navigations


def assert_no_reload(page: Any, navigations: list[str], scroll_y: float) -> None:
    assert navigations == [], f"the page navigated: {navigations}"
    assert page.evaluate("window.__stillHere === true"), "the page was reloaded"
    assert abs(page.evaluate("window.scrollY") - scroll_y) <= 2, "the reader lost their place"


def click_in_place(page: Any, button: Any) -> float:
    """Bring the button into view (as a reader would), note where the page is, click."""
    button.scroll_into_view_if_needed()
    y = page.evaluate("window.scrollY")
    button.click()
    return float(y)


def answer(page: Any, words: str) -> Any:
    return page.locator("li.answer", has_text=words)


def status_says(page: Any, text: str) -> None:
    page.locator("#answers-status", has_text=text).wait_for()


def tags(runtime: Any, theme_name: str) -> set[int]:
    with runtime.sessions() as session:
        return set(session.scalars(
            select(AnswerTheme.answer_id).join(Theme, Theme.id == AnswerTheme.theme_id)
            .where(Theme.name == theme_name)))


@pytest.mark.parametrize("width", [1280, 390])
def test_tag_untag_note_and_bulk_tag_without_a_reload(
        browser: Any, server: tuple[str, Any], width: int) -> None:
    base, runtime = server
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 700})
    page = context.new_page()
    sign_in(page, base, REVIEWER)
    page.goto(f"{base}/dashboard/surveys/fft")
    navigations = watch_navigation(page)
    theme = f"Weekend cover {width}"

    # Create a theme: it appears in the counts and in every list, with no reload.
    page.get_by_label("New theme").fill(theme)
    y = click_in_place(page, page.get_by_role("button", name="Create theme"))
    status_says(page, f"Theme \u201c{theme}\u201d is ready to use.")
    assert_no_reload(page, navigations, y)
    assert page.get_by_label("New theme").input_value() == ""
    assert page.locator("#themes-panel").get_by_role("link", name=theme).is_visible()

    # Tag one answer far down the page: the theme list starts on no theme at all.
    sunday = answer(page, "Nobody came on Sunday.")
    chooser = sunday.get_by_label("Add a theme")
    assert chooser.input_value() == ""
    chooser.select_option(label=theme)
    y = click_in_place(page, sunday.get_by_role("button", name="Tag this answer"))
    assert y > 300, "the answer should be well down the page"
    status_says(page, f"Tagged \u201c{theme}\u201d.")
    sunday.get_by_role("list", name="Themes of this answer").get_by_text(theme).wait_for()
    assert_no_reload(page, navigations, y)
    assert page.evaluate("document.activeElement.tagName") == "SELECT"  # focus stays there
    sunday_id = int((sunday.get_attribute("id") or "").removeprefix("answer-"))
    assert tags(runtime, theme) == {sunday_id}
    check_accessibility(page, f"survey page after tagging at {width} px")
    shot(page, f"tagging-01-tagged-{width}")

    # Untag it.
    y = click_in_place(
        page, sunday.get_by_role("button", name=f"Remove theme {theme} from this answer"))
    status_says(page, "Theme removed from that answer.")
    sunday.get_by_role("list", name="Themes of this answer").wait_for(state="detached")
    assert_no_reload(page, navigations, y)
    assert tags(runtime, theme) == set()

    # Write a note: it appears under the answer, the box empties, the details stay open.
    sunday.get_by_text("Add a note").click()
    box = sunday.get_by_label("Note", exact=True)
    box.fill(f"Ask about Sunday rotas ({width})")
    y = click_in_place(page, sunday.get_by_role("button", name="Save note"))
    status_says(page, "Note added.")
    sunday.get_by_role("list", name="Notes on this answer").get_by_text(
        f"Ask about Sunday rotas ({width})").wait_for()
    assert_no_reload(page, navigations, y)
    assert box.input_value() == "" and box.is_visible()
    with runtime.sessions() as session:
        assert f"Ask about Sunday rotas ({width})" in session.scalars(select(Note.text)).all()

    # Bulk tag three answers.
    kind = [answer(page, f"The carers were kind, visit {n}.") for n in range(3)]
    for item in kind:
        item.get_by_label("Select this answer for tagging").check()
    bulk = page.locator("#bulk-tag")
    assert bulk.get_by_label("Tag the selected answers with").input_value() == ""
    bulk.get_by_label("Tag the selected answers with").select_option(label=theme)
    y = click_in_place(page, bulk.get_by_role("button", name="Tag selected answers"))
    status_says(page, f"Tagged 3 answers \u201c{theme}\u201d.")
    for item in kind:
        item.get_by_role("list", name="Themes of this answer").get_by_text(theme).wait_for()
        assert not item.get_by_label("Select this answer for tagging").is_checked()
    assert_no_reload(page, navigations, y)
    assert len(tags(runtime, theme)) == 3
    counts = page.locator("#themes-panel tr", has_text=theme).inner_text()
    assert "fewer than 10" in counts
    check_accessibility(page, f"survey page after bulk tagging at {width} px")
    shot(page, f"tagging-02-bulk-{width}")
    context.close()


def test_select_all_and_a_mistake_are_handled_in_place(
        browser: Any, server: tuple[str, Any]) -> None:
    base, runtime = server
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, base, REVIEWER)
    page.goto(f"{base}/dashboard/surveys/fft")
    navigations = watch_navigation(page)
    page.get_by_label("New theme").fill("Everything")
    page.get_by_role("button", name="Create theme").click()
    status_says(page, "is ready to use")
    # Tagging with no theme chosen: the browser's own check stops it; forced past that,
    # the server says what to do, in the status region, without moving the page.
    bulk = page.locator("#bulk-tag")
    page.get_by_label("Select every answer on this page").check()
    boxes = page.get_by_label("Select this answer for tagging")
    assert boxes.count() == 11
    assert all(boxes.nth(n).is_checked() for n in range(boxes.count()))
    page.evaluate("document.getElementById('bulk-theme').required = false")
    y = click_in_place(page, bulk.get_by_role("button", name="Tag selected answers"))
    status_says(page, "Choose a theme first.")
    assert "toast-error" in (page.locator("#answers-status").get_attribute("class") or "")
    assert_no_reload(page, navigations, y)
    bulk.get_by_label("Tag the selected answers with").select_option(label="Everything")
    y = click_in_place(page, bulk.get_by_role("button", name="Tag selected answers"))
    status_says(page, "Tagged 11 answers")
    assert len(tags(runtime, "Everything")) == 11
    assert_no_reload(page, navigations, y)
    context.close()


def test_without_javascript_the_same_forms_work_and_come_back_to_the_answer(
        browser: Any, server: tuple[str, Any]) -> None:
    base, runtime = server
    context = browser.new_context(java_script_enabled=False,
                                  viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sign_in(page, base, REVIEWER)
    page.goto(f"{base}/dashboard/surveys/fft")
    assert page.get_by_label("Select every answer on this page").count() == 0 or \
        not page.get_by_label("Select every answer on this page").is_visible()
    page.get_by_label("New theme").fill("No script")
    with page.expect_navigation():
        page.get_by_role("button", name="Create theme").click()
    assert page.url.endswith("#themes-heading")
    assert page.get_by_role("status").get_by_text("No script").is_visible()

    sunday = answer(page, "Nobody came on Sunday.")
    sunday.get_by_label("Add a theme").select_option(label="No script")
    with page.expect_navigation():
        sunday.get_by_role("button", name="Tag this answer").click()
    sunday_id = (sunday.get_attribute("id") or "")
    assert page.url.endswith(f"#{sunday_id}")  # the page comes back at the answer
    assert answer(page, "Nobody came on Sunday.").get_by_role(
        "list", name="Themes of this answer").get_by_text("No script").is_visible()

    with page.expect_navigation():
        answer(page, "Nobody came on Sunday.").get_by_role(
            "button", name="Remove theme No script from this answer").click()
    assert tags(runtime, "No script") == set()

    note = answer(page, "Nobody came on Sunday.")
    note.get_by_text("Add a note").click()
    note.get_by_label("Note", exact=True).fill("Written without a script")
    with page.expect_navigation():
        note.get_by_role("button", name="Save note").click()
    assert answer(page, "Nobody came on Sunday.").get_by_text(
        "Written without a script").is_visible()

    for n in (4, 5):
        answer(page, f"The carers were kind, visit {n}.").get_by_label(
            "Select this answer for tagging").check()
    page.locator("#bulk-tag").get_by_label("Tag the selected answers with").select_option(
        label="No script")
    with page.expect_navigation():
        page.locator("#bulk-tag").get_by_role("button", name="Tag selected answers").click()
    assert page.get_by_role("status").get_by_text("Tagged 2 answers").is_visible()
    assert len(tags(runtime, "No script")) == 2
    shot(page, "tagging-03-no-javascript")
    context.close()
