"""The teaching loop in a real browser: draw a digit, say what it really is, save it, find it in
My drawings, download the collection as a zip.

Marked `browser` by conftest.py (every tests/test_e2e*.py is).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile

from bench import browser
from mnist_cnn.config import BROWSER_COOKIE
from mnist_cnn.drawings.store import DrawingStore

expect = browser.expect


def digit_choice(page, digit: int):
    """One of the ten digits under the prediction."""
    row = page.get_by_test_id("stButtonGroup").filter(has=page.get_by_role("radio", name="9", exact=True))
    return row.get_by_role("radio", name=str(digit), exact=True)


def test_draw_label_save_browse_and_download(page, app_url, app_home, tmp_path):
    canvas = browser.open_app(page, app_url)
    browser.draw(page, canvas, browser.vertical_stroke(0.5, 0.15, 0.85))
    expect(browser.prediction_value(page)).to_have_text(re.compile(r"^1"), timeout=browser.UI_TIMEOUT_MS)

    # The row is pre-selected on the prediction; the person says it is a 7 and saves.
    expect(digit_choice(page, 1)).to_have_attribute("aria-checked", "true", timeout=browser.UI_TIMEOUT_MS)
    digit_choice(page, 7).click()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved as a 7.")).to_be_visible(timeout=browser.UI_TIMEOUT_MS)
    expect(browser.prediction_value(page)).to_have_text("—", timeout=browser.UI_TIMEOUT_MS)  # ready for the next
    (saved,) = DrawingStore(app_home / "drawings.sqlite3").list()
    assert (saved.label, saved.prediction, saved.source) == (7, 1, "canvas")

    page.get_by_role("tab", name="My drawings").click()
    expect(page.get_by_text("1 drawing", exact=False).first).to_be_visible(timeout=browser.UI_TIMEOUT_MS)
    expect(page.get_by_text(f"#{saved.id}").first).to_be_visible(timeout=browser.UI_TIMEOUT_MS)

    with page.expect_download(timeout=browser.UI_TIMEOUT_MS) as download_info:
        page.get_by_role("button", name=re.compile("Download as zip")).click()
    path = tmp_path / "drawings.zip"
    download_info.value.save_as(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        rows = list(csv.DictReader(io.StringIO(zf.read("drawings/drawings.csv").decode())))
    assert any(re.fullmatch(r"drawings/7/\w+\.png", n) for n in names)
    assert any(re.fullmatch(r"drawings/originals/7/\w+\.png", n) for n in names)
    assert [(r["label"], r["prediction"], r["source"]) for r in rows] == [("7", "1", "canvas")]


SEVEN_BAR = [(0.3, 0.2), (0.5, 0.2), (0.7, 0.2)]  # over a "1" at x=0.7: a 7


def test_save_clicked_right_after_the_last_stroke_saves_the_drawing_as_finally_shown(page, app_url, app_home):
    canvas = browser.open_app(page, app_url)
    browser.draw(page, canvas, browser.vertical_stroke(0.7, 0.2, 0.85))
    expect(digit_choice(page, 1)).to_have_attribute("aria-checked", "true", timeout=browser.UI_TIMEOUT_MS)
    before = DrawingStore(app_home / "drawings.sqlite3").count()

    # The bar makes it a 7; Save is clicked the moment the pen lifts, once, on the row still showing the 1.
    browser.draw(page, canvas, SEVEN_BAR)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved as a 7.")).to_be_visible(timeout=browser.UI_TIMEOUT_MS)
    saved = DrawingStore(app_home / "drawings.sqlite3").list()
    assert len(saved) == before + 1
    assert (saved[0].label, saved[0].prediction) == (7, 7), "the 7 as finally shown, not the 1 before the bar"


def test_deleting_a_drawing_does_not_open_the_next_ones_confirmation(page, app_url, app_home):
    """After "Delete drawing #2" the tile that moves into its place shows its own Delete closed,
    so a second click where the confirmation was deletes nothing more."""
    import numpy as np

    browser.open_app(page, app_url)
    (me,) = [c["value"] for c in page.context.cookies() if c["name"] == BROWSER_COOKIE]
    store = DrawingStore(app_home / "drawings.sqlite3")
    before = len(store.list())
    for label in (3, 5):  # two drawings this browser saved
        store.add(np.full((28, 28), label / 10, np.float32), label, b"png", session=me)
    browser.open_app(page, app_url)
    page.get_by_role("tab", name="My drawings").click()
    panel = page.locator("[role=tabpanel]:visible").first
    expect(panel.get_by_text("2 drawings", exact=False).first).to_be_visible(timeout=browser.UI_TIMEOUT_MS)
    panel.get_by_role("button", name="Delete", exact=True).first.click()
    confirm = page.get_by_test_id("stPopoverBody").get_by_role("button").first
    expect(confirm).to_be_visible(timeout=browser.UI_TIMEOUT_MS)
    box = confirm.bounding_box()
    confirm.click()
    expect(panel.get_by_text("1 drawing", exact=False).first).to_be_visible(timeout=browser.UI_TIMEOUT_MS)
    expect(page.get_by_test_id("stPopoverBody")).to_have_count(0, timeout=browser.UI_TIMEOUT_MS)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # a second click, same spot
    page.wait_for_timeout(1500)
    assert len(store.list()) == before + 1
