"""Theme counts in a narrowed view follow the view's suppression (bot/dashboard/themes.py
`theme_cells`): cells of the view's table, hidden where the question's written answers
are. What a reader can combine is checked in tests/test_differencing.py; here, that the
counts stay useful where they are safe."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bot.services.runtime import Runtime
from tests.browser.seed import seed
from tests.differencing import scrape
from tests.helpers import REVIEWER, dashboard_client, dashboard_runtime
from tests.test_dashboard import page
from tests.test_differencing import _tag, carers_by_channel_wrote


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    with dashboard_runtime(database_url, tmp_path) as rt:
        yield rt


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return dashboard_client(runtime, REVIEWER)


def _themes(client: FlaskClient, query: str) -> dict[str, list[str]]:
    found = scrape(page(client, f"/dashboard/surveys/carers?question=missing&{query}"))
    table = next(t for t in found.tables if t.caption.startswith("Answers tagged"))
    return {name: cells for name, cells in table.rows if name != "Theme"}


def _seed(runtime: Runtime, whatsapp: int, sms: int, question: str = "missing",
          skipped: int = 0) -> None:
    seed(runtime, "carers", carers_by_channel_wrote(25, 25 - skipped, skipped))
    numbers = {f"whatsapp {i}." for i in range(whatsapp)} | {f"sms {i}." for i in range(sms)}
    _tag(runtime, "carers", question, "Respite",
         lambda text: any(text.endswith(x) for x in numbers))


def test_theme_counts_of_k_or_more_in_every_channel_are_shown(client: FlaskClient,
                                                              runtime: Runtime) -> None:
    _seed(runtime, 12, 13)
    assert _themes(client, "")["Respite"][0] == "25"
    assert _themes(client, "channel=whatsapp")["Respite"][0] == "12"
    assert _themes(client, "channel=sms")["Respite"][0] == "13"


def test_a_small_theme_count_in_one_channel_hides_the_others(client: FlaskClient,
                                                             runtime: Runtime) -> None:
    """12 and 3: the whole survey's 15 less WhatsApp's 12 would give SMS's 3."""
    _seed(runtime, 12, 3)
    assert _themes(client, "")["Respite"][0] == "15"
    whatsapp = _themes(client, "channel=whatsapp")["Respite"][0]
    sms = _themes(client, "channel=sms")["Respite"][0]
    assert whatsapp in ("hidden", "fewer than 10") and sms in ("hidden", "fewer than 10")


def test_a_theme_on_written_answers_the_view_hides_is_hidden(client: FlaskClient,
                                                             runtime: Runtime) -> None:
    """Three on SMS skipped "time_wish": in each channel its written answers are hidden,
    and so is how many of them a theme tags."""
    _seed(runtime, 25, 22, "time_wish", skipped=3)
    assert _themes(client, "")["Respite"][1] == "47"
    for channel in ("whatsapp", "sms"):
        assert _themes(client, f"channel={channel}")["Respite"][1] == "hidden"
        summary = page(client, f"/dashboard/surveys/carers/summary?channel={channel}")
        assert "Written answers: hidden in this view" in summary
