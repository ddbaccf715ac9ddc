"""Every dashboard page at phone width (390 px) and desktop width (1280 px).

At 390 px nothing may make the page itself scroll sideways: the navigation wraps, and a
wide table scrolls inside its own box (a focusable, named region). Each page is checked
with axe-core at both widths, and a screenshot of each goes to test-output/screenshots/
(phone-*.png).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from bot.services.runtime import Runtime
from channels.base import InboundMessage
from tests.browser.conftest import serve
from tests.browser.seed import FFT_PEOPLE, PASSWORD, add_user, seed
from tests.browser.test_dashboard_browser import check_accessibility, shot
from tests.consultation_sim import load_consultations
from tests.helpers import FakeClock, make_runtime
from tests.test_privacy import RecordingChannel

pytestmark = pytest.mark.timeout(300)

ORGANISER, LEAD = "organiser@example.org", "lead@example.org"
PAGES = {
    ORGANISER: ["/dashboard/", "/dashboard/surveys/fft", "/dashboard/surveys/fft/prompts",
                "/dashboard/surveys/carers", "/dashboard/surveys/carers/voice",
                "/dashboard/invitations", "/dashboard/sharebacks", "/dashboard/audit",
                "/dashboard/consultations/", "/dashboard/consultations/fairpay",
                "/dashboard/publish", "/dashboard/surveys/fft/status", "/dashboard/contacts",
                "/dashboard/accounts", "/dashboard/account", "/dashboard/account/two-factor"],
    LEAD: ["/dashboard/safeguarding", "/dashboard/safeguarding/1"],
}
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def everything_server(tmp_path_factory: pytest.TempPathFactory
                      ) -> Iterator[tuple[str, Runtime]]:
    """Surveys, consultations, answers and a safeguarding flag: something on every page."""
    folder = tmp_path_factory.mktemp("phone-browser")
    runtime = make_runtime(f"sqlite:///{folder / 'withus.db'}", folder, clock=FakeClock(),
                           channels={"sms": RecordingChannel()}, default_survey="fft")
    load_consultations(runtime)
    seed(runtime, "fft", FFT_PEOPLE)
    for text in ["hello", "yes", "1", "My son pushes me around and I'm scared of him"]:
        runtime.service.handle(InboundMessage("sms", "07700 900501", f"SM{next(_ids)}",
                                              "text", text=text))
    add_user(runtime, ORGANISER, "organiser")
    add_user(runtime, LEAD, "lead")
    with serve(runtime) as base:
        yield base, runtime


def sign_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/dashboard/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/dashboard/")


def sideways(page: Any) -> list[str]:
    """Elements that stick out past the right edge of the window (none is the aim)."""
    found: list[str] = page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                     && !e.closest('.table-scroll'))
        .slice(0, 5).map(e => e.tagName + '.' + e.className)""")
    return found


@pytest.mark.parametrize("width", [390, 1280])
def test_every_page_fits_the_width(browser: Any, everything_server: tuple[str, Any],
                                   width: int) -> None:
    base, _runtime = everything_server
    for who, paths in PAGES.items():
        context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 844})
        page = context.new_page()
        if who == ORGANISER:
            page.goto(f"{base}/dashboard/login")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            shot(page, f"phone-login-{width}")
        sign_in(page, base, who)
        for path in paths:
            reply = page.goto(f"{base}{path}")
            assert reply is not None and reply.status == 200, path
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (
                path, sideways(page))
            assert sideways(page) == [], path
            # The navigation wraps: every link in it is inside the window.
            for link in page.locator("header.top nav a").all():
                box = link.bounding_box()
                assert box is not None and box["x"] + box["width"] <= width, (path, box)
            check_accessibility(page, f"{path} at {width} px")
            name = path.strip("/").removeprefix("dashboard").strip("/").replace("/", "-")
            shot(page, f"phone-{name or 'surveys'}-{width}")
        context.close()


def test_a_wide_table_scrolls_in_its_box_not_the_page(
        browser: Any, everything_server: tuple[str, Any]) -> None:
    base, _runtime = everything_server
    context = browser.new_context(bypass_csp=True, viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, base, ORGANISER)
    box = page.locator(".table-scroll", has=page.get_by_role(
        "table", name="Every survey, with how many people took part"))
    inner = box.evaluate("b => [b.scrollWidth, b.clientWidth]")
    assert inner[0] > inner[1], "the surveys table is wider than a phone; its box scrolls"
    box.focus()  # the box takes keyboard focus, so arrow keys scroll it
    page.keyboard.press("ArrowRight")
    page.wait_for_function("document.querySelector('.table-scroll').scrollLeft > 0")
    assert page.evaluate("window.scrollX") == 0
    context.close()


def test_the_surveys_table_reads_at_phone_width(
        browser: Any, everything_server: tuple[str, Any]) -> None:
    """At 390 px the surveys table scrolls in its box, but what names it and heads it
    stays readable: the caption wraps inside the box and stays in view while the table
    scrolls under it; the column headings sit on the rule above the rows, at most two
    lines each; "Status and versions" is one line, not three."""
    base, _runtime = everything_server
    context = browser.new_context(bypass_csp=True, viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, base, ORGANISER)
    table = page.get_by_role("table", name="Every survey, with how many people took part")
    box = page.locator(".table-scroll", has=table)
    caption = table.locator("caption")

    def within_box() -> bool:
        inside = box.bounding_box()
        shown = caption.bounding_box()
        assert inside is not None and shown is not None
        return (shown["x"] >= inside["x"] - 1
                and shown["x"] + shown["width"] <= inside["x"] + inside["width"] + 1)

    assert within_box()
    box.evaluate("b => { b.scrollLeft = b.scrollWidth; }")
    assert box.evaluate("b => b.scrollLeft") > 0 and within_box()
    line = float(page.evaluate("parseFloat(getComputedStyle(document.body).lineHeight)"
                               " || 1.5 * parseFloat(getComputedStyle(document.body).fontSize)"))
    for heading in table.locator("thead th").all():
        height = heading.evaluate("h => h.getBoundingClientRect().height")
        assert height <= 2 * line + 16, (heading.inner_text(), height, line)
        assert heading.evaluate("h => getComputedStyle(h).verticalAlign") == "bottom"
    status = table.locator("a", has_text="Status and versions").first
    assert status.evaluate("a => a.getClientRects().length") == 1  # one line box
    shot(page, "phone-surveys-table-scrolled-390")
    context.close()
