"""The figures people expect: % positive, scale averages, responses over time, and the
printable summary (surveys/figures.py, bot/dashboard/figures.py, bot/dashboard/summary.py).
What they may give away is checked by tests/test_differencing.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bot.services.runtime import Runtime
from surveys.figures import (
    buckets,
    fft_positive,
    is_fft_scale,
    public_sum,
    scale_summary,
    step_for,
)
from surveys.loader import library_path, load_file
from surveys.suppression import Cell
from tests.browser.seed import Person, seed
from tests.figures_data import FFT_32, fft_people, ratings, seed_over_days
from tests.helpers import REVIEWER, dashboard_client, dashboard_runtime
from tests.test_dashboard import page

FFT = load_file(library_path() / "fft.yaml")
CARERS = load_file(library_path() / "carers.yaml")


def shown(n: int) -> Cell:
    return Cell(n, "shown")


HIDDEN, SMALL = Cell(None, "secondary"), Cell(None, "small")


def cells(**counts: int) -> dict[str, Cell]:
    return {code: shown(n) for code, n in counts.items()}


def test_the_fft_question_is_known_by_its_answer_codes() -> None:
    overall = FFT.question("overall")
    assert overall is not None and is_fft_scale(overall)
    hours = CARERS.question("hours")
    time_for_me = CARERS.question("time_for_me")
    assert hours is not None and not is_fft_scale(hours)
    assert time_for_me is not None and not is_fft_scale(time_for_me)


def test_percent_positive_is_very_good_and_good_over_every_answer() -> None:
    """As NHS England publishes it: "Don't know" and "Neither" are in the base."""
    found = fft_positive(cells(very_good=17, good=9, neither=2, poor=2, very_poor=1,
                               dont_know=1), shown(32))
    assert found is not None
    assert (found.positive_percent, found.negative_percent) == ("81%", "9%")
    assert found.positive == pytest.approx(26 / 32)


def test_percent_positive_needs_its_sums_to_be_public() -> None:
    # Both positive cells hidden, but every other cell and the total shown: the sum is
    # public (total less the rest), so % positive may be shown.
    some = {**cells(neither=2, poor=10, very_poor=0, dont_know=0),
            "very_good": SMALL, "good": HIDDEN}
    found = fft_positive(some, shown(30))
    assert found is not None and found.positive_percent == "60%"
    # One positive and one other cell hidden: neither sum is public, so nothing.
    some = {**cells(good=12, neither=2, very_poor=0, dont_know=0),
            "very_good": SMALL, "poor": HIDDEN}
    assert public_sum(some, ("very_good", "good"), shown(30)) is None
    assert fft_positive(some, shown(30)) is None
    # A total that is not shown: no figure at all.
    assert fft_positive(cells(very_good=5, good=1, neither=0, poor=0, very_poor=0,
                              dont_know=0), SMALL) is None


def test_a_scale_has_a_mean_and_median_only_when_every_point_is_shown() -> None:
    question = CARERS.question("time_for_me")
    assert question is not None
    points = cells(**{"1": 3, "2": 4, "3": 15, "4": 14, "5": 8})
    found = scale_summary(question, points, shown(44))
    assert found is not None
    assert found.mean_text == "3.5"  # (3 + 8 + 45 + 56 + 40) / 44 = 3.45…
    assert found.median_text == "3.5"  # the 22nd is 3, the 23rd is 4
    assert (found.low, found.high) == (1, 5)
    assert scale_summary(question, {**points, "1": SMALL}, shown(44)) is None
    hours = CARERS.question("hours")
    assert hours is not None and scale_summary(hours, points, shown(44)) is None


def test_the_timeline_goes_by_day_then_week_then_month() -> None:
    start = date(2026, 11, 2)  # a Monday
    assert step_for(start, date(2026, 12, 2)) == "day"
    assert step_for(start, date(2026, 12, 3)) == "week"
    assert step_for(start, date(2027, 11, 1)) == "month"
    days = buckets(start, date(2026, 11, 4))
    assert [b.label for b in days] == ["2 Nov", "3 Nov", "4 Nov"]
    weeks = buckets(date(2026, 11, 4), date(2026, 12, 31))
    assert weeks[0].start == date(2026, 11, 2) and weeks[0].label == "w/c 2 Nov"
    assert weeks[-1].end >= date(2026, 12, 31)
    months = buckets(date(2026, 1, 31), date(2027, 3, 1))
    assert months[0].label == "Jan 2026" and months[-1].label == "Mar 2027"
    assert len(months) == 15


# --- on the pages ---------------------------------------------------------------------------


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    with dashboard_runtime(database_url, tmp_path) as rt:
        yield rt


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return dashboard_client(runtime, REVIEWER)


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


START = datetime(2026, 11, 2, 9, tzinfo=UTC)


def test_the_fft_page_at_32_shows_percent_positive_and_the_timeline(
        client: FlaskClient, runtime: Runtime) -> None:
    seed_over_days(runtime, "fft", fft_people(FFT_32), START, 14)
    words = text_of(page(client, "/dashboard/surveys/fft"))
    assert "Positive (Very good or Good) 81%" in words
    assert "Negative (Poor or Very poor) 9%" in words
    assert "Out of all 32 answers" in words
    assert ("32 people agreed to take part between 2 November 2026 and 15 November 2026, "
            "shown a day at a time. The most in one day: 11 (2 Nov).") in words
    assert "2 Nov 11 3 Nov 6" in words  # the table, the chart's text alternative
    assert "Printable summary for a group meeting" in words


def test_below_k_there_is_no_percent_and_no_chart(client: FlaskClient,
                                                  runtime: Runtime) -> None:
    seed_over_days(runtime, "fft", fft_people(ratings(9)), START, 5)
    html = page(client, "/dashboard/surveys/fft")
    words = text_of(html)
    assert "Positive (Very good" not in words
    assert "Fewer than 10 people agreed to take part between" in words
    assert "timeline-chart" not in html and "Responses over time: people" not in html


def test_a_channel_view_hides_small_days_with_the_rest_of_its_table(
        client: FlaskClient, runtime: Runtime) -> None:
    """WhatsApp × day is a cross-tab: 11 WhatsApp people over a fortnight cannot be
    shown day by day, so the chart says so and shows no numbers."""
    seed_over_days(runtime, "fft", fft_people(FFT_32), START, 14)
    words = text_of(page(client, "/dashboard/surveys/fft?channel=whatsapp"))
    assert "Hidden in this view: the groups it is split into, day by day" in words
    assert "Positive (Very good" not in words


def test_a_scale_shows_its_average(client: FlaskClient, runtime: Runtime) -> None:
    people = [Person({"hours": "under_20", "helps": ["family"], "missing": "Respite.",
                      "time_for_me": value, "assessment": "yes",
                      **({"time_wish": "A sitter."} if value < 3 else {})})
              for value in [1] * 3 + [2] * 4 + [3] * 15 + [4] * 14 + [5] * 8]
    seed(runtime, "carers", people)
    html = page(client, "/dashboard/surveys/carers")
    words = text_of(html)
    assert "Average (mean) 3.5 out of 5 Median 3.5" in words
    # Everyone on one day: said in words, with no chart of a single bar.
    assert "44 people agreed to take part on 23 November 2026. The numbers" in words
    assert "timeline-chart" not in html
    assert "On the scale from 1 to 5, from all 44 answers." in words


def test_the_printable_summary_has_figures_themes_and_only_permitted_quotes(
        client: FlaskClient, runtime: Runtime) -> None:
    people = fft_people(FFT_32)
    seed_over_days(runtime, "fft", people, START, 14)
    summary = page(client, "/dashboard/surveys/fft/summary")
    words = text_of(summary)
    assert "Positive (Very good or Good) 81%" in words
    assert "32 people agreed to take part" in words
    assert "Responses over time: people who agreed to take part, by day started" in words
    quoted = [p.answers["why"] for p in people if p.quote_ok and isinstance(
        p.answers["why"], str)]
    not_quoted = [p.answers["why"] for p in people if not p.quote_ok and isinstance(
        p.answers["why"], str)]
    assert sum(q in summary for q in quoted) == 5  # the newest five
    assert not any(q in summary for q in not_quoted)
    assert "No themes tagged yet." in words
    assert "@media print" in (Path(__file__).parents[1] / "bot/static/dashboard.css").read_text()


def test_the_summary_lists_tagged_themes_with_counts(client: FlaskClient,
                                                     runtime: Runtime) -> None:
    from storage.repositories.dashboard import DashboardRepository

    seed_over_days(runtime, "fft", fft_people(FFT_32), START, 14)
    with runtime.sessions() as session:
        repo = DashboardRepository(session)
        theme = repo.create_theme("fft", "Waiting and parking", None, runtime.clock())
        _n, answers = repo.free_text("fft", "why", limit=100)
        for a in answers:
            if "Parking" in a.text or "Waiting" in a.text:
                repo.tag(a.id, theme, None, runtime.clock())
        session.commit()
    words = text_of(page(client, "/dashboard/surveys/fft/summary"))
    found = words[words.index("2. What was good"):][:400]
    # 8 tagged: theme counts keep the survey page's rule (each theme a cell of its own,
    # under k reads "fewer than 10").
    assert ("Themes the group found in these answers Theme Answers Waiting and parking "
            "fewer than 10") in found, found


def test_one_query_for_a_partition_splits_as_a_query_per_row_would(
        runtime: Runtime) -> None:
    """The timeline of a view split six ways is one GROUP BY; each row picked out of it
    matches that row's own query (channel, language, dates; declined never counted)."""
    from storage.repositories.dashboard import ResponseFilter
    from storage.repositories.timeline import (
        responses_by_day,
        responses_by_day_and_group,
        split_by_day,
    )

    seed_over_days(runtime, "fft", fft_people(FFT_32), START, 14)
    seed(runtime, "fft", [Person(status="declined"), Person({"overall": "good"},
                                                            language="cy")],
         when=datetime(2026, 11, 4, 12, tzinfo=UTC))
    with runtime.sessions() as session:
        groups = responses_by_day_and_group(session, "fft")
        assert sum(groups.values()) == 33  # the one who declined is not in it
        for where in [ResponseFilter(), ResponseFilter(channel="whatsapp"),
                      ResponseFilter(channel="sms", language="cy"),
                      ResponseFilter(date_from=date(2026, 11, 3), date_to=date(2026, 11, 4)),
                      ResponseFilter(date_to=date(2026, 11, 2), channel="sms")]:
            assert split_by_day(groups, where) == responses_by_day(session, "fft", where)
        assert responses_by_day(session, "fft")[date(2026, 11, 2)] == 11
