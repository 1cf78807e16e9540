"""The server's training runs, in real worker processes: finish, cancel, die, restart, decide."""

import os
import signal
import time
from pathlib import Path

import pytest
from waiting import wait_for

from mnist_cnn.network import store
from mnist_cnn.training import jobs, worker
from mnist_cnn.training.jobs import (
    CANCELLED,
    FAILED,
    FINISHED,
    INTERRUPTED,
    RUNNING,
    WORKER_START_S,
    TrainingJobs,
    estimate_seconds,
)

ROOT = Path(__file__).resolve().parent.parent
QUICK = {"arch": "seed", "epochs": 1, "batch_size": 100, "limit": 1500}
TINY = {**QUICK, "limit": 200}  # two training steps: far less accurate than QUICK's fifteen
LONG = {"arch": "seed", "epochs": 20, "batch_size": 100, "limit": 30000}  # minutes: cut off by every test using it
# How long stopping a worker may take. Cancel ends it in under 2 s on a quiet machine; tests share
# 2 loaded cores, so the bound only tells "ended" from "hung" or "ran to the end" (LONG takes minutes).
STOPPED_WITHIN_S = 30.0


def first_progress(run: TrainingJobs):
    wait_for(lambda: run.snapshot().latest is not None, what="the worker's first progress report")


@pytest.mark.mnist
@pytest.mark.slow
def test_a_run_trains_in_its_own_process_and_reports_progress():
    run = TrainingJobs()
    assert run.start(**QUICK, started_by="me")
    assert not run.start(**QUICK)  # one run at a time
    pid = wait_for(lambda: run.worker_pid, what="the worker to start")
    assert pid != os.getpid()
    if hasattr(os, "SCHED_IDLE"):  # below every session's reruns: the OS runs the worker only on spare CPU
        wait_for(lambda: os.sched_getscheduler(pid) == os.SCHED_IDLE, what="the worker in the idle class")
    state = run.wait(300)
    assert state.status == FINISHED, state.message
    assert state.epochs_done and state.latest.epoch == 1
    # the estimate shown before the run is the right order of magnitude (a factor of 10 either way:
    # a loaded machine slows the idle-class worker, a fast one speeds it up)
    estimate = estimate_seconds(QUICK["arch"], QUICK["epochs"], QUICK["limit"])
    assert estimate / 10 < state.elapsed < estimate * 10, (estimate, state.elapsed)
    new = store.read_meta(state.model_path)
    assert new["train_images"] == 1500 and new["trained_by"].startswith("the app")
    # 1,500 images make a worse model than the shipped one: it is kept, not switched to.
    assert state.decision == jobs.PENDING and store.current_model_path() == store.shipped_model_path()
    assert state.new_accuracy < state.current_accuracy == store.read_meta(store.shipped_model_path())["test_accuracy"]
    assert state.model_path in [str(e.path) for e in store.available_models()]
    assert not run.decide(True, session="somebody else")  # only the starter decides
    assert run.decide(True, session="me")
    assert store.current_model_path() == store.Path(state.model_path)


@pytest.mark.mnist
@pytest.mark.slow
def test_a_run_more_accurate_than_the_current_model_becomes_current_by_itself():
    run = TrainingJobs()
    run.start(**TINY, started_by="me")
    weak = run.wait(300)
    assert weak.status == FINISHED and weak.decision == jobs.PENDING, weak.message
    assert run.decide(True, session="me")  # the 200-image model is now the one to beat
    run.start(**QUICK, started_by="me")
    better = run.wait(300)
    assert better.status == FINISHED, better.message
    assert better.current_accuracy == pytest.approx(weak.new_accuracy, abs=1e-4)  # as its metadata rounds it
    assert better.new_accuracy > weak.new_accuracy
    assert better.decision == jobs.AUTO and store.current_model_path() == Path(better.model_path)


def test_a_model_at_least_as_accurate_becomes_current_by_itself(tmp_path):
    new = tmp_path / "new.keras"
    new.write_bytes(b"a model file")
    for new_accuracy, decision in ((0.9967, jobs.AUTO), (0.9968, jobs.AUTO), (0.9966, jobs.PENDING)):
        state = jobs.JobState(status=RUNNING, arch="improved")
        TrainingJobs._accept(state, {"model_path": str(new), "test_accuracy": new_accuracy, "current_accuracy": 0.9967})
        assert state.decision == decision
        assert (store.current_model_path() == new) == (decision == jobs.AUTO)
        store.restore_shipped()


def test_a_model_is_only_offered_when_the_current_models_accuracy_is_unknown(tmp_path):
    new = tmp_path / "new.keras"
    new.write_bytes(b"a model file")
    state = jobs.JobState(status=RUNNING, arch="improved")
    TrainingJobs._accept(state, {"model_path": str(new), "test_accuracy": 0.9990, "current_accuracy": None})
    assert state.decision == jobs.PENDING and not state.replaces_current
    assert store.current_model_path() == store.shipped_model_path()
    assert "unknown" in state.message and "whoever started the run" in state.message


@pytest.mark.mnist
@pytest.mark.slow
def test_cancel_ends_the_worker_and_keeps_nothing():
    run = TrainingJobs()
    run.start(**LONG)
    first_progress(run)
    pid = run.worker_pid
    asked = time.monotonic()
    run.cancel()
    state = run.wait(2 * STOPPED_WITHIN_S)
    assert time.monotonic() - asked < STOPPED_WITHIN_S
    assert state.status == CANCELLED and "previous model" in state.message
    assert not os.path.exists(f"/proc/{pid}")
    assert store.current_model_path() == store.shipped_model_path()
    assert not list(store.user_models_dir().glob("*.keras")) if store.user_models_dir().is_dir() else True


@pytest.mark.mnist
@pytest.mark.slow
def test_a_killed_worker_is_a_failed_run_and_the_model_stays():
    run = TrainingJobs()
    run.start(**LONG)
    first_progress(run)
    killed = time.monotonic()
    os.kill(run.worker_pid, signal.SIGKILL)
    state = wait_for(lambda: (s := run.snapshot()).status != RUNNING and s, timeout=2 * STOPPED_WITHIN_S,
                     what="the run to fail")
    assert time.monotonic() - killed < STOPPED_WITHIN_S
    assert state.status == FAILED and "killed" in state.message and "previous model" in state.message
    assert store.current_model_path() == store.shipped_model_path()
    assert run.start(**LONG)  # the server carries on: a new run starts
    run.cancel()
    assert run.wait(2 * STOPPED_WITHIN_S).status == CANCELLED


def test_a_failing_run_says_why_in_one_sentence(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "no-mnist-here"))
    run = TrainingJobs()
    run.start(**QUICK)
    state = run.wait(60)
    assert state.status == FAILED and "no-mnist-here" in state.message and "MNIST_DATA_DIR" in state.message
    assert "\n" not in state.message and "Traceback" not in state.message


SERVER = """
import sys, time
from mnist_cnn.training.jobs import TrainingJobs
run = TrainingJobs()
run.start("seed", 20, 100, limit=30000)
deadline = time.monotonic() + 300
while run.snapshot().latest is None:
    if run.snapshot().status != "running" or time.monotonic() > deadline:
        sys.exit(run.snapshot().message or "no progress")
    time.sleep(0.05)
print(run.worker_pid, flush=True)
time.sleep(600)
"""


@pytest.mark.mnist
@pytest.mark.slow
def test_a_server_stopped_mid_run_leaves_nothing_and_a_restart_says_so(tmp_path):
    import subprocess
    import sys


    server = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    line = server.stdout.readline()
    assert line.strip().isdigit(), f"the server script did not start a run: {server.communicate()}"
    worker_pid = int(line)
    server.kill()  # the server dies without warning, mid-run
    server.wait()
    wait_for(lambda: not os.path.exists(f"/proc/{worker_pid}"), timeout=STOPPED_WITHIN_S,
             what="the orphaned worker to exit")
    after = TrainingJobs().snapshot()
    assert after.status == INTERRUPTED and "interrupted" in after.message and "seed" in after.message
    assert store.current_model_path() == store.shipped_model_path()
    models = store.user_models_dir()
    assert not (models.is_dir() and any(models.iterdir()))  # no model, no half-written file


def test_thread_pools_leave_the_server_a_core_unless_the_worker_yields_every_core():
    assert worker.tensorflow_threads(2) == (1, 1)
    assert worker.tensorflow_threads(8) == (7, 7)
    assert worker.tensorflow_threads(1) == (1, 1)
    assert worker.tensorflow_threads(2, idle_class=True) == (2, 2)  # as TensorFlow's default, the CLI's


def test_more_epochs_more_images_or_the_bigger_network_are_estimated_longer():
    for arch in ("seed", "improved"):
        assert estimate_seconds(arch, 5, 6_000) < estimate_seconds(arch, 6, 6_000) < estimate_seconds(arch, 6, 60_000)
    assert estimate_seconds("seed", 5, 60_000) < estimate_seconds("improved", 5, 60_000)

    def twelve_more(epochs: int) -> float:
        return estimate_seconds("improved", epochs + 12, 60_000) - estimate_seconds("improved", epochs, 60_000)

    assert twelve_more(12) == pytest.approx(twelve_more(0))  # each epoch costs the same


def test_the_shipped_recipe_is_estimated_at_about_the_time_it_took():
    for arch in ("seed", "improved"):
        meta = store.read_meta(store.shipped_model_path(arch))
        estimate = estimate_seconds(arch, meta["epochs"], meta["train_images"])
        assert meta["train_seconds"] < estimate < 1.5 * meta["train_seconds"] + WORKER_START_S, arch


def test_a_short_run_is_estimated_with_the_workers_start_and_finish():
    """A 3,000-image run is mostly the worker's start and finish (TensorFlow's import, MNIST,
    saving): the estimate counts them, and the fitting on top of them."""
    assert WORKER_START_S < estimate_seconds("improved", 5, 3_000) < 3 * WORKER_START_S


@pytest.mark.mnist
@pytest.mark.slow
def test_a_finetune_on_saved_drawings_runs_through_the_same_worker(user_home):
    from bench.style import style_inputs
    from mnist_cnn.drawings.store import DrawingStore, NewDrawing, png_bytes

    images, labels, canvases = style_inputs(60, seed=3)
    drawings = [NewDrawing(images[i], int(labels[i]), png_bytes(canvases[i]), "writer") for i in range(60)]
    DrawingStore().add_many(drawings)
    run = TrainingJobs()
    assert run.start("seed", 1, 100, limit=1000, kind="finetune", base_path=store.shipped_model_path("seed"),
                     started_by="writer")
    state = run.wait(300)
    assert state.status == FINISHED, state.message
    assert state.kind == "finetune" and state.latest is not None
    assert state.extra["drawings_trained"] + state.extra["drawings_held_out"] == 60
    assert state.extra["held_out_accuracy_before"] is not None and state.extra["held_out_accuracy_after"] is not None
    meta = store.read_meta(state.model_path)
    assert meta["finetuned_from_path"] == str(store.shipped_model_path("seed")) and "-finetuned-" in state.model_path
