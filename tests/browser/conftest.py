"""The browser suite: the real app on a loopback port, driven by Debian's Chromium.

Playwright never downloads a browser here: it launches /usr/bin/chromium (Debian's
`chromium` package, which `make test` installs when missing). axe-core comes from npm
into tests/browser/node_modules (`make test` runs `npm install` there). Without either,
these tests are skipped with the reason, rather than failing for a missing tool.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.services.runtime import Runtime
from bot.web.app import create_app
from tests.browser.seed import FFT_PEOPLE, add_user, seed
from tests.helpers import FakeClock, make_runtime

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).parents[2] / "test-output" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ORGANISER, REVIEWER = "organiser@example.org", "reviewer@example.org"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm install in tests/browser)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Runtime]]:
    """The app with FFT answers seeded, served on 127.0.0.1 from a thread."""
    folder = tmp_path_factory.mktemp("browser")
    runtime = make_runtime(f"sqlite:///{folder / 'withus.db'}", folder, clock=FakeClock())
    seed(runtime, "fft", FFT_PEOPLE)
    add_user(runtime, ORGANISER, "organiser")
    add_user(runtime, REVIEWER, "reviewer")
    with serve(runtime) as base:
        yield base, runtime


@contextmanager
def serve(runtime: Runtime) -> Iterator[str]:
    """The app on `runtime`, on a loopback port from a thread; its base URL. Closes the
    runtime afterwards."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, create_app(runtime=runtime), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        runtime.close()
