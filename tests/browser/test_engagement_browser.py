"""A whole engagement in a real browser, rehearsed on the sandbox channel (WITHUS_SANDBOX
on, no SMS provider): an organiser signs in, uploads a survey, reads the lint table,
publishes it, imports a cohort, invites it, replies in the sandbox inbox as three cohort
members (two answer everything, one says STOP half-way), reads the results (test data,
left out until asked for), exports them, shares back what was heard and closes the
survey, which then leaves the participants' menu.

Nothing is mocked: the app runs on a loopback port, and between clicks the test runs the
scheduler's jobs and send loop as `withus serve` does in its own thread. axe-core checks
every page; each step is photographed at 1280 and 390 pixels wide into
test-output/screenshots/ (engagement-NN-step-WIDTH.png).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.services.runtime import Runtime
from storage.models import Answer, Participant, Response
from tests.browser.conftest import ORGANISER, SCREENSHOTS, serve
from tests.browser.seed import add_user
from tests.browser.test_dashboard_browser import check_accessibility, sign_in
from tests.helpers import FakeClock, make_runtime
from tests.test_sandbox import run_scheduler

pytestmark = pytest.mark.timeout(300)

SURVEY = """\
id: oaklane
version: 1
title: Oak Lane day centre
intro: We would like to hear about Oak Lane day centre. 3 short questions.
consent: We keep your answers without your name or number. Do you agree to take part?
thank_you: Thank you. We will tell you what we learned and what changes.
questions:
  - id: visit
    type: single_choice
    text: How was your last visit?
    options:
      - {code: good, text: Good}
      - {code: poor, text: Not so good}
  - id: helps
    type: multiple_choice
    text: What helps you most at Oak Lane?
    options:
      - {code: staff, text: Friendly staff}
      - {code: lunch, text: Lunch}
      - {code: trips, text: Trips out}
  - id: better
    type: free_text
    text: What one thing would make Oak Lane better?
"""
#: Ofcom's drama numbers: never anyone's.
COHORT = "Name,Mobile\nAnn,07700 900301\nBea,07700 900302\nCal,07700 900303\n"
WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Runtime]]:
    """The app with no provider for any channel and the sandbox on, as after `make run`,
    with WITHUS_MIN_CELL=1 (a copy that holds only test data) so a rehearsal of three
    shows its figures."""
    folder = tmp_path_factory.mktemp("engagement")
    runtime = make_runtime(f"sqlite:///{folder / 'withus.db'}", folder, clock=FakeClock(),
                           channels={}, sandbox=True, min_cell=1)
    add_user(runtime, ORGANISER, "organiser")
    with serve(runtime) as base:
        yield base, runtime


def photograph(page: Any, step: str) -> None:
    """Check the page with axe-core, then photograph it at each width (full page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        check_accessibility(page, f"{step} at {width}")
        page.screenshot(path=str(SCREENSHOTS / f"engagement-{step}-{width}.png"),
                        full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def reply(page: Any, base: str, person: int, text: str) -> None:
    """Type `text` as Person `person` in the sandbox inbox and send it."""
    page.goto(f"{base}/simulator/sandbox?person={person}")
    page.get_by_label(f"Reply as Person {person}").fill(text)
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_url(f"{base}/simulator/sandbox?person={person}#latest")


def latest(page: Any) -> str:
    return str(page.locator("#latest").inner_text())


def test_a_whole_engagement_rehearsed_in_the_sandbox(
        browser: Any, sandbox_server: tuple[str, Runtime], tmp_path: Path) -> None:
    base, runtime = sandbox_server
    context = browser.new_context(accept_downloads=True, bypass_csp=True,
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()

    # 1. Sign in.
    sign_in(page, base, ORGANISER)
    # With WITHUS_MIN_CELL=1 nothing is suppressed: a zero reads 0, not "fewer than 1".
    assert not re.search(r"fewer than 1\b", page.locator("body").inner_text())
    photograph(page, "01-surveys")

    # 2. Upload the survey and read the lint table before anything is stored.
    survey_file = tmp_path / "oaklane.yaml"
    survey_file.write_text(SURVEY, encoding="utf-8")
    page.get_by_role("link", name="Publish a survey").click()
    page.get_by_label("Survey file (.yaml, .yml, .xlsx or .xls)").set_input_files(
        str(survey_file))
    page.get_by_role("button", name="Check the survey").click()
    page.wait_for_selector("#check-heading")
    table = page.get_by_role("table", name="Every message on each channel")
    assert "\nhelps\ten\t" in table.inner_text()  # a row per message, with its segments
    assert "oaklane" not in runtime.catalog.get().surveys
    photograph(page, "02-lint")

    # 3. Publish it.
    page.get_by_role("button", name="Publish version 1").click()
    page.wait_for_url(f"{base}/dashboard/surveys/oaklane/status")
    assert page.locator("#survey-status").inner_text() == "Open"
    invite = page.get_by_role("link", name="Invite a cohort to it")
    assert invite.get_attribute("href") == "/dashboard/invitations?survey=oaklane"
    photograph(page, "03-published")

    # 4. Import the cohort from a CSV file.
    contacts = tmp_path / "rehearsal.csv"
    contacts.write_text(COHORT, encoding="utf-8")
    page.get_by_role("link", name="Contacts").click()
    page.get_by_label("Contacts file").set_input_files(str(contacts))
    page.get_by_label("How they will be contacted").select_option("sms")
    page.get_by_label("Cohort", exact=True).fill("rehearsal")
    page.get_by_role("button", name="Upload and import").click()
    assert "cohort rehearsal: imported 3, duplicates 0, invalid 0" in (
        page.locator("#import-report").inner_text())
    assert "7700" not in page.content()
    photograph(page, "04-contacts")

    # 5. Invite the cohort: the page says the messages go to the sandbox.
    page.get_by_role("link", name="Invite this cohort to a survey").click()
    assert page.get_by_label("Cohort", exact=True).input_value() == "rehearsal"
    page.get_by_label("Survey", exact=True).select_option("oaklane")
    page.get_by_role("button", name="Schedule the invitation").click()
    flash = page.locator(".flashes").inner_text()
    assert "sms has no provider here" in flash and "sandbox inbox" in flash
    photograph(page, "05-invited")
    run_scheduler(runtime)  # what `withus serve`'s scheduler thread does within seconds
    page.reload()
    assert page.get_by_role("row", name="In the sandbox").is_visible()
    assert page.locator("#sandbox-note").is_visible()
    photograph(page, "06-invitation-progress")

    # 6. The sandbox inbox: three people, each with their invitation; no phone number.
    page.locator("#sandbox-note").get_by_role("link", name="sandbox inbox").click()
    people = page.get_by_role("navigation", name="People in the sandbox")
    assert [people.get_by_role("link", name=f"Person {n}").count() for n in (1, 2, 3)] == [
        1, 1, 1]
    assert "To start, reply OAKLANE" in latest(page)
    assert "7700" not in page.content()
    photograph(page, "07-sandbox-invitation")

    # Persons 1 and 3 answer everything; Person 2 says STOP half-way. On SMS the inbox
    # shows what a phone shows: numbered lines and "Reply 1 or 2", no buttons.
    for person, visit, helps, better in ((1, "1", "1 3", "More trips to the sea."),
                                         (3, "Not so good", "2", "A later bus home.")):
        reply(page, base, person, "OAKLANE")
        assert "Do you agree to take part?" in latest(page)
        assert "1 Yes, I agree\n2 No, thank you" in latest(page)
        assert page.locator("form.choices").count() == 0
        reply(page, base, person, "1")
        assert "How was your last visit?" in latest(page)
        reply(page, base, person, visit)
        assert "Reply with all the numbers that apply" in latest(page)
        reply(page, base, person, helps)
        assert "What one thing would make Oak Lane better?" in latest(page)
        reply(page, base, person, better)
        assert "May we quote your words" in latest(page)
        reply(page, base, person, "yes" if person == 1 else "no")
        assert "Would you like to hear what we learn?" in latest(page)
        reply(page, base, person, "1")
        assert "Thank you." in latest(page)
    photograph(page, "08-sandbox-replies")
    reply(page, base, 2, "OAKLANE")
    reply(page, base, 2, "yes")
    reply(page, base, 2, "Good")
    reply(page, base, 2, "STOP")
    people = page.get_by_role("navigation", name="People in the sandbox")
    assert "said STOP" in people.get_by_role("listitem").nth(1).inner_text()
    photograph(page, "09-sandbox-stop")

    with runtime.sessions() as session:
        responses = session.scalars(select(Response).where(
            Response.survey_id == "oaklane")).all()
        # Person 2 is "stopped" (STOP part-way), answers kept: the funnel shows where.
        assert sorted(r.status for r in responses) == ["completed", "completed", "stopped"]
        assert session.scalar(select(func.count()).select_from(Participant).where(
            Participant.opted_out_at.is_not(None))) == 1
        assert all(r.is_test and r.channel == "sms" for r in responses)
        helps = session.scalars(select(Answer.value).where(
            Answer.survey_id == "oaklane", Answer.question_id == "helps")).all()
        assert sorted(map(sorted, helps)) == [["lunch"], ["staff", "trips"]]

    # 7. The results: test responses are left out until asked for, then marked.
    page.goto(f"{base}/dashboard/")
    page.get_by_role("link", name="Oak Lane day centre", exact=True).click()
    note = page.locator("#test-data")
    assert "3 test responses" in note.inner_text() and "left out" in note.inner_text()
    assert "More trips to the sea." not in page.content()
    photograph(page, "10-results")
    note.get_by_role("link", name="Include test responses").click()
    assert "These figures include" in page.locator("#test-data").inner_text()
    visit = page.get_by_role("article").filter(has_text="How was your last visit?")
    assert visit.get_by_role("row", name="Good").get_by_text("2", exact=True).is_visible()
    wrote = page.locator("li.answer", has_text="More trips to the sea.")
    assert "Test" in wrote.inner_text()
    photograph(page, "11-results-with-tests")

    # 8. Export them, test responses included and marked.
    page.get_by_label("Include the 3 test responses from the sandbox").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").first.click()
    rows = list(csv.DictReader(io.StringIO(
        Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(rows) == 3
    assert "7700" not in Path(download.value.path()).read_text(encoding="utf-8-sig")

    # 9. Share back what was heard: it reaches the two who asked, not the one who said STOP.
    page.get_by_role("link", name="Share-backs").click()
    page.get_by_label("Survey", exact=True).select_option("oaklane")
    page.locator("#text").fill("Thank you for telling us about Oak Lane. People asked for "
                               "more trips out, so from March there is one every month.")
    page.get_by_role("button", name="Save the draft and preview it").click()
    photograph(page, "12-shareback-preview")
    page.get_by_role("button", name="Send it to 2 people").click()
    assert "Share-back queued for 2 people" in page.locator(".flashes").inner_text()
    run_scheduler(runtime)
    for person, gets_it in ((1, True), (2, False), (3, True)):
        page.goto(f"{base}/simulator/sandbox?person={person}")
        assert ("from March there is one every month" in latest(page)) is gets_it
    photograph(page, "13-shareback-arrived")

    # 10. Close the survey: it leaves the participants' menu, and its results stay.
    page.goto(f"{base}/dashboard/surveys/oaklane/status")
    page.get_by_role("button", name="Close now").click()
    assert page.locator("#survey-status").inner_text() == "Closed"
    photograph(page, "14-closed")
    page.get_by_role("link", name="Surveys", exact=True).click()
    assert "Closed" in page.get_by_role("row").filter(has_text="Oak Lane").inner_text()
    photograph(page, "15-surveys-after-close")
    reply(page, base, 3, "MENU")
    assert "Oak Lane" not in latest(page) and "OAKLANE" not in latest(page)
    reply(page, base, 3, "OAKLANE")
    # They are told it has closed, then what came of it (the share-back), in one go.
    messages = page.locator("li.message")
    before_last = messages.nth(messages.count() - 2).inner_text()
    assert '"Oak Lane day centre" has now closed.' in before_last
    assert "from March there is one every month" in latest(page)
    photograph(page, "16-menu-after-close")
    context.close()
