"""Benchmark section: reading whole numbers, and telling digits from everything else."""

from __future__ import annotations

import statistics
import time

import numpy as np

TITLE = "Whole numbers and “not a digit”"
LENGTHS = (2, 3, 4, 5, 6)


def _read_row(clf, label: str, cases_by_length) -> tuple[str, list[int]]:
    """One table row: how many numbers of each length read exactly, and the median time per
    number; also returns the counts. `cases_by_length` gives, per length, (canvas, text) pairs."""
    from mnist_cnn.reading.numbers import read_number

    counts, cells, times = [], [], []
    for cases in cases_by_length:
        ok = total = 0
        for canvas, text in cases:
            started = time.perf_counter()
            ok += read_number(clf, canvas).text == text
            times.append(time.perf_counter() - started)
            total += 1
        counts.append(ok)
        cells.append(f"{ok / total:.1%}")
    share = sum(counts) / len(times)
    return f"| {label} | {' | '.join(cells)} | **{share:.1%}** | {statistics.median(times) * 1e3:.0f} ms |", counts


def _number_rows(clf, x_test, y_test, per_length: int) -> list[str]:
    from mnist_cnn.data.synthetic_numbers import SPACINGS, number_set

    rows = ["| spacing | " + " | ".join(f"{n} digits" for n in LENGTHS) + " | all | median time per number |",
            "| --- | " + " | ".join("---" for _ in LENGTHS) + " | --- | --- |"]
    apart = np.zeros(len(LENGTHS), int)  # the goal counts every spacing where digits do not touch
    for spacing in SPACINGS:
        row, counts = _read_row(clf, spacing, (number_set(x_test, y_test, per_length, spacing, (n, n), seed=100 + n)
                                               for n in LENGTHS))
        rows.append(row)
        if spacing != "touching":
            apart += counts
    per_cell = per_length * (len(SPACINGS) - 1)
    rows.append(f"| digits apart (generous and close; goal ≥ 97%) | {' | '.join(f'{a / per_cell:.1%}' for a in apart)} "
                f"| **{apart.sum() / (per_cell * len(LENGTHS)):.1%}** | |")
    rows.append(_pen_row(clf, per_length))
    return rows


def _pen_row(clf, per_length: int) -> str:
    """Numbers written with an even pen, as the canvas draws them (strokes.py), a little apart."""
    from mnist_cnn.config import NUMBER_CANVAS
    from mnist_cnn.data.strokes import random_digit_glyph, write_glyphs

    rng = np.random.default_rng(7)

    def cases(n: int):
        for _ in range(per_length):
            digits = rng.integers(0, 10, n)
            canvas = write_glyphs([random_digit_glyph(int(d), rng) for d in digits], NUMBER_CANVAS, rng,
                                  gap=rng.uniform(0.15, 0.5))
            yield canvas, "".join(map(str, digits))

    return _read_row(clf, "pen-drawn digits, apart", (cases(n) for n in LENGTHS))[0]


def _gate_rows(gate, x_test, y_test, n_other: int, n_canvas: int) -> list[str]:
    from mnist_cnn.data import nondigits
    from mnist_cnn.data.strokes import drawn_digit
    from mnist_cnn.data.synthetic import canvas_set
    from mnist_cnn.reading.preprocess import canvas_to_mnist, normalize_ink

    def share(images) -> float:
        return float(gate.flags(gate.not_digit_score(np.stack(images))).mean())

    others, kinds = nondigits.non_digits(n_other, nondigits.HELD_OUT, seed=2024)
    flags = gate.flags(gate.not_digit_score(others))
    kinds_arr = np.array(kinds)
    rows = ["| pictures (none seen in training) | count | flagged “not a digit” | goal |", "| --- | --- | --- | --- |",
            f"| held-out non-digits, all | {len(others)} | **{flags.mean():.1%}** | ≥ 80% |"]
    for kind in nondigits.HELD_OUT.kinds:
        m = kinds_arr == kind
        rows.append(f"| · {kind} | {int(m.sum())} | {flags[m].mean():.1%} | |")
    rng = np.random.default_rng(2024)
    canvases = [canvas_to_mnist(c) for c, _ in canvas_set(x_test, y_test, n_canvas, seed=2024)]
    pen = [normalize_ink(drawn_digit(d % 10, rng)) for d in range(n_canvas)]
    mnist = share(x_test.astype(np.float32) / 255.0)
    rows += [f"| MNIST test digits | {len(x_test):,} | **{mnist:.2%}** | ≤ 1% |",
             f"| MNIST test digits drawn on a canvas (`canvas_to_mnist`) | {n_canvas:,} | **{share(canvases):.2%}** "
             "| ≤ 2% |",
             f"| digits drawn with a pen (strokes.py) | {n_canvas:,} | {share(pen):.2%} | |"]
    return rows


def section(quick: bool) -> tuple[str, str, list[str]]:
    from mnist_cnn.data.mnist import load_mnist
    from mnist_cnn.network.inference import load_classifier
    from mnist_cnn.network.store import shipped_model_path
    from mnist_cnn.reading.notdigit import default_gate

    per_length, n_other, n_canvas = (4, 60, 100) if quick else (60, 1_400, 2_000)
    _, (x_test, y_test) = load_mnist()
    clf = load_classifier(shipped_model_path("improved"))
    gate = default_gate()
    intro = (f"Numbers of 2-6 MNIST test digits written on a 700×280 canvas ({per_length} per length and spacing; "
             "`synthetic_numbers.py`): generous gaps, ink 2-8% of a digit height apart, or touching; and numbers "
             "written with an even pen stroke like the canvas's (`strokes.py`, every variant of each digit), read by "
             "`numbers.read_number` with the improved model and the not-a-digit gate. Goal: ≥ 97% of numbers read "
             "exactly when the digits do not touch, ≥ 85% when they touch. Then the gate (`notdigit.py`) on "
             "pictures it never saw: held-out letters, shapes and scribbles of other kinds, letters and fonts than "
             "its training set, another seed. Goals: ≥ 80% of those flagged, ≤ 1% of MNIST test digits and ≤ 2% of "
             "drawing-like digits. Times are medians on a shared 2-core machine.")
    rows = _number_rows(clf, x_test, y_test, per_length) + [""] + _gate_rows(gate, x_test, y_test, n_other, n_canvas)
    return TITLE, intro, rows
