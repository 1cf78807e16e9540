"""A first visit: a canvas to draw on before Streamlit's frontend has loaded, answered at once,
and the drawing carried over to Streamlit's canvas when it comes (ui/shell.py)."""

import json
import re
import urllib.error
import urllib.request

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")

from mnist_cnn import browser  # noqa: E402
from mnist_cnn.config import PREDICT_ROUTE  # noqa: E402
from mnist_cnn.ui.shell import SHELL_ID  # noqa: E402

CANVAS_SCRIPT = re.compile(r"/_stcore/bidi-components/streamlit-drawable-canvas\.[^/]+/index-[^/]+\.js$")


def test_a_digit_drawn_before_the_app_loads_is_answered_and_carried_over(page, app_url):
    held = []  # Streamlit's canvas script, held back until the first canvas has been drawn on
    page.route(CANVAS_SCRIPT, lambda route: held.append(route))
    page.goto(app_url)
    first = page.get_by_test_id("shell-canvas")
    first.wait_for(state="visible", timeout=browser.UI_TIMEOUT_MS)
    browser.draw(page, first, browser.vertical_stroke(0.5, 0.2, 0.8))
    answer, delta = page.get_by_test_id("shell-answer"), page.get_by_test_id("shell-delta")
    playwright_sync.expect(answer).to_have_attribute("data-text", "1", timeout=browser.UI_TIMEOUT_MS)
    playwright_sync.expect(delta).to_have_attribute("data-text", re.compile(r"^\d+% sure$"))
    assert page.title() == "MNIST Draw"
    for _ in range(browser.UI_TIMEOUT_MS // 100):  # Streamlit's app asks for its canvas script, and waits
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "Streamlit's app never asked for its canvas script"
    assert page.locator(f"#{SHELL_ID}").count() == 1, "the first canvas stays until Streamlit's is ready"
    # both pages are in the document now; the first one's words are drawn by CSS and it is hidden from
    # assistive technology, so a search by text or role finds one title and one prediction, the app's
    playwright_sync.expect(page.get_by_text("MNIST Draw")).to_have_count(1)
    playwright_sync.expect(page.get_by_role("heading", name="MNIST Draw")).to_have_count(1)
    playwright_sync.expect(page.get_by_text("Prediction", exact=True)).to_have_count(1)

    for route in held:
        route.continue_()
    page.unroute(CANVAS_SCRIPT)
    page.locator(f"#{SHELL_ID}").wait_for(state="detached", timeout=browser.UI_TIMEOUT_MS * 2)
    # Streamlit's canvas has the stroke and predicts it, nobody drew on it
    playwright_sync.expect(browser.prediction_value(page)).to_have_text("1", timeout=browser.UI_TIMEOUT_MS)
    assert page.evaluate("window.mnistDrawShell.reason") == "handed over"
    assert abs(page.evaluate("window.mnistDrawShell.offset")) < 1, "Streamlit's canvas is where the first one was"
    assert page.locator("canvas").count() == 3, "only Streamlit's canvas is left (its three layers)"


def test_a_visit_that_does_not_draw_gets_the_plain_app(page, app_url):
    browser.open_app(page, app_url)
    playwright_sync.expect(browser.prediction_value(page)).to_have_text("—")
    assert page.evaluate("[window.mnistDrawShell.reason, window.mnistDrawShell.strokes]") == ["handed over", 0]


def test_the_prediction_route_answers_bad_input_in_one_sentence(app_url):
    request = urllib.request.Request(app_url + PREDICT_ROUTE, data=b"not a picture", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 400
    assert json.loads(err.value.read()) == {"error": "that is not a PNG picture of the canvas"}
