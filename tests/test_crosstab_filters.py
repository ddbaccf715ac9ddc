"""The cross-tab under the results page's filters (date range, channel, language):
each row is the survey page narrowed by the filter and one answer, and "Everyone in this
view" is the page narrowed by the filter alone, cell for cell (bot/dashboard/crosstab.py).
What a reader can work out from them together is checked by tests/test_differencing.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bot.services.runtime import Runtime
from tests.browser.seed import seed
from tests.differencing import scrape
from tests.helpers import REVIEWER, FakeClock, dashboard_client, dashboard_runtime
from tests.test_dashboard import page
from tests.test_differencing import (
    carers_45,
    carers_by_channel_and_assessment,
    every_third_in_welsh,
)

BASE = "/dashboard/surveys/carers"


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    with dashboard_runtime(database_url, tmp_path,
                           clock=FakeClock(datetime(2026, 11, 23, 10, tzinfo=UTC))) as rt:
        # 78 in October (every channel-by-answer group 0 or 10+), 45 in September, a third
        # of them in Welsh.
        seed(rt, "carers", carers_by_channel_and_assessment(),
             when=datetime(2026, 10, 8, 9, tzinfo=UTC))
        seed(rt, "carers", every_third_in_welsh(carers_45()),
             when=datetime(2026, 9, 14, 9, tzinfo=UTC))
        yield rt


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return dashboard_client(runtime, REVIEWER)


def _crosstab(html: str) -> dict[str, list[str]]:
    table = next(t for t in scrape(html).tables if t.caption.startswith("People, by their"))
    return {label: cells for label, cells in table.rows if cells[-1:] != ["Answered"]}


def _on_the_page(html: str, qid: str) -> list[str] | str:
    """The question's cells ("count share") on a results page, or its words if no table."""
    found = scrape(html)
    tables = [t for t in found.tables if t.question == qid]
    if not tables:
        return found.questions[qid]
    return [" ".join(cells[:2]).strip() for _label, cells in tables[0].rows]


FILTERS = ["channel=whatsapp", "channel=sms", "from=2026-10-01", "to=2026-09-30",
           "language=cy", "from=2026-10-01&channel=whatsapp"]


@pytest.mark.parametrize("narrowing", FILTERS)
@pytest.mark.parametrize(("by", "shown"), [("hours", "assessment"), ("assessment", "hours"),
                                           ("assessment", "helps")])
def test_each_row_is_the_page_narrowed_by_the_filter_and_its_answer(
        client: FlaskClient, narrowing: str, by: str, shown: str) -> None:
    html = page(client, f"{BASE}/crosstab?rows={by}&columns={shown}&{narrowing}")
    table = _crosstab(html)
    everyone = table.pop("Everyone in this view who answered")
    options = len(everyone) - (1 if shown == "helps" else 2)  # less Skipped and Answered
    codes = {"hours": ["under_20", "h20_49", "h50_plus", "not_sure"],
             "assessment": ["yes", "no"]}[by]
    assert len(table) == len(codes)
    for (label, cells), code in zip(table.items(), codes, strict=True):
        on_page = _on_the_page(page(client, f"{BASE}?{narrowing}&answer={by}:{code}"), shown)
        if isinstance(on_page, list):
            assert cells[:options] == on_page[:options], (label, narrowing)
        else:  # the page shows the question in words: nothing exact in the row either
            assert "hidden" in on_page.lower() or "fewer than" in on_page.lower()
            assert not any(re.fullmatch(r"[1-9][\d,]*( \d+%)?", c) for c in cells), cells
    on_page = _on_the_page(page(client, f"{BASE}?{narrowing}"), shown)
    if isinstance(on_page, list):
        assert everyone[:options] == on_page[:options]
    else:
        assert len(everyone) == 1 and everyone[0].startswith("Hidden in this view")
    # Every row hidden: the page says why in words, and how to see more.
    all_hidden = all(not any(re.fullmatch(r"[1-9][\d,]*( \d+%)?", c) for c in cells)
                     for cells in table.values())
    assert ("Nothing can be shown for this view" in html) == all_hidden, narrowing


def test_a_filtered_crosstab_at_a_groups_real_size_shows_its_figures(
        client: FlaskClient) -> None:
    """October's 78: every (started in October or before, carer's assessment) group
    holds 10 or more, so October's cross-tab shows its numbers."""
    html = page(client, f"{BASE}/crosstab?rows=assessment&columns=hours&from=2026-10-01")
    table = _crosstab(html)
    assert table["Yes"][:3] == ["22 52%", "10 24%", "10 24%"] and table["Yes"][-1] == "42"
    assert table["No"][:3] == ["0 0%", "24 67%", "12 33%"] and table["No"][-1] == "36"
    assert table["Everyone in this view who answered"][-1] == "78"
    said = unescape(re.sub(r"\s+", " ", html))
    assert "Showing: responses started on or after 1 October 2026." in said
    assert "Nothing can be shown" not in said
    # The rows lead to the results page narrowed the same way, and to that answer.
    assert 'href="/dashboard/surveys/carers?answer=assessment:yes&amp;from=2026-10-01"' in html


def test_a_filtered_crosstab_that_must_hide_everything_says_so(client: FlaskClient) -> None:
    html = page(client, f"{BASE}/crosstab?rows=hours&columns=assessment&language=cy")
    said = unescape(re.sub(r"\s+", " ", html))
    assert "Nothing can be shown for this view." in said
    assert "by language, some of the groups have fewer than 10 people" in said
    assert 'href="?rows=hours&amp;columns=assessment">over all responses</a>' in html


def test_the_results_pages_link_carries_its_filters_but_not_the_answer(
        client: FlaskClient) -> None:
    html = page(client, f"{BASE}?channel=sms&from=2026-10-01&answer=hours:h20_49")
    links = re.findall(r'href="([^"]*/crosstab[^"]*)"', html)
    assert links == ["/dashboard/surveys/carers/crosstab?from=2026-10-01&amp;channel=sms"]
    form = page(client, f"{BASE}/crosstab?from=2026-10-01&channel=sms")
    assert 'value="sms" selected' in form and 'value="2026-10-01"' in form
    assert f'href="{BASE}?from=2026-10-01&amp;channel=sms">Back to' in form
