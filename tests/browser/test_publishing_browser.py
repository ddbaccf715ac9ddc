"""Publishing a survey and moderating a consultation in a real browser: upload a file, see
the lint table and previews, publish, close; tick statements and reject them together.

Every page is checked with axe-core (no serious or critical violations); screenshots at
1280 and 390 pixels go to test-output/screenshots/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.services.runtime import Runtime
from storage.models import Statement
from tests.browser.conftest import ORGANISER
from tests.browser.test_dashboard_browser import check_accessibility, shot, sign_in
from tests.test_survey_publishing import LONG_OPTION

pytestmark = pytest.mark.timeout(180)


@pytest.mark.parametrize("width", [1280, 390])
def test_upload_lint_publish_and_close(browser: Any, server: tuple[str, Runtime],
                                       tmp_path: Path, width: int) -> None:
    base, runtime = server
    survey_id = f"pilot{width}"
    file = tmp_path / f"{survey_id}.yaml"
    file.write_text(LONG_OPTION.replace("id: pilot", f"id: {survey_id}"), encoding="utf-8")
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, base, ORGANISER)
    assert page.get_by_role("link", name="Consultations").first.is_visible()
    page.get_by_role("link", name="Publish a survey").click()
    page.wait_for_url(f"{base}/dashboard/publish")
    check_accessibility(page, f"publish page {width}")
    page.get_by_label("Survey file (.yaml, .yml, .xlsx or .xls)").set_input_files(str(file))
    page.get_by_role("button", name="Check the survey").click()
    page.wait_for_selector("#check-heading")
    table = page.get_by_role("table", name="Every message on each channel")
    assert table.is_visible()
    assert "list" in table.inner_text()  # four choices go to WhatsApp as a list
    assert page.get_by_text("Messages in en").is_visible()
    assert page.locator("h4", has_text="WhatsApp").first.is_visible()
    check_accessibility(page, f"publish check {width}")
    shot(page, f"publish-check-{width}")
    assert survey_id not in runtime.catalog.get().surveys
    page.get_by_role("button", name="Publish version 1").click()
    page.wait_for_url(f"{base}/dashboard/surveys/{survey_id}/status")
    assert page.locator("#survey-status").inner_text() == "Open"
    assert page.get_by_text(f"Published survey {survey_id}, version 1.").is_visible()
    check_accessibility(page, f"survey status {width}")
    shot(page, f"survey-status-{width}")
    page.get_by_role("button", name="Close now").click()
    page.wait_for_url(f"{base}/dashboard/surveys/{survey_id}/status")
    assert page.locator("#survey-status").inner_text() == "Closed"
    assert survey_id not in [s.id for s in runtime.catalog.get().open_surveys(runtime.clock())]
    page.goto(f"{base}/dashboard/")
    row = page.get_by_role("row").filter(has_text=survey_id)
    assert "Closed" in row.inner_text()
    shot(page, f"surveys-list-{width}")
    context.close()


def test_bulk_moderation(browser: Any, server: tuple[str, Runtime]) -> None:
    base, runtime = server
    consultation = next(iter(runtime.catalog.get().consultations.values()))
    question = consultation.questions[0].id
    with runtime.sessions() as session:
        for n in range(30):
            session.add(Statement(consultation_id=consultation.id, question_id=question,
                                  text=f"Browser statement {n}", seed=False,
                                  status="pending", created_at=runtime.clock()))
        session.commit()
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, base, ORGANISER)
    page.get_by_role("link", name="Consultations").first.click()
    page.goto(f"{base}/dashboard/consultations/{consultation.id}")
    assert page.locator("input[name=ids]").count() == 25
    check_accessibility(page, "moderation")
    shot(page, "moderation-1280")
    first, second = (page.locator("input[name=ids]").nth(i) for i in (0, 1))
    first.check()
    second.check()
    page.get_by_role("button", name="Reject ticked").click()
    page.wait_for_selector("text=2 statements rejected.")
    page.get_by_role("link", name="Rejected").click()
    assert "Rejected: 2 statements." in page.content()
    page.set_viewport_size({"width": 390, "height": 900})
    page.get_by_role("link", name="Waiting").click()
    check_accessibility(page, "moderation narrow")
    shot(page, "moderation-390")
    context.close()
