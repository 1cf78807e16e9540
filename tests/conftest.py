"""Shared fixtures. Tests read real MNIST through MNIST_DATA_DIR and never touch the network;
each test session gets its own MNIST_DRAW_HOME so retrained models never land in the user's."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if not os.environ.get("MNIST_DATA_DIR") and (ROOT.parent / "shared" / "mnist").is_dir():
    os.environ["MNIST_DATA_DIR"] = str(ROOT.parent / "shared" / "mnist")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def user_home(tmp_path_factory, monkeypatch) -> Path:
    home = tmp_path_factory.mktemp("mnist_draw_home")
    monkeypatch.setenv("MNIST_DRAW_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def mnist():
    from mnist_cnn.data import load_mnist

    return load_mnist()


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Expose each phase's report on the test item, so fixtures can save a screenshot on failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
