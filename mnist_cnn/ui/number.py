"""The Draw tab's "A number" mode: a wide canvas, the number read left to right, and each
digit's 28x28 input, confidence and probabilities beneath. Pieces the gate does not take for a
digit say so. The work is in numbers.py and notdigit.py; this module only lays it out."""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from mnist_cnn.config import (
    CANVAS_INK,
    CANVAS_PAPER,
    MAX_NUMBER_DIGITS,
    NUMBER_CANVAS,
)
from mnist_cnn.network.inference import Classifier
from mnist_cnn.reading.numbers import DigitReading, NumberReading, read_number
from mnist_cnn.reading.verdicts import NOT_A_DIGIT
from mnist_cnn.ui import plots
from mnist_cnn.ui.common import TOOLBAR_HINT, plural, stroke_slider

DIGIT_SCALE = 3  # each digit's 28x28 input shown 84 px wide
TOP_GUESSES = 3
ZOOM_STEPS = (0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4)  # the number canvas on narrow screens: 280 px wide at least
EMPTY_TEXT = (f"Write a number of up to {MAX_NUMBER_DIGITS} digits on the black canvas, left to right: "
              "the reading appears after every stroke.")


def _guesses(probs: np.ndarray) -> str:
    order = np.argsort(probs)[::-1][:TOP_GUESSES]
    return " · ".join(f"{d} {probs[d]:.0%}" for d in order)


def _digit_column(d: DigitReading) -> None:
    st.image(plots.digit_image(d.image, DIGIT_SCALE), caption="28×28 input")
    if not d.is_digit:
        st.markdown(f"**?** :orange[{NOT_A_DIGIT}]")
    elif d.unsure:
        st.markdown(f"**{d.digit}** · {d.confidence:.0%}  \n:orange[not sure: maybe a {d.digit}, or a {d.runner_up}]")
    else:
        st.markdown(f"**{d.digit}** · {d.confidence:.0%}")
    st.caption(_guesses(d.probs))


def show_reading(reading: NumberReading) -> None:
    """The Prediction metric (the number), then one column per digit."""
    if reading.empty:
        st.metric("Prediction", "—")
        st.info(EMPTY_TEXT)
        return
    read = [d.confidence for d in reading.digits if d.is_digit]  # a ? has no confidence to speak of
    st.metric("Prediction", reading.text, delta=f"least sure digit {min(read):.0%}" if read else None,
              delta_color="off", delta_arrow="off")
    flagged = len(reading.digits) - len(read)
    if flagged == len(reading.digits):
        st.warning(f"{NOT_A_DIGIT}: no digit found in the drawing.")
    elif flagged:
        st.warning(f"{NOT_A_DIGIT}: {plural(flagged, 'piece')} of {len(reading.digits)}, shown as ?.")
    if len(reading.digits) > MAX_NUMBER_DIGITS:
        st.warning(f"That is {len(reading.digits)} pieces; the canvas is meant for up to {MAX_NUMBER_DIGITS} digits.")
    for start in range(0, len(reading.digits), MAX_NUMBER_DIGITS):
        row = reading.digits[start : start + MAX_NUMBER_DIGITS]
        for col, d in zip(st.columns(MAX_NUMBER_DIGITS), row):
            with col:
                _digit_column(d)


def fit_to_screen_css(key: str, width: int) -> str:
    """On a screen narrower than the canvas (a phone: 700 px of canvas in 358 px), the canvas is
    shown smaller, in steps of a tenth, so that all of it can be drawn on: CSS zoom, through which
    the drawing library maps the pointer. The picture it sends is still `width` pixels wide."""
    rules = [f".st-key-{key} {{container-type: inline-size; width: 100%}}"]
    for larger, zoom in zip((1.0, *ZOOM_STEPS), ZOOM_STEPS):
        rules.append(f"@container (max-width: {larger * width - 0.5:.1f}px) {{.st-key-{key} > * {{zoom: {zoom}}}}}")
    return "<style>" + "\n".join(rules) + "</style>"


def render(clf: Classifier) -> None:
    """The "A number" mode's body (the caller wraps it in a fragment)."""
    stroke = stroke_slider("number_stroke_width")
    width, height = NUMBER_CANVAS
    st.html(fit_to_screen_css("number_canvas", width))
    result = st_canvas(stroke_width=stroke, stroke_color=CANVAS_INK, background_color=CANVAS_PAPER,
                       height=height, width=width, drawing_mode="freedraw", return_image_data=True,
                       key="number_canvas")
    st.caption("Write digits side by side; strokes of one digit may be apart (a 5's flag), and digits that "
               "touch are cut apart where they can be (a small gap is surer). Only digits are read: a minus "
               f"sign or a decimal point is left out. {TOOLBAR_HINT}")
    show_reading(read_number(clf, result.image_data))
