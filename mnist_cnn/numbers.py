"""Reading a whole number: the drawing split into digits, each recognised, left to right.

segment.py offers candidate digits (single strokes, slices of wide strokes, neighbours put
together). The recogniser picks among them: the reading is the split of the drawing into
digits whose recognition is most confident overall (the product of the digits'
probabilities, found by dynamic programming over the candidates). A 5's detached flag alone
is a poor digit and the body alone a doubtful one, so they stay together; two touching 0s
read as one wide blob are an unlikely 8, so they are cut apart. Each digit then goes through
the not-a-digit gate (notdigit.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_cnn import segment
from mnist_cnn.config import LOW_CONFIDENCE, MAX_NUMBER_DIGITS
from mnist_cnn.preprocess import ink_from_rgba, normalize_ink

NUMPY_BATCH = 16  # the classifier's NumPy path takes batches up to this size (no TensorFlow)
WIDE_PENALTY = 2.0  # log-score cost per digit height of width beyond WIDE_FROM
WIDE_FROM = 0.9
CUT_COST = 1.0  # log-score cost of cutting through a stroke: a confident whole beats two pieces
USE_DEFAULT_GATE = object()


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number: its 28x28 input, the probabilities and the verdict."""

    image: np.ndarray
    probs: np.ndarray
    box: segment.Box
    digit_score: float = 1.0  # the gate's probability that this is a digit at all
    is_digit: bool = True

    @property
    def digit(self) -> int:
        return int(self.probs.argmax())

    @property
    def confidence(self) -> float:
        return float(self.probs.max())

    @property
    def unsure(self) -> bool:
        return self.confidence < LOW_CONFIDENCE

    @property
    def runner_up(self) -> int:
        return int(np.argsort(self.probs)[-2])


@dataclass(frozen=True)
class NumberReading:
    """The digits found in a drawing, left to right."""

    digits: list[DigitReading]

    @property
    def text(self) -> str:
        """The number as read, e.g. "2026"; a piece that is not a digit shows as "?"."""
        return "".join(str(d.digit) if d.is_digit else "?" for d in self.digits)

    @property
    def empty(self) -> bool:
        return not self.digits

    @property
    def images(self) -> list[np.ndarray]:
        return [d.image for d in self.digits]


def _predict(clf, images: list[np.ndarray]) -> np.ndarray:
    """Probabilities for many 28x28 images, in batches small enough for the NumPy path."""
    if not images:
        return np.zeros((0, 10), np.float32)
    x = np.stack(images)
    return np.concatenate([clf.predict_proba(x[i : i + NUMPY_BATCH]) for i in range(0, len(x), NUMPY_BATCH)])


def _width_cost(box: segment.Box, digit_height: float) -> float:
    """Digits are rarely much wider than tall: a candidate wider than that is likely two."""
    return WIDE_PENALTY * max(0.0, box.width / digit_height - WIDE_FROM)


def _best_split(n: int, spans: list[tuple[int, int]], scores: list[float]) -> list[int]:
    """Indices of the spans that cover atoms 0..n-1 exactly once with the highest total score."""
    best = [0.0] + [-np.inf] * n
    back = [-1] * (n + 1)
    ending = {}
    for k, (_, j) in enumerate(spans):
        ending.setdefault(j, []).append(k)
    for j in range(1, n + 1):
        for k in ending.get(j, []):
            total = best[spans[k][0]] + scores[k]
            if total > best[j]:
                best[j], back[j] = total, k
    chosen, j = [], n
    while j > 0:
        k = back[j]
        chosen.append(k)
        j = spans[k][0]
    return chosen[::-1]


def read_ink(clf, ink: np.ndarray, gate=USE_DEFAULT_GATE) -> NumberReading:
    """Read the number in a uint8 ink image (any size). `gate`: a notdigit.Gate, None for
    none, or by default the shipped one."""
    lay = segment.layout(ink)
    if lay is None:
        return NumberReading([])
    spans = segment.spans(lay)
    images = [normalize_ink(segment.span_ink(lay, s)) for s in spans]
    usable = [k for k, im in enumerate(images) if im is not None]
    probs = np.zeros((len(spans), 10), np.float32)
    probs[usable] = _predict(clf, [images[k] for k in usable])
    scores = [float(np.log(probs[k].max() + 1e-6)) - CUT_COST * lay.is_cut(s[0])
              - _width_cost(segment.span_box(lay, s), lay.digit_height) for k, s in enumerate(spans)]
    chosen = _best_split(len(lay.atoms), spans, scores)
    chosen = [k for k in chosen if images[k] is not None][:MAX_NUMBER_DIGITS * 2]
    if gate is USE_DEFAULT_GATE:
        from mnist_cnn.notdigit import default_gate

        gate = default_gate()
    digit_scores = gate.digit_score(np.stack([images[k] for k in chosen])) if gate is not None and chosen else None
    readings = []
    for i, k in enumerate(chosen):
        score = float(digit_scores[i]) if digit_scores is not None else 1.0
        readings.append(DigitReading(images[k], probs[k], segment.span_box(lay, spans[k]), score,
                                     is_digit=gate is None or gate.accepts(score)))
    return NumberReading(readings)


def read_number(clf, rgba: np.ndarray | None, gate=USE_DEFAULT_GATE) -> NumberReading:
    """Read the number drawn on a canvas (HxWx4 uint8, any colour scheme); empty for a blank
    canvas."""
    if rgba is None:
        return NumberReading([])
    return read_ink(clf, ink_from_rgba(np.asarray(rgba)), gate)
