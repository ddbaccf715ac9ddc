"""The dashboard in a real browser: sign in, tag and filter themes, download a CSV.

Every page visited is checked with axe-core, and the test fails on any serious or
critical accessibility violation. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.browser.conftest import AXE, ORGANISER, REVIEWER, SCREENSHOTS
from tests.browser.seed import PASSWORD

pytestmark = pytest.mark.timeout(120)


def check_accessibility(page: Any, name: str) -> None:
    """Run axe-core on the page; fail on serious or critical violations.

    A click on a link returns once the navigation has started, so the new document may
    not have a root yet: wait for it to load before injecting axe into it.
    """
    page.wait_for_load_state("load")
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.target.join(' '))}));
    }""")
    bad = [v for v in results if v["impact"] in ("serious", "critical")]
    for v in results:
        print(f"axe on {name}: {v['impact']} {v['id']}: {v['help']} {v['nodes'][:3]}")
    assert bad == [], f"accessibility violations on {name}: {bad}"


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, base: str, email: str) -> None:
    """By keyboard only: type, Tab, type, Enter."""
    page.goto(f"{base}/dashboard/")
    assert page.url.startswith(f"{base}/dashboard/login")
    page.get_by_label("Email address").focus()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/dashboard/")


def test_an_organiser_tags_filters_and_downloads(browser: Any, server: tuple[str, Any]) -> None:
    base, _runtime = server
    context = browser.new_context(accept_downloads=True, bypass_csp=True,
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/dashboard/login")
    check_accessibility(page, "sign-in page")
    shot(page, "01-sign-in")
    # The first Tab reaches the skip link, which takes keyboard users past the header.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"

    sign_in(page, base, ORGANISER)
    check_accessibility(page, "surveys list")
    shot(page, "02-surveys")

    page.get_by_role("link", name="Your experience of care", exact=True).click()
    page.wait_for_url(f"{base}/dashboard/surveys/fft")
    check_accessibility(page, "survey page")
    shot(page, "03-survey")
    assert page.get_by_text("Staff listened to my mum.").is_visible()

    # Create a theme and tag one answer with it.
    page.get_by_label("New theme").fill("Weekend cover")
    page.get_by_role("button", name="Create theme").click()
    # Saved without a reload (tests/browser/test_tagging_browser.py has the details).
    page.get_by_role("status").get_by_text("Weekend cover").wait_for()
    answer = page.locator("li.answer", has_text="Nobody came on Sunday.")
    answer.get_by_label("Add a theme").select_option(label="Weekend cover")
    answer.get_by_role("button", name="Tag this answer").click()
    tagged = page.locator("li.answer", has_text="Nobody came on Sunday.")
    tagged.get_by_role("list", name="Themes of this answer").wait_for()
    assert tagged.get_by_role("list", name="Themes of this answer").inner_text().startswith(
        "Weekend cover")

    # Filter by the theme.
    page.get_by_label("Theme", exact=True).select_option(label="Weekend cover")
    page.get_by_role("button", name="Show answers").click()
    page.wait_for_load_state()
    assert "theme=" in page.url
    answers = page.locator("li.answer")
    assert answers.count() == 1
    assert "Nobody came on Sunday." in answers.first.inner_text()
    assert page.get_by_text("Showing answers tagged “Weekend cover”").is_visible()
    check_accessibility(page, "survey page filtered by theme")
    shot(page, "04-filtered-by-theme")

    # Download the CSV.
    page.get_by_label("CSV (opens in Excel)").check()
    page.get_by_label("Why is this export needed?").fill("Browser test")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download responses").click()
    download = info.value
    assert download.suggested_filename.startswith("fft-responses-")
    target = SCREENSHOTS.parent / "downloads" / download.suggested_filename
    target.parent.mkdir(parents=True, exist_ok=True)
    download.save_as(str(target))
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header, *rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert header[0] == "Respondent (pseudonym)"
    assert "Overall, how was your experience of our service? [overall]" in header
    assert "Overall, how was your experience of our service? [overall] code" in header
    why = header.index("What was good, and what could be better? [why]")
    assert "'=HYPERLINK(\"http://example.invalid\",\"x\")" in [row[why] for row in rows]

    page.goto(f"{base}/dashboard/audit")
    check_accessibility(page, "audit log")
    assert page.get_by_text("Browser test").is_visible()
    shot(page, "05-audit-log")

    page.goto(f"{base}/dashboard/surveys/fft/prompts")
    check_accessibility(page, "prompts page")
    shot(page, "06-prompts")
    context.close()


def test_a_reviewer_sees_no_export_and_a_narrow_screen_works(
        browser: Any, server: tuple[str, Any]) -> None:
    base, _runtime = server
    context = browser.new_context(bypass_csp=True, viewport={"width": 400, "height": 850})
    page = context.new_page()
    sign_in(page, base, REVIEWER)
    page.goto(f"{base}/dashboard/surveys/fft?channel=whatsapp")
    # Two WhatsApp respondents: their words and counts stay hidden.
    assert page.get_by_text("Nobody came on Sunday.").count() == 0
    assert page.get_by_role("button", name="Download responses").count() == 0
    assert page.get_by_role("link", name="Audit log").count() == 0
    check_accessibility(page, "reviewer's filtered survey page")
    shot(page, "07-reviewer-narrow")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/dashboard/login")
    assert page.get_by_text("You have signed out.").is_visible()
    context.close()


def test_the_accessibility_check_does_catch_violations(browser: Any) -> None:
    """The check above must be able to fail: an unlabelled input and low contrast."""
    page = browser.new_page()
    page.set_content('<html lang="en"><title>t</title><main><input id="x">'
                     '<p style="color:#bbb;background:#fff">faint</p></main></html>')
    with pytest.raises(AssertionError, match="label"):
        check_accessibility(page, "a broken page")
    page.close()
