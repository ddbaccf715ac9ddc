"""Filtering the results by another question's answer, and the cross-tab, in Chromium at
1280 and 390 px: used as a reviewer would (choose, apply, follow a row's link), checked
with axe-core, never scrolling the page sideways, and screenshotted to
test-output/screenshots/crosstab-*.png; and one response's full view as an organiser
reaches it (response-*.png).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.services.runtime import Runtime
from tests.browser.conftest import SCREENSHOTS, serve
from tests.browser.seed import add_user, seed
from tests.browser.test_dashboard_browser import check_accessibility, shot
from tests.browser.test_phone_width_browser import sideways, sign_in
from tests.helpers import FakeClock, make_runtime
from tests.test_differencing import carers_45

pytestmark = pytest.mark.timeout(300)

REVIEWER, ORGANISER = "reviewer@example.org", "organiser@example.org"


@pytest.fixture(scope="module")
def carers_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("crosstab")
    runtime: Runtime = make_runtime(f"sqlite:///{folder / 'withus.db'}", folder,
                                    clock=FakeClock(datetime(2026, 11, 23, 10, tzinfo=UTC)))
    seed(runtime, "carers", carers_45())
    add_user(runtime, REVIEWER, "reviewer")
    add_user(runtime, ORGANISER, "organiser")
    with serve(runtime) as base:
        yield base


def fits(page: Any, width: int, what: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, (
        what, sideways(page))


@pytest.mark.parametrize("width", [1280, 390])
def test_filter_by_answer_then_compare_two_questions(browser: Any, carers_server: str,
                                                     width: int) -> None:
    base = carers_server
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, base, REVIEWER)
    page.goto(f"{base}/dashboard/surveys/carers")

    # Only those who care 20 to 49 hours a week.
    page.get_by_label("Answer to another question").select_option("hours:h20_49")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**answer=hours*")
    assert page.locator("#answer-view").inner_text().startswith(
        "Showing only the people who answered \u201c20 to 49 hours\u201d")
    time_for_me = page.locator("article", has=page.locator("#q-time_for_me")).locator("table")
    assert time_for_me.locator("caption").inner_text() == "Answered by 20"
    rows = time_for_me.locator("tbody tr")
    assert rows.nth(2).locator("td").first.inner_text() == "10"
    assert rows.nth(3).locator("td").first.inner_text() == "10"
    fits(page, width, "the filtered results page")
    check_accessibility(page, f"the results filtered by an answer, {width} px")
    shot(page, f"crosstab-filtered-{width}")

    # The cross-tab of the same question by the same answer.
    page.get_by_role("link", name="Compare two questions in a cross-tab").click()
    page.get_by_label("Rows: people's answer to").select_option("hours")
    page.get_by_label("Columns: their answer to").select_option("time_for_me")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**crosstab?rows=hours*")
    table = page.locator("table.crosstab")
    assert table.locator("caption").inner_text().startswith("People, by their answers")
    row = table.locator("tbody tr", has=page.get_by_role("link", name="20 to 49 hours"))
    cells = [" ".join(t.replace(",", " ").split()) for t in row.locator("td").all_inner_texts()]
    assert cells == ["0 0%", "0 0%", "10 50%", "10 50%", "0 0%", "0", "20"]
    small = table.locator("tbody tr", has=page.get_by_role("link", name="Not sure"))
    assert "fewer than 10" in small.locator("td").first.inner_text()
    assert table.locator("tfoot td").last.inner_text() == "44"
    # At phone width the table scrolls inside its own box, which the keyboard can reach.
    box = page.locator(".table-scroll", has=table)
    assert box.get_attribute("tabindex") == "0"
    fits(page, width, "the cross-tab page")
    check_accessibility(page, f"the cross-tab, {width} px")
    shot(page, f"crosstab-{width}")
    if width < 600:  # scrolled sideways, the row names stay put over the numbers
        box.evaluate("b => { b.scrollLeft = b.scrollWidth; }")
        assert box.evaluate("b => b.scrollLeft") > 0
        name = table.locator("tbody th").first.bounding_box()
        assert name is not None and name["x"] < 30
        box.screenshot(path=str(SCREENSHOTS / f"crosstab-{width}-scrolled.png"))

    # A row's name leads to the results filtered to that answer.
    row.get_by_role("link", name="20 to 49 hours").click()
    page.wait_for_url("**answer=hours*")
    assert page.get_by_label("Answer to another question").input_value() == "hours:h20_49"
    context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_an_organiser_opens_one_response_by_its_number(browser: Any, carers_server: str,
                                                       width: int) -> None:
    base = carers_server
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, base, ORGANISER)
    page.goto(f"{base}/dashboard/surveys/carers?question=missing")
    # From a written answer's link to the whole response.
    link = page.locator("ol.answers li.answer").first.get_by_role("link", name="Response")
    number = (link.get_attribute("href") or "").rsplit("/", 1)[-1]
    assert number.isdigit() and link.inner_text().startswith(f"Response {number}")
    link.click()
    page.wait_for_url(f"**/responses/{number}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Response {number}"
    assert "More respite, carer" in page.locator("ol.response-answers").inner_text()
    fits(page, width, "one response")
    check_accessibility(page, f"one response, {width} px")
    shot(page, f"response-{width}")
    # And by typing its number on the survey page.
    page.goto(f"{base}/dashboard/surveys/carers")
    page.get_by_label("Response number").fill(number)
    page.get_by_role("button", name="Open it").click()
    page.wait_for_url(f"**/responses/{number}")
    context.close()


@pytest.fixture(scope="module")
def two_months_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """78 carers in October (every channel-by-assessment group 0 or 10 and more) and
    issue 16's 45 in September."""
    from tests.test_differencing import carers_78_breaks

    folder = tmp_path_factory.mktemp("crosstab-filtered")
    runtime: Runtime = make_runtime(f"sqlite:///{folder / 'withus.db'}", folder,
                                    clock=FakeClock(datetime(2026, 11, 23, 10, tzinfo=UTC)))
    seed(runtime, "carers", carers_78_breaks(),  # WhatsApp's 36 also ticked "breaks"
         when=datetime(2026, 10, 8, 9, tzinfo=UTC))
    seed(runtime, "carers", carers_45(), when=datetime(2026, 9, 14, 9, tzinfo=UTC))
    add_user(runtime, REVIEWER, "reviewer")
    with serve(runtime) as base:
        yield base


@pytest.mark.parametrize("width", [1280, 390])
def test_a_crosstab_under_the_pages_filters(browser: Any, two_months_server: str,
                                            width: int) -> None:
    base = two_months_server
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, base, REVIEWER)
    # October only: the cross-tab link keeps the dates.
    page.goto(f"{base}/dashboard/surveys/carers")
    page.get_by_label("Started on or after").fill("2026-10-01")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**from=2026-10-01*")
    page.get_by_role("link", name="Compare two questions in a cross-tab").click()
    page.wait_for_url("**/crosstab?from=2026-10-01")
    assert page.get_by_label("Started on or after").input_value() == "2026-10-01"
    page.get_by_label("Rows: people's answer to").select_option("assessment")
    page.get_by_label("Columns: their answer to").select_option("hours")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**rows=assessment*")
    assert page.locator("#showing").inner_text() == (
        "Showing: responses started on or after 1 October 2026.")
    table = page.locator("table.crosstab")
    row = table.locator("tbody tr", has=page.get_by_role("link", name="Yes"))
    cells = [" ".join(t.replace(",", " ").split()) for t in row.locator("td").all_inner_texts()]
    assert cells[:3] == ["22 52%", "10 24%", "10 24%"] and cells[-1] == "42"
    assert page.locator("#crosstab-hidden").count() == 0
    fits(page, width, "the cross-tab of October")
    check_accessibility(page, f"the cross-tab narrowed to October, {width} px")
    shot(page, f"crosstab-narrowed-{width}")

    # WhatsApp in October as well: split three ways, some groups are small.
    page.get_by_label("Channel").select_option("whatsapp")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**channel=whatsapp*")
    notice = page.locator("#crosstab-hidden")
    assert notice.inner_text().startswith("Nothing can be shown for this view.")
    assert "by when they started and channel" in notice.inner_text()
    fits(page, width, "the cross-tab that hides everything")
    check_accessibility(page, f"a cross-tab that must hide everything, {width} px")
    shot(page, f"crosstab-narrowed-hidden-{width}")
    notice.get_by_role("link", name="over all responses").click()
    page.wait_for_url("**crosstab?rows=assessment&columns=hours")
    assert page.locator("#showing").inner_text() == "Showing: every response."
    context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_filter_by_a_ticked_option(browser: Any, two_months_server: str, width: int) -> None:
    """"Only those who ticked Breaks or respite": WhatsApp's 36 in October ticked it, and
    8 of September's 45. With the dates too, split three ways, the view hides its counts."""
    base = two_months_server
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, base, REVIEWER)
    page.goto(f"{base}/dashboard/surveys/carers?from=2026-10-01")
    page.get_by_label("Answer to another question").select_option("helps:ticked:breaks")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**answer=helps*")
    assert page.locator("#answer-view").inner_text().startswith(
        "Showing only the people who ticked \u201cBreaks or respite\u201d")
    fits(page, width, "the results filtered to a ticked option")
    check_accessibility(page, f"the results filtered to a ticked option, {width} px")
    shot(page, f"ticked-filter-october-{width}")
    # Without the dates: only split by the ticked option.
    page.get_by_label("Started on or after").fill("")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**from=&*")
    check_accessibility(page, f"the results filtered to a ticked option alone, {width} px")
    shot(page, f"ticked-filter-{width}")
    context.close()
