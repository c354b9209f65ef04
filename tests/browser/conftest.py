"""Browser tests: Playwright driving the machine's Chromium against pytest-django's live_server.

Fixtures, for any test under tests/browser/:

- `page`: a fresh page in a fresh browser context (no cookies, no storage) whose base URL is the
  live server's, so `page.goto(reverse("platform-home"))` works. Requesting it starts
  `live_server`, which makes the test transactional: rows it creates are committed, and the
  server thread sees them. A failing test leaves a screenshot in the artifacts directory.
- `context`: that page's browser context, for a second page or for cookies.
- `browser`: the Chromium instance, one for the whole directory.
- `screenshot`: `screenshot("after-booking")` saves the page as a PNG test artifact and returns
  its path.
- `artifacts_dir`: TEST_ARTIFACTS_DIR, or test-artifacts/ at the repository root (git-ignored).

No browser is downloaded: Playwright launches Debian's chromium (CHROMIUM_PATH, else `chromium`
on the PATH, else /usr/bin/chromium); without one the tests are skipped, and `make test` says so.
"""

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB, too little for a renderer
]
# Long enough for a slow CI machine, short enough that a broken page fails instead of hanging.
TIMEOUT_MS = 10_000

_reports = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call) -> Iterator[pytest.TestReport]:
    """Keep each phase's report on the test, for `page` to see whether the test failed."""
    report = yield
    item.stash.setdefault(_reports, {})[report.when] = report
    return report


def chromium_path() -> str | None:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if os.access(path, os.X_OK) else None


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium not found: apt-get install chromium (see .ci/run)")
    # Playwright's synchronous API runs an asyncio event loop in this thread, so Django takes
    # every ORM call made here (test set-up, assertions, the database flush after each test) for
    # one made from async code and raises SynchronousOnlyOperation. The calls are in fact
    # synchronous; allow them while Playwright runs, and only then, so the rest of the suite
    # keeps Django's check.
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as started:
            yield started
    finally:
        if saved is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, live_server) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def artifacts_dir() -> Path:
    directory = Path(os.environ.get("TEST_ARTIFACTS_DIR") or settings.BASE_DIR / "test-artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def screenshot(request: pytest.FixtureRequest, artifacts_dir: Path) -> Callable[..., Path]:
    """Save the test's page as `<test id>[-<name>].png` in the artifacts directory."""

    def save(name: str = "", *, page: Page | None = None) -> Path:
        page = page or request.getfixturevalue("page")
        stem = re.sub(r"[^\w.-]+", "_", request.node.nodeid).strip("_")
        path = artifacts_dir / f"{stem}{'-' + name if name else ''}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return save


@pytest.fixture
def page(
    context: BrowserContext, request: pytest.FixtureRequest, screenshot: Callable[..., Path]
) -> Iterator[Page]:
    page = context.new_page()
    yield page
    call = request.node.stash.get(_reports, {}).get("call")
    if call is not None and call.failed:
        screenshot("failed", page=page)
