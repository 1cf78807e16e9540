"""The training worker when things go wrong: a cancel while the model is being saved, leftovers of
a crashed run, a worker that ignores SIGTERM, a damaged record of the last run. Nothing is lost
(the previous model stays as it was) and nothing is hidden (one clear state, never a traceback).

The workers here are real processes speaking the real protocol through the real
mnist_cnn.training.worker.run; only the slow part each test is not about (TensorFlow and training) is
replaced inside the child, so each test takes a second or two instead of a run's half minute.
"""

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from waiting import wait_for

from mnist_cnn.config import REPO_ROOT, child_env
from mnist_cnn.network import store
from mnist_cnn.training import jobs
from mnist_cnn.training.jobs import CANCELLED, IDLE, KILL_AFTER_S, RUNNING, TrainingJobs
from mnist_cnn.ui import run_monitor

QUICK = {"arch": "seed", "epochs": 1, "batch_size": 100, "limit": 100}

# The child's preamble: the real worker module, without TensorFlow, MNIST or training.
STUB_PREAMBLE = """
import sys, time, types
from mnist_cnn.data import mnist as data
from mnist_cnn.training import worker
from mnist_cnn.training.progress import Progress

class TrainingCancelled(Exception):
    pass

sys.modules["mnist_cnn.training.train"] = types.SimpleNamespace(TrainingCancelled=TrainingCancelled)
data.load_mnist = lambda: None
worker._configure_tensorflow = lambda idle_class: None
"""

# Training "finishes" at once; saving writes part of the model file, then hangs there.
SAVE_HANGS = STUB_PREAMBLE + """
class HalfWrittenModel:
    name = "seed"
    def save(self, path):
        with open(path, "wb") as f:
            f.write(b"PK half of a model")
        time.sleep(120)
    def count_params(self):
        return 1

class Result:
    arch, model, test_accuracy, seconds, extra = "seed", HalfWrittenModel(), 0.5, 1.0, {}
    def sidecar(self, trained_by):
        return {"arch": "seed", "trained_by": trained_by}

worker._train = lambda job, progress, cancel: Result()
worker.main()
"""

# A worker deaf to SIGTERM: it reports one batch, then trains "forever" and never looks at cancel.
IGNORES_SIGTERM = STUB_PREAMBLE + """
import signal

def deaf_train(job, progress, cancel):
    progress(Progress("batch", 1, 1, 1, 10, 2.3, 0.1, 0.5))
    while True:
        time.sleep(1)

worker._stop_at_once_on_sigterm = lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN)
worker._train = deaf_train
worker.main()
"""

CANCELLED_AT_ONCE = """
import json, sys
sys.stdin.read()
print(json.dumps(["cancelled", {}]), flush=True)
"""


@pytest.fixture
def worker_script(monkeypatch):
    """Make TrainingJobs spawn `python -c SCRIPT` instead of `python -m mnist_cnn.training.worker`, with the
    same stdin, stdout, log and environment."""

    def use(script: str) -> None:
        def spawn(job: dict) -> subprocess.Popen:
            log = jobs.state_path().parent / jobs.LOG_FILE
            with open(log, "w") as err:
                proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=err, cwd=REPO_ROOT, env=child_env(), text=True)
            proc.stdin.write(json.dumps(job))
            proc.stdin.close()
            return proc

        monkeypatch.setattr(TrainingJobs, "_spawn", staticmethod(spawn))

    return use


@pytest.fixture
def previous_model() -> tuple[Path, bytes]:
    """A retrained model that is current before the run, and its bytes."""
    shipped = store.shipped_model_path("seed")
    path = store.user_models_dir() / "seed-previous.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped, path)
    shutil.copyfile(store.sidecar_path(shipped), store.sidecar_path(path))
    store.set_current_model(path)
    return path, path.read_bytes()


def model_folder_files() -> set[str]:
    return {p.name for p in store.user_models_dir().iterdir()}


def test_cancel_while_the_model_is_saved_keeps_the_previous_model_and_no_half_file(worker_script, previous_model):
    path, before = previous_model
    worker_script(SAVE_HANGS)
    run = TrainingJobs()
    assert run.start(**QUICK)
    pid = wait_for(lambda: run.worker_pid, what="the worker to start")
    half = wait_for(lambda: list(store.user_models_dir().glob(".*.tmp*")), what="the half-written model file")
    assert run.snapshot().message == "Saving the new model…"
    asked = time.monotonic()
    run.cancel()
    state = run.wait(10)
    assert time.monotonic() - asked < 2.0
    assert state.status == CANCELLED and "previous model is still in use" in state.message
    assert not os.path.exists(f"/proc/{pid}")
    assert not any(p.exists() for p in half)
    assert model_folder_files() == {"seed-previous.keras", "seed-previous.json"}  # no half file, no new model
    assert store.current_model_path() == path and path.read_bytes() == before
    assert [e.path for e in store.available_models() if not e.shipped] == [path]


def test_temporary_files_of_a_crashed_run_are_removed_when_the_server_starts(previous_model):
    folder = store.user_models_dir()
    stale = [folder / ".seed-20261201-101010.k2j4l1.tmp.keras", folder / ".seed-20261201-101010.json.x9s8.tmp"]
    for p in stale:
        p.write_bytes(b"PK half of a file")
    kept = [folder / "notes.txt", folder / ".hidden"]
    for p in kept:
        p.write_text("not ours to delete")
    TrainingJobs()
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)
    assert previous_model[0].read_bytes() == previous_model[1]
    assert all(not e.path.name.startswith(".") for e in store.available_models())


def test_cancel_ends_a_worker_that_ignores_sigterm_with_sigkill(worker_script, previous_model):
    worker_script(IGNORES_SIGTERM)
    run = TrainingJobs()
    assert run.start(**QUICK)
    wait_for(lambda: run.snapshot().latest is not None, what="the worker's first progress report")
    proc = run._proc
    asked = time.monotonic()
    run.cancel()
    state = run.wait(KILL_AFTER_S + 15)
    took = time.monotonic() - asked
    assert proc.returncode == -9, "SIGTERM was ignored, so the worker must have been killed"
    assert KILL_AFTER_S - 0.2 <= took < KILL_AFTER_S + 10, took  # SIGKILL after KILL_AFTER_S, not before
    assert state.status == CANCELLED and "previous model is still in use" in state.message
    assert store.current_model_path() == previous_model[0]
    assert model_folder_files() == {"seed-previous.keras", "seed-previous.json"}


DAMAGED_STATES = {
    "garbage": "this is not json at all \x00\x01",
    "truncated": '{"status": "finished", "arch": "seed", "new_acc',
    "a list": "[1, 2, 3]",
    "null": "null",
    "a number": "5",
    "status of the wrong type": '{"status": 5}',
    "unknown status": '{"status": "exploded"}',
    "started_at of the wrong type": '{"status": "running", "arch": "seed", "started_at": "yesterday"}',
    "run_id of the wrong type": '{"status": "cancelled", "run_id": "seven"}',
    "accuracy of the wrong type": '{"status": "finished", "new_accuracy": "high", "current_accuracy": 0.99}',
    "extra of the wrong type": '{"status": "finished", "extra": [1]}',
}


@pytest.mark.parametrize("content", DAMAGED_STATES.values(), ids=DAMAGED_STATES.keys())
def test_a_damaged_record_of_the_last_run_is_ignored_with_a_warning(content, worker_script, caplog):
    path = jobs.state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    with caplog.at_level(logging.WARNING, logger="mnist_cnn.training.jobs"):
        run = TrainingJobs()
    state = run.snapshot()
    assert state.status == IDLE and not state.running and not state.replaces_current
    run_monitor.payload(state)  # what the page polls: it must draw
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(path) in warnings[0] and "next run replaces it" in warnings[0]
    assert "\n" not in warnings[0]
    worker_script(CANCELLED_AT_ONCE)  # the server carries on: a new run starts, ends, and rewrites the file
    assert run.start(**QUICK)
    assert run.wait(10).status == CANCELLED
    assert json.loads(path.read_text())["status"] == CANCELLED


def test_a_record_of_a_run_cut_off_by_a_stop_still_says_so():
    """The checks above must not lose the one state the record is for: a run the server never finished."""
    path = jobs.state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"status": RUNNING, "arch": "seed", "started_at": time.time() - 60, "run_id": 3}))
    state = TrainingJobs().snapshot()
    assert state.status == jobs.INTERRUPTED and "seed" in state.message and state.run_id == 3
    path.write_text('{"status": "running", "arch": "seed", "started_at": 1e300}')  # no clock shows that time
    state = TrainingJobs().snapshot()
    assert state.status == jobs.INTERRUPTED and "unknown time" in state.message
