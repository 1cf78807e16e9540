"""Explaining predictions (issue 10): is the attribution map faithful and fast, do the
neighbours agree with the truth, and how fast and stable is the placement on the 2-D map.

Timings are medians (with the median CPU time of the process, which is what a call costs an
idle core when other work shares the machine) and 95th percentiles over many test digits, in
one process with the server's one-BLAS-thread setting; the faithfulness figures are areas under deletion curves
(mean probability of the predicted digit as 0%, 10%, ..., 100% of the ink is deleted; lower
means the deleted pixels mattered more).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from mnist_cnn.explain import explain, feature_index
from mnist_cnn.network import store


@dataclass(frozen=True)
class Sizes:
    timing_digits: int = 200
    deletion_digits: int = 500
    agreement_digits: int = 1_000
    index_limit: int | None = None  # None: the full 60,000 training and 10,000 test digits


FULL, QUICK = Sizes(), Sizes(10, 20, 50, 2_000)
ARCHS = ("seed", "improved")


class Times(list):
    """Wall-clock seconds per call, with the process's CPU seconds per call beside them: on a
    machine shared with other work, CPU time is what the call costs an idle core."""

    cpu: list[float]


def _ms(values: Times) -> str:
    return (f"{statistics.median(values) * 1e3:.1f} ms (CPU {statistics.median(values.cpu) * 1e3:.1f} ms) | "
            f"{float(np.percentile(values, 95)) * 1e3:.1f} ms")


def _timed(fn, items) -> Times:
    out = Times()
    out.cpu = []
    for item in items:
        start, cpu = time.perf_counter(), time.process_time()
        fn(item)
        out.append(time.perf_counter() - start)
        out.cpu.append(time.process_time() - cpu)
    return out


def _test_digits(n: int) -> tuple[np.ndarray, np.ndarray]:
    from mnist_cnn.data.mnist import load_mnist

    _, (x, y) = load_mnist()
    return x[:n].astype(np.float32) / 255.0, y[:n]


def attribution_rows(sizes: Sizes) -> list[str]:
    from mnist_cnn.network.inference import load_classifier

    rows = ["| model | red pushes towards the answer, blue towards | time per drawing, median | p95 | "
            "AUC most-attributed first | AUC random | AUC brightest first | attributed ÷ brightest | "
            "digits where attributed beats brightest |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    curves_rows = []
    x, _ = _test_digits(max(sizes.timing_digits, sizes.deletion_digits))
    for arch in ARCHS:
        clf = load_classifier(store.shipped_model_path(arch))
        for against in (explain.AGAINST_OTHERS, explain.AGAINST_RUNNER_UP):
            explain.attribution(clf, x[0], against)  # compile the backward pass
            times = _timed(lambda im, c=clf, a=against: explain.attribution(c, im, a), x[: sizes.timing_digits])
            curves = explain.deletion_curves(clf, x[: sizes.deletion_digits], against=against)
            auc = {name: explain.area_under(c) for name, c in curves.items()}
            mean = {name: float(a.mean()) for name, a in auc.items()}
            beats = float(np.mean(auc["attributed"] < auc["brightest"]))
            label = "the other digits" if against == explain.AGAINST_OTHERS else "the runner-up"
            rows.append(f"| {arch} | {label} | {_ms(times)} | {mean['attributed']:.3f} | {mean['random']:.3f} | "
                        f"{mean['brightest']:.3f} | {mean['attributed'] / mean['brightest']:.2f} | {beats:.0%} |")
            if against == explain.AGAINST_OTHERS:
                for name, c in curves.items():
                    points = " | ".join(f"{p:.2f}" for p in c.mean(axis=0))
                    curves_rows.append(f"| {arch} | {name} | {points} |")
    header = " | ".join(f"{f:.0%}" for f in explain.DELETION_FRACTIONS)
    return rows + ["", f"Mean deletion curves over {sizes.deletion_digits} test digits (probability of the predicted "
                       "digit after deleting this share of the ink; the default map):", "",
                   f"| model | order | {header} |", "| --- | --- |" + " --- |" * len(explain.DELETION_FRACTIONS),
                   *curves_rows]


def index_rows(sizes: Sizes) -> list[str]:
    from mnist_cnn.data.mnist import load_mnist
    from mnist_cnn.network.inference import load_classifier

    (x_train, y_train), (x_test, y_test) = load_mnist()
    n = sizes.index_limit or len(x_train)
    rows = ["| model | index build (in-process) | index size | nearest 8, median | p95 | majority of 8 = true label | "
            "placement on the map, median | p95 | same drawing, same place | test digit lands on its own point |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    probe = x_test[: sizes.agreement_digits].astype(np.float32) / 255.0
    for arch in ARCHS:
        clf = load_classifier(store.shipped_model_path(arch))
        start = time.perf_counter()
        index = feature_index.build(clf, (x_train[:n], y_train[:n]), (x_test[:n], y_test[:n]))
        build_s = time.perf_counter() - start
        size_mb = (index.train.size * 2 + index.basis.nbytes) / 1e6  # the train vectors are stored as float16
        explain.nearest(clf, probe[0], index=index)
        query = _timed(lambda im, c=clf, ix=index: explain.nearest(c, im, index=ix), probe[: sizes.timing_digits])
        agree = np.mean([explain.majority(explain.nearest(clf, im, index=index)[1]) == y
                         for im, y in zip(probe, y_test)])
        place = _timed(lambda im, c=clf, ix=index: explain.place(c, im, index=ix), probe[: sizes.timing_digits])
        stable = all(np.array_equal(explain.place(clf, im, index=index), explain.place(clf, im.copy(), index=index))
                     for im in probe[:50])
        own = max(float(np.abs(explain.place(clf, probe[i], index=index) - index.test_xy[i]).max()) for i in range(50))
        rows.append(f"| {arch} | {build_s:.0f} s | {size_mb:.0f} MB | {_ms(query)} | {agree:.1%} | {_ms(place)} | "
                    f"{'yes' if stable else 'NO'} | within {own:.1e} |")
    return rows


def interactive_rows(sizes: Sizes) -> list[str]:
    from mnist_cnn.data.mnist import load_mnist
    from mnist_cnn.network.inference import load_classifier

    x, _ = _test_digits(sizes.timing_digits)
    _, (x_test, _) = load_mnist()
    rows = ["| model | all six what-if sweeps (115 edited drawings), median | p95 | top-9 patches of every "
            "first-layer filter over the 10,000 test digits |", "| --- | --- | --- | --- |"]
    for arch in ARCHS:
        clf = load_classifier(store.shipped_model_path(arch))
        sweeps = _timed(lambda im, c=clf: [explain.sweep(c, im, explain.Change(), name) for name in explain.SLIDERS],
                        x[: max(3, sizes.timing_digits // 10)])
        start = time.perf_counter()
        explain.top_patches(clf.first_layer_kernels(), x_test)
        rows.append(f"| {arch} | {_ms(sweeps)} | {time.perf_counter() - start:.1f} s |")
    return rows


def sections(quick: bool):
    sizes = QUICK if quick else FULL
    return [
        ("Why this digit: attribution maps",
         f"Integrated gradients ({explain.ATTRIBUTION_STEPS} steps, NumPy forward and backward pass) on "
         f"{sizes.deletion_digits} test digits. "
         "Goal: ≤ 60 ms per drawing, and deleting the most-attributed ink first lowers the prediction clearly "
         "faster than deleting the same share at random and than deleting the brightest ink first (AUC: area "
         "under the deletion curve, lower is more faithful).",
         lambda: attribution_rows(sizes)),
        ("What it resembles, where it lands: the feature index",
         f"Penultimate features of {'all 60,000' if sizes.index_limit is None else sizes.index_limit} training "
         f"digits, {feature_index.COMPONENTS} main directions, cosine similarity; {sizes.agreement_digits} test "
         "digits as queries. The app builds the index in a low-priority child process. Goal: query ≤ 30 ms, "
         "majority agreement ≥ 97%, placement ≤ 20 ms and deterministic.",
         lambda: index_rows(sizes)),
        ("What would change it, what each filter looks for",
         "The Why? tab's sweeps along every slider, and the Filters tab's top patches (computed once per model).",
         lambda: interactive_rows(sizes)),
    ]
