"""The results page at the sizes a coproduction group sees (12, 32 and 300 FFT responses)
and the printable summary, in Chromium at 1280 and 390 px and as printed.

Each page is checked with axe-core, must not scroll sideways at phone width, and is
screenshotted to test-output/screenshots/figures-*.png (the summary also as print media:
figures-summary-*-print.png, and as a PDF).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.services.runtime import Runtime
from tests.browser.conftest import SCREENSHOTS, serve
from tests.browser.seed import add_user, seed
from tests.browser.test_dashboard_browser import check_accessibility, shot
from tests.browser.test_phone_width_browser import sideways, sign_in
from tests.figures_data import fft_people, ratings, seed_over_days
from tests.helpers import FakeClock, make_runtime
from tests.test_differencing import carers_45

pytestmark = pytest.mark.timeout(300)

REVIEWER = "reviewer@example.org"
START = datetime(2026, 9, 7, 9, tzinfo=UTC)
#: responses → over how many days they arrived (a day at a time up to a month, then weeks)
SIZES = {12: 5, 32: 14, 300: 60}
#: What each size shows as % positive and % negative (see tests/figures_data.py).
EXPECTED = {12: ("83%", "8%"), 32: ("81%", "9%"), 300: ("81%", "9%")}


@pytest.fixture(scope="module", params=sorted(SIZES))
def fft_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[tuple[str, int]]:
    n = request.param
    folder = tmp_path_factory.mktemp(f"figures-{n}")
    runtime: Runtime = make_runtime(f"sqlite:///{folder / 'withus.db'}", folder,
                                    clock=FakeClock(datetime(2026, 11, 23, 10, tzinfo=UTC)))
    seed_over_days(runtime, "fft", fft_people(ratings(n)), START, SIZES[n])
    if n == 32:
        seed(runtime, "carers", carers_45(), when=START)
    add_user(runtime, REVIEWER, "reviewer")
    with serve(runtime) as base:
        yield base, n


def fits(page: Any, width: int, path: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, (
        path, sideways(page))


@pytest.mark.parametrize("width", [1280, 390])
def test_the_results_page_shows_the_figures_people_expect(
        browser: Any, fft_server: tuple[str, int], width: int) -> None:
    base, n = fft_server
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, base, REVIEWER)
    page.goto(f"{base}/dashboard/surveys/fft")
    positive, negative = EXPECTED[n]
    figures = page.locator("#q-overall").locator("xpath=..").locator("dl.question-figures")
    assert figures.locator("dd").first.inner_text() == positive
    assert figures.locator("dd").nth(1).inner_text() == negative
    chart = page.locator("figure.timeline")
    caption = chart.locator("figcaption").inner_text()
    assert caption.startswith(f"{n} people agreed to take part between")
    assert ("a week at a time" if n == 300 else "a day at a time") in caption
    assert chart.locator("svg.timeline-chart").is_visible()
    assert chart.locator("svg.timeline-chart rect").count() == (9 if n == 300 else SIZES[n])
    # The table behind the chart opens, and adds up.
    chart.get_by_text("The numbers,").click()
    cells = chart.locator("tbody td").all_inner_texts()
    assert sum(int(c.replace(",", "")) for c in cells) == n
    fits(page, width, "/dashboard/surveys/fft")
    check_accessibility(page, f"the FFT results page at {n} responses, {width} px")
    shot(page, f"figures-fft-{n}-{width}")
    if n == 32:
        page.goto(f"{base}/dashboard/surveys/carers")
        scale = page.locator("#q-time_for_me").locator("xpath=..").locator(
            "dl.question-figures")
        assert scale.locator("dd").first.inner_text() == "3.5 out of 5"
        fits(page, width, "/dashboard/surveys/carers")
        check_accessibility(page, f"the carers results page, {width} px")
        shot(page, f"figures-carers-{width}")
    context.close()


def test_the_printable_summary_on_screen_and_on_paper(
        browser: Any, fft_server: tuple[str, int]) -> None:
    base, n = fft_server
    for width in (1280, 390):
        context = browser.new_context(bypass_csp=True,
                                      viewport={"width": width, "height": 900})
        page = context.new_page()
        sign_in(page, base, REVIEWER)
        page.goto(f"{base}/dashboard/surveys/fft")
        page.get_by_role("link", name="Printable summary for a group meeting").click()
        page.wait_for_url(f"{base}/dashboard/surveys/fft/summary")
        assert page.get_by_role("heading", name="Your experience of care").is_visible()
        assert page.locator("dl.question-figures dd").first.inner_text() == EXPECTED[n][0]
        # At 12, nine wrote something: under k, so no words at all, quotes included.
        quotes = page.locator("ul.quotes blockquote")
        assert quotes.count() == (0 if n == 12 else 5)
        # The table behind the chart is open on the summary, for paper.
        assert page.locator("details.timeline-table").get_attribute("open") is not None
        fits(page, width, "/dashboard/surveys/fft/summary")
        check_accessibility(page, f"the printable summary at {n} responses, {width} px")
        shot(page, f"figures-summary-{n}-{width}")
        if width == 1280:
            page.emulate_media(media="print")
            assert not page.locator("header.top").is_visible()
            assert not page.locator("footer.bottom").is_visible()
            assert not page.get_by_text("Back to the survey’s results").is_visible()
            assert page.locator("svg.timeline-chart").is_visible()
            shot(page, f"figures-summary-{n}-print")
            page.pdf(path=str(SCREENSHOTS / f"figures-summary-{n}.pdf"), format="A4")
        context.close()


def test_the_printable_summary_of_a_narrowed_view(browser: Any,
                                                  fft_server: tuple[str, int]) -> None:
    """Narrowed to September, the results page's summary link keeps the dates, and the
    summary says which group it shows and has the narrowed page's own figures."""
    base, n = fft_server
    if n != 300:
        pytest.skip("the 300-response FFT spans two months; the others one fortnight")
    query = "from=2026-09-07&to=2026-09-30"
    for width in (1280, 390):
        context = browser.new_context(bypass_csp=True,
                                      viewport={"width": width, "height": 900})
        page = context.new_page()
        sign_in(page, base, REVIEWER)
        page.goto(f"{base}/dashboard/surveys/fft?{query}")
        on_page = page.locator("#q-overall").locator("xpath=..").locator("table")
        page_cells = on_page.locator("td").all_inner_texts()
        page.get_by_role("link", name="Printable summary for a group meeting").click()
        page.wait_for_url(f"{base}/dashboard/surveys/fft/summary?{query}")
        assert page.locator("#showing").inner_text().startswith(
            "Showing: responses started 7\u201330 September 2026.")
        on_paper = page.locator("#sq-overall").locator("xpath=..").locator("table")
        assert on_paper.locator("td").all_inner_texts() == page_cells
        caption = page.locator("figure.timeline figcaption").inner_text()
        assert re.match(r"\d+ people agreed to take part between 7 September 2026 and "
                        r"30 September 2026", caption), caption
        fits(page, width, "/dashboard/surveys/fft/summary (September)")
        check_accessibility(page, f"the printable summary of September, {width} px")
        shot(page, f"figures-summary-narrowed-{width}")
        page.get_by_role("link", name="Back to the survey\u2019s results").click()
        page.wait_for_url(f"{base}/dashboard/surveys/fft?{query}")
        context.close()
