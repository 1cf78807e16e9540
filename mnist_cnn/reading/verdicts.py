"""What the app says about one drawing: the model's verdict with the not-a-digit gate's say, in
words. Shared by the Draw tab (draw.py, number.py) and the page's first-second canvas (ui/server/shell.py),
so both say the same; no Streamlit here."""

from __future__ import annotations

import numpy as np

from mnist_cnn.config import LOW_CONFIDENCE
from mnist_cnn.network.inference import Classifier, Verdict, verdict
from mnist_cnn.reading import numbers, segment
from mnist_cnn.reading.notdigit import NOT_DIGIT, NOT_ONE_DIGIT, gate_or_none, with_the_reader

NOT_A_DIGIT = "This does not look like a digit"
NOT_A_DIGIT_VALUE = "not a digit"
NO_PREDICTION = "—"
NO_CLOSEST_DIGIT = "no digit stands out"
DRAW_HINT = "Draw one digit, large or small, anywhere."
SEVERAL_DIGITS = "That looks like more than one digit: choose *A number* above to read them all."
# The gate's probability of "digits run together" above which one-digit mode suggests number mode:
# 0.25% of 2,000 drawing-like single digits and 0.02% of MNIST's test digits get there, 93% of
# two MNIST digits written side by side on the number canvas.
SEVERAL_DIGITS_AT = 0.8


def is_flat(image: np.ndarray) -> bool:
    """A dot, a dash or a bar: lower than segment.FLAT_PENS widths of its own pen, which no digit
    is. (The gate sees such a blob only after it was scaled up to digit size, and may take it for a 0.)"""
    lay = segment.layout((np.clip(image, 0.0, 1.0) * 255).astype(np.uint8))
    return lay is not None and lay.flat


def gate_says(image: np.ndarray, digit_probs: np.ndarray | None = None,
              clf: Classifier | None = None) -> tuple[bool, bool]:
    """(looks like a digit, looks like several digits run together): not flat, and the not-a-digit
    gate's verdict (a small NumPy network beside the digit model), from one pass of it, with the
    digit model's own doubt when its `digit_probs` are given (notdigit.with_the_reader). A gate
    that cannot load never stops a prediction: a digit, and nothing said about several (the
    reason is logged once)."""
    if is_flat(image):
        return False, False
    gate = gate_or_none()
    if gate is None:
        return True, False
    probs = gate.probs(image[None])[0]
    if digit_probs is not None and clf is not None:
        is_digit = not bool(with_the_reader(gate, probs[NOT_DIGIT], digit_probs, clf.entry.meta))
    else:
        is_digit = not gate.flags(probs[NOT_DIGIT])
    return is_digit, is_digit and bool(probs[NOT_ONE_DIGIT] > SEVERAL_DIGITS_AT)


def looks_like_a_digit(image: np.ndarray) -> bool:
    """gate_says' first half: whether a 28x28 image may be shown as a digit at all."""
    return gate_says(image)[0]


def reads_as_a_number(image: np.ndarray, clf: Classifier) -> bool:
    """Whether the number reader (numbers.py) finds two or more digits in the image, each
    surely one. The gate misses pairs it takes for one odd digit ("71" as a 7) or for no digit at
    all ("17"); the reader, which cuts the drawing first, does not, and keeps a 4 or a 5 drawn in
    two strokes whole."""
    reading = numbers.read_ink(clf, image)
    return len(reading.digits) >= 2 and all(d.is_digit and not d.unsure for d in reading.digits)


def judge(image: np.ndarray, clf: Classifier, number_hint: bool = True) -> Verdict:
    """The model's verdict on one 28x28 image, with the not-a-digit gate's say and, when either
    sees more than one digit, the hint to read a number. Callers that never show the hint pass
    number_hint=False and skip the number reader's pass (about 5 ms)."""
    v = verdict(clf.predict_proba(image[None])[0])
    v.is_digit, v.several = gate_says(image, v.probs, clf)
    if number_hint:
        v.several = v.several or reads_as_a_number(image, clf)  # a flat drawing reads as one non-digit
    return v


def metric_text(v: Verdict) -> tuple[str, str]:
    """The Prediction metric's value and the line under it: ("7", "93% sure") or
    ("not a digit", "closest digit 7"), or ("not a digit", "no digit stands out") when the
    network, taught to be unsure of what is not a digit, leans to none (an X reads 9-12% each)."""
    if v.is_digit:
        return str(v.digit), f"{v.confidence:.0%} sure"
    if v.confidence < LOW_CONFIDENCE:
        return NOT_A_DIGIT_VALUE, NO_CLOSEST_DIGIT
    return NOT_A_DIGIT_VALUE, f"closest digit {v.digit}"


def phone_answer(v: Verdict | None) -> str:
    """The answer in one line, e.g. "Prediction: 7 · 93% sure"."""
    if v is None:
        return f"Prediction: {NO_PREDICTION}"
    value, delta = metric_text(v)
    return f"Prediction: {value}" + (f" · {delta}" if v.is_digit else "")
