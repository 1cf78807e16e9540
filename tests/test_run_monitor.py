"""The live view of a training run: what every open page is sent while it trains and after."""

import json
import math

from mnist_cnn.network import store
from mnist_cnn.training import jobs
from mnist_cnn.training.progress import Progress
from mnist_cnn.ui import run_monitor


def running_state(batches: int = 1000) -> jobs.JobState:
    latest = Progress("batch", 2, 5, 100, 469, loss=0.0712, accuracy=0.9781, elapsed=90.0)
    return jobs.JobState(status=jobs.RUNNING, arch="improved", epochs=5, batch_size=128, run_id=3,
                         started_at=1_000.0, latest=latest, message="Epoch 2/5, batch 100/469",
                         batches=[(i / 200, 1.0 / (i + 1), i / batches) for i in range(batches)],
                         epochs_done=[Progress("epoch", 1, 5, 469, 469, 0.2, 0.94, 60.0)])


def test_a_running_run_is_sent_with_its_bar_text_and_thinned_curves():
    sent = run_monitor.payload(running_state())
    assert sent["running"] and sent["key"] == [3, jobs.RUNNING, None, None]
    assert sent["fraction"] == round((1 + 100 / 469) / 5, 4)
    assert sent["message"] == "Epoch 2/5, batch 100/469"
    assert sent["detail"].startswith("MNIST: improved, 5 epochs, batch 128 · elapsed") and "left" in sent["detail"]
    assert sent["training"] == "Training: loss 0.0712 · accuracy 97.81%"
    # the default recipe scores the test set only after its last epoch, and says so while it runs
    assert sent["validation"] == "This recipe scores the 10,000 test digits once, after its last epoch."
    assert sent["val"] == []
    assert 100 <= len(sent["batches"]) <= run_monitor.CURVE_POINTS
    assert sent["batches"][0] == [0.0, 1.0, 0.0] and sent["epochs"] == 5
    assert sent["batches"][-1] == [4.995, 0.001, 0.999]  # the curve ends where the run is


def test_a_finished_run_keeps_its_curves_and_changes_the_key_pages_were_drawn_for():
    state = running_state(batches=10)
    drawn_for = run_monitor.run_key(state)
    state.status, state.decision, state.message = jobs.FINISHED, jobs.AUTO, "Trained improved: test accuracy 99.55%"
    state.epochs_done.append(Progress("epoch", 5, 5, 469, 469, 0.03, 0.99, 300.0, val_loss=0.0151, val_accuracy=0.9955))
    sent = run_monitor.payload(state)
    assert sent["key"] != drawn_for and not sent["running"]
    assert sent["message"] == "" and sent["detail"] == ""  # the page itself shows how the run ended
    assert sent["val"] == [[5, 0.0151, 0.9955]]
    assert sent["validation"] == "Validation after epoch 5: loss 0.0151 · accuracy 99.55%"
    assert len(sent["batches"]) == 10


def test_no_run_yet_sends_nothing_to_draw():
    sent = run_monitor.payload(jobs.JobState())
    assert sent["key"] == [0, jobs.IDLE, None, None] and not sent["running"]
    assert not (sent["message"] or sent["training"] or sent["validation"] or sent["batches"])


def test_a_model_made_current_elsewhere_changes_the_key_pages_were_drawn_for():
    """Another session or replica sharing the models folder switched the model: every page reruns."""
    drawn_for = run_monitor.payload(jobs.JobState(), store.current_choice_stamp())["key"]
    store.set_current_model(store.shipped_model_path("seed"))
    switched = run_monitor.payload(jobs.JobState(), store.current_choice_stamp())["key"]
    assert switched != drawn_for
    assert run_monitor.payload(jobs.JobState(), store.current_choice_stamp())["key"] == switched  # once
    store.set_current_model(store.shipped_model_path("seed"))  # chosen again, by another admin: new key
    assert run_monitor.payload(jobs.JobState(), store.current_choice_stamp())["key"] != switched


def test_a_diverging_run_still_makes_valid_json():
    """NaN is not JSON: the route (allow_nan=False) and the page's parser would both fail on it."""
    state = running_state(batches=10)
    state.batches.append((0.06, math.nan, math.inf))
    state.latest.loss = math.nan
    state.epochs_done[0].val_loss, state.epochs_done[0].val_accuracy = math.nan, 0.5
    sent = run_monitor.payload(state)
    json.dumps(sent, allow_nan=False)
    assert sent["batches"][-1] == [0.06, None, None] and sent["val"] == [[1, None, 0.5]]
    assert sent["training"].startswith("Training: loss nan")
