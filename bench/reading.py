"""Benchmark section: how well the app reads what people draw, in one table.

Every figure is on sets that training never saw: digits in the held-out handwriting font
families and in the held-out pen style (handwriting.py), letters in held-out fonts and as
held-out pen strokes, shapes and crossed-out digits (nondigits.HELD_OUT, handwriting.py), the
MNIST test set, and a personal style the fine-tune has never seen (style.py). A digit counts as
read only if the app would show it: the right digit, and not called "not a digit".
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

TITLE = "Reading what people draw"
GOAL_DRAWN = 0.985
GOAL_MNIST = 0.997
GOAL_FLAGGED = 0.85
GOAL_FALSE_FLAGS = 0.01
GOAL_LATENCY_MS = 3.0


@dataclass(frozen=True)
class Sizes:
    digits: int  # per drawn-digit set
    letters: int  # per letter set
    latency_reps: int
    finetune: bool


FULL, QUICK = Sizes(2_000, 600, 300, True), Sizes(100, 60, 20, False)


def app_reads(clf, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the digit the model reads, whether the app shows it as a digit) for each 28x28 input."""
    from mnist_cnn.network.inference import NUMPY_MAX_BATCH
    from mnist_cnn.reading.notdigit import NOT_DIGIT, default_gate, with_the_reader
    from mnist_cnn.reading.verdicts import is_flat

    gate = default_gate()
    step = NUMPY_MAX_BATCH
    probs = np.concatenate([clf.predict_proba(images[i:i + step]) for i in range(0, len(images), step)])
    flagged = with_the_reader(gate, gate.probs(images)[:, NOT_DIGIT], probs, clf.entry.meta)
    return probs.argmax(1), ~flagged & ~np.array([is_flat(im) for im in images])


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _latency_ms(clf, reps: int) -> float:
    from bench.style import style_set
    from mnist_cnn.reading.preprocess import canvas_to_mnist

    canvases, _ = style_set(50, seed=3)
    times = []
    for i in range(reps + 10):
        started = time.perf_counter()
        clf.predict_proba(canvas_to_mnist(canvases[i % len(canvases)])[None])
        times.append(time.perf_counter() - started)
    return statistics.median(times[10:]) * 1e3


def _finetune_row() -> str:
    from bench import finetune

    with finetune.tempfile.TemporaryDirectory() as tmp:
        home = finetune.Path(tmp)
        finetune.fill_store(home, finetune.FULL.drawings)
        r = finetune.one_run(home, finetune.FULL, seed=0)
    before, after = r["held_out_accuracy_before"], r["held_out_accuracy_after"]
    errors = (1 - after) / max(1 - before, 1e-9)
    cost = r["mnist_test_accuracy_before"] - r["test_accuracy"]
    return (f"| fine-tune on {r['drawings_trained']} drawings of an unseen style, {r['drawings_held_out']} held out "
            f"| {_pct(before)} → {_pct(after)} (errors ×{errors:.2f}), MNIST {cost * -100:+.2f} pt, {r['wall']:.0f} s "
            f"| errors ×≤0.5, MNIST ≥ −0.10 pt, ≤ 90 s |")


def table(quick: bool = False) -> list[str]:
    """The section's rows: each figure, what was measured, and its goal."""
    from mnist_cnn.data import handwriting as hw
    from mnist_cnn.data import nondigits
    from mnist_cnn.data.mnist import load_mnist
    from mnist_cnn.network.inference import load_classifier

    sizes = QUICK if quick else FULL
    clf = load_classifier()
    rows = ["| figure | measured | goal |", "| --- | --- | --- |"]

    def read_row(name: str, images: np.ndarray, labels: np.ndarray, goal: float) -> None:
        digits, shown = app_reads(clf, images)
        rows.append(f"| {name} ({len(images):,}) | {_pct(float(((digits == labels) & shown).mean()))} "
                    f"(not a digit: {_pct(float((~shown).mean()))}) | ≥ {_pct(goal)} |")

    fonts = hw.font_digits(sizes.digits, seed=103, held_out=True)
    if len(fonts[0]):
        read_row("digits in held-out handwriting fonts", *fonts, GOAL_DRAWN)
    else:
        rows.append(f"| digits in held-out handwriting fonts | no font installed ({hw.FONT_PACKAGES}) | |")
    read_row("digits in the held-out pen style", *hw.pen_digits(sizes.digits, seed=101, held_out=True), GOAL_DRAWN)
    read_row("digits in the training pen styles, unseen samples", *hw.pen_digits(sizes.digits, seed=104), GOAL_DRAWN)
    _, (x_test, y_test) = load_mnist()
    read_row("coarse scans of MNIST test digits (10-20 px, half black and white)",
             *hw.scanned_digits(x_test, y_test, sizes.digits, seed=107), GOAL_DRAWN)
    x_test = x_test[: sizes.digits * 5].astype(np.float32) / 255.0
    y_test = y_test[: len(x_test)]
    digits, shown = app_reads(clf, x_test)
    rows.append(f"| MNIST test digits ({len(x_test):,}) | {float((digits == y_test).mean()):.2%} read, "
                f"{_pct(float((~shown).mean()))} called not a digit | ≥ {_pct(GOAL_MNIST)} read, "
                f"≤ {_pct(GOAL_FALSE_FLAGS)} called not a digit |")

    others = {"letters in held-out fonts": hw.font_letters(sizes.letters, seed=105, held_out=True),
              "letters and shapes drawn with a pen (held out)": nondigits.non_digits(sizes.letters, seed=3)[0],
              "crossed-out digits": hw.crossed_out_digits(sizes.letters, seed=106)}
    for name, images in others.items():
        if len(images):
            flagged = float((~app_reads(clf, images)[1]).mean())
            rows.append(f"| {name} ({len(images):,}): called not a digit | {_pct(flagged)} | ≥ {_pct(GOAL_FLAGGED)} |")
    if sizes.finetune:
        rows.append(_finetune_row())
    latency = _latency_ms(clf, sizes.latency_reps)
    rows.append(f"| canvas → probabilities, median of {sizes.latency_reps} | {latency:.2f} ms "
                f"| ≤ {GOAL_LATENCY_MS:.0f} ms |")
    return rows


def section(quick: bool) -> tuple[str, str, list[str]]:
    intro = ("The default model and the not-a-digit gate, on sets that training never saw (`handwriting.py`, "
             "`nondigits.py`, `style.py`). A drawn digit counts as read when the app would show the right digit, "
             "not \"not a digit\".")
    return TITLE, intro, table(quick)
