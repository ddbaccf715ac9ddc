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

from tests.browser.conftest import SCREENSHOTS, serve
from tests.browser.pages import checked, signed_in_page, sqlite_runtime
from tests.browser.seed import add_user, seed
from tests.browser.test_dashboard_browser import check_accessibility, shot
from tests.test_differencing import carers_45

pytestmark = pytest.mark.timeout(300)

REVIEWER, ORGANISER = "reviewer@example.org", "organiser@example.org"


@pytest.fixture(scope="module")
def carers_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    runtime = sqlite_runtime(tmp_path_factory, "crosstab")
    seed(runtime, "carers", carers_45())
    add_user(runtime, REVIEWER, "reviewer")
    add_user(runtime, ORGANISER, "organiser")
    with serve(runtime) as base:
        yield base


def apply_filters(page: Any, url: str) -> None:
    """Apply the results page's filters as chosen, and wait for the page they lead to."""
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(url)


def filter_by_answer(page: Any, answer: str, url: str) -> str:
    """Narrow the results page to an answer; what it then says it shows."""
    page.get_by_label("Answer to another question").select_option(answer)
    apply_filters(page, url)
    return str(page.locator("#answer-view").inner_text())


def compare(page: Any, rows: str, columns: str, url: str) -> None:
    """Choose the cross-tab's two questions, compare, and wait for the page it leads to."""
    page.get_by_label("Rows: people's answer to").select_option(rows)
    page.get_by_label("Columns: their answer to").select_option(columns)
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(url)


def row_cells(row: Any) -> list[str]:
    """A cross-tab row's cells, "count share" each."""
    return [" ".join(t.replace(",", " ").split()) for t in row.locator("td").all_inner_texts()]


@pytest.mark.parametrize("width", [1280, 390])
def test_filter_by_answer_then_compare_two_questions(browser: Any, carers_server: str,
                                                     width: int) -> None:
    with signed_in_page(browser, carers_server, REVIEWER, width) as page:
        page.goto(f"{carers_server}/dashboard/surveys/carers")

        # Only those who care 20 to 49 hours a week.
        assert filter_by_answer(page, "hours:h20_49", "**answer=hours*").startswith(
            "Showing only the people who answered \u201c20 to 49 hours\u201d")
        time_for_me = page.locator("article",
                                   has=page.locator("#q-time_for_me")).locator("table")
        assert time_for_me.locator("caption").inner_text() == "Answered by 20"
        rows = time_for_me.locator("tbody tr")
        assert rows.nth(2).locator("td").first.inner_text() == "10"
        assert rows.nth(3).locator("td").first.inner_text() == "10"
        checked(page, width, "the results filtered by an answer", "crosstab-filtered")

        # The cross-tab of the same question by the same answer.
        page.get_by_role("link", name="Compare two questions in a cross-tab").click()
        compare(page, "hours", "time_for_me", "**crosstab?rows=hours*")
        table = page.locator("table.crosstab")
        assert table.locator("caption").inner_text().startswith("People, by their answers")
        row = table.locator("tbody tr", has=page.get_by_role("link", name="20 to 49 hours"))
        assert row_cells(row) == ["0 0%", "0 0%", "10 50%", "10 50%", "0 0%", "0", "20"]
        small = table.locator("tbody tr", has=page.get_by_role("link", name="Not sure"))
        assert "fewer than 10" in small.locator("td").first.inner_text()
        assert table.locator("tfoot td").last.inner_text() == "44"
        # At phone width the table scrolls inside its own box, which the keyboard can reach.
        box = page.locator(".table-scroll", has=table)
        assert box.get_attribute("tabindex") == "0"
        checked(page, width, "the cross-tab", "crosstab")
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


@pytest.mark.parametrize("width", [1280, 390])
def test_an_organiser_opens_one_response_by_its_number(browser: Any, carers_server: str,
                                                       width: int) -> None:
    with signed_in_page(browser, carers_server, ORGANISER, width) as page:
        page.goto(f"{carers_server}/dashboard/surveys/carers?question=missing")
        # From a written answer's link to the whole response.
        link = page.locator("ol.answers li.answer").first.get_by_role("link", name="Response")
        number = (link.get_attribute("href") or "").rsplit("/", 1)[-1]
        assert number.isdigit() and link.inner_text().startswith(f"Response {number}")
        link.click()
        page.wait_for_url(f"**/responses/{number}")
        assert page.get_by_role("heading", level=1).inner_text() == f"Response {number}"
        assert "More respite, carer" in page.locator("ol.response-answers").inner_text()
        checked(page, width, "one response", "response")
        # And by typing its number on the survey page.
        page.goto(f"{carers_server}/dashboard/surveys/carers")
        page.get_by_label("Response number").fill(number)
        page.get_by_role("button", name="Open it").click()
        page.wait_for_url(f"**/responses/{number}")


@pytest.fixture(scope="module")
def two_months_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """78 carers in October (every channel-by-assessment group 0 or 10 and more) and
    issue 16's 45 in September."""
    from tests.test_differencing import carers_78_breaks

    runtime = sqlite_runtime(tmp_path_factory, "crosstab-filtered")
    seed(runtime, "carers", carers_78_breaks(),  # WhatsApp's 36 also ticked "breaks"
         when=datetime(2026, 10, 8, 9, tzinfo=UTC))
    seed(runtime, "carers", carers_45(), when=datetime(2026, 9, 14, 9, tzinfo=UTC))
    add_user(runtime, REVIEWER, "reviewer")
    with serve(runtime) as base:
        yield base


@pytest.mark.parametrize("width", [1280, 390])
def test_a_crosstab_under_the_pages_filters(browser: Any, two_months_server: str,
                                            width: int) -> None:
    with signed_in_page(browser, two_months_server, REVIEWER, width) as page:
        # October only: the cross-tab link keeps the dates.
        page.goto(f"{two_months_server}/dashboard/surveys/carers")
        page.get_by_label("Started on or after").fill("2026-10-01")
        apply_filters(page, "**from=2026-10-01*")
        page.get_by_role("link", name="Compare two questions in a cross-tab").click()
        page.wait_for_url("**/crosstab?from=2026-10-01")
        assert page.get_by_label("Started on or after").input_value() == "2026-10-01"
        compare(page, "assessment", "hours", "**rows=assessment*")
        assert page.locator("#showing").inner_text() == (
            "Showing: responses started on or after 1 October 2026.")
        table = page.locator("table.crosstab")
        cells = row_cells(table.locator("tbody tr", has=page.get_by_role("link", name="Yes")))
        assert cells[:3] == ["22 52%", "10 24%", "10 24%"] and cells[-1] == "42"
        assert page.locator("#crosstab-hidden").count() == 0
        checked(page, width, "the cross-tab narrowed to October", "crosstab-narrowed")

        # WhatsApp in October as well: split three ways, some groups are small.
        page.get_by_label("Channel").select_option("whatsapp")
        page.get_by_role("button", name="Compare").click()
        page.wait_for_url("**channel=whatsapp*")
        notice = page.locator("#crosstab-hidden")
        assert notice.inner_text().startswith("Nothing can be shown for this view.")
        assert "by when they started and channel" in notice.inner_text()
        checked(page, width, "a cross-tab that must hide everything", "crosstab-narrowed-hidden")
        notice.get_by_role("link", name="over all responses").click()
        page.wait_for_url("**crosstab?rows=assessment&columns=hours")
        assert page.locator("#showing").inner_text() == "Showing: every response."


@pytest.mark.parametrize("width", [1280, 390])
def test_filter_by_a_ticked_option(browser: Any, two_months_server: str, width: int) -> None:
    """"Only those who ticked Breaks or respite": WhatsApp's 36 in October ticked it, and
    8 of September's 45. With the dates too, split three ways, the view hides its counts."""
    with signed_in_page(browser, two_months_server, REVIEWER, width) as page:
        page.goto(f"{two_months_server}/dashboard/surveys/carers?from=2026-10-01")
        assert filter_by_answer(page, "helps:ticked:breaks", "**answer=helps*").startswith(
            "Showing only the people who ticked \u201cBreaks or respite\u201d")
        checked(page, width, "the results filtered to a ticked option", "ticked-filter-october")
        # Without the dates: only split by the ticked option.
        page.get_by_label("Started on or after").fill("")
        apply_filters(page, "**from=&*")
        check_accessibility(page, f"the results filtered to a ticked option alone, {width} px")
        shot(page, f"ticked-filter-{width}")
