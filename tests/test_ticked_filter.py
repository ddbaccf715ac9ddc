"""Filtering the results by one option of a multiple-choice question: those who ticked
it, and those who answered without ticking it (storage/repositories/ticked.py,
bot/dashboard/results.py `view_for`). Privacy together with the whole page is checked by
tests/test_differencing.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bot.services.runtime import Runtime
from tests.browser.seed import seed
from tests.differencing import scrape
from tests.helpers import REVIEWER, dashboard_client, dashboard_runtime
from tests.test_dashboard import page
from tests.test_differencing import carers_78_breaks

BASE = "/dashboard/surveys/carers"


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    with dashboard_runtime(database_url, tmp_path) as rt:
        seed(rt, "carers", carers_78_breaks())
        yield rt


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return dashboard_client(runtime, REVIEWER)


def _table(html: str, qid: str) -> dict[str, list[str]]:
    table = next(t for t in scrape(html).tables if t.question == qid)
    return {label: cells[:2] for label, cells in table.rows}


def test_those_who_ticked_an_option(client: FlaskClient) -> None:
    """WhatsApp's 36 ticked "Breaks or respite" (22 with a carer's assessment)."""
    html = page(client, f"{BASE}?answer=helps:ticked:breaks")
    said = unescape(re.sub(r"\s+", " ", html))
    assert ("Showing only the people who ticked \u201cBreaks or respite\u201d in "
            "\u201cWhich of these help you most?\u201d") in said
    assert 'value="helps:ticked:breaks" selected' in html
    assert scrape(html).figures["Agreed to take part"] == "36"
    assert _table(html, "assessment") == {"Yes": ["22", "61%"], "No": ["14", "39%"]}


def test_those_who_answered_without_ticking_it(client: FlaskClient) -> None:
    html = page(client, f"{BASE}?answer=helps:unticked:breaks")
    said = unescape(re.sub(r"\s+", " ", html))
    assert ("Showing only the people who answered \u201cWhich of these help you most?\u201d "
            "without ticking \u201cBreaks or respite\u201d") in said
    assert scrape(html).figures["Agreed to take part"] == "42"
    assert _table(html, "assessment") == {"Yes": ["20", "48%"], "No": ["22", "52%"]}
    # Their own answers to the question: nobody ticked "breaks", everyone "family".
    helps = _table(html, "helps")
    assert helps["Breaks or respite"][0] == "0" and helps["Family or friends"][0] == "42"


def test_the_summary_and_the_words_follow_a_ticked_filter(client: FlaskClient) -> None:
    summary = unescape(re.sub(r"\s+", " ", page(client,
                                                f"{BASE}/summary?answer=helps:ticked:breaks")))
    assert ("Showing: responses, from people who ticked \u201cBreaks or respite\u201d in "
            "\u201cWhich of these help you most?\u201d.") in summary
    words = page(client, f"{BASE}?answer=helps:unticked:breaks&question=missing")
    carers = [int(n) for n in re.findall(r"More respite, carer (\d+)\.", words)]
    assert carers and min(carers) >= 36  # SMS carers only (WhatsApp's are 0 to 35)


@pytest.mark.parametrize("raw", ["helps:ticked:nope", "helps:breaks", "helps:ticked:",
                                 "hours:ticked:under_20", "helps:sideways:breaks"])
def test_an_unknown_ticked_filter_is_ignored(client: FlaskClient, raw: str) -> None:
    response = client.get(BASE, query_string={"answer": raw})
    assert response.status_code == 200
    assert "Showing only the people who" not in response.get_data(as_text=True)
