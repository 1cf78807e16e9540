"""Scoring a model on the MNIST test set: loss, accuracy, mistakes, confusion, per class."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_cnn.config import NUM_CLASSES
from mnist_cnn.data.mnist import load_mnist, to_model_input

EPS = 1e-7  # the clipping Keras applies in categorical cross-entropy


@dataclass
class Report:
    """Everything the Misclassified tab and `python -m mnist_cnn evaluate` show."""

    loss: float
    accuracy: float
    total: int
    predictions: np.ndarray  # (n,) predicted digit
    confidences: np.ndarray  # (n,) probability of the predicted digit
    labels: np.ndarray  # (n,) true digit
    confusion: np.ndarray  # (10, 10) rows: true digit, columns: predicted digit
    per_class_accuracy: np.ndarray  # (10,)

    @property
    def mistakes(self) -> np.ndarray:
        """Indices of the misclassified test images."""
        return np.flatnonzero(self.predictions != self.labels)


def report_from_probabilities(probs: np.ndarray, labels: np.ndarray) -> Report:
    labels = np.asarray(labels).astype(np.int64)
    predictions = probs.argmax(axis=1)
    true_prob = np.clip(probs[np.arange(len(labels)), labels], EPS, 1.0)
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    per_class = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
    return Report(
        loss=float(-np.log(true_prob).mean()),
        accuracy=float((predictions == labels).mean()),
        total=len(labels),
        predictions=predictions,
        confidences=probs.max(axis=1),
        labels=labels,
        confusion=confusion,
        per_class_accuracy=per_class,
    )


def evaluate_classifier(classifier, data_dir: str | None = None, limit: int | None = None) -> Report:
    """Score a Classifier (see inference.py) on the MNIST test set, or its first `limit` images."""
    _, (x_test, y_test) = load_mnist(data_dir)
    if limit is not None:
        x_test, y_test = x_test[:limit], y_test[:limit]
    return report_from_probabilities(classifier.predict_proba(to_model_input(x_test)), y_test)


def mistakes_table(report: Report, true_digit: int | None = None, predicted_digit: int | None = None,
                   most_confident_first: bool = True) -> np.ndarray:
    """Indices of mistakes, filtered by true and/or predicted digit, sorted by confidence."""
    idx = report.mistakes
    if true_digit is not None:
        idx = idx[report.labels[idx] == true_digit]
    if predicted_digit is not None:
        idx = idx[report.predictions[idx] == predicted_digit]
    order = np.argsort(report.confidences[idx], kind="stable")
    return idx[order[::-1]] if most_confident_first else idx[order]


def drawings_accuracy(classifier, images: np.ndarray, labels: np.ndarray, chunk: int | None = None) -> float | None:
    """A classifier's accuracy on stored drawings (uint8 images), or None when there are none.
    `chunk` predicts that many at a time (the app keeps to the classifier's NumPy path)."""
    if len(images) == 0:
        return None
    x = images.astype(np.float32) / 255.0
    step = chunk or len(x)
    predicted = np.concatenate([classifier.predict_proba(x[i:i + step]).argmax(axis=1)
                                for i in range(0, len(x), step)])
    return float((predicted == labels).mean())
