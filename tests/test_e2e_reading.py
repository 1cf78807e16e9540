"""Reading what people draw, with real mouse strokes in Chromium: the shapes MNIST has few of.

Marked `browser` by conftest.py (every tests/test_e2e*.py is). Each stroke is one mouse path, as
a person draws it; the canvas renders it with its own pen, and the app reads what it rendered.
"""

import re

from bench import browser
from mnist_cnn.reading.verdicts import NOT_A_DIGIT_VALUE


def expect(page, text: str) -> None:
    browser.expect(browser.prediction_value(page)).to_have_text(re.compile(rf"^{re.escape(text)}"),
                                                                timeout=browser.UI_TIMEOUT_MS)


def clear(page) -> None:
    browser.toolbar_button(page, "Reset canvas & history").click()
    expect(page, "—")


def path(*points: tuple[float, float], steps: int = 8) -> list[tuple[float, float]]:
    """A polyline through points (fractions of the canvas), with points between the corners."""
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        out += [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(1, steps + 1)]
    return out


ONES_WITH_A_FLAG = [  # up the flag, then straight down: in one stroke, as most of Europe writes a 1
    path((0.38, 0.35), (0.55, 0.15), (0.55, 0.85)),
    path((0.3, 0.4), (0.58, 0.2), (0.57, 0.8)),  # a long, steep flag
    path((0.62, 0.3), (0.72, 0.15), (0.72, 0.55)),  # small, high and to the right
]
FOUR_IN_ONE_STROKE = path((0.62, 0.85), (0.62, 0.15), (0.25, 0.6), (0.78, 0.6))
LETTERS = {"W": path((0.2, 0.25), (0.35, 0.75), (0.5, 0.4), (0.65, 0.75), (0.8, 0.25)),
           "M": path((0.22, 0.78), (0.28, 0.22), (0.5, 0.6), (0.72, 0.22), (0.78, 0.78))}


def test_a_one_with_a_flag_reads_one(page, app_url):
    canvas = browser.open_app(page, app_url)
    for stroke in ONES_WITH_A_FLAG:
        browser.draw(page, canvas, stroke)
        expect(page, "1")
        clear(page)


def test_a_four_in_one_stroke_reads_four_and_letters_are_not_digits(page, app_url):
    canvas = browser.open_app(page, app_url)
    browser.draw(page, canvas, FOUR_IN_ONE_STROKE)
    expect(page, "4")
    for letter in sorted(LETTERS):
        clear(page)
        browser.draw(page, canvas, LETTERS[letter])
        expect(page, NOT_A_DIGIT_VALUE)
