"""Under a prediction: say what the digit really is and keep the drawing.

A row of the ten digits, pre-selected on the prediction, and a Save button: confirming a right
answer is one click, correcting a wrong one is two. Saving happens in the button's callback, so
the toast shows and the canvas is cleared for the next drawing in the same rerun. Saving the same
drawing twice keeps one row (the store's content hash). A store that cannot be written shows one
line; drawing goes on regardless.

The row's widgets keep their keys from drawing to drawing (one row per canvas or upload): a key
made from the drawing gave each stroke a new Save button, so a click that landed while a stroke's
rerun replaced the row was dropped without a word. The digit row is set to each new prediction
when it changes. A click never saves an earlier drawing than the one on the canvas: it can reach
the server together with a newer stroke, its callback still holding the drawing before it, and
then it saves the drawing there now, as that drawing's own row would, or says it saved nothing
(_save). And since the canvas sends a stroke only 200 ms after the pen lifts, pressing Save first
has it send at once (labelling.js), so the click cannot overtake the stroke.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import streamlit as st

from mnist_cnn.config import NUM_CLASSES, SAVE_INTERVAL_S, max_drawings
from mnist_cnn.drawings.store import DrawingsError, DrawingStore, png_bytes, to_uint8
from mnist_cnn.network.inference import Verdict
from mnist_cnn.reading.verdicts import judge
from mnist_cnn.ui.common import session_id

_SEND_FIRST = st.components.v2.component("mnist_draw.send_before_save",
                                         js=Path(__file__).with_suffix(".js").read_text())
DIGITS = list(range(NUM_CLASSES))
ERROR_KEY = "labelling_error"
TOASTS_KEY = "labelling_toasts"  # what a Save said, shown by the rerun it causes (show_toasts)
PICK_A_DIGIT = "Pick the digit it really is, then press Save."
SAVING_TOO_FAST = f"One drawing every {SAVE_INTERVAL_S:g} s: nothing was saved, press Save again in a moment."
FORGET_AFTER = 10_000  # browsers remembered by the save limiter before old ones are dropped
DRAWING_CHANGED = ("The drawing changed as you pressed Save, so nothing was saved: check the digit below and "
                   "press Save again.")


class SaveLimiter:
    """At most one save per `interval` seconds from each browser (all its tabs and reloads share
    its id), so that one visitor of a shared server cannot fill the store in a loop."""

    def __init__(self, interval: float = SAVE_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self._clock = interval, clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def allow(self, browser: str) -> bool:
        """Whether `browser` may save now; if so, its next save waits `interval` from now."""
        with self._lock:
            now = self._clock()
            if now - self._last.get(browser, -math.inf) < self.interval:
                return False
            if len(self._last) > FORGET_AFTER:  # browsers that saved long ago need no entry
                self._last = {b: t for b, t in self._last.items() if now - t < self.interval}
            self._last[browser] = now
            return True


SAVES = SaveLimiter()  # one per server process: every session's Save goes through it


class Shown(NamedTuple):
    """A drawing as the row shows it: the 28x28 input, the picture kept with it, the
    probabilities, and the digit the row is set to for it (None: none, not a digit)."""

    image: np.ndarray
    original: bytes | np.ndarray
    probs: np.ndarray
    preselected: int | None


Current = Callable[[], "tuple[np.ndarray, bytes | np.ndarray] | None"]


def drawing_id(image28: np.ndarray | None) -> str | None:
    """A drawing's identity, to tell the drawing a click was shown with from the one there now."""
    return None if image28 is None else hashlib.sha1(to_uint8(image28).tobytes()).hexdigest()


def preselection(v: Verdict) -> int | None:
    """The digit the row is set to: the prediction, none for a drawing taken for no digit (one
    click must not save a letter as the digit it was closest to)."""
    return v.digit if v.is_digit else None


def drawing_now(shown: Shown, current: Current | None, clf) -> Shown | None:
    """The drawing a click is for: the one shown with the row, or, when the canvas (or upload)
    holds a newer one (the click reached the server with a stroke, before the rerun that shows
    it), that one, as its own row would show it. None: nothing is there now. `current` gives
    what is there (None: a picture that cannot change under a click)."""
    now = current() if current is not None else (shown.image, shown.original)
    if now is None:
        return None
    image, original = now
    if drawing_id(image) == drawing_id(shown.image):
        return shown
    v = judge(image, clf, number_hint=False)  # the label row shows no hint
    return Shown(image, original, v.probs, preselection(v))


def _save(shown: Shown, clf, source: str, label_key: str, clear_canvas: bool, current: Current | None) -> None:
    """The Save button's callback: store the drawing, confirm, and ask for a fresh canvas.

    A click on a drawing that has changed since the row was drawn (a stale click) saves the
    drawing there now, set to its own prediction, as a click on its own row would; if the person
    had picked a digit for the earlier drawing, or the canvas is empty now, it saves nothing and
    says so. It never saves the earlier drawing."""
    label = st.session_state.get(label_key)
    now = drawing_now(shown, current, clf)
    if now is not shown:
        if now is None or label != shown.preselected:
            st.session_state[ERROR_KEY] = DRAWING_CHANGED
            return
        label = now.preselected
    if label is None:
        st.session_state[ERROR_KEY] = PICK_A_DIGIT
        return
    if not SAVES.allow(session_id()):
        st.session_state[ERROR_KEY] = SAVING_TOO_FAST
        return
    try:
        store = DrawingStore()
        png = now.original if isinstance(now.original, bytes) else png_bytes(now.original)
        _, new = store.add(now.image, int(label), png, session=session_id(), prediction=int(np.argmax(now.probs)),
                           probs=now.probs, model_id=clf.model_id, source=source, cap=max_drawings())
    except (DrawingsError, sqlite3.Error, OSError, ValueError) as exc:
        st.session_state[ERROR_KEY] = f"Could not save the drawing: {exc}"
        return
    st.session_state.pop(ERROR_KEY, None)
    toasts = [(store.recovered, ":material/warning:")] if store.recovered else []
    article = "an" if label == 8 else "a"
    toasts.append((f"Saved as {article} {label}." if new else f"Already saved as {article} {label}.",
                   ":material/check_circle:"))
    st.session_state[TOASTS_KEY] = toasts
    if clear_canvas:
        st.session_state["clear_canvas"] = True


def show_toasts() -> None:
    """Show what the last Save said. The callback only notes it: elements drawn from a callback
    of a fragment's widget are not supported by Streamlit (it warns on every Save)."""
    for text, icon in st.session_state.pop(TOASTS_KEY, []):
        st.toast(text, icon=icon)


def send_strokes_before_save(canvas_key: str, key: str = "canvas") -> None:
    """Have the canvas `canvas_key` send its drawing the moment the Save of row `key` is pressed,
    before the click (labelling.js). Draws nothing; one per page is enough."""
    _SEND_FIRST(data={"canvas": canvas_key, "save": f"save_{key}"}, key="send_before_save")


def _preselect(label_key: str, shown: Shown) -> None:
    """Set the digit row to the prediction whenever the prediction changes (a new drawing, another
    model), and leave it to the person in between. The row's key is stable, so a default would
    hold only on its first showing: its value is set here instead, before it is drawn."""
    seen_key = f"{label_key}_shown"
    seen = (drawing_id(shown.image), shown.preselected)
    if st.session_state.get(seen_key) != seen or label_key not in st.session_state:
        st.session_state[seen_key] = seen
        st.session_state[label_key] = shown.preselected


def label_row(image28: np.ndarray, original_png: bytes | np.ndarray, probs: np.ndarray, clf, source: str,
              key: str, is_digit: bool = True, current: Current | None = None) -> None:
    """The ten digits (pre-selected on the prediction) and Save, under a prediction.

    `original_png` is the picture as PNG bytes, or the canvas' RGBA array (encoded only when
    saved). `source` is "canvas" (a save also clears the canvas) or "upload". A drawing the app
    took for no digit (`is_digit` False) gets no pre-selection. `current` gives the drawing the
    canvas (or upload) holds, and its picture, when Save is clicked (see _save)."""
    probs = np.asarray(probs, np.float32)
    shown = Shown(image28, original_png, probs, int(np.argmax(probs)) if is_digit else None)
    label_key = f"label_{key}"
    _preselect(label_key, shown)
    if is_digit:
        st.caption("Is that right? Pick the digit it really is and save it, to teach the app your handwriting "
                   "(see the My drawings tab).")
    else:
        st.caption("If it is a digit after all, pick which and save it, to teach the app your handwriting "
                   "(see the My drawings tab).")
    digits, save = st.columns([6, 1], vertical_alignment="center")
    with digits:
        st.segmented_control("The digit it really is", DIGITS, key=label_key, label_visibility="collapsed")
    with save:
        st.button("Save", key=f"save_{key}", type="primary", on_click=_save,
                  args=(shown, clf, source, label_key, source == "canvas", current))
    if ERROR_KEY in st.session_state:
        st.warning(st.session_state.pop(ERROR_KEY))
