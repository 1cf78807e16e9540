"""The training worker: one spawned OS process per run, the only place the server's runs import
TensorFlow.

jobs.py starts `python -m mnist_cnn.training.worker` (a fresh interpreter, not a fork: a forked
TensorFlow or Streamlit is not safe; and not multiprocessing's spawn, which would re-import the
Streamlit page as the child's __main__), writes the job as JSON on its stdin and reads what it
reports on its stdout, one JSON message a line: progress, then one final message. The worker
runs in Linux's idle scheduling class (SCHED_IDLE): it gets every core nobody else wants and
gives any of them up the moment a server thread wakes, so a stroke's rerun never waits behind it
(while a session draws, a run in the app trains at 0.87-1.24 of the CLI's speed, median 0.88
and 1.04 in two benchmark runs of three rounds: docs/BENCHMARKS.md, section 6). Where the OS
has no idle class it falls back to nice 10 with TensorFlow's pools one core short, leaving the
server a core. It never changes which model is current: it saves its model under a new name (atomically)
and the server decides. A "drawings" run (train_drawings.py) also fits the new model's not-a-digit
verdict and saves it in the model's sidecar, so the model is never listed without it. It ends on
its own if the server goes away.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mnist_cnn.config import user_models_dir
from mnist_cnn.data import mnist
from mnist_cnn.network import store
from mnist_cnn.network.inference import load_classifier
from mnist_cnn.training.evaluate import evaluate_classifier
from mnist_cnn.training.finetune import finetune
from mnist_cnn.training.train_drawings import RECIPE, fit_verdict, train_for_drawings

WORKER_NICE = 10  # the fallback where there is no idle class: below the server
PARENT_POLL_S = 0.5
MAX_REASON = 400  # characters of a failure shown in the sidebar
MODEL_SUFFIXES = {"finetune": "-finetuned", RECIPE: "-drawings"}  # a new model's name says how it was made
MAKING_UP_DATA = "Making up drawings and non-digits to train on…"
FITTING_VERDICT = "Fitting the not-a-digit verdict for the new model…"


def tensorflow_threads(cpus: int | None = None, idle_class: bool = False) -> tuple[int, int]:
    """(intra-op, inter-op) threads. In the idle class the server preempts the worker on any
    core, so the maths may use them all; otherwise every core but one, so the server keeps a
    core's worth of headroom. At least one. Inter-op as many as intra-op, as TensorFlow's own
    default (the CLI's): with one, a run trained about 30% slower (538 against 792 images/s,
    medians of 5 alternating 2-epoch runs on 12,000 images, 2 cores)."""
    cpus = cpus or os.cpu_count() or 1
    threads = cpus if idle_class else max(1, cpus - 1)
    return threads, threads


def _lower_priority() -> bool:
    """Put this process below the server: the idle class where there is one (True), else nice."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return True
    except (AttributeError, OSError):  # not Linux, or not allowed: nice instead
        pass
    try:
        os.nice(WORKER_NICE)
    except (AttributeError, OSError):  # not on this platform: still correct, just less polite
        pass
    return False


def _exit_with_parent() -> None:
    """A server killed without warning cannot stop its worker; the worker notices instead."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _stop_at_once_on_sigterm() -> None:
    """SIGTERM (cancel, server shutdown) ends the process at once: an orderly interpreter shutdown
    with TensorFlow loaded takes seconds. A model being saved is still a temporary file, which
    the server removes; the real files are only ever replaced by an atomic rename."""
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(128 + signum))


def _configure_tensorflow(idle_class: bool) -> None:
    import tensorflow as tf

    intra, inter = tensorflow_threads(idle_class=idle_class)
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)


def new_model_path(arch: str, kind: str) -> Path:
    """A fresh file per run, so every run stays in the model list whatever is decided."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return user_models_dir() / f"{arch}{MODEL_SUFFIXES.get(kind, '')}-{stamp}.keras"


def current_accuracy(path: Path) -> float | None:
    """The current model's MNIST test accuracy, from its sidecar or, failing that, measured."""
    acc = store.read_meta(path).get("test_accuracy")
    if acc is not None:
        return float(acc)
    try:
        return evaluate_classifier(load_classifier(path)).accuracy
    except Exception:  # an unknown accuracy only means the person decides
        return None


def _train(job: dict[str, Any], progress, cancel):
    if job["kind"] == "finetune":
        return finetune(job["base_path"], epochs=job["epochs"], batch_size=job["batch_size"], limit=job["limit"],
                        progress=progress, cancel=cancel)
    if job["kind"] == RECIPE:
        return train_for_drawings(job["base_path"], epochs=job["epochs"], batch_size=job["batch_size"],
                                  limit=job["limit"], progress=progress, cancel=cancel)
    from mnist_cnn.training.train import train

    return train(job["arch"], epochs=job["epochs"], batch_size=job["batch_size"], limit=job["limit"],
                 progress=progress, cancel=cancel)


def _message_channel():
    """Messages go to the real stdout; anything else printing to stdout (libraries) goes to stderr."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def send(kind: str, payload: dict) -> None:
        out.write(json.dumps([kind, payload]) + "\n")

    return send


def main() -> None:
    """The worker's entry point: read the job, train, save under a new name, and report
    ("done" | "cancelled" | "failed", details) as the last message."""
    job = json.loads(sys.stdin.read())
    send = _message_channel()
    run(job, send)


def run(job: dict[str, Any], send) -> None:
    idle_class = _lower_priority()  # before any thread starts: threads inherit their creator's class
    _exit_with_parent()
    _stop_at_once_on_sigterm()
    cancel = threading.Event()  # the server cancels with SIGTERM; the event is train()'s interface
    try:
        mnist.load_mnist()  # first, so a missing data set fails in a second, not after TensorFlow's import
        _configure_tensorflow(idle_class)
        from mnist_cnn.training.train import TrainingCancelled

        if job["kind"] == RECIPE:
            send("stage", {"message": MAKING_UP_DATA})
        try:
            result = _train(job, lambda p: send("progress", asdict(p)), cancel)
        except TrainingCancelled:
            send("cancelled", {})
            return
        if job["kind"] == RECIPE:
            send("stage", {"message": FITTING_VERDICT})
            fit_verdict(result, job["limit"])
        send("saving", {})
        path = new_model_path(result.arch, job["kind"])
        store.save_model(result.model, path, result.sidecar(job["trained_by"]))
        current = store.current_model_path()
        send("done", {"model_path": str(path), "test_accuracy": result.test_accuracy,
                      "current_path": str(current), "current_accuracy": current_accuracy(current),
                      "seconds": result.seconds, "extra": result.extra})
    except Exception as exc:  # reported as one sentence; the server keeps the previous model
        send("failed", {"reason": failure_sentence(exc)})


def failure_sentence(exc: BaseException) -> str:
    """One readable sentence for a failed run."""
    if isinstance(exc, MemoryError):
        return "the training process ran out of memory"
    text = str(exc).strip().rstrip(".") or type(exc).__name__
    first = text.splitlines()[0]
    return first if len(first) <= MAX_REASON else first[: MAX_REASON - 1] + "…"


if __name__ == "__main__":
    main()
