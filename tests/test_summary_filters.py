"""The printable summary follows the results page's filters (bot/dashboard/filters.py,
bot/dashboard/summary.py): the same group, said in words at the top, with every figure and
every hidden cell exactly as the narrowed results page shows them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bot.dashboard.filters import showing
from bot.services.runtime import Runtime
from storage.repositories.dashboard import ResponseFilter
from surveys.loader import library_path, load_file
from tests.browser.seed import Person, seed
from tests.differencing import Page, scrape
from tests.helpers import REVIEWER, FakeClock, dashboard_client, dashboard_runtime
from tests.test_dashboard import page
from tests.test_differencing import carers_45, every_third_in_welsh

OCTOBER = datetime(2026, 10, 8, 9, tzinfo=UTC)
SEPTEMBER = datetime(2026, 9, 14, 9, tzinfo=UTC)


def carers_in_two_months() -> tuple[list[Person], list[Person]]:
    """Issue 16's 45 carers in October, every third answering in Welsh (15), and 20 more
    in September, in English, all 20 to 49 hours."""
    october = every_third_in_welsh(carers_45())
    september = [Person({**carers_45()[20].answers}, channel="sms") for _i in range(20)]
    return october, september


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    with dashboard_runtime(database_url, tmp_path,
                           clock=FakeClock(datetime(2026, 11, 23, 10, tzinfo=UTC))) as rt:
        october, september = carers_in_two_months()
        seed(rt, "carers", october, when=OCTOBER)
        seed(rt, "carers", september, when=SEPTEMBER)
        yield rt


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return dashboard_client(runtime, REVIEWER)


def _as_page(html: str) -> Page:
    """The summary's question articles are labelled "sq-…": read them as the page's."""
    return scrape(html.replace('aria-labelledby="sq-', 'aria-labelledby="q-'))


def _figures(found: Page) -> dict[str, object]:
    """Every count a reader sees: the funnel, the timeline, and each question's table."""
    tables = {}
    for table in found.tables:
        if table.caption.startswith("Where each person"):
            tables["funnel"] = table.rows
        elif table.caption.startswith("Responses over time"):
            tables["timeline"] = table.rows
        elif table.question is not None:
            tables[f"{table.question}: {table.caption}"] = table.rows
    questions = {qid: re.findall(r"(?:Answered|Answered or skipped|Written answers) (?:by|from)"
                                 r" (?:fewer than \d+|[\d,]+|hidden)|Fewer than \d+ answered"
                                 r"|hidden in this view|Hidden", text)
                 for qid, text in found.questions.items()}
    figures = {name: value for name, value in found.figures.items()
               if name in ("Started", "Agreed to take part", "Completed", "Completion rate")}
    return {"figures": figures, "tables": tables, "questions": questions}


def _hidden(figures: dict[str, object]) -> set[tuple[str, str, str]]:
    tables, questions = figures["tables"], figures["questions"]
    assert isinstance(tables, dict) and isinstance(questions, dict)
    cells = {(name, label, str(i)) for name, rows in tables.items() for label, cells in rows
             for i, cell in enumerate(cells)
             if cell == "hidden" or cell.startswith("fewer than")}
    return cells | {(qid, word.replace(" in this view", ""), "")
                    for qid, words in questions.items() for word in words
                    if "hidden" in word.lower() or "fewer than" in word.lower()}


VIEWS = {
    "language=cy&from=2026-10-01&to=2026-10-31":
        "Showing: responses in Welsh started 1\u201331 October 2026.",
    "channel=whatsapp": "Showing: responses on WhatsApp.",
    "answer=hours:h20_49": "Showing: responses, from people who answered \u201c20 to 49 "
                           "hours\u201d to \u201cAbout how many hours a week do you spend "
                           "caring?\u201d.",
    "from=2026-10-01": "Showing: responses started on or after 1 October 2026.",
    "": "Showing: every response.",
}


@pytest.mark.parametrize("query", list(VIEWS))
def test_the_summary_shows_the_narrowed_pages_figures(client: FlaskClient,
                                                      query: str) -> None:
    results = page(client, f"/dashboard/surveys/carers?{query}")
    # The results page's link carries its filters.
    link = re.search(r'href="(/dashboard/surveys/carers/summary[^"]*)"', results)
    assert link is not None
    target = unescape(link.group(1))
    for part in filter(None, query.split("&")):
        name, value = part.split("=")
        assert f"{name}={value}" in target, (part, target)
    summary = page(client, target)
    said = re.search(r'<p class="showing" id="showing"><strong>(.*?)</strong>', summary)
    assert said is not None and unescape(said.group(1)) == VIEWS[query]
    on_page, on_paper = _figures(scrape(results)), _figures(_as_page(summary))
    assert on_paper["figures"] == on_page["figures"]
    # The summary leaves out the funnel's steps; everything else is the page's own.
    page_tables = dict(on_page["tables"])  # type: ignore[call-overload]
    page_tables.pop("funnel", None)
    on_page["tables"] = page_tables
    assert on_paper["tables"] == page_tables
    for qid, words in on_page["questions"].items():  # type: ignore[union-attr]
        assert [w.replace(" in this view", "") for w in words] == [
            w.replace(" in this view", "") for w in on_paper["questions"][qid]  # type: ignore[index]
        ], qid
    if query:
        # A narrowed view of this survey hides something; the paper hides the same.
        hidden = _hidden(on_page)
        assert hidden, "the narrowed page hides no cell, so this proves little"
        assert _hidden(on_paper) == hidden


def test_the_welsh_october_summary_is_a_narrowed_group(client: FlaskClient) -> None:
    """The Welsh October group's figures are its own, not the whole survey's (45 + 20)."""
    summary = page(client, "/dashboard/surveys/carers/summary?language=cy"
                           "&from=2026-10-01&to=2026-10-31")
    whole = page(client, "/dashboard/surveys/carers/summary")
    assert _figures(_as_page(summary)) != _figures(_as_page(whole))
    assert scrape(whole).figures["Started"] == "65"
    assert "Started" not in scrape(summary).figures  # a narrowed view counts only agreers
    assert "Back to the survey\u2019s results" in summary
    assert ('href="/dashboard/surveys/carers?from=2026-10-01&amp;to=2026-10-31&amp;'
            'language=cy"') in summary


def test_a_date_that_is_not_a_date_is_said_on_the_summary(client: FlaskClient) -> None:
    summary = page(client, "/dashboard/surveys/carers/summary?from=31/10/2026")
    assert "is not a date" in summary
    assert "Showing: every response." in unescape(summary)


def test_the_words_for_a_view() -> None:
    survey = load_file(library_path() / "carers.yaml")
    assert showing(survey, ResponseFilter()) == "every response"
    assert showing(survey, ResponseFilter(without_test=True)) == "every response"
    assert showing(survey, ResponseFilter(date_from=date(2026, 10, 1),
                                          date_to=date(2026, 10, 1))) == (
        "responses started on 1 October 2026")
    assert showing(survey, ResponseFilter(date_from=date(2026, 9, 28),
                                          date_to=date(2026, 10, 3), channel="sms")) == (
        "responses on SMS started 28 September\u20133 October 2026")
    assert showing(survey, ResponseFilter(date_from=date(2025, 12, 1),
                                          date_to=date(2026, 1, 31))) == (
        "responses started 1 December 2025\u201331 January 2026")
    assert showing(survey, ResponseFilter(date_to=date(2026, 10, 31), language="en")) == (
        "responses in English started on or before 31 October 2026")
