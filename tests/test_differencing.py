"""The differencing test: put together every figure a reader can see, and check that
nothing about fewer than k people can be worked out (docs/privacy.md, *Small numbers*).

The reader (tests/differencing.py) reads the rendered pages and the CLI's output, not the
code behind them, and uses an integer programme to find what each hidden count must be.
The first case is the one from issue 16: 45 carers started, one did not agree, 44
completed. Before suppression was reworked, "Started 45", the "Stopped after" rows at 0
and "Answered by 44" gave away the hidden "Completed" (44) and the one person who said no.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bot.services.runtime import Runtime
from tests.browser.seed import SKIP, Person, seed
from tests.conftest_db import TEST_VAULT_KEY
from tests.differencing import (
    Reader,
    complement_leaks,
    group_prefix,
    know_the_groups,
    know_the_survey,
    know_the_themes,
    know_the_ticks,
    nested,
    read_cli_list,
    read_crosstab,
    read_survey_page,
    read_surveys_list,
    read_themes,
    scrape,
)
from tests.helpers import REVIEWER, dashboard_client, dashboard_runtime, sign_in
from tests.test_cli import withus
from tests.test_dashboard import page

K = 10


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    with dashboard_runtime(database_url, tmp_path) as rt:
        yield rt


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return dashboard_client(runtime)


def carers_45() -> list[Person]:
    """Issue 16's carers page: 45 started, 1 did not agree, 44 completed every question."""
    hours = ["under_20"] * 12 + ["h20_49"] * 20 + ["h50_plus"] * 9 + ["not_sure"] * 3
    time_for_me = [1] * 3 + [2] * 4 + [3] * 15 + [4] * 14 + [5] * 8
    helps = [["family", "gp"]] * 14 + [["family"]] * 10 + [["breaks", "groups"]] * 6 \
        + [["groups", "gp"]] * 6 + [["money"]] * 5 + [["family", "breaks"]] * 2 + [["none"]]
    assert len(hours) == len(time_for_me) == 44 and len(helps) == 44
    people = []
    for i in range(44):
        answers: dict[str, object] = {
            "hours": hours[i], "helps": helps[i],
            "missing": f"More respite, carer {i}." if i % 5 else SKIP,
            "time_for_me": time_for_me[i],
        }
        if time_for_me[i] in (1, 2):
            answers["time_wish"] = f"A sitter on Tuesdays, {i}." if i else SKIP
        answers["assessment"] = "yes" if i % 3 else "no"
        people.append(Person(answers, channel="whatsapp" if i < 14 else "sms"))
    people.append(Person(status="declined"))
    return people


def every_third_in_welsh(people: list[Person]) -> list[Person]:
    """The same people, the first and every third after them answering in Welsh."""
    for i, person in enumerate(people):
        if i % 3 == 0:
            person.language = "cy"
    return people


def the_reader(runtime: Runtime, survey_id: str) -> Reader:
    reader = Reader(K)
    know_the_survey(reader, runtime.catalog.get().surveys[survey_id])
    return reader


def test_the_carers_page_gives_nothing_away(client: FlaskClient, runtime: Runtime,
                                            env: dict[str, str]) -> None:
    seed(runtime, "carers", carers_45())
    survey = runtime.catalog.get().surveys["carers"]
    sign_in(client, REVIEWER)
    reader = the_reader(runtime, "carers")
    read_survey_page(reader, survey, scrape(page(client, "/dashboard/surveys/carers")))
    read_surveys_list(reader, survey, scrape(page(client, "/dashboard/")))
    listing = withus(["surveys", "list"], env)
    assert listing.returncode == 0, listing.stderr
    read_cli_list(reader, survey, listing.stdout)
    leaks = reader.leaks()
    assert not leaks, "\n".join(leaks)


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The command line's settings, on the test's database."""
    values = {k: v for k, v in os.environ.items() if not k.startswith("WITHUS_")}
    values.update(WITHUS_DATABASE_URL=database_url, WITHUS_INSTANCE_PATH=str(tmp_path / "cli"),
                  WITHUS_VAULT_KEYS=TEST_VAULT_KEY,
                  WITHUS_PSEUDONYM_KEY="a-test-pseudonym-key-that-is-long-enough",
                  WITHUS_SECRET_KEY="test")
    return values


def test_a_narrowed_view_and_the_whole_give_nothing_away(client: FlaskClient,
                                                         runtime: Runtime) -> None:
    """WhatsApp (14 people) against everyone (45): the 31 others are a group too, and
    every WhatsApp figure must leave them, and itself, at k or more or out of sight."""
    seed(runtime, "carers", carers_45())
    survey = runtime.catalog.get().surveys["carers"]
    sign_in(client, REVIEWER)
    reader = the_reader(runtime, "carers")
    know_the_survey(reader, survey, "wa.")
    read_survey_page(reader, survey, scrape(page(client, "/dashboard/surveys/carers")))
    read_survey_page(reader, survey,
                     scrape(page(client, "/dashboard/surveys/carers?channel=whatsapp")),
                     "wa.", "the WhatsApp view")
    nested(reader, "", "wa.", list(reader.names))
    leaks = reader.leaks() + complement_leaks(reader, survey, "", "wa.", "WhatsApp view")
    assert not leaks, "\n".join(leaks)


def test_the_reader_finds_what_a_careless_page_would_give_away() -> None:
    """The reader itself: shown "Started 45", "Answered by 44" and "Completed hidden",
    it works out 44 and the 1, as the old carers page let anyone do."""
    from surveys.loader import library_path, load_file

    survey = load_file(library_path() / "carers.yaml")
    reader = Reader(K)
    know_the_survey(reader, survey)
    html = """
      <dl class="figures"><div><dt>Started</dt><dd>45</dd></div>
        <div><dt>Completed</dt><dd>hidden</dd></div></dl>
      <table><caption>Where each person who started got to</caption>
        <tr><th>Did not agree to take part</th><td>fewer than 10</td><td></td></tr>
        <tr><th>Agreed, then stopped before the first answer</th><td>0</td><td></td></tr>
        {}
        <tr><th>Completed</th><td>hidden</td><td></td></tr></table>
      <article aria-labelledby="q-hours"><table><caption>Answered by 44</caption>
        <tr><th>Under 20 hours</th><td>12</td><td>27%</td></tr></table></article>
    """.format("".join(f"<tr><th>Stopped after: {q.text.get()}</th><td>0</td><td></td></tr>"
                  for q in survey.questions if q.is_answerable))
    read_survey_page(reader, survey, scrape(html))
    leaks = reader.leaks()
    assert any(re.search(r"Completed' reads 'hidden'.*exactly 44", leak) for leak in leaks)
    assert any("'Did not agree to take part' reads 'fewer than 10'" in leak
               and "exactly 1" in leak for leak in leaks)


@pytest.mark.parametrize(("by", "shown"), [("hours", "time_for_me"), ("assessment", "helps"),
                                           ("assessment", "hours")])
def test_filters_by_answer_and_the_crosstab_give_nothing_away(
        client: FlaskClient, runtime: Runtime, by: str, shown: str) -> None:
    """The whole page, the page filtered to each answer of `by`, and the cross-tab of
    `shown` by `by`, read together by one reader who also knows that the groups split
    the whole survey: no hidden cell may be pinned down, no exact count may describe
    fewer than k people, and no group may differ from the whole by 1 to k-1 people in a
    figure both show."""
    seed(runtime, "carers", carers_45())
    survey = runtime.catalog.get().surveys["carers"]
    sign_in(client, REVIEWER)
    question = survey.question(by)
    assert question is not None
    codes = [o.code for o in question.options] or ["yes", "no"]
    reader = the_reader(runtime, "carers")
    know_the_groups(reader, survey, by, codes)
    read_survey_page(reader, survey, scrape(page(client, "/dashboard/surveys/carers")))
    baseline = reader.copy()
    for code in codes:
        html = page(client, f"/dashboard/surveys/carers?answer={by}:{code}")
        assert "Showing only the people who answered" in html
        read_survey_page(reader, survey, scrape(html), group_prefix(code),
                         f"the page filtered to {by}={code}")
    crosstab = scrape(page(client, f"/dashboard/surveys/carers/crosstab?rows={by}&columns={shown}"))
    read_crosstab(reader, survey, crosstab, by, shown)
    leaks = reader.leaks(baseline)
    for code in codes:
        leaks += complement_leaks(reader, survey, "", group_prefix(code), f"{by}={code}")
    assert not leaks, "\n".join(leaks)


def test_the_reader_finds_what_a_crosstab_without_secondary_suppression_gives_away() -> None:
    """A cross-tab that hides only the small cells: the whole survey shows 14 who rated
    their time 4, and the 20-to-49 row shows 10 of them, so the 50-hours-or-more row's
    "fewer than 10" under 4 is 14 - 10 = 4 (the others in that column are shown as 0)."""
    from surveys.loader import library_path, load_file

    survey = load_file(library_path() / "carers.yaml")
    reader = Reader(K)
    know_the_survey(reader, survey)
    know_the_groups(reader, survey, "hours", ["under_20", "h20_49", "h50_plus", "not_sure"])
    few = "fewer than 10"
    html = f"""
      <table><caption>People, by their answers</caption>
        <tr><th>Under 20 hours</th><td>{few}</td><td>{few}</td><td>{few}</td><td>0</td>
          <td>0</td><td>0</td><td>12</td></tr>
        <tr><th>20 to 49 hours</th><td>0</td><td>0</td><td>10</td><td>10</td><td>0</td>
          <td>0</td><td>20</td></tr>
        <tr><th>50 hours or more</th><td>0</td><td>0</td><td>0</td><td>{few}</td>
          <td>{few}</td><td>0</td><td>9</td></tr>
        <tr><th>Not sure</th><td>0</td><td>0</td><td>0</td><td>0</td><td>3</td><td>0</td>
          <td>3</td></tr>
        <tr><th>Everyone who answered</th><td>3</td><td>4</td><td>15</td><td>14</td>
          <td>8</td><td>0</td><td>44</td></tr></table>
    """
    read_crosstab(reader, survey, scrape(html), "hours", "time_for_me")
    leaks = reader.leaks()
    assert any("row '50 hours or more', column '4'" in leak and "exactly 4" in leak
               for leak in leaks), leaks


def test_the_figures_people_expect_give_nothing_away(client: FlaskClient,
                                                     runtime: Runtime) -> None:
    """% positive, % negative, the scale's average and responses over time are read too:
    on issue 16's 32-response FFT spread over a fortnight, and on the carers page (a
    scale), each against its WhatsApp view, where day-by-day counts are cells of a
    channel-by-day table."""
    from datetime import UTC, datetime

    from tests.figures_data import FFT_32, fft_people, seed_over_days

    seed_over_days(runtime, "fft", fft_people(FFT_32), datetime(2026, 11, 2, 9, tzinfo=UTC),
                   14)
    seed(runtime, "carers", carers_45())
    sign_in(client, REVIEWER)
    for survey_id, mean_or_positive in (("fft", "Positive (Very good or Good)"),
                                        ("carers", "Average (mean)")):
        survey = runtime.catalog.get().surveys[survey_id]
        reader = the_reader(runtime, survey_id)
        know_the_survey(reader, survey, "wa.")
        whole = scrape(page(client, f"/dashboard/surveys/{survey_id}"))
        narrowed = scrape(page(client, f"/dashboard/surveys/{survey_id}?channel=whatsapp"))
        # The figures are on the page for the reader to use (or the test proves nothing).
        assert any(mean_or_positive in figures for figures in whole.question_figures.values())
        assert any(t.caption.startswith("Responses over time") for t in whole.tables)
        read_survey_page(reader, survey, whole)
        read_survey_page(reader, survey, narrowed, "wa.", "the WhatsApp view")
        assert any(name.startswith("T:") for name in reader.names)
        if survey_id == "carers":  # everyone started on one day: WhatsApp's 14 shown
            assert any(name.startswith("wa.T:") for name in reader.names)
        nested(reader, "", "wa.", list(reader.names))
        leaks = reader.leaks() + complement_leaks(reader, survey, "", "wa.", "WhatsApp view")
        assert not leaks, f"{survey_id}:\n" + "\n".join(leaks)


def test_the_reader_finds_an_average_made_from_hidden_counts() -> None:
    """A careless average beside hidden cells is an equation a reader can solve: with
    "1" and "5" hidden but their sum known, "Average 3.3" pins both."""
    from surveys.loader import library_path, load_file

    survey = load_file(library_path() / "carers.yaml")
    reader = Reader(K)
    know_the_survey(reader, survey)
    # 20 answered: 1 × "1" and 2 × "5" hidden, 17 at 3 shown: (1 + 10 + 51) / 20 = 3.1.
    html = """
      <article aria-labelledby="q-time_for_me"><table><caption>Answered by 20</caption>
        <tr><th>1 (None at all)</th><td>fewer than 10</td><td></td></tr>
        <tr><th>2</th><td>0</td><td>0%</td></tr>
        <tr><th>3</th><td>17</td><td>85%</td></tr>
        <tr><th>4</th><td>0</td><td>0%</td></tr>
        <tr><th>5 (Plenty)</th><td>fewer than 10</td><td></td></tr></table>
        <dl><div><dt>Average (mean)</dt><dd>3.1 <small>out of 5</small></dd></div></dl>
      </article>
    """
    read_survey_page(reader, survey, scrape(html))
    leaks = reader.leaks()
    assert any("'time_for_me' option '1 (None at all)'" in leak and "exactly 1" in leak
               for leak in leaks), leaks
    assert any("'time_for_me' option '5 (Plenty)'" in leak and "exactly 2" in leak
               for leak in leaks), leaks


def test_a_timeline_with_hidden_days_gives_nothing_away(client: FlaskClient,
                                                        runtime: Runtime) -> None:
    """Three channels over five days, with a small WhatsApp day and a small SMS day: the
    WhatsApp view's chart hides those days and others with them ("fewer than 10",
    "hidden"), and the reader, with the whole survey's day-by-day figures, can pin none."""
    from datetime import UTC, datetime

    days = [(30, 30, 30), (3, 20, 20), (20, 3, 20), (20, 20, 20), (25, 20, 20)]
    for day, (whatsapp, sms, telegram) in enumerate(days):
        seed(runtime, "fft",
             [Person({"overall": "good", "why": SKIP}, channel="whatsapp")] * whatsapp
             + [Person({"overall": "poor", "why": SKIP}, channel="sms")] * sms
             + [Person({"overall": "good", "why": SKIP}, channel="telegram")] * telegram,
             when=datetime(2026, 9, 7 + day, 9, tzinfo=UTC))
    survey = runtime.catalog.get().surveys["fft"]
    sign_in(client, REVIEWER)
    reader = the_reader(runtime, "fft")
    know_the_survey(reader, survey, "wa.")
    read_survey_page(reader, survey, scrape(page(client, "/dashboard/surveys/fft")))
    html = page(client, "/dashboard/surveys/fft?channel=whatsapp")
    narrowed = scrape(html)
    timeline = next(t for t in narrowed.tables if t.caption.startswith("Responses over time"))
    shown = [cells[0] for _label, cells in timeline.rows]
    assert "fewer than 10" in shown and "30" in shown  # partly hidden, partly shown
    assert "A “?” marks a day this view hides" in html
    read_survey_page(reader, survey, narrowed, "wa.", "the WhatsApp view")
    nested(reader, "", "wa.", list(reader.names))
    leaks = reader.leaks() + complement_leaks(reader, survey, "", "wa.", "WhatsApp view")
    assert not leaks, "\n".join(leaks)


def carers_by_channel_and_assessment() -> list[Person]:
    """78 carers in which every group of channel by carer's assessment, and every one
    of those by hours, holds 0 or at least 10 people: a filtered cross-tab can show them."""
    groups = {("whatsapp", "yes"): {"under_20": 12, "h20_49": 10},
              ("whatsapp", "no"): {"h20_49": 14},
              ("sms", "yes"): {"under_20": 10, "h50_plus": 10},
              ("sms", "no"): {"h20_49": 10, "h50_plus": 12}}
    people = []
    for (channel, assessment), hours in groups.items():
        for code, n in hours.items():
            for i in range(n):
                people.append(Person({"hours": code, "helps": ["family"],
                                      "missing": f"More respite, carer {len(people)}.",
                                      "time_for_me": 3 + i % 2, "assessment": assessment},
                                     channel=channel))
    return people


@pytest.mark.parametrize(("people", "by", "shown", "channel"), [
    ("carers_45", "hours", "time_for_me", "whatsapp"),
    ("carers_45", "assessment", "helps", "sms"),
    ("carers_78", "assessment", "hours", "whatsapp"),
    ("carers_78", "hours", "assessment", "sms"),
])
def test_a_crosstab_narrowed_by_channel_gives_nothing_away(
        client: FlaskClient, runtime: Runtime, people: str, by: str, shown: str,
        channel: str) -> None:
    """The cross-tab of `shown` by `by` among one channel's people, read with the whole
    page, the channel's page, the pages filtered to each answer (with and without the
    channel) and the unfiltered cross-tab, by a reader who knows that the answers split
    the survey and the channel's view alike, and that the channel is part of the whole."""
    seed(runtime, "carers", carers_45() if people == "carers_45"
         else carers_by_channel_and_assessment())
    survey = runtime.catalog.get().surveys["carers"]
    sign_in(client, REVIEWER)
    question = survey.question(by)
    assert question is not None
    codes = [o.code for o in question.options] or ["yes", "no"]
    ch = "ch."
    reader = the_reader(runtime, "carers")
    know_the_survey(reader, survey, ch)
    know_the_groups(reader, survey, by, codes)
    know_the_groups(reader, survey, by, codes, ch)
    names = [n for n in reader.names if "." not in n]
    nested(reader, "", ch, names)
    for code in [*codes, ""]:
        nested(reader, group_prefix(code), ch + group_prefix(code), names)
    base = "/dashboard/surveys/carers"
    read_survey_page(reader, survey, scrape(page(client, base)))
    baseline = reader.copy()
    read_survey_page(reader, survey, scrape(page(client, f"{base}?channel={channel}")), ch,
                     f"the {channel} page")
    for code in codes:
        read_survey_page(reader, survey, scrape(page(client, f"{base}?answer={by}:{code}")),
                         group_prefix(code), f"the page filtered to {by}={code}")
        read_survey_page(reader, survey,
                         scrape(page(client, f"{base}?channel={channel}&answer={by}:{code}")),
                         ch + group_prefix(code), f"the {channel} page filtered to {by}={code}")
    whole = page(client, f"{base}/crosstab?rows={by}&columns={shown}")
    read_crosstab(reader, survey, scrape(whole), by, shown)
    html = page(client, f"{base}/crosstab?rows={by}&columns={shown}&channel={channel}")
    narrowed = scrape(html)
    read_crosstab(reader, survey, narrowed, by, shown, ch)
    table = next(t for t in narrowed.tables if t.caption.startswith("People, by their answers"))
    exact = [cell for label, cells in table.rows if not label.startswith("Everyone")
             and cells[-1:] != ["Answered"] for cell in cells[:-1]
             if re.fullmatch(r"[1-9][\d,]*( \d+%)?", cell)]
    if people == "carers_45":  # split by channel and answer, some groups are under k
        assert not exact and "Nothing can be shown for this view" in html
    else:  # every group holds 0 or 10 or more: the table is shown
        assert exact and "Nothing can be shown" not in html
    leaks = reader.leaks(baseline)
    leaks += complement_leaks(reader, survey, "", ch, f"the {channel} view")
    for code in codes:
        p = group_prefix(code)
        leaks += complement_leaks(reader, survey, "", p, f"{by}={code}")
        leaks += complement_leaks(reader, survey, p, ch + p, f"{channel} and {by}={code}")
        leaks += complement_leaks(reader, survey, ch, ch + p, f"{by}={code} in {channel}")
    assert not leaks, "\n".join(leaks)


def _tag(runtime: Runtime, survey_id: str, qid: str, theme: str,
         chosen: Callable[[str], bool]) -> int:
    """Tag the written answers to `qid` whose words `chosen` picks with a new theme."""
    from storage.repositories.dashboard import DashboardRepository

    with runtime.sessions() as session:
        repo = DashboardRepository(session)
        theme_id = repo.create_theme(survey_id, theme, None, runtime.clock())
        _n, answers = repo.free_text(survey_id, qid, limit=1000)
        tagged = 0
        for answer in answers:
            if chosen(answer.text):
                repo.tag(answer.id, theme_id, None, runtime.clock())
                tagged += 1
        session.commit()
    return tagged


def carers_by_channel_wrote(whatsapp: int, sms: int, skipped: int = 0) -> list[Person]:
    """Carers who all completed, rated their time 1 and wrote what is missing ("… on
    whatsapp 3.") and what would help; `skipped` more on SMS skipped what would help."""
    people = []
    for channel, n in (("whatsapp", whatsapp), ("sms", sms + skipped)):
        for i in range(n):
            wish: object = SKIP if channel == "sms" and i >= sms else f"A sitter, {channel} {i}."
            people.append(Person({"hours": "h20_49", "helps": ["family"],
                                  "missing": f"Respite, on {channel} {i}.", "time_for_me": 1,
                                  "time_wish": wish, "assessment": "yes"}, channel=channel))
    return people


@pytest.mark.parametrize(("whatsapp", "sms", "skipped", "question", "tagged"), [
    # 12 of WhatsApp's 25 and 3 of SMS's 25: the whole shows 15, WhatsApp 12, so SMS's
    # "fewer than 10" would be 3.
    (25, 25, 0, "missing", {"whatsapp": 12, "sms": 3}),
    # Three on SMS skipped "time_wish": its written answers are hidden in both views (a
    # small cell beside them), yet a theme on all 25 of WhatsApp's would say WhatsApp
    # wrote 25, and so that the three who skipped are on SMS.
    (25, 22, 3, "time_wish", {"whatsapp": 25, "sms": 22}),
])
def test_theme_counts_in_a_narrowed_view_give_nothing_away(
        client: FlaskClient, runtime: Runtime, whatsapp: int, sms: int, skipped: int,
        question: str, tagged: dict[str, int]) -> None:
    """Theme counts follow the view's suppression: read with the whole page and both
    channels' pages, by a reader who knows the channels split the survey, they pin no
    hidden count and describe no group under k."""
    seed(runtime, "carers", carers_by_channel_wrote(whatsapp, sms, skipped))
    numbers = {f"{channel} {i}." for channel, n in tagged.items() for i in range(n)}
    assert _tag(runtime, "carers", question, "Respite",
                lambda text: any(text.endswith(x) for x in numbers)) == sum(tagged.values())
    survey = runtime.catalog.get().surveys["carers"]
    sign_in(client, REVIEWER)
    themes = ["Respite"]
    reader = the_reader(runtime, "carers")
    know_the_themes(reader, survey, themes)
    for p in ("wa.", "sms."):
        know_the_survey(reader, survey, p)
        know_the_themes(reader, survey, themes, p)
    for name in [n for n in reader.names if "." not in n]:
        reader.equal({name: 1, f"wa.{name}": -1, f"sms.{name}": -1}, 0)
    base = "/dashboard/surveys/carers"
    whole = scrape(page(client, f"{base}?question=missing"))
    assert any(t.caption.startswith("Answers tagged") for t in whole.tables)
    read_survey_page(reader, survey, whole)
    read_themes(reader, survey, whole)
    baseline = reader.copy()
    for channel, p in (("whatsapp", "wa."), ("sms", "sms.")):
        for path in (f"{base}?channel={channel}&question=missing",
                     f"{base}/summary?channel={channel}"):
            html = page(client, path)
            seen = scrape(html.replace('aria-labelledby="sq-', 'aria-labelledby="q-'))
            read_survey_page(reader, survey, seen, p, f"{path}")
            read_themes(reader, survey, seen, p, f"{path}")
    leaks = reader.leaks(baseline)
    leaks += complement_leaks(reader, survey, "", "wa.", "the WhatsApp view")
    assert not leaks, "\n".join(leaks)


def carers_78_breaks() -> list[Person]:
    """`carers_by_channel_and_assessment`, with WhatsApp's 36 ticking "breaks" too."""
    people = carers_by_channel_and_assessment()
    for person in people:
        if person.channel == "whatsapp":
            person.answers = {**person.answers, "helps": ["family", "breaks"]}
    return people


@pytest.mark.parametrize(("people", "code"), [("carers_45", "family"),
                                               ("carers_45", "breaks"),
                                               ("carers_78", "breaks"),
                                               ("wrote", "family")])
def test_a_filter_by_a_ticked_option_gives_nothing_away(
        client: FlaskClient, runtime: Runtime, people: str, code: str) -> None:
    """Those who ticked one option of "Which of these help you most?" and those who
    answered without ticking it, read with the whole page (and its summary) by a reader
    who knows the two groups and those who gave no answer split the survey."""
    seed(runtime, "carers", {"carers_45": carers_45,
                             "carers_78": carers_78_breaks,
                             "wrote": lambda: carers_by_channel_wrote(25, 22, 3)}[people]())
    survey = runtime.catalog.get().surveys["carers"]
    sign_in(client, REVIEWER)
    reader = the_reader(runtime, "carers")
    know_the_ticks(reader, survey, "helps", code)
    base = "/dashboard/surveys/carers"
    read_survey_page(reader, survey, scrape(page(client, base)))
    baseline = reader.copy()
    for p, which in (("t.", "ticked"), ("u.", "unticked")):
        for path in (f"{base}?answer=helps:{which}:{code}",
                     f"{base}/summary?answer=helps:{which}:{code}"):
            html = page(client, path)
            assert "who ticked" in html or "without ticking" in html
            seen = scrape(html.replace('aria-labelledby="sq-', 'aria-labelledby="q-'))
            read_survey_page(reader, survey, seen, p, path)
    leaks = reader.leaks(baseline)
    for p in ("t.", "u."):
        leaks += complement_leaks(reader, survey, "", p, f"helps {p}")
    assert not leaks, "\n".join(leaks)
