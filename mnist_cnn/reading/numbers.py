"""Reading a whole number: the drawing split into digits, each recognised, left to right.

segment.py offers candidate digits (single strokes, slices of wide strokes, neighbours put
together). The recogniser and the not-a-digit gate (notdigit.py) judge each candidate, and the
reading is the split of the drawing into candidates that scores best overall (dynamic
programming over the candidates), a candidate's score weighing the networks' verdicts with
its shape: how wide, how short, how thin, how much ink its cuts went through. A 5's detached
flag alone is a poor digit and the body alone a doubtful one, so they stay together; two
touching 0s read as one wide blob are an unlikely 8, so they are cut apart. The weights were
fitted on numbers made of MNIST training digits (fit_numbers.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from mnist_cnn.config import LOW_CONFIDENCE, MAX_NUMBER_DIGITS, SHIPPED_MODELS_DIR
from mnist_cnn.network.inference import NUMPY_MAX_BATCH, load_classifier
from mnist_cnn.reading import segment
from mnist_cnn.reading.notdigit import DIGIT, NOT_DIGIT, NOT_ONE_DIGIT, gate_or_none
from mnist_cnn.reading.preprocess import ink_from_rgba, normalize_ink

# The split of a drawing into digits maximises the sum of the chosen candidates' scores, each a
# weighted sum of what speaks for it being one whole digit (SPAN_FEATURES), minus a weighted sum
# of what speaks against two neighbours being neighbouring digits (PAIR_FEATURES). The weights
# were fitted (fit_numbers.py, an averaged structured perceptron) on numbers made of MNIST
# *training* digits and of pen-drawn digits, so the benchmark's test digits stay unseen.
SPAN_FEATURES = (
    "log P(digit)",  # the recogniser's confidence in its answer
    "log P(one digit)",  # the gate's: one whole digit, not a piece, a pair or a letter
    "log P(not one digit)",  # the gate's: two digits run together, or a digit cut in half
    "cut",  # its left edge cuts through a stroke
    "cut ink",  # how much ink (digit heights) the cuts at its edges went through
    "log P(not a digit)",  # the gate's: a letter or a scribble
    "too wide",  # digit heights of width beyond WIDE_FROM: digits are rarely wider than tall
    "small alone",  # a small bit (a flag, a broken-off end) read as a digit on its own
    "atoms joined",  # pieces put together beyond the first
    "short",  # how much lower than the tallest stroke it is (pieces of digits are short)
    "digit",  # 1 for every digit read: more or fewer digits
    "margin",  # log-odds of the recogniser's answer against its runner-up
    "aspect",  # width over height
    *(f"reads {d}" for d in range(10)),  # a slice of a stroke reads as a 1 more easily than as an 8
    "thin",  # how much thinner than the drawing's usual stroke it is (a hair-thin line is no 1)
)
PAIR_FEATURES = (
    "overlap",  # they overlap most of the narrower one's width (more likely parts of one digit)
    "stacked",  # one is above the other rather than beside it (the halves of a broken 1)
)
WEIGHTS_PATH = SHIPPED_MODELS_DIR / "reader" / "numbers.json"  # written by training/fit_numbers.py


def load_weights(path: Path = WEIGHTS_PATH) -> tuple[np.ndarray, np.ndarray]:
    """SPAN_WEIGHTS and PAIR_WEIGHTS as the fitting command wrote them, for these features."""
    fitted = json.loads(Path(path).read_text())
    if tuple(fitted["span_features"]) != SPAN_FEATURES or tuple(fitted["pair_features"]) != PAIR_FEATURES:
        raise ValueError(f"{path} was fitted for other features; refit: python -m mnist_cnn.training.fit_numbers")
    return np.array(fitted["span_weights"]), np.array(fitted["pair_weights"])


SPAN_WEIGHTS, PAIR_WEIGHTS = load_weights()  # read once, at start
WIDE_FROM = 0.9
LOG_FLOOR = 1e-6  # probabilities below this count as this in the features
FREE_OVERLAP = 0.35  # share of the narrower digit's width neighbours may overlap at no cost
# In a number, a piece is called "not a digit" only when the gate is fairly sure of it: the
# person said they are writing digits, and a ? in the middle of a number costs more than a
# missed letter. (One-digit mode uses the gate's own, lower threshold.)
NUMBER_FLAG_AT = 0.8
LETTER_STROKE_AT = 0.8  # a cut stroke is read whole when the gate is fairly sure it is a letter
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


def pair_features(a: segment.Box, b: segment.Box) -> np.ndarray:
    """What speaks against two neighbouring candidates being neighbouring digits (PAIR_FEATURES),
    each from 0 to 1: digits of a number written left to right stand side by side, hardly
    overlapping, so two pieces one above the other are more likely parts of one digit."""
    shared = min(a.x1, b.x1) - max(a.x0, b.x0)
    overlap = max(0.0, shared / max(1, min(a.width, b.width)) - FREE_OVERLAP) / (1.0 - FREE_OVERLAP)
    beside = max(0, min(a.y1, b.y1) - max(a.y0, b.y0)) / max(1, min(a.height, b.height))
    return np.array([overlap, 1.0 - beside])


def _log(p: float) -> float:
    """log p, no lower than log LOG_FLOOR: beyond that, a network's certainty means nothing more."""
    return float(np.log(max(p, LOG_FLOOR)))


def span_features(lay: segment.Layout, spans: list[tuple[int, int]], probs: np.ndarray,
                  gate_probs: np.ndarray, boxes: list[segment.Box]) -> np.ndarray:
    """(len(spans), len(SPAN_FEATURES)): what speaks for and against each candidate being one
    whole digit."""
    out = np.zeros((len(spans), len(SPAN_FEATURES)))
    for k, ((i, j), box) in enumerate(zip(spans, boxes)):
        top, top_k = np.sort(probs[k]), int(probs[k].argmax())
        out[k] = (_log(probs[k].max()), _log(gate_probs[k, DIGIT]), _log(gate_probs[k, NOT_ONE_DIGIT]),
                  lay.is_cut(i), lay.cuts[i][0] + lay.cuts[j - 1][1], _log(gate_probs[k, NOT_DIGIT]),
                  max(0.0, box.width / lay.digit_height - WIDE_FROM), j - i == 1 and lay.is_small(i),
                  j - i - 1, 1.0 - box.height / lay.digit_height, 1.0,
                  _log(top[-1]) - _log(top[-2]), box.width / box.height, *np.eye(10)[top_k],
                  lay.thinness((i, j)))
    return out


def best_split(n: int, spans: list[tuple[int, int]], scores: list[float], boxes: list[segment.Box],
               pair_weights: np.ndarray = PAIR_WEIGHTS) -> list[int]:
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
            total = best[k] + scores[nxt] - float(pair_features(boxes[k], boxes[nxt]) @ pair_weights)
            if total > best[nxt]:
                best[nxt], back[nxt] = total, k
    ends = [k for k, (_, j) in enumerate(spans) if j == n and best[k] > -np.inf]
    if not ends:
        return []
    chosen = [max(ends, key=lambda k: best[k])]
    while back[chosen[-1]] != -1:
        chosen.append(back[chosen[-1]])
    return chosen[::-1]


def _strokes_not_digits(lay: segment.Layout, gate) -> dict[int, tuple[int, int]]:
    """Strokes that were cut but, whole, look to the gate like a letter or a shape rather than
    like digits run together, with the span of their atoms: they are not cut into digit-like
    pieces (a W is not three 1s)."""
    if gate is None:
        return {}
    wholes, images = {}, []
    for stroke in set(lay.strokes):
        atoms = [i for i, s in enumerate(lay.strokes) if s == stroke]
        span = (atoms[0], atoms[-1] + 1)
        width = segment.span_box(lay, span).width
        if 1 < len(atoms) == span[1] - span[0] and width <= LETTER_MAX_WIDTH * lay.digit_height:
            image = normalize_ink(segment.span_ink(lay, span))
            if image is not None:
                wholes[stroke] = span
                images.append(image)
    if not wholes:
        return {}
    probs = gate.probs(np.stack(images))
    return {stroke: span for (stroke, span), p in zip(wholes.items(), probs)
            if gate.flags(p[NOT_DIGIT]) and p[NOT_DIGIT] > max(p[NOT_ONE_DIGIT], LETTER_STROKE_AT)}


def _cuts_into(lay: segment.Layout, span: tuple[int, int], strokes: dict[int, tuple[int, int]]) -> bool:
    i, j = span
    return (lay.is_cut(i) and lay.strokes[i] in strokes) or (lay.is_cut(j) and lay.strokes[j - 1] in strokes)


def _resolve_gate(gate):
    """The gate asked for; the shipped one by default, or None (no "not a digit") when it cannot load."""
    if gate is USE_DEFAULT_GATE:
        return gate_or_none()
    return gate


@dataclass(frozen=True)
class Candidates:
    """A drawing's atoms, its candidate digits (spans of atoms) and what the networks say of each."""

    lay: segment.Layout
    spans: list[tuple[int, int]]
    images: list[np.ndarray | None]  # None for a faint speck
    probs: np.ndarray  # (n, 10) the recogniser's
    gate_probs: np.ndarray  # (n, 3) the gate's
    allowed: np.ndarray  # False where a span may not be a digit (it cuts a letter apart, or is faint)

    @cached_property  # computed once: read_ink and the weight fitting (fit_numbers.py) ask again and again
    def features(self) -> np.ndarray:
        return span_features(self.lay, self.spans, self.probs, self.gate_probs, self.boxes)

    @cached_property
    def boxes(self) -> list[segment.Box]:
        return [segment.span_box(self.lay, s) for s in self.spans]


def candidates(clf, ink: np.ndarray, gate=USE_DEFAULT_GATE) -> Candidates | None:
    """The candidate digits of a uint8 ink image, recognised; None when nothing is drawn."""
    lay = segment.layout(ink)
    return None if lay is None else layout_candidates(clf, lay, gate)


def layout_candidates(clf, lay: segment.Layout, gate=USE_DEFAULT_GATE) -> Candidates | None:
    """As candidates(), for a drawing already cut into atoms."""
    gate = _resolve_gate(gate)
    whole = _strokes_not_digits(lay, gate)
    spans = segment.spans(lay)
    spans += [span for span in whole.values() if span not in spans]  # such a stroke is read whole, however wide
    images = [normalize_ink(segment.span_ink(lay, span)) for span in spans]
    usable = [k for k, image in enumerate(images) if image is not None]  # faint specks have none
    if not usable:
        return None
    x = np.stack([images[k] for k in usable])
    probs = np.zeros((len(spans), 10), np.float32)
    probs[usable] = _predict(clf, x)
    gate_probs = np.zeros((len(spans), 3), np.float32)
    gate_probs[:, DIGIT] = 1.0
    if gate is not None:
        gate_probs[usable] = _predict(gate.clf, x)
    allowed = np.array([not _cuts_into(lay, s, whole) and images[k] is not None for k, s in enumerate(spans)])
    return Candidates(lay, spans, images, probs, gate_probs, allowed)


def span_scores(cands: Candidates, weights: np.ndarray = SPAN_WEIGHTS) -> np.ndarray:
    """How good each candidate is as one digit; -inf where it may not be one. A faint speck alone
    scores 0: it is skipped, neither a digit nor a cost."""
    scores = cands.features @ weights
    faint_alone = np.array([image is None and j - i == 1 for image, (i, j) in zip(cands.images, cands.spans)])
    return np.where(cands.allowed, scores, np.where(faint_alone, 0.0, -np.inf))


def read_ink(clf, ink: np.ndarray, gate=USE_DEFAULT_GATE) -> NumberReading:
    """Read the number in an ink image (uint8, or float in [0, 1]; any size). `gate`: a
    notdigit.Gate, None for none, or by default the shipped one."""
    if ink.dtype != np.uint8:
        ink = (np.clip(ink, 0.0, 1.0) * 255).astype(np.uint8)
    gate = _resolve_gate(gate)
    lay = segment.layout(ink)
    if lay is None:
        return NumberReading([])
    if lay.flat:
        return _flat_drawing(clf, lay)
    cands = layout_candidates(clf, lay, gate)
    if cands is None:
        return NumberReading([])
    boxes = cands.boxes
    chosen = [k for k in best_split(len(cands.lay.atoms), cands.spans, list(span_scores(cands)), boxes)
              if cands.images[k] is not None]
    readings = []
    for k in chosen[: MAX_NUMBER_DIGITS * 2]:
        score = float(cands.gate_probs[k, NOT_DIGIT])
        readings.append(DigitReading(cands.images[k], cands.probs[k], boxes[k], score,
                                     is_digit=gate is None or not (gate.flags(score) and score > NUMBER_FLAG_AT)))
    return NumberReading(readings)


def _flat_drawing(clf, lay: segment.Layout) -> NumberReading:
    """A flat drawing (segment.FLAT_PENS): the whole of it, as one piece that is not a digit."""
    whole = (0, len(lay.atoms))
    image = normalize_ink(segment.span_ink(lay, whole))
    if image is None:
        return NumberReading([])
    return NumberReading([DigitReading(image, _predict(clf, image[None])[0], segment.span_box(lay, whole),
                                       not_digit_score=1.0, is_digit=False)])


def read_number(clf, rgba: np.ndarray | None, gate=USE_DEFAULT_GATE) -> NumberReading:
    """Read the number drawn on a canvas (HxWx4 uint8, any colour scheme); empty for a blank
    canvas."""
    if rgba is None:
        return NumberReading([])
    return read_ink(clf, ink_from_rgba(np.asarray(rgba)), gate)


def canvas_to_digits(rgba: np.ndarray | None, clf=None) -> list[np.ndarray]:
    """The digits written on a (wide) canvas as (28, 28) inputs normalised like canvas_to_mnist,
    left to right; [] for a blank canvas. Strokes of one digit stay together even when they do
    not touch; touching digits are cut where the recogniser (`clf`, by default the current
    model) reads whole digits best."""
    return read_number(clf or default_classifier(), rgba).images
