"""Contacts in a real browser: upload a file, read the line-by-line report, open a cohort,
find and remove one person, at 1280 and 390 pixels wide. axe-core checks every page.
Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import ORGANISER, SCREENSHOTS
from tests.browser.test_dashboard_browser import check_accessibility, shot, sign_in

pytestmark = pytest.mark.timeout(120)

#: Ofcom's drama numbers: never anyone's.
CONTACTS = ("Name,Mobile\nAnn,07700 900011\nBea,not a number\nCal,07700 900012\n"
            "Dee,020 7946 0013\n")


@pytest.mark.parametrize("width", [1280, 390])
def test_an_organiser_uploads_contacts_and_removes_one(browser: Any, server: tuple[str, Any],
                                                       width: int, tmp_path: Any) -> None:
    base, _runtime = server
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, base, ORGANISER)
    page.get_by_role("link", name="Contacts").click()
    check_accessibility(page, f"contacts page at {width}")
    csv_file = tmp_path / "carers.csv"
    csv_file.write_text(CONTACTS)
    cohort = f"carers-{width}"
    page.get_by_label("Contacts file").set_input_files(str(csv_file))
    page.get_by_label("How they will be contacted").select_option("sms")
    page.get_by_label("Cohort", exact=True).fill(cohort)
    page.get_by_role("button", name="Upload and import").click()
    report = page.locator("#import-report")
    assert f"cohort {cohort}: imported 3, duplicates 0, invalid 1, landlines 1" in (
        report.inner_text())
    assert "line 3: not a phone number, skipped" in report.inner_text()
    assert "7700" not in page.content()
    check_accessibility(page, f"import report at {width}")
    shot(page, f"contacts-report-{width}")
    page.get_by_role("link", name=cohort).click()
    check_accessibility(page, f"cohort page at {width}")
    page.get_by_label("Their number or chat id").fill("07700 900012")
    page.get_by_role("button", name="Find them").click()
    assert "That number is p" in page.locator("#found").inner_text()
    assert "7700" not in page.content()
    shot(page, f"cohort-{width}")
    page.locator("#found").get_by_role("button").click()
    assert "Removed p" in page.locator(".flashes").inner_text()
    check_accessibility(page, f"cohort after removal at {width}")
    assert SCREENSHOTS.exists()
    context.close()
