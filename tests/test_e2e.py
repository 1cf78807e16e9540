"""The real thing: streamlit run app.py, Debian's Chromium, digits drawn with the mouse.

Marked `browser` by conftest.py (every tests/test_e2e*.py is).
"""

import re

import pytest

from bench import browser

expect = browser.expect


def expect_prediction(page, digit: str) -> None:
    expect(browser.prediction_value(page)).to_have_text(re.compile(rf"^{digit}"),
                                                                       timeout=browser.UI_TIMEOUT_MS)


def test_draw_a_one_and_a_zero_like_people_do(page, app_url):
    canvas = browser.open_app(page, app_url)
    expect(browser.prediction_value(page)).to_have_text("—")
    expect(page.get_by_text("Draw a digit on the black canvas")).to_be_visible()

    # A small "1", one vertical stroke, well right of centre and high up.
    browser.draw(page, canvas, browser.vertical_stroke(0.72, 0.12, 0.45))
    expect_prediction(page, "1")
    expect(page.get_by_alt_text("the 28x28 image the network receives")).to_be_visible()

    browser.toolbar_button(page, "Reset canvas & history").click()
    expect(browser.prediction_value(page)).to_have_text("—", timeout=browser.UI_TIMEOUT_MS)

    # A small "0", a closed loop, low and to the left.
    browser.draw(page, canvas, browser.loop(0.3, 0.68, 0.11, 0.16))
    expect_prediction(page, "0")

    # Its feature maps are in the Filters tab, and the drawing is still there on the way back.
    page.get_by_role("tab", name="Filters", exact=True).click()
    expect(page.get_by_text("responds to in your drawing")).to_be_visible(timeout=browser.UI_TIMEOUT_MS)
    page.get_by_role("tab", name="Draw", exact=True).click()
    expect_prediction(page, "0")
    browser.toolbar_button(page, "Reset canvas & history").click()
    expect(browser.prediction_value(page)).to_have_text("—", timeout=browser.UI_TIMEOUT_MS)


@pytest.mark.mnist
def test_tabs_show_their_content(page, app_url):
    browser.open_app(page, app_url)
    page.get_by_role("tab", name="Misclassified", exact=True).click()
    mistakes = page.get_by_role("tabpanel", name="Misclassified")
    # The first visit scores the 10,000 test digits (TensorFlow loads): allow for a busy machine.
    expect(mistakes.get_by_test_id("stMetric").filter(has_text="Test accuracy")).to_be_visible(
        timeout=browser.UI_TIMEOUT_MS * 4)
    expect(mistakes.get_by_text("Confusion matrix")).to_be_visible(timeout=browser.UI_TIMEOUT_MS)
    gallery = mistakes.get_by_test_id("stImageContainer")
    expect(gallery).to_have_count(32, timeout=browser.UI_TIMEOUT_MS)  # a full page of mistakes

    page.get_by_role("tab", name="Filters", exact=True).click()
    filters = page.get_by_role("tabpanel", name="Filters")
    expect(filters.get_by_text("The 32 learned 3×3 filters of the first convolution")).to_be_visible(
        timeout=browser.UI_TIMEOUT_MS)
    expect(filters.get_by_text("responds to in test digit #0")).to_be_visible(
        timeout=browser.UI_TIMEOUT_MS)
    expect(filters.get_by_text("What each first-layer filter looks for")).to_be_visible()
    # filter grid (each filter on its own scale, no shared colour bar), input digit, feature-map grid, and
    # the filters' top patches in two columns
    pictures = filters.get_by_test_id("stImageContainer").locator("img")
    expect(pictures).to_have_count(5, timeout=browser.UI_TIMEOUT_MS * 2)
    for i in range(5):  # each one loads (an image still arriving is not yet complete: wait, then judge)
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=pictures.nth(i).element_handle(),
                               timeout=browser.UI_TIMEOUT_MS)

    page.get_by_role("tab", name="Draw", exact=True).click()
    expect(page.locator("canvas").last).to_be_visible(timeout=browser.UI_TIMEOUT_MS)


def test_upload_a_picture(page, app_url, tmp_path, mnist):
    from PIL import Image

    browser.open_app(page, app_url)
    x_test, y_test = mnist[1]
    photo = tmp_path / "digit.png"
    Image.fromarray(255 - x_test[7]).resize((300, 300)).save(photo)  # dark ink on white paper
    page.locator("input[type=file]").set_input_files(str(photo))
    uploaded = page.get_by_test_id("stMetric").filter(has_text="Prediction").nth(1).get_by_test_id("stMetricValue")
    expect(uploaded).to_have_text(re.compile(rf"^{y_test[7]}"), timeout=browser.UI_TIMEOUT_MS)

    fake = tmp_path / "not-a-picture.png"
    fake.write_text("this is text, not a picture")
    page.locator("input[type=file]").set_input_files(str(fake))
    expect(page.get_by_text("not a picture Pillow can read")).to_be_visible(
        timeout=browser.UI_TIMEOUT_MS)
