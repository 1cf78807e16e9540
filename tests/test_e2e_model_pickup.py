"""A model made current by someone else (another session, another process, another replica sharing
the models folder) reaches an open page without a reload: at its next stroke, and within
run_monitor.MODEL_PICKUP_S when it does nothing. Here the test process itself makes the choice, as
another replica would: by writing the shared MNIST_DRAW_HOME.

Marked `browser` and `slow` by conftest.py (every tests/test_e2e*.py is).
"""

from __future__ import annotations

import re
import time

import pytest

from bench import browser
from mnist_cnn.config import TRAINING_ROUTE
from mnist_cnn.network import store
from mnist_cnn.ui.run_monitor import MODEL_PICKUP_S

expect = browser.expect


def model_in_use(page, name: str):
    """The sidebar's line naming the file of the model in use."""
    return page.get_by_test_id("stSidebar").locator("code", has_text=re.compile(rf"^{re.escape(name)}$"))


@pytest.fixture
def shared_home(app_home, monkeypatch):
    """This process writes the server's home, as a replica that retrained would."""
    monkeypatch.setenv("MNIST_DRAW_HOME", str(app_home))
    return app_home


def test_a_model_made_current_elsewhere_is_used_at_the_next_stroke_and_shown_unasked(page, app_url, shared_home):
    canvas = browser.open_app(page, app_url)
    expect(model_in_use(page, "improved.keras")).to_be_visible(timeout=browser.UI_TIMEOUT_MS)

    # The page's polling is cut off: only the stroke can tell it of the new model.
    page.route(f"**{TRAINING_ROUTE}", lambda route: route.abort())
    store.set_current_model(store.shipped_model_path("seed"))
    browser.draw(page, canvas, browser.vertical_stroke(0.5, 0.15, 0.85))
    expect(model_in_use(page, "seed.keras")).to_be_visible(timeout=browser.UI_TIMEOUT_MS)
    expect(browser.prediction_value(page)).to_have_text(re.compile(r"^1"), timeout=browser.UI_TIMEOUT_MS)

    # Polling again, the page shows the next change by itself, the drawing still on its canvas.
    page.unroute(f"**{TRAINING_ROUTE}")
    switched = time.monotonic()
    store.restore_shipped()
    expect(model_in_use(page, "improved.keras")).to_be_visible(timeout=MODEL_PICKUP_S * 1000)
    assert time.monotonic() - switched <= MODEL_PICKUP_S
    expect(browser.prediction_value(page)).to_have_text(re.compile(r"^1"))
