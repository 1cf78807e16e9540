"""Training the not-a-digit gate (reading/notdigit.py) and fitting its verdict with a digit model.

The gate learns from MNIST training digits and from made-up drawings (mnist_cnn/data/): digits
pasted on a canvas or drawn with a pen, letters, shapes and scribbles, two digits seen as one, a
digit cut in half. `python -m mnist_cnn train-gate` trains it; `fit-verdict` fits with_the_reader
for a digit model and keeps it in that model's sidecar.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_cnn.data.handwriting import crossed_out_digits, drawing_like, font_letters
from mnist_cnn.data.mnist import load_mnist
from mnist_cnn.data.nondigits import TRAIN, draw_kind
from mnist_cnn.data.strokes import drawn_digit
from mnist_cnn.data.synthetic import paste_on_canvas
from mnist_cnn.data.synthetic_numbers import compose_number
from mnist_cnn.network import store
from mnist_cnn.network.inference import load_classifier
from mnist_cnn.reading.notdigit import (
    CLASS_NAMES,
    DIGIT,
    GATE_PATH,
    NOT_DIGIT,
    NOT_ONE_DIGIT,
    SIDECAR_KEY,
    Gate,
    load_gate,
    log_odds,
)
from mnist_cnn.reading.preprocess import canvas_to_mnist, ink_from_rgba, normalize_ink

FLAG_BUDGET = 0.005  # share of held-back MNIST digits the threshold may flag
LETTER_SHARE = 0.3  # of the non-digits: hand-drawn letters (what people write most)
FONT_SHARE = 0.15
RANDOM_SHARE = 0.15  # random strokes: breadth, so unseen kinds of marks are not taken for digits
WEIGHT = 1.0  # how much the digit model's doubt counts beside the gate's log-odds
COMBINED_BUDGET = FLAG_BUDGET  # share of held-back digits the combined verdict may flag
WIDTHS = (32, 64, 64, 128)  # the three convolutions' filters and the dense layer's units
THRESHOLD_DRAWINGS = 5_000  # drawn digits the threshold is checked on, besides held-back MNIST
PREDICT_BATCH = 500


@dataclass(frozen=True)
class Sizes:
    mnist: int = 40_000
    canvas_digits: int = 3_000
    pen_digits: int = 6_000
    non_digits: int = 24_000
    pairs: int = 3_000
    halves: int = 3_000
    epochs: int = 8
    drawn_digits: int = 12_000  # handwriting.py: canvas-pen and handwriting-font digits
    font_letters: int = 20_000  # letters and signs in handwriting fonts
    crossed_out: int = 3_000  # a digit with strokes across it


FULL = Sizes()


def fit_with_the_reader(clf, gate: Gate | None = None, seed: int = 0, drawings: int = THRESHOLD_DRAWINGS) -> dict:
    """The threshold of with_the_reader for a digit model (anything with predict_proba): at
    most COMBINED_BUDGET of held-back MNIST digits, and of `drawings` made-up drawn digits
    training did not use, are flagged. Returns the entry for the model's sidecar."""
    gate = gate or load_gate()
    (x_train, y_train), _ = load_mnist()
    held_back = x_train[-5_000:], y_train[-5_000:]
    digits = [held_back[0].astype(np.float32) / 255.0,
              drawing_like(drawings, seed=seed + 20, mnist=held_back)[0]]
    thresholds = []
    for x in digits:
        score = (log_odds(gate.not_digit_score(x))
                 - WEIGHT * log_odds(clf.predict_proba(x).max(axis=1)))
        thresholds.append(float(np.quantile(score, 1.0 - COMBINED_BUDGET)))
    return {"gate": gate.clf.model_id, "weight": WEIGHT, "threshold": max(thresholds), "budget": COMBINED_BUDGET}


class KerasReader:
    """A trained Keras model as fit_with_the_reader wants it, before it is saved: its verdict can
    then be written with it, so the model never shows without one."""

    def __init__(self, model) -> None:
        self.model = model

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, 28, 28) inputs to (n, 10) probabilities, as Classifier.predict_proba gives them."""
        return self.model.predict(np.asarray(x, np.float32)[..., None], batch_size=PREDICT_BATCH, verbose=0)


def fit_into_sidecar(model_path: Path, seed: int = 0) -> dict:
    """Fit with_the_reader for the model at `model_path` with the shipped gate and keep the
    result in the model's sidecar; returns it."""
    fitted = fit_with_the_reader(load_classifier(model_path), seed=seed)
    meta = {**store.read_meta(model_path), SIDECAR_KEY: fitted}
    store.write_meta(model_path, meta)
    return fitted


# ---------- training data ----------

def _canvas_digits(images: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    return [canvas_to_mnist(paste_on_canvas(im, rng)) for im in images]


def _non_digit_kind(rng: np.random.Generator) -> str:
    r = rng.uniform()
    if r < LETTER_SHARE:
        return "letter"
    if r < LETTER_SHARE + FONT_SHARE:
        return "font letter"
    if r < LETTER_SHARE + FONT_SHARE + RANDOM_SHARE:
        return "random strokes"
    shapes = list(TRAIN.shapes)
    return shapes[int(rng.integers(len(shapes)))]


def _pairs(images: np.ndarray, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Two neighbouring digits (close or touching) normalised as if they were one."""
    out = []
    for _ in range(n):
        a, b = images[rng.integers(len(images), size=2)]
        rgba = compose_number([a, b], rng, ("close", "touching")[int(rng.integers(2))], size=(240, 96),
                              scheme="white-on-black")
        out.append(normalize_ink(ink_from_rgba(rgba)))
    return out


def _halves(images: np.ndarray, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The left or right part of a wide-enough digit, cut at 35-65% of its width."""
    out = []
    while len(out) < n:
        im = images[int(rng.integers(len(images)))]
        cols = np.flatnonzero(im.max(axis=0) > 25)
        rows = np.flatnonzero(im.max(axis=1) > 25)
        width, height = cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1
        if width < 0.6 * height:
            continue
        cut = cols[0] + int(width * rng.uniform(0.35, 0.65))
        part = im.copy()
        if rng.uniform() < 0.5:
            part[:, cut:] = 0
        else:
            part[:, :cut] = 0
        image = normalize_ink(part)
        if image is not None:
            out.append(image)
    return out


def training_set(x_train: np.ndarray, sizes: Sizes = FULL, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 28, 28) float32 inputs and their classes, from MNIST training digits and generators."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x_train))
    mnist = x_train[idx[: sizes.mnist]].astype(np.float32) / 255.0
    canvas = _canvas_digits(x_train[idx[: sizes.canvas_digits]], rng)
    pen = [normalize_ink(drawn_digit(int(rng.integers(10)), rng)) for _ in range(sizes.pen_digits)]
    others = [normalize_ink(draw_kind(_non_digit_kind(rng), TRAIN, rng)) for _ in range(sizes.non_digits)]
    pairs = _pairs(x_train, sizes.pairs, rng)
    halves = _halves(x_train, sizes.halves, rng)
    drawn = list(drawing_like(sizes.drawn_digits, seed=seed + 10, mnist=(x_train, np.zeros(len(x_train))))[0])
    letters = list(font_letters(sizes.font_letters, seed=seed + 11))
    crossed = list(crossed_out_digits(sizes.crossed_out, seed=seed + 12))
    groups = [(list(mnist), DIGIT), (canvas, DIGIT), (pen, DIGIT), (drawn, DIGIT), (others, NOT_DIGIT),
              (letters, NOT_DIGIT), (crossed, NOT_DIGIT), (pairs, NOT_ONE_DIGIT), (halves, NOT_ONE_DIGIT)]
    images = [im for group, _ in groups for im in group if im is not None]
    labels = [label for group, label in groups for im in group if im is not None]
    return np.stack(images).astype(np.float32), np.asarray(labels, dtype=np.int64)


# ---------- the network ----------

def build_gate(widths: tuple[int, int, int, int] = WIDTHS):
    """conv → pool → conv → pool → conv → dense → 3 classes, `widths` wide; only layers the
    NumPy forward pass knows. The first layers are named like the digit models' (conv1, relu1)
    so the same Classifier tools apply."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(widths[0], 3, padding="same", name="conv1"),
        layers.Activation("relu", name="relu1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(widths[1], 3, padding="same", name="conv2"),
        layers.Activation("relu", name="relu2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Conv2D(widths[2], 3, name="conv3"),
        layers.Activation("relu", name="relu3"),
        layers.Flatten(name="flatten"),
        layers.Dense(widths[3], activation="relu", name="dense1"),
        layers.Dropout(0.3, name="dropout1"),
        layers.Dense(3, name="logits"),
        layers.Activation("softmax", name="softmax"),
    ], name="notdigit")


def choose_threshold(not_digit_scores: np.ndarray, budget: float = FLAG_BUDGET) -> float:
    """The lowest threshold that flags at most `budget` of these (digit) scores."""
    return float(max(np.quantile(not_digit_scores, 1.0 - budget), 0.05))


def train_gate(out: Path = GATE_PATH, sizes: Sizes = FULL, seed: int = 0) -> dict:
    """Generate the training set, train the gate, pick its threshold on held-back MNIST digits,
    and save model + sidecar. Returns the sidecar. About 3-4 minutes on 2 cores."""
    import keras


    started = time.perf_counter()
    keras.utils.set_random_seed(seed)
    (x_train, _), _ = load_mnist()
    held_back = x_train[-5_000:]
    x, y = training_set(x_train[:-5_000], sizes, seed)
    model = build_gate()
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[..., None], y, batch_size=128, epochs=sizes.epochs, shuffle=True, verbose=2)
    rng = np.random.default_rng(seed + 1)
    mnist_check = np.concatenate([held_back.astype(np.float32) / 255.0,
                                  np.stack(_canvas_digits(held_back[:2_000], rng))])
    drawn_check = drawing_like(THRESHOLD_DRAWINGS, seed=seed + 20,  # digits training did not see
                               mnist=(held_back, np.zeros(len(held_back))))[0]
    threshold = max(choose_threshold(model.predict(x[..., None], batch_size=500, verbose=0)[:, NOT_DIGIT])
                    for x in (mnist_check, drawn_check))
    meta = {"arch": "notdigit", "threshold": threshold, "flag_budget": FLAG_BUDGET, "classes": list(CLASS_NAMES),
            "train_images": int(len(x)), "epochs": sizes.epochs, "seed": seed,
            "train_accuracy": float(history.history["accuracy"][-1]),
            "train_seconds": round(time.perf_counter() - started, 1),
            "trained_by": "mnist_cnn.training.notdigit.train_gate"}
    store.save_model(model, Path(out), meta)
    return meta


if __name__ == "__main__":
    print(train_gate())
