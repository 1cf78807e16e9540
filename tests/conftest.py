"""Shared fixtures, and what happens when MNIST, Chromium or nginx is missing.

Tests find MNIST exactly as the app does (mnist_cnn.data.mnist: MNIST_DATA_DIR, else the Keras cache,
else a download). A test needs MNIST if it uses the `mnist` fixture or carries the `mnist`
marker; tests in tests/test_e2e*.py drive Chromium through Playwright and are marked `browser`
automatically; tests marked `replicas` also start nginx (tests/nginx.py). When one of these is
missing, the tests that need it are skipped, the others still run, and the run ends with one
line naming the fix and a non-zero exit code. `-m "not browser"` leaves the browser tests out on
a machine without Chromium or Playwright. (So the browser test modules import without
Playwright: they use bench.browser's expect, which imports it when called. A module-level
importorskip would skip a whole module at collection, where this rule does not see it.)

Each test gets its own MNIST_DRAW_HOME so retrained models never land in the user's.
"""

from __future__ import annotations

import os
from pathlib import Path

import postgres
import pytest

from mnist_cnn.data.mnist import MnistDataError, load_mnist

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MNIST_MISSING = "MNIST not found"
CHROMIUM_MISSING = "Chromium not found"
CHROMIUM_FIX = ('install it (README: "Set up on a fresh machine"), or leave the browser tests out with '
                '-m "not browser"')
PLAYWRIGHT_MISSING = "Playwright not found"
PLAYWRIGHT_FIX = ('pip install -r requirements-dev.txt (README: "Set up on a fresh machine"), or leave the '
                  'browser tests out with -m "not browser"')
BROWSER_FILES = "test_e2e*.py"
NGINX_MISSING = "nginx not found"


class Prerequisite:
    """Something many tests need (MNIST, Chromium): looked for once, and when it is missing every
    test that needs it is skipped with one reason, counted, and named once at the end."""

    def __init__(self, missing: str, find, not_found: type[Exception]) -> None:
        self.missing, self._find, self._not_found = missing, find, not_found
        self.value, self.error, self.checked, self.skipped = None, None, False, 0

    def get(self):
        if not self.checked:
            self.checked = True
            try:
                self.value = self._find()
            except self._not_found as exc:
                self.error = str(exc)
        return self.value

    def require(self):
        if self.get() is None:
            pytest.skip(self.reason)
        return self.value

    @property
    def reason(self) -> str:
        return f"{self.missing}: {self.error}"


def _find_chromium() -> str:
    from bench.browser import chromium_path

    try:
        return chromium_path()
    except RuntimeError:
        raise RuntimeError(CHROMIUM_FIX) from None


def _find_playwright():
    try:
        import playwright.sync_api
    except ImportError:
        raise ImportError(PLAYWRIGHT_FIX) from None
    return playwright.sync_api


def _find_nginx() -> str:
    from nginx import nginx_path

    return nginx_path()


MNIST = Prerequisite(MNIST_MISSING, load_mnist, MnistDataError)
PLAYWRIGHT = Prerequisite(PLAYWRIGHT_MISSING, _find_playwright, ImportError)
CHROMIUM = Prerequisite(CHROMIUM_MISSING, _find_chromium, RuntimeError)
NGINX = Prerequisite(NGINX_MISSING, _find_nginx, RuntimeError)  # the replicas tests' balancer (tests/nginx.py)
POSTGRES = Prerequisite(postgres.MISSING, postgres.find_bindir, RuntimeError)
PREREQUISITES = (MNIST, PLAYWRIGHT, CHROMIUM, NGINX, POSTGRES)


@pytest.fixture(scope="session")
def mnist():
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays; skips the test when MNIST is missing."""
    return MNIST.require()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    """Skip a marked test before its fixtures start anything (a server, a browser)."""
    if item.get_closest_marker("browser"):
        PLAYWRIGHT.require()
        CHROMIUM.require()
    if item.get_closest_marker("mnist"):
        MNIST.require()
    if item.get_closest_marker("replicas"):
        NGINX.require()


@pytest.fixture(autouse=True)
def user_home(tmp_path_factory, monkeypatch) -> Path:
    home = tmp_path_factory.mktemp("mnist_draw_home")
    monkeypatch.setenv("MNIST_DRAW_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the whole session (tests/postgres.py); skips the test when
    PostgreSQL is not installed."""
    POSTGRES.require()
    with postgres.running_postgres() as server:
        yield server


@pytest.fixture
def database_url(postgres_server, monkeypatch) -> str:
    """A fresh PostgreSQL database, set as MNIST_DRAW_DATABASE_URL (for this process and the
    processes it starts)."""
    url = postgres_server.new_database()
    monkeypatch.setenv("MNIST_DRAW_DATABASE_URL", url)
    return url


@pytest.fixture(scope="session")
def seed_clf():
    from mnist_cnn.network.inference import load_classifier
    from mnist_cnn.network.store import shipped_model_path

    return load_classifier(shipped_model_path("seed"))


@pytest.fixture(scope="session")
def improved_clf():
    from mnist_cnn.network.inference import load_classifier
    from mnist_cnn.network.store import shipped_model_path

    return load_classifier(shipped_model_path("improved"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items) -> None:
    """Mark the real-browser tests before -m selects, so -m "not browser" deselects them."""
    for item in items:
        if item.path.match(BROWSER_FILES):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Expose each phase's report on the test item, so fixtures can save a screenshot on failure.

    A test that failed only because MNIST is missing (it raised MnistDataError without asking
    for the data first) is reported as skipped, with the same one-line reason as the others.
    """
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and _raised_missing_mnist(call.excinfo):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {MNIST.reason}")
    if report.skipped:
        for prerequisite in PREREQUISITES:
            if prerequisite.error and prerequisite.reason in str(report.longrepr):
                prerequisite.skipped += 1
    setattr(item, f"rep_{report.when}", report)


def _raised_missing_mnist(excinfo) -> bool:
    return excinfo.errisinstance(MnistDataError) and MNIST.get() is None


def pytest_terminal_summary(terminalreporter) -> None:
    for prerequisite in PREREQUISITES:
        if prerequisite.skipped:
            line = f"{prerequisite.missing} ({prerequisite.skipped} tests skipped): {prerequisite.error}"
            terminalreporter.write_line(line, red=True, bold=True)


def pytest_sessionfinish(session) -> None:
    """Skipped for want of data or a browser is not a pass: CI and a newcomer must notice."""
    if any(prerequisite.skipped for prerequisite in PREREQUISITES) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# ---------- the real app in a real browser (tests/test_e2e*.py) ----------

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def app_home(tmp_path_factory) -> Path:
    """The user folder of the module's own app server (models, drawings, index)."""
    return tmp_path_factory.mktemp("app_home")


@pytest.fixture(scope="module")
def app_env(app_home) -> dict[str, str]:
    """The server's environment; a module overrides this fixture to add settings."""
    return {"MNIST_DRAW_HOME": str(app_home)}


@pytest.fixture(scope="module")
def app_url(app_env, tmp_path_factory):
    """`streamlit run app.py` for one test module; its log is kept beside the temporary home."""
    from bench import browser

    log = tmp_path_factory.mktemp("app_log") / "streamlit.log"
    with browser.running_app(env=app_env, log_path=log) as url:
        yield url


@pytest.fixture
def page_size() -> tuple[int, int]:
    return 1400, 1000


@pytest.fixture
def page(app_url, page_size, request):
    """A Chromium page; a failing test leaves its screenshot in tests/artifacts/."""
    from playwright.sync_api import sync_playwright

    from bench import browser

    with sync_playwright() as p, browser.browser_page(p, *page_size) as page:
        yield page
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / f"{request.node.name}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot saved to {shot}")
