"""A first visit: a canvas to draw on before Streamlit's frontend has loaded, answered at once,
and the drawing carried over to Streamlit's canvas when it comes (ui/server/shell.py)."""

import json
import re
import urllib.error
import urllib.request

import pytest

from bench import browser
from mnist_cnn.config import PREDICT_ROUTE
from mnist_cnn.ui.server.shell import SHELL_ID

expect = browser.expect

CANVAS_SCRIPT = re.compile(r"/_stcore/bidi-components/streamlit-drawable-canvas\.[^/]+/index-[^/]+\.js$")


def hold_canvas_script(page) -> list:
    """Streamlit's canvas script, held back (the first canvas stays) until release() is called."""
    held = []
    page.route(CANVAS_SCRIPT, lambda route: held.append(route))
    return held


def release(page, held: list) -> None:
    for _ in range(browser.UI_TIMEOUT_MS // 100):  # Streamlit's app asks for its canvas script, and waits
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "Streamlit's app never asked for its canvas script"
    for route in held:
        route.continue_()
    page.unroute(CANVAS_SCRIPT)


def first_canvas(page, url: str):
    page.goto(url)
    canvas = page.get_by_test_id("shell-canvas")
    canvas.wait_for(state="visible", timeout=browser.UI_TIMEOUT_MS)
    return canvas


def shell_says(page, value) -> None:
    answer = page.get_by_test_id("shell-answer")
    expect(answer).to_have_attribute("data-text", value, timeout=browser.UI_TIMEOUT_MS)


SEVEN_BAR = [(0.3, 0.2), (0.5, 0.2), (0.7, 0.2)]  # with a "1" at x=0.7 below it: a 7


def test_digits_drawn_before_the_app_loads_are_answered_and_carried_over_stroke_by_stroke(page, app_url):
    held = hold_canvas_script(page)
    first = first_canvas(page, app_url)
    browser.draw(page, first, browser.vertical_stroke(0.7, 0.2, 0.85))
    shell_says(page, "1")
    sure = re.compile(r"^\d+% sure$")
    expect(page.get_by_test_id("shell-delta")).to_have_attribute("data-text", sure)
    browser.draw(page, first, SEVEN_BAR)
    page.wait_for_function("() => window.mnistDrawShell.answers.length === 2", timeout=browser.UI_TIMEOUT_MS)
    shell_says(page, "7")  # the bar made the 1 a 7 (not "not a digit", not some other digit)
    assert page.title() == "MNIST Draw"
    release(page, held)
    # both pages are in the document for a moment; the first one's words are drawn by CSS and it is hidden
    # from assistive technology, so a search by text or role finds one title and one prediction, the app's
    expect(page.get_by_role("heading", name="MNIST Draw")).to_have_count(1)
    expect(page.get_by_text("Prediction", exact=True)).to_have_count(1)

    page.locator(f"#{SHELL_ID}").wait_for(state="detached", timeout=browser.UI_TIMEOUT_MS * 2)
    # Streamlit's canvas has both strokes and says what the first canvas said; nobody drew on it
    expect(browser.prediction_value(page)).to_have_text("7", timeout=browser.UI_TIMEOUT_MS)
    record = page.evaluate("window.mnistDrawShell")
    assert record["reason"] == "handed over" and record["strokes"] == 2
    assert page.locator("canvas").count() == 3, "only Streamlit's canvas is left (its three layers)"
    # each stroke went over as a stroke of its own: one Undo takes the bar away, not the whole drawing
    browser.toolbar_button(page, "Undo").click()
    expect(browser.prediction_value(page)).to_have_text("1", timeout=browser.UI_TIMEOUT_MS)


CLEAR_DURING_THE_HANDOVER = """() => window.addEventListener('mouseup', e => {
  if (!e.isTrusted) document.querySelector('#mnist-draw-shell .mds-clear')?.click();
}, {capture: true, once: true})"""


def test_clear_pressed_as_the_drawing_goes_over_clears_both_canvases(page, app_url):
    held = hold_canvas_script(page)
    first = first_canvas(page, app_url)
    browser.draw(page, first, browser.loop(0.5, 0.5, 0.2, 0.3))
    shell_says(page, "0")
    page.evaluate(CLEAR_DURING_THE_HANDOVER)  # Clear, the moment the "0" has been replayed on the app's canvas
    release(page, held)
    page.wait_for_function("() => window.mnistDrawShell.answers.length === 1 && "
                           "document.querySelector('[data-testid=shell-answer]')?.dataset.text !== '0'",
                           timeout=browser.UI_TIMEOUT_MS * 2)
    browser.draw(page, first, browser.vertical_stroke(0.5, 0.2, 0.8))  # on whichever canvas is there now
    page.locator(f"#{SHELL_ID}").wait_for(state="detached", timeout=browser.UI_TIMEOUT_MS * 2)
    expect(browser.prediction_value(page)).to_have_text("1", timeout=browser.UI_TIMEOUT_MS)


@pytest.mark.parametrize("page_size", [(1400, 1000), (1280, 720), (820, 900), (700, 900), (390, 844)])
def test_the_first_canvas_is_where_the_apps_canvas_comes(page, app_url, page_size):
    browser.open_app(page, app_url)
    record = page.evaluate("window.mnistDrawShell")
    assert record["reason"] == "handed over" and record["strokes"] == 0
    assert max(abs(d) for d in record["apart"]) < 3, f"the canvases are {record['apart']} px apart"
    expect(browser.prediction_value(page)).to_have_text("—")


def test_the_prediction_route_answers_bad_input_in_one_sentence(app_url):
    request = urllib.request.Request(app_url + PREDICT_ROUTE, data=b"not a picture", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 400
    assert json.loads(err.value.read()) == {"error": "that is not a PNG picture of the canvas"}
