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
from functools import lru_cache

import numpy as np

from mnist_cnn import segment
from mnist_cnn.config import LOW_CONFIDENCE, MAX_NUMBER_DIGITS
from mnist_cnn.inference import NUMPY_MAX_BATCH, load_classifier
from mnist_cnn.notdigit import DIGIT, NOT_DIGIT, NOT_ONE_DIGIT, default_gate
from mnist_cnn.preprocess import ink_from_rgba, normalize_ink

# The split of a drawing into digits maximises the sum of log-scores: each digit's top
# probability times the gate's "one whole digit" probability (GATE_WEIGHT), minus these costs.
CUT_COST = 1.0  # cutting through a stroke: a confident whole beats two pieces
WIDE_PENALTY = 3.0  # per digit height of width beyond WIDE_FROM: digits are rarely wider than tall
WIDE_FROM = 0.9
OVERLAP_COST = 4.0  # two neighbouring digits one above the other (more likely parts of one digit)
FREE_OVERLAP = 0.35  # share of the narrower digit's width neighbours may overlap at no cost
SMALL_ALONE_COST = 4.0  # a small bit (a flag, a broken-off end) read as a digit on its own
GATE_WEIGHT = 1.0
# In a number, a piece is called "not a digit" only when the gate is fairly sure of it: the
# person said they are writing digits, and a ? in the middle of a number costs more than a
# missed letter. (One-digit mode uses the gate's own, lower threshold.)
NUMBER_FLAG_AT = 0.8
LETTER_STROKE_AT = 0.5  # a cut stroke is read whole when the gate thinks it more likely a letter than not
LETTER_MAX_WIDTH = 1.5  # wider strokes are taken for digits run together, never for one letter
USE_DEFAULT_GATE = object()


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number: its 28x28 input, the probabilities and the verdict."""

    image: np.ndarray
    probs: np.ndarray
    box: segment.Box
    not_digit_score: float = 0.0  # the gate's probability that this is not a digit at all
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


@lru_cache(maxsize=1)
def default_classifier():
    """The current digit model, loaded once per process (NumPy only, no TensorFlow)."""
    return load_classifier()


def _predict(clf, x: np.ndarray) -> np.ndarray:
    """Probabilities for many 28x28 images, in batches small enough for the NumPy path."""
    return np.concatenate([clf.predict_proba(x[i : i + NUMPY_MAX_BATCH]) for i in range(0, len(x), NUMPY_MAX_BATCH)])


def _width_cost(box: segment.Box, digit_height: float) -> float:
    """Digits are rarely much wider than tall: a candidate wider than that is likely two."""
    return WIDE_PENALTY * max(0.0, box.width / digit_height - WIDE_FROM)


def _overlap_cost(a: segment.Box, b: segment.Box) -> float:
    """Neighbouring digits of a number written left to right hardly overlap: two pieces one above
    the other are more likely parts of one digit."""
    overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
    share = overlap / max(1, min(a.width, b.width))
    return OVERLAP_COST * max(0.0, share - FREE_OVERLAP) / (1.0 - FREE_OVERLAP)


def _best_split(n: int, spans: list[tuple[int, int]], scores: list[float], boxes: list[segment.Box]) -> list[int]:
    """Indices of the spans that cover atoms 0..n-1 exactly once with the highest total score,
    neighbours' overlap counted against it (dynamic programming over the last span)."""
    starting: dict[int, list[int]] = {}
    for k, (i, _) in enumerate(spans):
        starting.setdefault(i, []).append(k)
    best = [-np.inf] * len(spans)
    back = [-1] * len(spans)
    for k in sorted(range(len(spans)), key=lambda k: spans[k][0]):
        if spans[k][0] == 0:
            best[k] = scores[k]
        if best[k] == -np.inf:
            continue
        for nxt in starting.get(spans[k][1], []):
            total = best[k] + scores[nxt] - _overlap_cost(boxes[k], boxes[nxt])
            if total > best[nxt]:
                best[nxt], back[nxt] = total, k
    ends = [k for k, (_, j) in enumerate(spans) if j == n and best[k] > -np.inf]
    if not ends:
        return []
    chosen = [max(ends, key=lambda k: best[k])]
    while back[chosen[-1]] != -1:
        chosen.append(back[chosen[-1]])
    return chosen[::-1]


def _strokes_not_digits(lay: segment.Layout, gate) -> set[int]:
    """Strokes that were cut but, whole, look to the gate like a letter or a shape rather than
    like digits run together: they are not cut into digit-like pieces (a W is not three 1s)."""
    if gate is None:
        return set()
    wholes = {}
    for stroke in set(lay.strokes):
        atoms = [i for i, s in enumerate(lay.strokes) if s == stroke]
        width = segment.span_box(lay, (atoms[0], atoms[-1] + 1)).width
        if 1 < len(atoms) == atoms[-1] + 1 - atoms[0] and width <= LETTER_MAX_WIDTH * lay.digit_height:
            image = normalize_ink(segment.span_ink(lay, (atoms[0], atoms[-1] + 1)))
            if image is not None:
                wholes[stroke] = image
    if not wholes:
        return set()
    probs = gate.probs(np.stack(list(wholes.values())))
    return {stroke for stroke, p in zip(wholes, probs)
            if gate.flags(p[NOT_DIGIT]) and p[NOT_DIGIT] > max(p[NOT_ONE_DIGIT], LETTER_STROKE_AT)}


def _cuts_into(lay: segment.Layout, span: tuple[int, int], strokes: set[int]) -> bool:
    i, j = span
    return (lay.is_cut(i) and lay.strokes[i] in strokes) or (lay.is_cut(j) and lay.strokes[j - 1] in strokes)


def _resolve_gate(gate):
    if gate is USE_DEFAULT_GATE:
        return default_gate()
    return gate


def read_ink(clf, ink: np.ndarray, gate=USE_DEFAULT_GATE) -> NumberReading:
    """Read the number in an ink image (uint8, or float in [0, 1]; any size). `gate`: a
    notdigit.Gate, None for none, or by default the shipped one."""
    if ink.dtype != np.uint8:
        ink = (np.clip(ink, 0.0, 1.0) * 255).astype(np.uint8)
    lay = segment.layout(ink)
    if lay is None:
        return NumberReading([])
    gate = _resolve_gate(gate)
    whole = _strokes_not_digits(lay, gate)
    spans = segment.spans(lay)
    for stroke in whole:  # such a stroke is read whole, however wide
        atoms = [i for i, s in enumerate(lay.strokes) if s == stroke]
        if (atoms[0], atoms[-1] + 1) not in spans:
            spans.append((atoms[0], atoms[-1] + 1))
    images = [normalize_ink(segment.span_ink(lay, span)) for span in spans]
    usable = [k for k, image in enumerate(images) if image is not None]  # faint specks have none
    if not usable:
        return NumberReading([])
    x = np.stack([images[k] for k in usable])
    probs = np.zeros((len(spans), 10), np.float32)
    probs[usable] = _predict(clf, x)
    gate_probs = np.zeros((len(spans), 3), np.float32)
    gate_probs[:, DIGIT] = 1.0
    if gate is not None:
        gate_probs[usable] = _predict(gate.clf, x)
    scores = [float(np.log(probs[k].max() + 1e-6) + GATE_WEIGHT * np.log(gate_probs[k, DIGIT] + 1e-6))
              - CUT_COST * lay.is_cut(s[0]) - _width_cost(segment.span_box(lay, s), lay.digit_height)
              - SMALL_ALONE_COST * (s[1] - s[0] == 1 and lay.is_small(s[0])) for k, s in enumerate(spans)]
    for k, s in enumerate(spans):
        if _cuts_into(lay, s, whole):
            scores[k] = -np.inf
        if images[k] is None:  # a faint speck on its own is skipped; in a group it spoils nothing
            scores[k] = 0.0 if s[1] - s[0] == 1 else -np.inf
    boxes = [segment.span_box(lay, s) for s in spans]
    chosen = [k for k in _best_split(len(lay.atoms), spans, scores, boxes) if images[k] is not None]
    readings = []
    for k in chosen[: MAX_NUMBER_DIGITS * 2]:
        score = float(gate_probs[k, NOT_DIGIT])
        readings.append(DigitReading(images[k], probs[k], segment.span_box(lay, spans[k]), score,
                                     is_digit=gate is None or not (gate.flags(score) and score > NUMBER_FLAG_AT)))
    return NumberReading(readings)


def read_number(clf, rgba: np.ndarray | None, gate=USE_DEFAULT_GATE) -> NumberReading:
    """Read the number drawn on a canvas (HxWx4 uint8, any colour scheme); empty for a blank
    canvas."""
    if rgba is None:
        return NumberReading([])
    return read_ink(clf, ink_from_rgba(np.asarray(rgba)), gate)
