"""What the results pages' browser tests share: a module's server on a fresh SQLite
database, a page signed in at a given width, and the checks each page view gets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from bot.services.runtime import Runtime
from tests.browser.test_dashboard_browser import check_accessibility, shot
from tests.browser.test_phone_width_browser import sideways, sign_in
from tests.helpers import FakeClock, make_runtime


def sqlite_runtime(tmp_path_factory: pytest.TempPathFactory, name: str) -> Runtime:
    """A runtime on a new SQLite file in its own folder, at 10:00 on 23 November 2026."""
    folder = tmp_path_factory.mktemp(name)
    return make_runtime(f"sqlite:///{folder / 'withus.db'}", folder, clock=FakeClock())


@contextmanager
def signed_in_page(browser: Any, base: str, email: str, width: int) -> Iterator[Any]:
    """A page in a new browser context `width` px wide, signed in as `email`."""
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, base, email)
        yield page
    finally:
        context.close()


def fits(page: Any, width: int, what: str) -> None:
    """The page is never scrolled sideways at this width."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width, (
        what, sideways(page))


def checked(page: Any, width: int, what: str, screenshot: str) -> None:
    """The page fits its width and passes axe-core; screenshotted as `screenshot`-width."""
    fits(page, width, what)
    check_accessibility(page, f"{what}, {width} px")
    shot(page, f"{screenshot}-{width}")
