"""One background training job for the whole server.

The Streamlit script reruns on every click and each browser tab has its own session, so a run
cannot live in the page script. A single TrainingJobs object (the app keeps it behind
st.cache_resource) owns at most one training thread; every session reads its snapshot() to draw
the same progress and may cancel it. A finished run is saved atomically to the user models
folder and made current; a cancelled or failed one (or a server stop) leaves the previous model
in use and on disk.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mnist_cnn import store
from mnist_cnn.train import Progress, TrainingCancelled, train

IDLE, RUNNING, FINISHED, FAILED, CANCELLED = "idle", "running", "finished", "failed", "cancelled"
MAX_CURVE_POINTS = 400


@dataclass
class JobState:
    """A copy of the job's state, safe to read from any session."""

    status: str = IDLE
    arch: str = ""
    epochs: int = 0
    batch_size: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    latest: Progress | None = None
    batches: list[tuple[float, float, float]] = field(default_factory=list)  # (epoch position, loss, acc)
    epochs_done: list[Progress] = field(default_factory=list)
    message: str = ""
    model_path: str | None = None
    run_id: int = 0

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    @property
    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.time()) - self.started_at


class TrainingJobs:
    """Starts, tracks and cancels the server's single training run."""

    def __init__(self, trainer: Callable[..., object] = train, data_dir: str | None = None) -> None:
        self._trainer = trainer
        self._data_dir = data_dir
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = JobState()

    def snapshot(self) -> JobState:
        with self._lock:
            return copy.deepcopy(self._state)

    def start(self, arch: str, epochs: int, batch_size: int, limit: int | None = None,
              out: Path | None = None) -> bool:
        """Start a run unless one is already going; returns whether this call started it."""
        with self._lock:
            if self._state.status == RUNNING:
                return False
            self._cancel = threading.Event()
            self._state = JobState(status=RUNNING, arch=arch, epochs=epochs, batch_size=batch_size,
                                   started_at=time.time(), run_id=self._state.run_id + 1,
                                   message="Loading MNIST and building the model…")
            self._thread = threading.Thread(target=self._run, args=(arch, epochs, batch_size, limit, out, self._cancel),
                                            name="mnist-retrain", daemon=True)
            self._thread.start()
            return True

    def cancel(self) -> None:
        """Ask the running job to stop; it ends within a batch or two and saves nothing."""
        self._cancel.set()
        with self._lock:
            if self._state.status == RUNNING:
                self._state.message = "Cancelling…"

    def wait(self, timeout: float | None = None) -> JobState:
        """Block until the current run ends (for tests and the CLI)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.snapshot()

    def _on_progress(self, p: Progress) -> None:
        with self._lock:
            s = self._state
            s.latest = p
            s.message = f"Epoch {p.epoch}/{p.epochs}, batch {p.batch}/{p.steps}"
            s.batches.append(((p.epoch - 1) + p.batch / max(1, p.steps), p.loss, p.accuracy))
            if len(s.batches) > MAX_CURVE_POINTS:
                s.batches = s.batches[::2]
            if p.kind == "epoch":
                s.epochs_done.append(p)

    def _finish(self, status: str, message: str, model_path: str | None = None) -> None:
        with self._lock:
            self._state.status = status
            self._state.message = message
            self._state.model_path = model_path
            self._state.finished_at = time.time()

    def _run(self, arch: str, epochs: int, batch_size: int, limit: int | None, out: Path | None,
             cancel: threading.Event) -> None:
        try:
            result = self._trainer(arch, epochs=epochs, batch_size=batch_size, limit=limit,
                                   data_dir=self._data_dir, progress=self._on_progress, cancel=cancel)
            if cancel.is_set():
                raise TrainingCancelled()
            path = Path(out) if out else store.user_model_path(arch)
            store.save_model(result.model, path, result.sidecar("the app's Retrain button"))
            store.set_current_model(path)
            self._finish(FINISHED, f"Trained {arch}: test accuracy {result.test_accuracy:.2%}.", str(path))
        except TrainingCancelled:
            self._finish(CANCELLED, "Cancelled; the previous model is still in use.")
        except Exception as exc:  # shown in every session; the previous model stays current
            self._finish(FAILED, f"Training failed ({type(exc).__name__}: {exc}); the previous model is still in use.")


def estimate_seconds(arch: str, epochs: int, images: int) -> float | None:
    """How long a run should take on this machine, from the shipped model's own training time."""
    meta = store.read_meta(store.shipped_model_path(arch))
    try:
        per_image_epoch = meta["train_seconds"] / (meta["epochs"] * meta["train_images"])
    except (KeyError, TypeError, ZeroDivisionError):
        return None
    return per_image_epoch * epochs * images
