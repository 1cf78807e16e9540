"""One training run at a time for the whole server, in its own OS process.

The Streamlit script reruns on every click and each browser tab has its own session, so a run
cannot live in the page script; and a training thread inside the server would share the GIL and
both cores with every visitor's drawing. A single TrainingJobs object (the app keeps it behind
st.cache_resource) starts the worker process (worker.py), streams its progress into a state
every session reads with snapshot(), cancels it (ending the process within 2 s), and turns a
worker that dies into a FAILED run. The run's state is also kept on disk, so a server restarted
mid-run says that the last run was interrupted.

Several servers may share the home folder (and a database): a run lock (run_lock.py) held for
the run's length lets one run go at a time across all of them, and a server that is not running
one follows the state file, so its sidebar shows the run going elsewhere. The lock, not the
file, says whether that run is really going: a file that says "running" while nobody holds the
lock was left by a server that died, and is marked interrupted.

When a run ends its model is kept under a new name. It becomes current by itself only if it is
at least as accurate on the MNIST test set as the current model; otherwise the visitor who
started it decides (decide()).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mnist_cnn.config import REPO_ROOT, child_env, user_home, user_models_dir
from mnist_cnn.data.mnist import EXPECTED_COUNTS
from mnist_cnn.network import store
from mnist_cnn.training import run_lock, train_drawings
from mnist_cnn.training.progress import Progress

log = logging.getLogger(__name__)

IDLE, RUNNING, FINISHED, FAILED = "idle", "running", "finished", "failed"
CANCELLED, INTERRUPTED = "cancelled", "interrupted"
AUTO, PENDING, USED, KEPT = "switched", "pending", "used", "kept"  # what happened to a finished run's model
MAX_CURVE_POINTS = 400
KILL_AFTER_S = 1.5  # a cancelled worker gets SIGTERM, and SIGKILL if it is still there after this
STATE_FILE = "last_run.json"
LOG_FILE = "worker.log"
# What a run costs besides its training steps, for the estimate shown before it starts. The worker
# took 29.6-30.6 s from start to end around 20.9-21.0 s of fitting (improved, 3,000 images, 5
# epochs; 2026-11-27): TensorFlow's import, MNIST, tracing the model, saving it.
WORKER_START_S = 9.0
# A "drawings" run (train_drawings.py) at full size, measured by `python -m bench.drawings_cost`
# (2026-12-05, load average 1.6-3.0 on the 2 cores; docs/BENCHMARKS.md, section 12): a training step of
# 128 images (median of 48.5, 34.2, 36.7, 36.2 ms, 400 steps each, from scratch and from the shipped
# model), making up one drawing or non-digit before the first step (58-62 s for 72,000), and fitting
# the new model's not-a-digit verdict after the last (median of 2: 6.3 s).
DRAWINGS_STEP_S = 0.0365
MADE_UP_IMAGE_S = 0.00082
VERDICT_FIT_S = 6.3
SCORING_SHARE = 1 / 3  # scoring a test image costs about a third of a training step on one (docs/RECIPES.md)
KIND_NOTES = {"finetune": " (fine-tune on saved drawings)",  # how a kind of run is named in its model's trained_by
              "drawings": " (MNIST and made-up drawings)"}
FOLLOW_EVERY_S = 1.0  # a server not running the run rereads its state (and asks the lock) at most this often
SHARE_PROGRESS_EVERY_S = 2.0  # the running server writes its progress for the others at most this often
RUNNING_ELSEWHERE = ("A run is already going on another server; wait for it to end (the sidebar shows it), "
                     "then start yours.")
PERSISTED = ("status", "kind", "arch", "epochs", "batch_size", "started_at", "finished_at", "message", "model_path",
             "run_id", "started_by", "new_accuracy", "current_accuracy", "current_path", "decision", "extra")
_NUMBER, _OPTIONAL_TEXT = (int, float, type(None)), (str, type(None))
PERSISTED_TYPES = {"status": str, "kind": str, "arch": str, "epochs": int, "batch_size": int, "started_at": _NUMBER,
                   "finished_at": _NUMBER, "message": str, "model_path": _OPTIONAL_TEXT, "run_id": int,
                   "started_by": _OPTIONAL_TEXT, "new_accuracy": _NUMBER, "current_accuracy": _NUMBER,
                   "current_path": _OPTIONAL_TEXT, "decision": _OPTIONAL_TEXT, "extra": dict}
STATUSES = (IDLE, RUNNING, FINISHED, FAILED, CANCELLED, INTERRUPTED)


@dataclass
class JobState:
    """A copy of the run's state, safe to read from any session."""

    status: str = IDLE
    kind: str = "train"  # or "finetune", or "drawings" (MNIST and made-up drawings, train_drawings.py)
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
    started_by: str | None = None
    new_accuracy: float | None = None
    current_accuracy: float | None = None
    current_path: str | None = None
    decision: str | None = None
    extra: dict = field(default_factory=dict)
    elsewhere: bool = False  # the run goes on another server (this one follows its state file)

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    @property
    def replaces_current(self) -> bool:
        """A finished run's model is known to be at least as accurate as the model that was
        current, so it becomes current by itself. Anything else, an unknown accuracy on either
        side included, is offered, not switched to: whoever started the run decides."""
        return self.new_accuracy is not None and self.current_accuracy is not None \
            and self.new_accuracy >= self.current_accuracy

    @property
    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.time()) - self.started_at


def state_path() -> Path:
    return user_home() / "runs" / STATE_FILE


def _write_state(state: JobState) -> None:
    data = {k: v for k, v in asdict(state).items() if k in PERSISTED}
    store.write_text_atomically(state_path(), json.dumps(data, indent=2) + "\n")


def _read_state() -> JobState:
    """The last run as the disk remembers it, a run that is going included (on another server,
    or cut off by a stop: the run lock tells which)."""
    path = state_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return JobState()
    except (OSError, ValueError) as exc:
        return _unreadable_state(path, f"{type(exc).__name__}: {exc}")
    problem = _state_problem(data)
    if problem:
        return _unreadable_state(path, problem)
    return JobState(**{k: v for k, v in data.items() if k in PERSISTED})


def _interrupted(state: JobState) -> JobState:
    """A run whose server stopped before it ended, said so (and written, for every server)."""
    try:
        started = time.strftime("%H:%M", time.localtime(state.started_at or time.time()))
    except (OverflowError, OSError, ValueError):  # a start time no clock shows (a damaged record)
        started = "at an unknown time"
    state.status = INTERRUPTED
    state.message = (f"The last run ({state.arch}, started {started}) was interrupted when the server stopped; "
                     "nothing was saved and the previous model is still in use.")
    state.finished_at = state.finished_at or time.time()
    _write_state(state)
    return state


def _modified(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return None


def _state_problem(data) -> str | None:
    """What makes a parsed state file unusable (a hand edit, a disk error), or None."""
    if not isinstance(data, dict):
        return f"it holds a {type(data).__name__}, not a run's record"
    for key, kind in PERSISTED_TYPES.items():
        if key in data and not isinstance(data[key], kind):
            return f"its {key} is {data[key]!r}"
    if data.get("status", IDLE) not in STATUSES:
        return f"its status {data['status']!r} is none of {', '.join(STATUSES)}"
    return None


def _unreadable_state(path: Path, problem: str) -> JobState:
    """A state file that cannot be read: no run is shown, the next run replaces the file."""
    log.warning("ignoring %s, which is not a readable record of the last run (%s); the next run replaces it",
                path, problem)
    return JobState()


def remove_stale_temporary_files() -> list[Path]:
    """Half-written model files a stopped run may have left (they never replace a real one)."""
    folder = user_models_dir()
    stale = [p for p in folder.glob(".*.tmp*")] if folder.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def exit_reason(code: int | None) -> str:
    """Why a worker process ended without a word, in plain language."""
    if code is None:
        return "the training process stopped responding"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == signal.SIGKILL:
            return f"the training process was killed ({name}; out of memory, or stopped by hand)"
        return f"the training process was stopped by {name}"
    return f"the training process exited unexpectedly with code {code}"


class RunRefused(RuntimeError):
    """A run cannot start now: another server runs one, or the lock cannot be asked for."""


class TrainingJobs:
    """Starts, watches and cancels the server's single training run, one across the servers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._cancelled = False
        self._watcher: threading.Thread | None = None
        self._run_lock = run_lock.for_this_server()
        self._followed_at = 0.0
        self._seen: float | None = -1.0  # the state file's modification time when last read
        self._last_shared = 0.0
        self._state = JobState()
        if not self._run_lock.held_elsewhere():
            remove_stale_temporary_files()  # another server's run may be writing its model there
        self._follow_others()

    def snapshot(self) -> JobState:
        with self._lock:
            if not self._runs_here():
                self._follow_others()
            return copy.deepcopy(self._state)

    def _runs_here(self) -> bool:
        return self._state.status == RUNNING and not self._state.elsewhere

    def _follow_others(self) -> None:
        """Take the last run's state from disk when this server is not running one: another
        server's run (going, or ended), or one that was cut off by a stop."""
        if time.monotonic() - self._followed_at < FOLLOW_EVERY_S:
            return
        self._followed_at = time.monotonic()
        seen = _modified(state_path())
        if seen == self._seen and not self._state.elsewhere:
            return  # nothing new on disk, and no run elsewhere whose server may have died
        self._seen = seen
        disk = _read_state()
        if disk.status == RUNNING:
            if self._run_lock.held_elsewhere():
                disk.elsewhere = True
                disk.message = f"On another server: {disk.message}"
                self._state = disk
                return
            disk = self._interrupt_if_abandoned()
        if self._state.elsewhere or (disk.run_id, disk.started_at) != (self._state.run_id, self._state.started_at):
            self._state = disk  # a run of this server's own keeps what only memory has (the curve)

    def _interrupt_if_abandoned(self) -> JobState:
        """Under the run lock, so no other server can be starting a run meanwhile: a state still
        "running" belongs to a server that stopped mid-run."""
        try:
            took = self._run_lock.acquire()
        except run_lock.RunLockError:
            took = False
        if not took:
            return _read_state()  # someone has just started: the next look shows their run
        try:
            disk = _read_state()
            return _interrupted(disk) if disk.status == RUNNING else disk
        finally:
            self._run_lock.release()

    def start(self, arch: str, epochs: int, batch_size: int, limit: int | None = None, kind: str = "train",
              base_path: str | Path | None = None, started_by: str | None = None) -> bool:
        """Start a run unless one is already going here; returns whether this call started it.
        RunRefused (one sentence) when another server runs one or the lock cannot be asked for."""
        with self._lock:
            if self._runs_here():
                return False
            self._take_run_lock()
            self._state = _read_state()  # the last run of any server: its number, its decision
            job = {"kind": kind, "arch": arch, "epochs": epochs, "batch_size": batch_size, "limit": limit,
                   "base_path": str(base_path) if base_path else None,
                   "trained_by": "the app's Retrain button" + KIND_NOTES.get(kind, "")}
            self._state = JobState(status=RUNNING, kind=kind, arch=arch, epochs=epochs, batch_size=batch_size,
                                   started_at=time.time(), run_id=self._state.run_id + 1, started_by=started_by,
                                   message="Starting the training process (loading TensorFlow and MNIST)…")
            _write_state(self._state)
            self._cancelled = False
            try:
                self._proc = self._spawn(job)
            except BaseException:
                self._run_lock.release()
                raise
            self._watcher = threading.Thread(target=self._watch, args=(self._proc,), name="mnist-draw-watch",
                                             daemon=True)
            self._watcher.start()
            return True

    def _take_run_lock(self) -> None:
        try:
            took = self._run_lock.acquire()
        except run_lock.RunLockError as exc:
            raise RunRefused(f"The run cannot start: {exc}.") from None
        if not took:
            self._followed_at = 0.0  # show the other server's run at the next look
            raise RunRefused(RUNNING_ELSEWHERE)

    @staticmethod
    def _spawn(job: dict) -> subprocess.Popen:
        log = state_path().parent / LOG_FILE
        with open(log, "w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "mnist_cnn.training.worker"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=err, cwd=REPO_ROOT, env=child_env(), text=True)
        proc.stdin.write(json.dumps(job))
        proc.stdin.close()
        return proc

    def cancel(self) -> None:
        """Stop the running worker; it is gone within 2 s and nothing it made is kept."""
        with self._lock:
            proc = self._proc
            if self._state.status != RUNNING or proc is None:
                return
            self._state.message = "Cancelling…"
            self._cancelled = True
        proc.terminate()
        threading.Thread(target=self._kill_if_stuck, args=(proc,), daemon=True).start()

    @staticmethod
    def _kill_if_stuck(proc: subprocess.Popen) -> None:
        try:
            proc.wait(KILL_AFTER_S)
        except subprocess.TimeoutExpired:
            proc.kill()

    def decide(self, use_new: bool, session: str | None = None) -> bool:
        """The starter's choice for a finished model that is less accurate than the current one."""
        with self._lock:
            s = self._state
            if s.decision != PENDING or (s.started_by and session and s.started_by != session):
                return False
            if use_new and s.model_path:
                store.set_current_model(s.model_path)
            s.decision = USED if use_new else KEPT
            s.message = (f"Now using the new model ({s.new_accuracy:.2%})." if use_new else
                         "Kept the current model; the new one stays in the model list.")
            _write_state(s)
            return True

    def wait(self, timeout: float | None = None) -> JobState:
        """Block until the current run ends (for tests and the CLI)."""
        watcher = self._watcher
        if watcher is not None:
            watcher.join(timeout)
        return self.snapshot()

    @property
    def worker_pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    # ---------- the watcher thread ----------

    def _watch(self, proc: subprocess.Popen) -> None:
        """Read the worker's messages until it ends; whatever it last said (or did not) decides."""
        final = None
        for line in proc.stdout:
            try:
                kind, payload = json.loads(line)
            except ValueError:  # a line cut off by a dying process
                continue
            if kind == "progress":
                self._on_progress(Progress(**payload))
            elif kind == "saving":
                self._set_message("Saving the new model…")
            elif kind == "stage":  # a step with no progress bar of its own (making up data, fitting)
                self._set_message(str(payload.get("message", "")))
            else:
                final = (kind, payload)
        try:
            proc.wait(KILL_AFTER_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._finish(*(final or ("died", {})), exitcode=proc.returncode)

    def _set_message(self, message: str) -> None:
        with self._lock:
            self._state.message = message

    def _on_progress(self, p: Progress) -> None:
        with self._lock:
            s = self._state
            s.latest = p
            if s.message != "Cancelling…":
                s.message = f"Epoch {p.epoch}/{p.epochs}, batch {p.batch}/{p.steps}"
            s.batches.append(((p.epoch - 1) + p.batch / max(1, p.steps), p.loss, p.accuracy))
            if len(s.batches) > MAX_CURVE_POINTS:
                s.batches = s.batches[::2]
            if p.kind == "epoch":
                s.epochs_done.append(p)
            if p.kind == "epoch" or time.monotonic() - self._last_shared > SHARE_PROGRESS_EVERY_S:
                _write_state(s)  # the other servers show the run from this file
                self._last_shared = time.monotonic()

    def _finish(self, kind: str, payload: dict, exitcode: int | None) -> None:
        with self._lock:
            s = self._state
            s.finished_at = time.time()
            cancelled = self._cancelled
            if kind == "done" and not cancelled:
                self._accept(s, payload)
            elif kind == "cancelled" or cancelled:
                s.status, s.message = CANCELLED, "Cancelled; the previous model is still in use."
            elif kind == "failed":
                s.status = FAILED
                reason = payload.get("reason", "unknown error")
                s.message = f"Training failed: {reason}; the previous model is still in use."
            else:
                s.status = FAILED
                s.message = f"Training failed: {exit_reason(exitcode)}; the previous model is still in use."
            self._proc = None
            _write_state(s)
            remove_stale_temporary_files()
            self._run_lock.release()  # last: the next server to look sees how the run ended, and no leftovers

    @staticmethod
    def _accept(s: JobState, payload: dict) -> None:
        """A finished run: switch to it if it is at least as accurate, else leave it to the starter."""
        s.status = FINISHED
        s.model_path, s.extra = payload["model_path"], payload.get("extra") or {}
        s.new_accuracy, s.current_accuracy = payload["test_accuracy"], payload.get("current_accuracy")
        s.current_path = payload.get("current_path")
        if s.replaces_current:
            store.set_current_model(s.model_path)
            s.decision = AUTO
            s.message = f"Trained {s.arch}: test accuracy {s.new_accuracy:.2%}; now in use."
            return
        s.decision = PENDING
        compared = ("the current model's accuracy is unknown" if s.current_accuracy is None
                    else f"below the current model's {s.current_accuracy:.2%}")
        s.message = (f"Trained {s.arch}: test accuracy {s.new_accuracy:.2%}, {compared}; the current model "
                     "stays unless whoever started the run chooses the new one.")


def estimate_seconds(arch: str, epochs: int, images: int) -> float | None:
    """How long a run should take on this machine: the shipped model's own time per training
    image, for the run's images and for scoring the test set once, and the worker's start and
    finish (for a short run these are most of it)."""
    meta = store.read_meta(store.shipped_model_path(arch))
    try:
        per_image_epoch = meta["train_seconds"] / (meta["epochs"] * meta["train_images"])
    except (KeyError, TypeError, ZeroDivisionError):
        return None
    return per_image_epoch * (epochs * images + EXPECTED_COUNTS["test"] * SCORING_SHARE) + WORKER_START_S



def estimate_drawings_seconds(epochs: int, mnist_images: int | None = None) -> float:
    """How long a "drawings" run should take on this machine: making up its drawings and
    non-digits, its training steps (measured per step of a full run), scoring the test set once,
    fitting the verdict, and the worker's start and finish. `mnist_images`: MNIST_DRAW_TRAIN_LIMIT."""
    full = EXPECTED_COUNTS["train"]
    mnist = min(mnist_images or full, full)
    made_up = sum(train_drawings.made_up_images(mnist_images))
    steps = math.ceil((mnist + made_up) / train_drawings.BATCH_SIZE) * epochs
    scoring = EXPECTED_COUNTS["test"] * SCORING_SHARE * DRAWINGS_STEP_S / train_drawings.BATCH_SIZE
    return WORKER_START_S + made_up * MADE_UP_IMAGE_S + steps * DRAWINGS_STEP_S + scoring + VERDICT_FIT_S
