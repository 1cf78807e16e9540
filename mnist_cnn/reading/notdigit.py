"""The not-a-digit gate: a small network that tells digits from everything else.

A digit network trained on MNIST has only ten answers, so a letter or a smiley gets a
confident digit. Rather than retrain it (its accuracy must not move), a separate small CNN
looks at the same 28x28 input and sorts it into three classes:

- DIGIT: one digit (MNIST training digits, the same digits pasted on a canvas and
  re-normalised, and digits drawn with a pen by strokes.py, so a uniform mouse stroke is no
  sign of "not a digit");
- NOT_DIGIT: letters, shapes, scribbles (nondigits.TRAIN: hand-drawn strokes and DejaVu glyphs);
- NOT_ONE_DIGIT: two neighbouring digits seen as one, or a digit cut in half. The number
  reader uses this to prefer splits into whole digits; it is not shown as "not a digit".

A picture is flagged as not a digit when P(NOT_DIGIT) exceeds a threshold chosen at training
time so that at most FLAG_BUDGET of held-back MNIST digits are flagged; the threshold is kept in
the model's sidecar. The gate uses only layers the NumPy forward pass knows, so it runs
without TensorFlow (inference.load_classifier). Training it, and fitting its verdict with a digit
model, is training/notdigit.py.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from mnist_cnn.config import SHIPPED_MODELS_DIR
from mnist_cnn.network.inference import NUMPY_MAX_BATCH, load_classifier

log = logging.getLogger(__name__)

GATE_PATH = SHIPPED_MODELS_DIR / "gates" / "notdigit.keras"  # a subfolder: not one of the digit models
DIGIT, NOT_DIGIT, NOT_ONE_DIGIT = 0, 1, 2
CLASS_NAMES = ("digit", "not a digit", "not one digit")
DEFAULT_THRESHOLD = 0.5
SIDECAR_KEY = "not_a_digit"  # a digit model's fitted say in the verdict (with_the_reader)
ODDS_EPS = 1e-7


class Gate:
    """A loaded gate: class probabilities and the not-a-digit verdict for 28x28 inputs."""

    def __init__(self, clf) -> None:
        self.clf = clf
        self.threshold = float(clf.entry.meta.get("threshold", DEFAULT_THRESHOLD))

    def probs(self, images: np.ndarray) -> np.ndarray:
        """(n, 28, 28) inputs to (n, 3) probabilities: digit, not a digit, not one digit."""
        x = np.asarray(images, dtype=np.float32)
        x = x[None] if x.ndim == 2 else x
        return np.concatenate([self.clf.predict_proba(x[i : i + NUMPY_MAX_BATCH])  # NumPy path: no TensorFlow
                               for i in range(0, len(x), NUMPY_MAX_BATCH)])

    def not_digit_score(self, images: np.ndarray) -> np.ndarray:
        """P(not a digit) for each input."""
        return self.probs(images)[:, NOT_DIGIT]

    def flags(self, score: float | np.ndarray) -> bool | np.ndarray:
        """Whether a not-a-digit score is high enough to say so."""
        return score > self.threshold

    def is_digit(self, images: np.ndarray) -> np.ndarray:
        return ~self.flags(self.not_digit_score(images))


def log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), ODDS_EPS, 1 - ODDS_EPS)
    return np.log(p) - np.log1p(-p)


def with_the_reader(gate: Gate, not_digit: np.ndarray, digit_probs: np.ndarray, meta: dict) -> np.ndarray:
    """Whether each input is not a digit, the gate and the digit model deciding together.

    A digit model trained with made-up non-digits (train_drawings: outlier exposure) is unsure of
    what is not a digit, so its confidence is a second opinion: the score is the gate's log-odds
    minus WEIGHT times the model's log-odds of its top digit, against a threshold fitted for this
    model and this gate (fit_with_the_reader, kept in the model's sidecar). A model without one
    (the seed, a retrained or fine-tuned model) or fitted with another gate: the gate alone."""
    fitted = meta.get(SIDECAR_KEY) or {}
    if fitted.get("gate") != gate.clf.model_id:
        return gate.flags(not_digit)
    score = log_odds(not_digit) - fitted["weight"] * log_odds(np.max(digit_probs, axis=-1))
    return score > fitted["threshold"]


def load_gate(path: str | Path | None = None) -> Gate:
    return Gate(load_classifier(Path(path) if path else GATE_PATH))


@lru_cache(maxsize=1)
def default_gate() -> Gate:
    """The shipped gate, loaded once per process and tried once (a file that loads but is no gate
    fails here, not on a visitor's drawing)."""
    gate = load_gate()
    answer = gate.probs(np.zeros((1, 28, 28), np.float32))
    if answer.shape != (1, len(CLASS_NAMES)):
        raise ValueError(f"{gate.clf.path} is not a not-a-digit gate: it answers {answer.shape[-1]} classes, "
                         f"not {len(CLASS_NAMES)}.")
    return gate


_unavailable_said: set[str] = set()  # each reason the gate cannot load is logged once per process


def gate_or_none() -> Gate | None:
    """The shipped gate, or None when its file is missing or broken: predictions then go on
    without the "not a digit" verdict, and the reason is logged (once) as a warning."""
    try:
        return default_gate()
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with the file, a prediction must not fail
        reason = str(exc) or type(exc).__name__
        if reason not in _unavailable_said:
            _unavailable_said.add(reason)
            log.warning("the not-a-digit gate cannot be used, so no drawing is called 'not a digit': %s "
                        "Restore %s (git checkout models/) or retrain it: python -m mnist_cnn train-gate",
                        reason, GATE_PATH)
        return None
