"""Theme counts in a view narrowed to one channel, in Chromium at 1280 and 390 px: shown
where every channel's count is safe, hidden where the view hides the written answers
(docs/privacy.md, *Theme counts*); checked with axe-core and screenshotted to
test-output/screenshots/themes-narrowed-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import serve
from tests.browser.pages import checked, signed_in_page, sqlite_runtime
from tests.browser.seed import add_user, seed
from tests.test_differencing import _tag, carers_by_channel_wrote

pytestmark = pytest.mark.timeout(300)

REVIEWER = "reviewer@example.org"


@pytest.fixture(scope="module")
def themes_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """25 carers on WhatsApp and 25 on SMS (3 of whom skipped "time_wish"); "Respite"
    tags 12 and 13 of their answers on what is missing, "A sitter" every "time_wish"."""
    runtime = sqlite_runtime(tmp_path_factory, "themes-narrowed")
    seed(runtime, "carers", carers_by_channel_wrote(25, 22, 3))
    respite = {f"on whatsapp {i}." for i in range(12)} | {f"on sms {i}." for i in range(13)}
    _tag(runtime, "carers", "missing", "Respite",
         lambda text: any(text.endswith(x) for x in respite))
    _tag(runtime, "carers", "time_wish", "A sitter", lambda _text: True)
    add_user(runtime, REVIEWER, "reviewer")
    with serve(runtime) as base:
        yield base


def theme_rows(table: Any) -> dict[str, list[str]]:
    """Each theme's counts in the themes panel's table, by its name."""
    return {r.locator("th").inner_text(): r.locator("td").all_inner_texts()
            for r in table.locator("tbody tr").all()}


@pytest.mark.parametrize("width", [1280, 390])
def test_theme_counts_in_a_channels_view(browser: Any, themes_server: str,
                                         width: int) -> None:
    with signed_in_page(browser, themes_server, REVIEWER, width) as page:
        page.goto(f"{themes_server}/dashboard/surveys/carers?question=missing")
        table = page.locator("#themes-panel table")
        assert theme_rows(table) == {"Respite": ["25", "0"], "A sitter": ["0", "47"]}
        page.get_by_label("Channel").select_option("whatsapp")
        page.get_by_role("button", name="Apply filters").click()
        page.wait_for_url("**channel=whatsapp*")
        # 12 of WhatsApp's: safe beside SMS's 13. On "time_wish" the view hides how many
        # wrote, so every theme count there reads "hidden".
        assert theme_rows(table) == {"Respite": ["12", "hidden"], "A sitter": ["0", "hidden"]}
        page.locator("#themes-panel").scroll_into_view_if_needed()
        checked(page, width, "theme counts in the WhatsApp view", "themes-narrowed")
        page.locator("#themes-panel").screenshot(
            path=f"test-output/screenshots/themes-narrowed-panel-{width}.png")
        # The counts sit right of long question headings: the table scrolls in its own box.
        box = page.locator("#themes-panel .table-scroll")
        box.evaluate("b => { b.scrollLeft = b.scrollWidth; }")
        box.screenshot(
            path=f"test-output/screenshots/themes-narrowed-panel-{width}-scrolled.png")
