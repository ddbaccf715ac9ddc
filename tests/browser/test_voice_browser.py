"""A reviewer plays a voice note and types what they hear, in a real browser.

The voice note is a real Ogg Opus file made by the test (tests/media_samples.py), stored
encrypted as the media job stores one. Chromium must read its length and play it through
the signed-in route; axe-core must find nothing serious at 1280 and 390 pixels wide.
Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.services.media import clean, digest
from bot.services.media_jobs import store_of
from bot.services.runtime import Runtime
from channels.base import InboundMessage, MediaRef
from storage.media import new_key
from storage.models import MediaItem
from storage.repositories.media import MediaRepository
from tests.browser.conftest import REVIEWER, SCREENSHOTS, serve
from tests.browser.seed import add_user
from tests.browser.test_dashboard_browser import check_accessibility, shot, sign_in
from tests.helpers import FakeClock, make_runtime
from tests.media_samples import ogg_opus

pytestmark = pytest.mark.timeout(120)
SECONDS = 3.0


def tell(runtime: Runtime, n: int, **message: Any) -> None:
    runtime.service.handle(InboundMessage("web", "browser-carer", f"web-{n}", **message))


def seed_voice_note(runtime: Runtime) -> int:
    """A carer on the web channel answers "What support is missing?" with a voice note,
    and it is stored as the media job stores one: cleaned, encrypted, recorded."""
    steps = [dict(kind="text", text="carers"), dict(kind="text", text="1"),
             dict(kind="text", text="1"), dict(kind="text", text="2"),
             dict(kind="text", text="1 3"),
             dict(kind="media", media_type="voice",
                  media=(MediaRef("voice", "seeded", "audio/ogg"),))]
    for n, message in enumerate(steps):
        tell(runtime, n, **message)
    cleaned = clean("audio", ogg_opus(SECONDS), ["audio/ogg"], 10**6)
    key = new_key()
    store_of(runtime).put(key, runtime.vault.seal(cleaned.data))
    with runtime.sessions() as session:
        media_id = session.query(MediaItem.id).one()[0]
        MediaRepository(session).mark_stored(
            media_id, storage_key=key, content_type=cleaned.content_type,
            size=len(cleaned.data), duration_ms=cleaned.duration_ms,
            sha256=digest(cleaned.data), now=runtime.clock())
        session.commit()
    return int(media_id)


@pytest.fixture(scope="module")
def voice_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    folder: Path = tmp_path_factory.mktemp("voice")
    runtime = make_runtime(f"sqlite:///{folder / 'withus.db'}", folder, clock=FakeClock(),
                           min_cell=1)
    media_id = seed_voice_note(runtime)
    add_user(runtime, REVIEWER, "reviewer")
    with serve(runtime) as base:
        yield base, media_id

def test_a_reviewer_plays_a_voice_note_and_types_it(browser: Any,
                                                    voice_server: tuple[str, int]) -> None:
    base, media_id = voice_server
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, base, REVIEWER)
    page.goto(f"{base}/dashboard/surveys/carers")
    link = page.get_by_role("link", name="Voice notes for this question")
    link.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "voice-00-survey-link.png"))
    link.click()
    page.wait_for_url(f"{base}/dashboard/surveys/carers/voice#q-media-missing")
    check_accessibility(page, "voice notes page")
    shot(page, "voice-01-1280")

    audio = page.get_by_label(f"Voice note media-{media_id}")
    assert audio.evaluate("a => a.tagName") == "AUDIO"
    duration = audio.evaluate("""a => new Promise((done, failed) => {
        if (a.readyState >= 1) return done(a.duration);
        a.addEventListener('loadedmetadata', () => done(a.duration));
        a.addEventListener('error', () => failed(new Error('cannot load: ' + a.error.code)));
    })""")
    assert abs(duration - SECONDS) < 0.1
    audio.click()  # a user's gesture, so the browser lets it play
    played = audio.evaluate("""async a => {
        await a.play();
        await new Promise(r => setTimeout(r, 700));
        a.pause();
        return a.currentTime;
    }""")
    assert played > 0.3

    box = page.get_by_label("What they said")
    box.fill("More breaks. Someone to sit with Dad on Tuesdays, call 07700 900999.")
    page.get_by_role("button", name=f"Save the transcript of media-{media_id}").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").get_by_text(f"Transcript of media-{media_id} saved.") \
        .is_visible()
    saved = page.get_by_label("What they said").input_value()
    assert saved.startswith("More breaks. Someone to sit with Dad on Tuesdays")
    assert "900999" not in saved  # redacted as it was saved
    check_accessibility(page, "voice notes page after saving")

    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    check_accessibility(page, "voice notes page at 390 px")
    shot(page, "voice-02-390")
    context.close()
