"""On a phone: draw with a finger and see the answer without scrolling away from the canvas."""

import pytest

from bench import browser

expect = browser.expect


def inside_viewport(box: dict, viewport: dict) -> bool:
    bottom, right = box["y"] + box["height"], box["x"] + box["width"]
    return box["y"] >= 0 and bottom <= viewport["height"] and right <= viewport["width"]


def test_a_finger_drawn_digit_is_answered_next_to_the_canvas(app_url):
    with browser.sync_playwright() as p, browser.phone_page(p) as page:
        page.goto(app_url)
        canvas = page.locator("canvas").last
        canvas.wait_for(state="visible", timeout=browser.UI_TIMEOUT_MS * 2)
        canvas.scroll_into_view_if_needed()
        answer = page.get_by_test_id("phone-answer")
        expect(answer).to_have_text("Prediction: —", timeout=browser.UI_TIMEOUT_MS)

        browser.touch_draw(page, canvas, browser.vertical_stroke(0.5, 0.15, 0.85))
        expect(answer).to_contain_text("Prediction: 1 ·", timeout=browser.UI_TIMEOUT_MS)
        assert "% sure" in answer.inner_text()
        viewport = page.viewport_size
        assert inside_viewport(canvas.bounding_box(), viewport), "the canvas is on screen"
        assert inside_viewport(answer.bounding_box(), viewport), "and so is the answer, without scrolling"
        # On a wide screen the one-line answer is hidden: the full prediction sits beside the canvas.
        page.set_viewport_size({"width": 1400, "height": 1000})
        expect(answer).to_be_hidden()


def dense(stroke: list[tuple[float, float]], n: int = 8) -> list[tuple[float, float]]:
    """A finger's many points along a stroke given by its corners (fractions of the canvas)."""
    points = []
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
        points += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(n)]
    return points + [stroke[-1]]


def test_the_number_canvas_fits_a_phone_and_takes_digits_at_its_far_end(app_url):
    with browser.sync_playwright() as p, browser.phone_page(p) as page:
        browser.open_app(page, app_url)
        page.get_by_text("A number", exact=True).first.click()
        canvas = page.locator("canvas").last
        expect(page.get_by_text("Write digits side by side")).to_be_visible(
            timeout=browser.UI_TIMEOUT_MS)
        canvas.scroll_into_view_if_needed()
        box, viewport = canvas.bounding_box(), page.viewport_size
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box  # all of it on screen
        assert box["width"] / box["height"] == pytest.approx(700 / 280, rel=0.02)  # shown smaller, not cropped
        for stroke in ([(0.12, 0.15), (0.06, 0.6), (0.2, 0.6)], [(0.17, 0.2), (0.17, 0.9)],  # a 4
                       [(0.8, 0.15), (0.95, 0.15), (0.85, 0.9)]):  # a 7 at the far right
            browser.touch_draw(page, canvas, dense(stroke))
            page.wait_for_timeout(300)
        expect(browser.prediction_value(page)).to_have_text("47", timeout=browser.UI_TIMEOUT_MS)
