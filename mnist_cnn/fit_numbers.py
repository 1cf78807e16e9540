"""Fitting the number reader's weights on numbers made of MNIST *training* digits.

`python -m mnist_cnn.fit_numbers` composes numbers of 2-6 training digits in every spacing
(synthetic_numbers.compose_owned, which knows which digit owns each pixel), finds for each the
right split among the reader's candidates, and fits numbers.SPAN_WEIGHTS and OVERLAP_WEIGHT by an
averaged structured perceptron: whenever the best split under the current weights reads the
wrong number, the weights move towards the right split's features and away from the wrong
one's. It prints the weights to copy into numbers.py. Test digits are never used, so the
benchmark (bench/numbers.py) stays a fair test.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from mnist_cnn import numbers, segment
from mnist_cnn.synthetic_numbers import SPACINGS, compose_owned

EXACT = 0.85  # a candidate is one digit when that digit owns this share of its ink and it has this share of the digit's


@dataclass(frozen=True)
class Example:
    """One composed number, its candidates, and the right split among them (None if there is none)."""

    text: str
    cands: numbers.Candidates
    features: np.ndarray
    gold: list[int] | None


def span_truth(lay: segment.Layout, owner: np.ndarray, spans: list[tuple[int, int]], n_digits: int) -> list[int]:
    """For each candidate, the digit (its place in the number) it is exactly, or -1."""
    mask = lay.labels > 0
    owners = np.where(owner[mask] < 0, n_digits, owner[mask]).astype(np.int64)
    counts = np.zeros((len(lay.atoms) + 1, n_digits + 1), np.int64)
    np.add.at(counts, (lay.labels[mask], owners), 1)
    counts = counts[1:]
    totals = counts.sum(axis=0)
    out = []
    for i, j in spans:
        c = counts[i:j].sum(axis=0)
        d = int(np.argmax(c[:n_digits]))
        out.append(d if c[d] >= EXACT * c.sum() and c[d] >= EXACT * totals[d] else -1)
    return out


def path_features(ex: Example, path: list[int]) -> np.ndarray:
    """The features of a split: its digits' features summed, and minus the overlap of neighbours
    (so the last weight is OVERLAP_WEIGHT)."""
    boxes = ex.cands.boxes
    spans = [k for k in path if ex.cands.images[k] is not None]
    overlaps = sum(numbers.overlap(boxes[a], boxes[b]) for a, b in zip(path, path[1:]))
    return np.append(ex.features[spans].sum(axis=0), -overlaps)


def best_path(ex: Example, theta: np.ndarray, only: np.ndarray | None = None) -> list[int]:
    scores = numbers.span_scores(ex.cands, theta[:-1])
    if only is not None:
        scores = np.where(only, scores, -np.inf)
    return numbers.best_split(len(ex.cands.lay.atoms), ex.cands.spans, list(scores), ex.cands.boxes, theta[-1])


def text_of(ex: Example, path: list[int]) -> str:
    return "".join(str(int(ex.cands.probs[k].argmax())) for k in path if ex.cands.images[k] is not None)


def make_example(clf, gate, ink: np.ndarray, owner: np.ndarray, text: str) -> Example | None:
    cands = numbers.candidates(clf, ink, gate)
    if cands is None:
        return None
    truth = span_truth(cands.lay, owner, cands.spans, len(text))
    faint = np.array([image is None for image in cands.images])
    ex = Example(text, cands, cands.features, None)
    theta = np.append(numbers.SPAN_WEIGHTS, numbers.OVERLAP_WEIGHT)
    gold = best_path(ex, theta, only=(np.array(truth) >= 0) | faint)
    places = [truth[k] for k in gold if not faint[k]]
    return Example(text, cands, ex.features, gold if places == list(range(len(text))) else None)


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


def accuracy(exs: list[Example], theta: np.ndarray) -> float:
    return float(np.mean([text_of(ex, best_path(ex, theta)) == ex.text for ex in exs]))


def fit(exs: list[Example], theta: np.ndarray, epochs: int, seed: int) -> np.ndarray:
    """Averaged structured perceptron from `theta`: moves towards the right split whenever the
    best split reads the wrong number; returns the average of the weights over all steps."""
    rng = np.random.default_rng(seed)
    total, steps = np.zeros_like(theta), 0
    trainable = [ex for ex in exs if ex.gold is not None]
    for _ in range(epochs):
        for k in rng.permutation(len(trainable)):
            ex = trainable[k]
            path = best_path(ex, theta)
            if text_of(ex, path) != ex.text:
                theta = theta + path_features(ex, ex.gold) - path_features(ex, path)
            total, steps = total + theta, steps + 1
    return total / max(1, steps)


def main(argv: list[str] | None = None) -> None:
    from mnist_cnn.data import load_mnist
    from mnist_cnn.inference import load_classifier
    from mnist_cnn.notdigit import default_gate
    from mnist_cnn.store import shipped_model_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-spacing", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    (x_train, y_train), _ = load_mnist()
    clf, gate = load_classifier(shipped_model_path("improved")), default_gate()
    exs = examples(clf, gate, x_train, y_train, args.per_spacing, args.seed)
    held = examples(clf, gate, x_train, y_train, args.per_spacing // 4, args.seed + 1)
    start = np.append(numbers.SPAN_WEIGHTS, numbers.OVERLAP_WEIGHT)
    print(f"{len(exs)} numbers, right split among the candidates for {np.mean([e.gold is not None for e in exs]):.1%}")
    print(f"hand-set weights: {accuracy(exs, start):.1%} fitted on, {accuracy(held, start):.1%} held out")
    theta = fit(exs, start, args.epochs, args.seed)
    print(f"fitted weights:   {accuracy(exs, theta):.1%} fitted on, {accuracy(held, theta):.1%} held out")
    for name, w in zip((*numbers.SPAN_FEATURES, "overlap"), theta):
        print(f"  {name:24s} {w:8.3f}")


if __name__ == "__main__":
    main()
