"""Filtering the results by another question's answer, and the cross-tab of two questions
(bot/dashboard/crosstab.py, storage/repositories/by_answer.py).

The privacy of the two together is checked by tests/test_differencing.py; here, what they
show, that they agree with each other, and that their counts come from a fixed number of
grouped queries however many groups there are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event

from bot.services.runtime import Runtime
from tests.browser.seed import Person, seed
from tests.conftest_db import TEST_VAULT_KEY
from tests.differencing import scrape
from tests.helpers import REVIEWER, dashboard_client, dashboard_runtime
from tests.test_cli import withus
from tests.test_dashboard import page
from tests.test_differencing import carers_45


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    with dashboard_runtime(database_url, tmp_path) as rt:
        seed(rt, "carers", carers_45())
        yield rt


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The command line's settings, on the test's database."""
    values = {k: v for k, v in os.environ.items() if not k.startswith("WITHUS_")}
    values.update(WITHUS_DATABASE_URL=database_url, WITHUS_INSTANCE_PATH=str(tmp_path / "cli"),
                  WITHUS_VAULT_KEYS=TEST_VAULT_KEY,
                  WITHUS_PSEUDONYM_KEY="a-test-pseudonym-key-that-is-long-enough",
                  WITHUS_SECRET_KEY="test")
    return values


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return dashboard_client(runtime, REVIEWER)


def _rows(html: str, caption: str, question: str | None = None) -> dict[str, list[str]]:
    table = next(t for t in scrape(html).tables
                 if t.caption.startswith(caption) and (question is None or t.question == question))
    return {label: cells for label, cells in table.rows if cells[-1:] != ["Answered"]}


def test_a_filter_by_answer_shows_only_that_group(client: FlaskClient) -> None:
    html = page(client, "/dashboard/surveys/carers?answer=hours:h20_49")
    assert "Showing only the people who answered \u201c20 to 49 hours\u201d" in html
    assert 'value="hours:h20_49" selected' in html
    # The 20 who care 20 to 49 hours a week rated their time 3 or 4, ten each.
    rows = _rows(html, "Answered by 20", "time_for_me")
    assert rows["3"][:2] == ["10", "50%"] and rows["4"][:2] == ["10", "50%"]
    assert rows["1 (None at all)"][0] == "0"
    # Four of them skipped "what is missing": a small cell, so the written answers'
    # count is hidden with it and their words are not listed.
    words = page(client, "/dashboard/surveys/carers?answer=hours:h20_49&question=missing")
    assert "More respite, carer 13." not in words


def test_a_filter_by_answer_lists_only_that_groups_words(client: FlaskClient,
                                                        runtime: Runtime) -> None:
    seed(runtime, "fft", [Person({"overall": "very_good", "why": f"Kind staff, {n}."})
                          for n in range(20)]
         + [Person({"overall": "poor", "why": f"Nobody came, {n}."}) for n in range(10)])
    words = page(client, "/dashboard/surveys/fft?answer=overall:very_good&question=why")
    assert "Kind staff, 0." in words and "Kind staff, 19." in words
    assert "Nobody came" not in words
    assert "Answers: 20" in " ".join(words.split())


def test_a_group_under_k_shows_nothing(client: FlaskClient) -> None:
    """Nine care for 50 hours or more: fewer than k, so their answers stay hidden."""
    html = page(client, "/dashboard/surveys/carers?answer=hours:h50_plus")
    assert "Showing only the people who answered" in html
    assert "Fewer than 10 answered in this view" in html
    assert "Answered by 9" not in html


@pytest.mark.parametrize("raw", ["hours:nope", "nothing:yes", "helps:family", "hours", ":",
                                 "hours:h20_49:x", "x" * 5000])
def test_an_unknown_answer_filter_is_ignored(client: FlaskClient, raw: str) -> None:
    response = client.get("/dashboard/surveys/carers", query_string={"answer": raw})
    assert response.status_code == 200
    assert "Showing only the people who answered" not in response.get_data(as_text=True)


def test_the_crosstab_is_the_filtered_pages_side_by_side(client: FlaskClient) -> None:
    html = page(client, "/dashboard/surveys/carers/crosstab?rows=hours&columns=time_for_me")
    table = _rows(html, "People, by their answers")
    assert table["20 to 49 hours"] == ["0 0%", "0 0%", "10 50%", "10 50%", "0 0%", "0", "20"]
    # Nine and three people: fewer than k, so those rows say nothing more.
    assert set(table["50 hours or more"]) == {"fewer than 10", "0"}
    assert set(table["Not sure"]) == {"fewer than 10", "0"}
    # Twelve is enough on its own, but with the two small rows hidden their total (12)
    # could be worked out from the whole survey's, so this row is hidden too.
    assert set(table["Under 20 hours"]) == {"hidden", "0"}
    assert table["Everyone who answered"][-1] == "44"
    assert 'href="/dashboard/surveys/carers?answer=hours:h20_49"' in html
    # Each row reads exactly as the survey page filtered to that answer.
    for label, code in [("20 to 49 hours", "h20_49"), ("Under 20 hours", "under_20"),
                        ("Not sure", "not_sure")]:
        filtered = page(client, f"/dashboard/surveys/carers?answer=hours:{code}")
        article = scrape(filtered)
        words = article.questions["time_for_me"]
        tables = [t for t in article.tables if t.question == "time_for_me"]
        if tables:
            shown = [" ".join(cells[:2]).strip() for _l, cells in tables[0].rows]
            assert shown == table[label][:5]
        else:
            assert table[label][0] in words.lower() or "hidden" in words.lower()


def test_a_crosstab_of_a_multiple_choice_question(client: FlaskClient) -> None:
    html = page(client, "/dashboard/surveys/carers/crosstab?rows=assessment&columns=helps")
    assert "people could choose more than one column" in html
    table = _rows(html, "People, by their answers")
    assert set(table) == {"Yes", "No", "Everyone who answered"}
    assert "Skipped" not in html.split("<thead>")[1].split("</thead>")[0]
    assert table["Everyone who answered"][0] == "26 59%"


@pytest.mark.parametrize(("query", "status"), [
    ("rows=hours&columns=hours", 400), ("rows=missing&columns=hours", 400),
    ("rows=helps&columns=hours", 400), ("rows=hours", 400), ("", 200)])
def test_the_crosstab_form_refuses_what_it_cannot_show(client: FlaskClient, query: str,
                                                       status: int) -> None:
    response = client.get(f"/dashboard/surveys/carers/crosstab?{query}")
    assert response.status_code == status
    assert "Choose the questions" in response.get_data(as_text=True)
    assert client.get("/dashboard/surveys/nothing/crosstab").status_code == 404


def test_the_split_is_one_grouped_query_whatever_the_number_of_groups(
        client: FlaskClient, runtime: Runtime) -> None:
    """Four groups (hours) cost the same queries as two (assessment): no query per row."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        used = {}
        for by, code in (("hours", "h20_49"), ("assessment", "yes")):
            for path in (f"/dashboard/surveys/carers/crosstab?rows={by}&columns=time_for_me",
                         f"/dashboard/surveys/carers?answer={by}:{code}"):
                statements.clear()
                page(client, path)
                used[(by, path.split("?")[0])] = [s for s in statements if "answer" in s]
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    for kind in ("/dashboard/surveys/carers/crosstab", "/dashboard/surveys/carers"):
        assert len(used[("hours", kind)]) == len(used[("assessment", kind)])
    grouped = [s for s in used[("hours", "/dashboard/surveys/carers/crosstab")]
               if "GROUP BY" in s]
    # One sum of the tallies for everyone, one of the pair tallies for every group at once.
    assert len(grouped) == 2, grouped
    assert sum("answer_pair_tallies" in s for s in grouped) == 1, grouped


def test_an_answer_filter_with_a_channel_needs_every_group_at_k(client: FlaskClient) -> None:
    """Two kinds of narrowing at once: every (channel, answer) group must hold k or more,
    or the view shows nothing (as for channel and language together)."""
    html = page(client, "/dashboard/surveys/carers?answer=hours:h20_49&channel=sms")
    assert "Showing only the people who answered" in html
    assert 'value="sms" selected' in html
    # WhatsApp's 14 are carers 0 to 13, so some (channel, hours) groups are under k.
    assert "Answered by 20" not in html and "Answered by 10" not in html
    assert ">10<" not in html.split('id="results-heading"')[1]


def test_the_cli_prints_the_same_crosstab(client: FlaskClient, env: dict[str, str]) -> None:
    html = page(client, "/dashboard/surveys/carers/crosstab?rows=hours&columns=time_for_me")
    shown = {label: [cell.split(" ")[0] if "%" in cell else cell for cell in cells]
             for label, cells in _rows(html, "People, by their answers").items()}
    result = withus(["surveys", "crosstab", "carers", "hours", "time_for_me"], env)
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert lines[0][1:] == ["1 (None at all)", "2", "3", "4", "5 (Plenty)", "Skipped",
                            "Answered"]
    printed = {line[0]: line[1:] for line in lines[1:]}
    assert printed == shown
    assert printed["20 to 49 hours"] == ["0", "0", "10", "10", "0", "0", "20"]
    for args in (["nothing", "hours", "time_for_me"], ["carers", "helps", "hours"],
                 ["carers", "hours", "hours"], ["carers", "hours", "missing"]):
        refused = withus(["surveys", "crosstab", *args], env)
        assert refused.returncode == 2 and "error:" in refused.stderr, args
