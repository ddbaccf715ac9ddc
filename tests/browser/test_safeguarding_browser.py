"""The safeguarding queue in a real browser: a lead reads, reveals and acknowledges.

Flags are raised by people writing to the real service; the lead works from the queue at
1280 and 390 pixels wide, with axe-core on every page (no serious or critical violation),
and screenshots go to test-output/screenshots/ (safeguarding-*.png). A reviewer who types
a flag's address is refused.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from bot.services.runtime import Runtime
from channels.base import InboundMessage
from tests.browser.conftest import REVIEWER, serve
from tests.browser.seed import add_user
from tests.browser.test_dashboard_browser import check_accessibility, shot
from tests.helpers import FakeClock, make_runtime
from tests.test_privacy import RecordingChannel

pytestmark = pytest.mark.timeout(180)

LEAD = "lead@example.org"
PEOPLE = {  # (their phone, what they write, one message after another)
    "07700 900501": ["hello", "yes", "1", "My son pushes me around and I'm scared of him"],
    "07700 900502": ["Dw i eisiau marw"],
    "07700 900503": ["hello", "Mum was lying on the floor all night, nobody came", "3"],
}
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def queue_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Runtime]]:
    folder = tmp_path_factory.mktemp("safeguarding-browser")
    runtime = make_runtime(f"sqlite:///{folder / 'withus.db'}", folder, clock=FakeClock(),
                           channels={"sms": RecordingChannel()}, default_survey="fft",
                           public_url="https://withus.example.org")
    for phone, texts in PEOPLE.items():
        for text in texts:
            runtime.service.handle(InboundMessage("sms", phone, f"SM{next(_ids)}", "text",
                                                  text=text))
    add_user(runtime, LEAD, "lead")
    add_user(runtime, REVIEWER, "reviewer")
    with serve(runtime) as base:
        yield base, runtime


def sign_in(page: Any, base: str, email: str) -> None:
    from tests.browser.seed import PASSWORD

    page.goto(f"{base}/dashboard/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/dashboard/")


def test_a_lead_reads_reveals_and_acknowledges(browser: Any,
                                               queue_server: tuple[str, Any]) -> None:
    base, _runtime = queue_server
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, base, LEAD)
    link = page.get_by_role("link", name="Safeguarding (3 open)")
    assert link.is_visible()
    link.click()
    page.wait_for_url(f"{base}/dashboard/safeguarding")
    flags = page.locator("li.flag")
    assert flags.count() == 3
    assert "nobody came" in flags.nth(0).inner_text()  # newest first
    assert "Asked to be contacted" in flags.nth(0).inner_text()
    assert "Dw i eisiau marw" in flags.nth(1).inner_text()
    check_accessibility(page, "safeguarding queue")
    shot(page, "safeguarding-1-queue-1280")

    flags.nth(2).get_by_role("link").click()
    page.wait_for_url(f"{base}/dashboard/safeguarding/*")
    assert page.get_by_text("My son pushes me around").is_visible()
    assert page.get_by_text("+447700900501").count() == 0
    check_accessibility(page, "safeguarding flag")
    shot(page, "safeguarding-2-flag-1280")

    page.get_by_label("Why do you need their contact details?").fill("too short")
    page.get_by_role("button", name="Reveal contact details").click()
    page.wait_for_load_state()
    assert page.get_by_text("at least a short sentence").is_visible()
    assert page.get_by_text("+447700900501").count() == 0
    page.get_by_label("Why do you need their contact details?").fill(
        "He pushes her around; calling to check she is safe today")
    page.get_by_role("button", name="Reveal contact details").click()
    page.wait_for_load_state()
    assert page.get_by_text("+447700900501").is_visible()
    check_accessibility(page, "safeguarding flag with contact details")
    shot(page, "safeguarding-3-revealed-1280")

    page.get_by_label("What was done").fill("Called her. Referred to adult social care.")
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").get_by_text("acknowledged").is_visible()
    assert page.get_by_text("+447700900501").count() == 0  # gone once the page changes
    assert page.get_by_role("link", name="Safeguarding (2 open)").is_visible()
    check_accessibility(page, "acknowledged flag")
    shot(page, "safeguarding-4-acknowledged-1280")
    context.close()


def test_the_queue_on_a_narrow_screen_and_a_reviewer_refused(
        browser: Any, queue_server: tuple[str, Any]) -> None:
    base, _runtime = queue_server
    context = browser.new_context(bypass_csp=True, viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, base, LEAD)
    page.goto(f"{base}/dashboard/safeguarding")
    check_accessibility(page, "safeguarding queue, narrow")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    shot(page, "safeguarding-5-queue-390")
    page.locator("li.flag").first.get_by_role("link").click()
    page.wait_for_url(f"{base}/dashboard/safeguarding/*")
    check_accessibility(page, "safeguarding flag, narrow")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "safeguarding-6-flag-390")
    context.close()

    context = browser.new_context(bypass_csp=True, viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, base, REVIEWER)
    assert page.get_by_role("link", name="Safeguarding").count() == 0
    for path in ("/dashboard/safeguarding", "/dashboard/safeguarding/1", "/safeguarding/1"):
        reply = page.goto(f"{base}{path}")
        assert reply is not None and reply.status == 403, path
    assert page.get_by_text("Your account cannot do that").is_visible()
    shot(page, "safeguarding-7-reviewer-403-390")
    context.close()
