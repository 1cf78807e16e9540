"""Shared fixtures, and what happens when MNIST is missing.

Tests find MNIST exactly as the app does (mnist_cnn.data: MNIST_DATA_DIR, else the Keras cache,
else a download). When it cannot be had, every test that needs it is skipped, the tests that do
not need it still run, and the run ends with one line naming the fix and a non-zero exit code.
A test needs MNIST if it uses the `mnist` fixture or carries the `mnist` marker.

Tests in tests/test_e2e*.py drive Chromium and are marked `browser` automatically, so a machine
without Chromium can run everything else with -m "not browser". Each test gets its own
MNIST_DRAW_HOME so retrained models never land in the user's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MNIST_MISSING = "MNIST not found"
ROOT = Path(__file__).resolve().parent.parent  # for test_app.py until it uses mnist_cnn.config.REPO_ROOT
BROWSER_FILES = "test_e2e*.py"


class _Mnist:
    """Loads MNIST once per session and remembers why it could not."""

    data = None
    error: str | None = None
    skipped = 0

    @classmethod
    def load(cls):
        if cls.data is None and cls.error is None:
            from mnist_cnn.data import MnistDataError, load_mnist

            try:
                cls.data = load_mnist()
            except MnistDataError as exc:
                cls.error = str(exc)
        return cls.data

    @classmethod
    def skip_reason(cls) -> str:
        return f"{MNIST_MISSING}: {cls.error}"


def _mnist_or_skip():
    data = _Mnist.load()
    if data is None:
        pytest.skip(_Mnist.skip_reason())
    return data


@pytest.fixture(scope="session")
def mnist():
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays; skips the test when MNIST is missing."""
    return _mnist_or_skip()


@pytest.fixture(autouse=True)
def _skip_without_mnist(request) -> None:
    if request.node.get_closest_marker("mnist"):
        _mnist_or_skip()


@pytest.fixture(autouse=True)
def user_home(tmp_path_factory, monkeypatch) -> Path:
    home = tmp_path_factory.mktemp("mnist_draw_home")
    monkeypatch.setenv("MNIST_DRAW_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def seed_clf():
    from mnist_cnn.inference import load_classifier
    from mnist_cnn.store import shipped_model_path

    return load_classifier(shipped_model_path("seed"))


@pytest.fixture(scope="session")
def improved_clf():
    from mnist_cnn.inference import load_classifier
    from mnist_cnn.store import shipped_model_path

    return load_classifier(shipped_model_path("improved"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items) -> None:
    """Mark the real-browser tests before -m selects, so -m "not browser" deselects them."""
    for item in items:
        if item.path.match(BROWSER_FILES):
            item.add_marker(pytest.mark.browser)


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
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {_Mnist.skip_reason()}")
    if report.skipped and MNIST_MISSING in str(report.longrepr):
        _Mnist.skipped += 1
    setattr(item, f"rep_{report.when}", report)


def _raised_missing_mnist(excinfo) -> bool:
    from mnist_cnn.data import MnistDataError

    return excinfo.errisinstance(MnistDataError) and _Mnist.load() is None


def pytest_terminal_summary(terminalreporter) -> None:
    if _Mnist.skipped:
        line = f"{MNIST_MISSING} ({_Mnist.skipped} tests skipped): {_Mnist.error}"
        terminalreporter.write_line(line, red=True, bold=True)


def pytest_sessionfinish(session) -> None:
    """Skipped for want of data is not a pass: CI and a newcomer must notice."""
    if _Mnist.skipped and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
