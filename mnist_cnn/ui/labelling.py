"""Under a prediction: say what the digit really is and keep the drawing.

A row of the ten digits, pre-selected on the prediction, and a Save button: confirming a right
answer is one click, correcting a wrong one is two. Saving happens in the button's callback, so
the toast shows and the canvas is cleared for the next drawing in the same rerun. Saving the same
drawing twice keeps one row (the store's content hash). A store that cannot be written shows one
line; drawing goes on regardless.
"""

from __future__ import annotations

import hashlib
import sqlite3

import numpy as np
import streamlit as st

from mnist_cnn.config import NUM_CLASSES
from mnist_cnn.drawings import DrawingsError, DrawingStore, png_bytes, to_uint8
from mnist_cnn.ui.common import session_id

DIGITS = list(range(NUM_CLASSES))
ERROR_KEY = "labelling_error"


def _widget_suffix(image28: np.ndarray, key: str) -> str:
    """A new drawing gets new widgets, so the row is pre-selected on its own prediction."""
    return f"{key}_{hashlib.sha1(to_uint8(image28).tobytes()).hexdigest()[:10]}"


def _save(image28: np.ndarray, original: bytes | np.ndarray, probs: np.ndarray, model_id: str, source: str,
          label_key: str, clear_canvas: bool) -> None:
    """The Save button's callback: store the drawing, confirm, and ask for a fresh canvas."""
    label = st.session_state.get(label_key)
    if label is None:
        st.session_state[ERROR_KEY] = "Pick the digit it really is, then press Save."
        return
    try:
        store = DrawingStore()
        png = original if isinstance(original, bytes) else png_bytes(original)
        _, new = store.add(image28, int(label), png, session=session_id(), prediction=int(np.argmax(probs)),
                           probs=probs, model_id=model_id, source=source)
    except (DrawingsError, sqlite3.Error, OSError, ValueError) as exc:
        st.session_state[ERROR_KEY] = f"Could not save the drawing: {exc}"
        return
    st.session_state.pop(ERROR_KEY, None)
    if store.recovered:
        st.toast(store.recovered, icon=":material/warning:")
    article = "an" if label == 8 else "a"
    st.toast(f"Saved as {article} {label}." if new else f"Already saved as {article} {label}.",
             icon=":material/check_circle:")
    if clear_canvas:
        st.session_state["clear_canvas"] = True


def label_row(image28: np.ndarray, original_png: bytes | np.ndarray, probs: np.ndarray, clf, source: str,
              key: str, is_digit: bool = True) -> None:
    """The ten digits (pre-selected on the prediction) and Save, under a prediction.

    `original_png` is the picture as PNG bytes, or the canvas' RGBA array (encoded only when
    saved). `source` is "canvas" (a save also clears the canvas) or "upload". A drawing the app
    took for no digit (`is_digit` False) gets no pre-selection: one click must not save a letter
    as the digit it was closest to."""
    suffix = _widget_suffix(image28, key)
    label_key = f"label_{suffix}"
    if is_digit:
        st.caption("Is that right? Pick the digit it really is and save it, to teach the app your handwriting "
                   "(see the My drawings tab).")
    else:
        st.caption("If it is a digit after all, pick which and save it, to teach the app your handwriting "
                   "(see the My drawings tab).")
    digits, save = st.columns([6, 1], vertical_alignment="center")
    with digits:
        st.segmented_control("The digit it really is", DIGITS, default=int(np.argmax(probs)) if is_digit else None,
                             key=label_key, label_visibility="collapsed")
    with save:
        st.button("Save", key=f"save_{suffix}", type="primary", on_click=_save,
                  args=(image28, original_png, np.asarray(probs, np.float32), clf.model_id, source, label_key,
                        source == "canvas"))
    if ERROR_KEY in st.session_state:
        st.warning(st.session_state.pop(ERROR_KEY))
