"""What every tab shares: the cached model, the MNIST test set and its report, the training
jobs, and a visitor's anonymous session id. Everything derived from a model is cached on the
model's identity (its sidecar's sha256), so a retrain invalidates exactly what depends on it."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import numpy as np
import streamlit as st

from mnist_cnn.config import BROWSER_COOKIE, DATA_ENV, DEFAULT_STROKE_WIDTH, STROKE_WIDTH_RANGE
from mnist_cnn.data import mnist
from mnist_cnn.network import store
from mnist_cnn.network.inference import Classifier, load_classifier
from mnist_cnn.training import jobs
from mnist_cnn.training.evaluate import evaluate_classifier
from mnist_cnn.ui import browser_id


def settle_memory() -> None:
    """Move everything loaded so far out of the garbage collector's sight. A full collection over
    TensorFlow's ~400,000 objects takes ~230 ms and would hold back a prediction by that much."""
    gc.collect()
    gc.freeze()


@st.cache_resource(max_entries=8, show_spinner=False)
def classifier_for(path: str, model_id: str) -> Classifier:
    """A model by path and identity; loading needs no TensorFlow (about 0.1 s)."""
    return load_classifier(path)


def current_classifier() -> Classifier:
    """The server's current model, or the shipped one (with a warning) if it cannot be loaded."""
    path = store.current_model_path()
    try:
        return classifier_for(str(path), store.entry(path).model_id)
    except store.ModelStoreError as exc:
        shipped = store.shipped_model_path()
        try:
            clf = classifier_for(str(shipped), store.entry(shipped).model_id)
        except store.ModelStoreError as shipped_exc:
            st.error(f"{shipped_exc} Reinstall the app (git checkout models/) to get the shipped model back.")
            st.stop()
        st.warning(f"{exc} Using the shipped model instead.")
        return clf


MODEL_DRAWN_FOR = "model_drawn_for"  # session state: current_choice_stamp() when the page was last drawn


def page_classifier() -> Classifier:
    """current_classifier() for a whole page run, remembering which choice of model the page is
    drawn for, so that a stroke (a fragment's run) notices a newer one: follow_current_model."""
    st.session_state[MODEL_DRAWN_FOR] = store.current_choice_stamp()
    return current_classifier()


def model_choice_changed() -> bool:
    """Whether another session, process or replica made another model current since this page
    was drawn (one stat() of the shared choice; False outside a page drawn by page_classifier)."""
    drawn_for = st.session_state.get(MODEL_DRAWN_FOR, False)
    return drawn_for is not False and drawn_for != store.current_choice_stamp()


def follow_current_model() -> None:
    """At the top of a fragment (a stroke's run, which reuses the model the page was drawn with):
    when the current model changed, rerun the whole page instead, so the prediction and the
    sidebar both show the new one. The drawing is kept: it is the canvas' widget state."""
    if model_choice_changed():
        st.rerun()


def classifier_at(path: str | Path) -> Classifier:
    return classifier_for(str(path), store.entry(Path(path)).model_id)


@st.cache_resource(show_spinner="Loading MNIST…")
def mnist_test_set() -> tuple[np.ndarray, np.ndarray] | str:
    """The test images and labels, or the reason they cannot be loaded."""
    try:
        test = mnist.load_mnist()[1]
    except mnist.MnistDataError as exc:
        return str(exc)
    settle_memory()
    return test


def data_problem() -> str | None:
    test = mnist_test_set()
    return test if isinstance(test, str) else None


def mnist_missing() -> str | None:
    """Why MNIST is certainly not available, judged without loading it (the sidebar asks on every
    run, and loading takes a second); None when it may be (loading still checks everything)."""
    source = mnist.data_source()
    if source == "download" or source.endswith(".npz"):
        return None
    folder = Path(source)
    if not folder.is_dir():
        return f"MNIST folder {folder} does not exist"
    names = [mnist.IDX_FILES["train_images"], mnist.IDX_FILES["train_images"] + ".gz", "mnist.npz"]
    if not any((folder / n).is_file() for n in names):
        return f"no MNIST files in {folder}"
    return None


def data_help(reason: str) -> None:
    st.error(f"MNIST is not available: {reason}")
    st.caption(f"Set `{DATA_ENV}` to a folder with the four MNIST IDX files and restart the app; "
               "drawing keeps working with the current model.")


SCORING = "Scoring the model on the 10,000 test digits (loads TensorFlow the first time)…"


@st.cache_data(max_entries=8, show_spinner=SCORING)
def test_report(path: str, model_id: str):
    report = evaluate_classifier(classifier_for(path, model_id))
    settle_memory()
    return report


@st.cache_resource(show_spinner=False)
def training_jobs() -> jobs.TrainingJobs:
    """The server's one training run, shared by every session (and run_monitor's route)."""
    return jobs.TrainingJobs()


def session_id() -> str:
    """An anonymous id for this browser (drawings it saved, runs it started): the cookie the server
    gave it (ui/browser_id.py), so a reload is still the same person; a new id for this session
    where there is none (cookies off, tests without a browser)."""
    if "session_id" not in st.session_state:
        cookie = st.context.cookies.get(BROWSER_COOKIE)
        st.session_state["session_id"] = cookie if browser_id.is_valid(cookie) else browser_id.new_id()
    return st.session_state["session_id"]


# The canvas' undo and clear buttons sit in its own toolbar, hidden until pointed at.
TOOLBAR_HINT = "Undo and clear are in the toolbar that shows above the canvas's right corner when you point at it."
# Room between the Stroke width slider and the canvas: the toolbar floats 1rem above the canvas'
# top and, without it, covers the slider's track. The first-second page (server/shell.css,
# --above-canvas) leaves the same room.
TOOLBAR_ROOM = "small"


def stroke_slider(key: str) -> int:
    """The Stroke width slider that goes above a drawing canvas, with room under it for the
    canvas' toolbar; the pen width chosen, in canvas pixels."""
    width = st.slider("Stroke width", *STROKE_WIDTH_RANGE, DEFAULT_STROKE_WIDTH, key=key)
    st.space(TOOLBAR_ROOM)
    return width


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def time_ago(then: float) -> str:
    """'just now', '12 min ago', '3 h ago', '2 days ago': when something happened, roughly."""
    minutes = int(max(0.0, time.time() - then) // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    return f"{hours} h ago" if hours < 48 else f"{hours // 24} days ago"


def plural(n: int, word: str) -> str:
    """'1 epoch', '3 epochs'."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
