"""In a real browser: write a whole number with the mouse, and a letter, which is not a digit."""


import numpy as np

from bench import browser
from mnist_cnn.config import NUMBER_CANVAS
from mnist_cnn.data.nondigits import LETTERS
from mnist_cnn.data.strokes import DIGITS, place_glyphs
from mnist_cnn.drawings.store import DrawingStore

expect = browser.expect

NOT_A_DIGIT = "This does not look like a digit"


def draw_strokes(page, canvas, strokes, size) -> None:
    """One mouse stroke per pen stroke (canvas pixel coordinates), as a person would."""
    for stroke in strokes:
        browser.draw(page, canvas, [(x / size[0], y / size[1]) for x, y in stroke[::2]])


def write(page, canvas, glyphs, size, seed: int, **placement) -> None:
    """Write glyphs with the mouse."""
    draw_strokes(page, canvas, place_glyphs(glyphs, size, np.random.default_rng(seed), **placement), size)


def choose_mode(page, label: str):
    page.get_by_text(label, exact=True).first.click()


def test_write_a_number_then_a_letter(page, app_url):
    browser.open_app(page, app_url)
    choose_mode(page, "A number")
    canvas = page.locator("canvas").last
    expect(canvas).to_have_attribute("width", str(NUMBER_CANVAS[0]), timeout=browser.UI_TIMEOUT_MS)

    # The first stroke is drawn the moment the canvas shows, once: it counts.
    strokes = place_glyphs([DIGITS[2][0], DIGITS[0][0], DIGITS[2][0], DIGITS[6][0]], NUMBER_CANVAS,
                           np.random.default_rng(1))  # one stroke per digit
    draw_strokes(page, canvas, strokes[:1], NUMBER_CANVAS)
    expect(browser.prediction_value(page)).to_have_text("2", timeout=browser.UI_TIMEOUT_MS)
    draw_strokes(page, canvas, strokes[1:], NUMBER_CANVAS)
    expect(browser.prediction_value(page)).to_have_text("2026", timeout=browser.UI_TIMEOUT_MS)
    expect(page.get_by_text("28×28 input")).to_have_count(4)

    browser.toolbar_button(page, "Reset canvas & history").click()
    expect(browser.prediction_value(page)).to_have_text("—", timeout=browser.UI_TIMEOUT_MS)
    expect(page.get_by_text("Write a number of up to")).to_be_visible()
    write(page, canvas, [LETTERS["W"]], NUMBER_CANVAS, seed=2, height=0.6)
    expect(page.get_by_text(NOT_A_DIGIT).first).to_be_visible(timeout=browser.UI_TIMEOUT_MS)


def test_a_letter_in_one_digit_mode_is_not_a_digit_and_one_save_asks_for_the_digit(page, app_url, app_home):
    canvas = browser.open_app(page, app_url)
    box = canvas.bounding_box()
    size = (round(box["width"]), round(box["height"]))
    write(page, canvas, [LETTERS["X"]], size, seed=3, height=0.6)  # two strokes
    expect(page.get_by_text(NOT_A_DIGIT).first).to_be_visible(timeout=browser.UI_TIMEOUT_MS)
    expect(page.get_by_label("probabilities")).to_be_visible()  # still shown
    # No digit is picked for it, so one click cannot save a letter as the digit it was closest to.
    digits = page.get_by_test_id("stButtonGroup").filter(has=page.get_by_role("radio", name="9", exact=True))
    expect(digits.get_by_role("radio")).to_have_count(10)
    expect(digits.get_by_role("radio", checked=True)).to_have_count(0)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Pick the digit it really is, then press Save.")).to_be_visible(
        timeout=browser.UI_TIMEOUT_MS)
    assert DrawingStore(app_home / "drawings.sqlite3").count() == 0
