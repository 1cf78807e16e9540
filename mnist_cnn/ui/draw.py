"""The Draw tab: a canvas (one digit, or a whole number), the prediction after every stroke,
and an upload for pictures. Nothing here waits for TensorFlow: the model runs in NumPy."""

from __future__ import annotations

import io
from functools import partial

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import CanvasResult, st_canvas

from mnist_cnn.config import (
    CANVAS_INK,
    CANVAS_PAPER,
    CANVAS_SIZE,
    MAX_UPLOAD_MB,
    PREDICTION_COLUMNS,
)
from mnist_cnn.network.inference import Classifier, Verdict
from mnist_cnn.reading.preprocess import ImageError, canvas_to_mnist, image_to_mnist
from mnist_cnn.reading.verdicts import (
    DRAW_HINT,
    NO_PREDICTION,
    NOT_A_DIGIT,
    SEVERAL_DIGITS,
    judge,
    metric_text,
    phone_answer,
)
from mnist_cnn.ui import number, plots
from mnist_cnn.ui.common import TOOLBAR_HINT, follow_current_model, stroke_slider
from mnist_cnn.ui.labelling import label_row, send_strokes_before_save, show_toasts

MODES = ("One digit", "A number")
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp"]
PICTURE_WIDTH = 160
NO_INK_TEXT = "No digit found in that picture: try one with darker or lighter ink than the paper."
UPLOAD_KEY = "upload"
EMPTY_CANVAS_TEXT = "Draw a digit on the black canvas: the prediction appears after every stroke."


def phone_answer_html(text: str) -> str:
    """The answer in one line above the canvas, shown only on narrow screens where the columns
    stack and the full prediction falls below the fold."""
    return ("<style>@media (min-width: 641px) {.phone-answer {display: none}}"
            ".phone-answer{font-size:1.25rem;font-weight:600;margin:0 0 4px 0}</style>"
            f'<div class="phone-answer" data-testid="phone-answer" aria-live="polite">{text}</div>')


def show_prediction(image: np.ndarray | None, clf: Classifier, empty_text: str, original=None,
                    source: str = "canvas", current=None) -> Verdict | None:
    """The Prediction metric (or "not a digit"), a hedge when unsure, the ten probabilities, the
    28x28 input, and the row that labels and saves the drawing (`current`: see label_row).
    Returns the verdict."""
    show_toasts()
    if image is None:
        st.metric("Prediction", NO_PREDICTION)
        st.info(empty_text)
        return None
    v = judge(image, clf)
    value, delta = metric_text(v)
    st.metric("Prediction", value, delta=delta, delta_color="off", delta_arrow="off")
    if v.several:
        st.info(SEVERAL_DIGITS)
    elif not v.is_digit:
        st.warning(f"{NOT_A_DIGIT}: a letter, a shape or a scribble? The bars show what the network, which only "
                   "knows digits, makes of it.")
    elif v.unsure:
        st.warning(f"Not sure: {v.hedge}.")
    st.html(plots.prediction_html(v.probs, image))
    if original is not None:
        label_row(image, original, v.probs, clf, source, key=source, is_digit=v.is_digit, current=current)
    return v


def canvas_key(name: str) -> str:
    """A canvas' widget key; a new generation gives a fresh, empty canvas (after a save)."""
    return f"{name}_{st.session_state.get('canvas_generation', 0)}"


def canvas_drawing(key: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The 28x28 input and RGBA picture of what the canvas `key` holds now (None: blank), read
    from its widget state: in a callback, that may be a newer drawing than the script last showed."""
    state = st.session_state.get(key) or {}
    url = (state.get("drawing") or {}).get("data")
    rgba = CanvasResult(None, url, return_image_data=True).image_data if url else None
    image = canvas_to_mnist(rgba)
    return None if image is None else (image, rgba)


def uploaded_drawing() -> tuple[np.ndarray, bytes] | None:
    """The 28x28 input and file of the picture the uploader holds now (None: none, no ink, or
    not a picture)."""
    upload = st.session_state.get(UPLOAD_KEY)
    if upload is None:
        return None
    try:
        image = image_to_mnist(io.BytesIO(upload.getvalue()))
    except ImageError:
        return None
    return None if image is None else (image, upload.getvalue())


def clear_canvas_if_asked() -> None:
    if st.session_state.pop("clear_canvas", False):
        st.session_state["canvas_generation"] = st.session_state.get("canvas_generation", 0) + 1


@st.fragment
def digit_panel(clf: Classifier) -> None:
    follow_current_model()
    clear_canvas_if_asked()
    left, right = st.columns(PREDICTION_COLUMNS, gap="large")
    with left:
        answer = st.empty()
        stroke = stroke_slider("stroke_width")
        result = st_canvas(stroke_width=stroke, stroke_color=CANVAS_INK, background_color=CANVAS_PAPER,
                           height=CANVAS_SIZE, width=CANVAS_SIZE, drawing_mode="freedraw",
                           return_image_data=True, key=canvas_key("canvas"))
        st.caption(f"{DRAW_HINT} {TOOLBAR_HINT}")
    image = canvas_to_mnist(result.image_data)
    st.session_state["drawing"] = image
    with right:
        v = show_prediction(image, clf, EMPTY_CANVAS_TEXT, original=result.image_data, source="canvas",
                            current=partial(canvas_drawing, canvas_key("canvas")))
        send_strokes_before_save(canvas_key("canvas"))
    answer.html(phone_answer_html(phone_answer(v)))


@st.fragment
def number_panel(clf: Classifier) -> None:
    follow_current_model()
    number.render(clf)


@st.fragment
def upload_panel(clf: Classifier) -> None:
    follow_current_model()
    upload = st.file_uploader("Or upload a picture of a digit", type=UPLOAD_TYPES,
                              max_upload_size=MAX_UPLOAD_MB, key=UPLOAD_KEY)
    if upload is None:
        return
    try:
        image = image_to_mnist(upload)
    except ImageError as exc:
        st.error(f"{upload.name}: {exc}.")
        return
    left, right = st.columns(PREDICTION_COLUMNS, gap="large")
    left.image(upload, caption=upload.name, width=PICTURE_WIDTH)
    with right:
        show_prediction(image, clf, NO_INK_TEXT, original=upload.getvalue(), source="upload", current=uploaded_drawing)


def render(clf: Classifier) -> None:
    mode = st.segmented_control("What to draw", MODES, default=MODES[0], key="draw_mode",
                                label_visibility="collapsed") or MODES[0]
    if mode == MODES[1]:
        number_panel(clf)
    else:
        digit_panel(clf)
    upload_panel(clf)
