"""Fitting the number reader's weights on numbers made of MNIST *training* digits.

`python -m mnist_cnn.training.fit_numbers` composes numbers of 2-6 training digits in every spacing
(synthetic_numbers.compose_owned, which knows which digit owns each pixel), finds for each the
right split among the reader's candidates, and fits numbers.SPAN_WEIGHTS and PAIR_WEIGHTS by an
averaged structured perceptron: whenever the best split under the current weights reads the
wrong number, the weights move towards the right split's features and away from the wrong
one's. It writes them to numbers.WEIGHTS_PATH (models/reader/numbers.json), which the reader
reads at start. Test digits are never used, so the benchmark (bench/numbers.py) stays a fair test.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from mnist_cnn.config import DEFAULT_STROKE_WIDTH, NUMBER_CANVAS
from mnist_cnn.data.mnist import load_mnist
from mnist_cnn.data.strokes import draw_polylines, place_glyphs, random_digit_glyph
from mnist_cnn.data.synthetic_numbers import SPACINGS, compose_owned
from mnist_cnn.network import store
from mnist_cnn.network.inference import load_classifier
from mnist_cnn.network.store import shipped_model_path
from mnist_cnn.reading import numbers, segment
from mnist_cnn.reading.notdigit import default_gate

PEN_GAPS = (0.0, 0.5)  # pen-drawn digits from touching-ish to apart, in digit heights
MOSTLY = 0.7  # a candidate is a digit when it holds this share of the digit's ink and the digit this share of its


@dataclass(frozen=True)
class Example:
    """One composed number, its candidates, and which digit of the number each candidate is."""

    text: str
    cands: numbers.Candidates  # its features are computed once (numbers.Candidates.features)
    places: np.ndarray  # see span_places


def span_places(lay: segment.Layout, owner: np.ndarray, spans: list[tuple[int, int]], text: str,
                answers: np.ndarray) -> np.ndarray:
    """For each candidate, the place in the number of the digit it stands for, or -1: most of its
    ink is that digit's, it holds most of that digit's ink (MOSTLY), and the recogniser reads it as
    that digit. A split of such candidates in order reads the number right."""
    n_digits = len(text)
    mask = lay.labels > 0
    owners = np.where(owner[mask] < 0, n_digits, owner[mask]).astype(np.int64)
    counts = np.zeros((len(lay.atoms) + 1, n_digits + 1), np.int64)
    np.add.at(counts, (lay.labels[mask], owners), 1)
    counts = counts[1:]
    totals = counts.sum(axis=0)
    out = np.full(len(spans), -1)
    for k, (i, j) in enumerate(spans):
        c = counts[i:j].sum(axis=0)
        d = int(np.argmax(c[:n_digits]))
        if c[d] >= MOSTLY * c.sum() and c[d] >= MOSTLY * totals[d] and str(answers[k]) == text[d]:
            out[k] = d
    return out


def path_features(ex: Example, path: list[int]) -> np.ndarray:
    """The features of a split: its digits' features summed, then minus its neighbours' pair
    features summed (the weights are SPAN_WEIGHTS then PAIR_WEIGHTS)."""
    boxes = ex.cands.boxes
    spans = [k for k in path if ex.cands.images[k] is not None]
    pairs = sum((numbers.pair_features(boxes[a], boxes[b]) for a, b in zip(path, path[1:])),
                np.zeros(len(numbers.PAIR_FEATURES)))
    return np.append(ex.cands.features[spans].sum(axis=0), -pairs)


def best_path(ex: Example, theta: np.ndarray, only: np.ndarray | None = None) -> list[int]:
    """The best split under weights `theta` (span weights, then pair weights), from the
    candidates marked in `only` if given."""
    split = len(numbers.SPAN_FEATURES)
    scores = numbers.span_scores(ex.cands, theta[:split])
    if only is not None:
        scores = np.where(only, scores, -np.inf)
    return numbers.best_split(len(ex.cands.lay.atoms), ex.cands.spans, list(scores), ex.cands.boxes, theta[split:])


def right_path(ex: Example, theta: np.ndarray) -> list[int] | None:
    """The best split under `theta` that reads the number right, digit for digit in place;
    None when the candidates hold none."""
    faint = np.array([image is None for image in ex.cands.images])
    path = best_path(ex, theta, only=(ex.places >= 0) | faint)
    return path if [ex.places[k] for k in path if not faint[k]] == list(range(len(ex.text))) else None


def text_of(ex: Example, path: list[int]) -> str:
    return "".join(str(int(ex.cands.probs[k].argmax())) for k in path if ex.cands.images[k] is not None)


def make_example(clf, gate, ink: np.ndarray, owner: np.ndarray, text: str) -> Example | None:
    cands = numbers.candidates(clf, ink, gate)
    if cands is None:
        return None
    places = span_places(cands.lay, owner, cands.spans, text, cands.probs.argmax(axis=1))
    slim = replace(cands, lay=replace(cands.lay, ink=None, labels=None))  # the pictures are no longer needed
    return Example(text, slim, places)


def examples(clf, gate, images: np.ndarray, labels: np.ndarray, per_spacing: int, seed: int) -> list[Example]:
    """Numbers of 2-6 digits in every spacing, composed from `images`, with their candidates."""
    rng = np.random.default_rng(seed)
    out = []
    for spacing in SPACINGS:
        for _ in range(per_spacing):
            idx = rng.integers(0, len(images), int(rng.integers(2, 7)))
            ink, owner = compose_owned([images[i] for i in idx], rng, spacing)
            ex = make_example(clf, gate, ink, owner, "".join(str(int(labels[i])) for i in idx))
            if ex is not None:
                out.append(ex)
    return out


def in_pieces(digit: np.ndarray) -> bool:
    """Whether an MNIST digit's ink comes in more than one piece (8-connected, not specks)."""
    from scipy import ndimage

    labels, n = ndimage.label(digit > 0.1 * digit.max(), structure=np.ones((3, 3)))
    areas = np.bincount(labels.ravel())[1:]
    return n > 1 and int((areas >= 0.05 * areas.max()).sum()) > 1


def broken_examples(clf, gate, images: np.ndarray, labels: np.ndarray, n: int, seed: int) -> list[Example]:
    """Numbers with one digit whose ink came in pieces (a 5's flag, a hair-thin line beside a
    digit): rare among MNIST digits (about 1%) but a common way to read one digit as two, so
    they get numbers of their own."""
    rng = np.random.default_rng(seed)
    broken = np.flatnonzero([in_pieces(d) for d in images])
    out = []
    for _ in range(n):
        idx = rng.integers(0, len(images), int(rng.integers(2, 7)))
        idx[rng.integers(len(idx))] = rng.choice(broken)
        ink, owner = compose_owned([images[i] for i in idx], rng, SPACINGS[int(rng.integers(2))])
        ex = make_example(clf, gate, ink, owner, "".join(str(int(labels[i])) for i in idx))
        if ex is not None:
            out.append(ex)
    return out


def pen_number(digits: list[int], rng: np.random.Generator, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """A number written with an even pen like the canvas's (strokes.py), `gap` digit heights
    apart, as uint8 ink, and which digit owns each pixel."""
    glyphs = [random_digit_glyph(d, rng) for d in digits]
    strokes = place_glyphs(glyphs, NUMBER_CANVAS, rng, gap=gap)
    firsts = np.cumsum([0] + [len(g) for g in glyphs])
    inks = np.stack([draw_polylines(strokes[a:b], NUMBER_CANVAS, DEFAULT_STROKE_WIDTH, 1.0, smooth=True)
                     for a, b in zip(firsts, firsts[1:])])
    ink = inks.max(axis=0)
    return ink, np.where(ink > 0, inks.argmax(axis=0), -1)


def pen_examples(clf, gate, n: int, seed: int) -> list[Example]:
    """Numbers of 2-6 digits written with a pen, from a little apart to touching."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        digits = [int(d) for d in rng.integers(0, 10, int(rng.integers(2, 7)))]
        ink, owner = pen_number(digits, rng, rng.uniform(*PEN_GAPS))
        ex = make_example(clf, gate, ink, owner, "".join(map(str, digits)))
        if ex is not None:
            out.append(ex)
    return out


def accuracy(exs: list[Example], theta: np.ndarray) -> float:
    return float(np.mean([text_of(ex, best_path(ex, theta)) == ex.text for ex in exs]))


def fit(exs: list[Example], theta: np.ndarray, epochs: int, seed: int) -> np.ndarray:
    """Averaged structured perceptron from `theta`: moves towards the right split whenever the
    best split reads the wrong number; returns the average of the weights over all steps."""
    rng = np.random.default_rng(seed)
    total, steps = np.zeros_like(theta), 0
    for _ in range(epochs):
        for k in rng.permutation(len(exs)):
            ex = exs[k]
            path = best_path(ex, theta)
            if text_of(ex, path) != ex.text and (right := right_path(ex, theta)) is not None:
                theta = theta + path_features(ex, right) - path_features(ex, path)
            total, steps = total + theta, steps + 1
    return total / max(1, steps)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-spacing", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(numbers.WEIGHTS_PATH), help="where to write the weights")
    args = parser.parse_args(argv)
    (x_train, y_train), _ = load_mnist()
    clf, gate = load_classifier(shipped_model_path("improved")), default_gate()
    exs, held = (examples(clf, gate, x_train, y_train, n, seed) + pen_examples(clf, gate, n, seed)
                 + broken_examples(clf, gate, x_train, y_train, n // 2, seed)
                 for n, seed in ((args.per_spacing, args.seed), (args.per_spacing // 4, args.seed + 1)))
    start = np.append(numbers.SPAN_WEIGHTS, numbers.PAIR_WEIGHTS)
    reachable = np.mean([right_path(e, start) is not None for e in exs])
    print(f"{len(exs)} numbers, a right split among the candidates for {reachable:.1%}")
    print(f"hand-set weights: {accuracy(exs, start):.1%} fitted on, {accuracy(held, start):.1%} held out")
    theta = fit(exs, start, args.epochs, args.seed)
    print(f"fitted weights:   {accuracy(exs, theta):.1%} fitted on, {accuracy(held, theta):.1%} held out")
    for name, w in zip((*numbers.SPAN_FEATURES, *numbers.PAIR_FEATURES), theta):
        print(f"  {name:24s} {w:8.2f}")
    split = len(numbers.SPAN_FEATURES)
    fitted = {"span_features": list(numbers.SPAN_FEATURES), "span_weights": [round(float(w), 2) for w in theta[:split]],
              "pair_features": list(numbers.PAIR_FEATURES), "pair_weights": [round(float(w), 2) for w in theta[split:]],
              "fitted_by": "python -m mnist_cnn.training.fit_numbers " + " ".join(argv or sys.argv[1:])}
    store.write_text_atomically(Path(args.out), json.dumps(fitted, indent=2) + "\n")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
