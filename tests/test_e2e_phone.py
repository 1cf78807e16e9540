"""On a phone: draw with a finger and see the answer without scrolling away from the canvas."""

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")

from mnist_cnn import browser  # noqa: E402


def inside_viewport(box: dict, viewport: dict) -> bool:
    bottom, right = box["y"] + box["height"], box["x"] + box["width"]
    return box["y"] >= 0 and bottom <= viewport["height"] and right <= viewport["width"]


def test_a_finger_drawn_digit_is_answered_next_to_the_canvas(app_url):
    with playwright_sync.sync_playwright() as p, browser.phone_page(p) as page:
        page.goto(app_url)
        canvas = page.locator("canvas").last
        canvas.wait_for(state="visible", timeout=browser.UI_TIMEOUT_MS * 2)
        canvas.scroll_into_view_if_needed()
        answer = page.get_by_test_id("phone-answer")
        playwright_sync.expect(answer).to_have_text("Prediction: —", timeout=browser.UI_TIMEOUT_MS)

        browser.touch_draw(page, canvas, browser.vertical_stroke(0.5, 0.15, 0.85))
        playwright_sync.expect(answer).to_contain_text("Prediction: 1 ·", timeout=browser.UI_TIMEOUT_MS)
        assert "% sure" in answer.inner_text()
        viewport = page.viewport_size
        assert inside_viewport(canvas.bounding_box(), viewport), "the canvas is on screen"
        assert inside_viewport(answer.bounding_box(), viewport), "and so is the answer, without scrolling"
        # On a wide screen the one-line answer is hidden: the full prediction sits beside the canvas.
        page.set_viewport_size({"width": 1400, "height": 1000})
        playwright_sync.expect(answer).to_be_hidden()
