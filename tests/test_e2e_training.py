"""A training run seen from a page that did not start it: live progress and curves with no click,
and the page's own rerun when the run ends (the sidebar's run_monitor polling the server's route)."""

import json
import re
import urllib.request

import pytest

from bench import browser
from mnist_cnn.config import TRAIN_LIMIT_ENV, TRAINING_ROUTE

expect = browser.expect

pytestmark = pytest.mark.mnist
RUN_TIMEOUT_MS = 300_000


@pytest.fixture(scope="module")
def app_env(app_home):
    return {"MNIST_DRAW_HOME": str(app_home), TRAIN_LIMIT_ENV: "5120"}  # 40 batches an epoch: a quick run


def training_state(app_url: str) -> dict:
    with urllib.request.urlopen(app_url + TRAINING_ROUTE, timeout=10) as r:
        return json.load(r)


def test_another_session_watches_a_run_live_and_sees_it_end(page, app_url):
    assert training_state(app_url)["key"][1] == "idle"
    reruns = []  # every message the watching page sends its server: a rerun, a click
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: reruns.append(frame)))
    browser.open_app(page, app_url)
    watcher = page.get_by_test_id("stSidebar")
    trainer = page.context.browser.new_page()  # a second session
    try:
        browser.open_app(trainer, app_url)
        trainer.get_by_test_id("stSidebar").get_by_role("button", name="Retrain", exact=True).click()

        # The watcher never clicks: the run's start reruns its page once, then its bar moves on the
        # server's state alone, with no rerun.
        bar = watcher.get_by_role("progressbar", name="Training progress")
        expect(bar).to_be_visible(timeout=browser.UI_TIMEOUT_MS * 2)
        expect(watcher.get_by_text(re.compile(r"^Epoch \d+/\d+, batch \d+/40$"))).to_be_visible(
            timeout=RUN_TIMEOUT_MS)
        sent, before = len(reruns), int(bar.get_attribute("aria-valuenow"))
        page.wait_for_function("([el, v]) => +el.getAttribute('aria-valuenow') > v", arg=[bar.element_handle(), before],
                               timeout=RUN_TIMEOUT_MS)
        assert len(reruns) == sent, "the page reran to move its bar"
        assert training_state(app_url)["running"]
        expect(watcher.get_by_role("img", name="Loss")).to_be_visible(timeout=browser.UI_TIMEOUT_MS)

        # The run's end reruns the watcher's page: the result, the new model's accuracy, the curves stay.
        ended = watcher.get_by_text(re.compile(r"^Trained improved: test accuracy (\d+\.\d+)%"))
        expect(ended).to_be_visible(timeout=RUN_TIMEOUT_MS)
        expect(bar).to_have_count(0)
        expect(watcher.get_by_text(re.compile(r"^New model .* previous model"))).to_be_visible()
        expect(watcher.get_by_text(re.compile(r"^Validation after epoch \d+: loss"))).to_be_visible()
        expect(watcher.get_by_role("img", name="Accuracy")).to_be_visible()
        expect(watcher.get_by_role("button", name="Retrain", exact=True)).to_be_enabled()
        assert len(reruns) <= sent + 2, "the page reran more than once for the run's end"
        assert not training_state(app_url)["running"]
        # 5,120 images make a real, if weaker, model (batch norm's statistics settle even in a short run)
        accuracy = float(re.search(r"test accuracy (\d+\.\d+)%", ended.inner_text()).group(1))
        assert accuracy > 90, ended.inner_text()

        # Less accurate than the shipped model: its starter chooses, even after reloading the page
        # (a new Streamlit session, the same browser); the watching browser cannot.
        not_theirs = watcher.get_by_text("Whoever started this run decides whether to use it.")
        expect(not_theirs).to_be_visible()
        browser.open_app(trainer, app_url)
        keep = trainer.get_by_test_id("stSidebar").get_by_role("button", name="Keep the current one")
        expect(keep).to_be_visible(timeout=browser.UI_TIMEOUT_MS)
        keep.click()
        expect(keep).to_have_count(0, timeout=browser.UI_TIMEOUT_MS)
    finally:
        trainer.close()
