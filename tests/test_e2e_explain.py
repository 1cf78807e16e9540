"""The Why? tab in a real browser: draw a digit with the mouse, open the tab, and find every
view's pictures: the attribution overlay, the neighbours (after the index is built in the
background), the map, the what-if charts and the other models' answers.

Marked `browser` by conftest.py (every tests/test_e2e*.py is). The server indexes only the first
3,000 MNIST digits (MNIST_DRAW_INDEX_LIMIT), so the background build takes seconds.
"""

import re

import pytest

from bench import browser
from mnist_cnn.explain import explain, feature_index

INDEX_LIMIT = 3_000
INDEX_TIMEOUT_MS = 240_000  # the child process loads TensorFlow and reads 6,000 digits on a busy machine
expect = browser.expect


@pytest.fixture(scope="module")
def app_env(app_home) -> dict[str, str]:
    return {"MNIST_DRAW_HOME": str(app_home), feature_index.LIMIT_ENV: str(INDEX_LIMIT)}


@pytest.fixture
def page_size() -> tuple[int, int]:
    return 1400, 1400


def loaded(picture) -> bool:
    return picture.evaluate("img => img.complete && img.naturalWidth > 0")


@pytest.mark.mnist
def test_why_tab_explains_a_drawn_one(page, app_url):
    canvas = browser.open_app(page, app_url)
    browser.draw(page, canvas, browser.vertical_stroke(0.5, 0.15, 0.85))
    expect(browser.prediction_value(page)).to_have_text(re.compile(r"^1"), timeout=browser.UI_TIMEOUT_MS)

    page.get_by_role("tab", name="Why?", exact=True).click()
    why = page.get_by_role("tabpanel", name="Why?")
    expect(why.get_by_text("the network says 1")).to_be_visible(timeout=browser.UI_TIMEOUT_MS * 2)

    # Which strokes decided it: the overlay, its legend and the deletion check.
    overlay = why.get_by_test_id("stImageContainer").filter(has_text="red: pushed towards 1").locator("img")
    expect(overlay).to_be_visible(timeout=browser.UI_TIMEOUT_MS)
    assert loaded(overlay)
    expect(why.get_by_label("attribution colour scale")).to_be_visible()

    # What it resembles and where it lands, once the background index is there.
    similar = "training digits the network finds most similar"
    neighbours = why.get_by_test_id("stImageContainer").filter(has_text=similar)
    expect(neighbours.locator("img")).to_be_visible(timeout=INDEX_TIMEOUT_MS)
    assert loaded(neighbours.locator("img"))
    expect(why.get_by_text("Where it lands")).to_be_visible()
    expect(why.get_by_text(re.compile(r"\b1 is the most common label among them\."))).to_be_visible()

    # Charts: deletion check, the map, one per what-if slider.
    charts = why.get_by_test_id("stVegaLiteChart")
    expect(charts).to_have_count(2 + len(explain.SLIDERS), timeout=browser.UI_TIMEOUT_MS)

    # What would change it: the edited drawing follows the sliders.
    edited = why.get_by_test_id("stImageContainer").filter(has_text="the edited drawing").locator("img")
    expect(edited).to_be_visible()
    assert loaded(edited)

    # Side by side: the edited drawing (not edited yet) and both shipped models, each saying 1.
    answers = why.get_by_label(re.compile("^answer of "))
    expect(answers).to_have_count(3)
    names = [a.get_attribute("aria-label") for a in answers.all()]
    assert sorted(n.split(" ")[2] for n in names[1:]) == ["improved", "seed"], names
    for answer in answers.all():
        assert re.search(r"^1 \d+% sure$", answer.inner_text(), re.MULTILINE), answer.inner_text()

    page.get_by_role("tab", name="Draw", exact=True).click()
    expect(browser.prediction_value(page)).to_have_text(re.compile(r"^1"), timeout=browser.UI_TIMEOUT_MS)


@pytest.mark.mnist
def test_why_tab_without_a_drawing_offers_a_test_digit(page, app_url):
    browser.open_app(page, app_url)
    page.get_by_role("tab", name="Why?", exact=True).click()
    why = page.get_by_role("tabpanel", name="Why?")
    expect(why.get_by_text("Nothing is drawn yet")).to_be_visible(timeout=browser.UI_TIMEOUT_MS)
    why.get_by_role("button", name="Explain this test digit").click()
    expect(why.get_by_text("Explaining test digit #0 (a 7): the network says 7")).to_be_visible(
        timeout=browser.UI_TIMEOUT_MS)
    expect(why.get_by_text("Which strokes decided it")).to_be_visible()
