"""`python -m mnist_cnn bench`: measures the app's promises and prints a Markdown report.

Timings are medians (and p95) over repeated runs in one process, or ratios of two such medians,
never single shots. `quick=True` shrinks every size so the test suite can check the benchmark
still runs; its numbers mean nothing.
"""

from __future__ import annotations

import datetime as dt
import importlib
import itertools
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from mnist_cnn.config import REPO_ROOT, child_env
from mnist_cnn.network import store


@dataclass(frozen=True)
class Sizes:
    latency_reps: int = 300
    predict_reps: int = 40
    train_images: int = 12_000
    train_reps: int = 6
    canvases: int = 2_000
    startup_reps: int = 3
    strokes: int = 20


FULL, QUICK = Sizes(), Sizes(20, 5, 1_000, 1, 100, 1, 3)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile; NaN for no values (a section with nothing measured still reports)."""
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _timed(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def bench_latency(sizes: Sizes, canvases: list[np.ndarray]) -> list[str]:
    from mnist_cnn.network.inference import load_classifier
    from mnist_cnn.reading.preprocess import canvas_to_mnist

    rows = ["| model | canvas → probabilities, median | p95 | `model.predict` on one image, median | speed-up |",
            "| --- | --- | --- | --- | --- |"]
    for arch in ("seed", "improved"):
        clf = load_classifier(store.shipped_model_path(arch))
        drawings = itertools.cycle(canvases)

        def fast(clf=clf, drawings=drawings):
            clf.predict_proba(canvas_to_mnist(next(drawings))[None])

        _timed(fast, 10)  # warm-up
        fast_t = _timed(fast, sizes.latency_reps)
        one = canvas_to_mnist(canvases[0])[None, ..., None]
        clf.model.predict(one, verbose=0)
        slow_t = _timed(lambda clf=clf, one=one: clf.model.predict(one, verbose=0), sizes.predict_reps)
        med, slow = statistics.median(fast_t), statistics.median(slow_t)
        rows.append(f"| {arch} | {med * 1e3:.2f} ms | {percentile(fast_t, 95) * 1e3:.2f} ms | "
                    f"{slow * 1e3:.1f} ms | {slow / med:.0f}× |")
    return rows


def bench_training(sizes: Sizes) -> list[str]:
    import keras

    from mnist_cnn.data.mnist import load_mnist, one_hot, to_model_input
    from mnist_cnn.training.architectures import build_seed_model, get_arch
    from mnist_cnn.training.train import train

    spec = get_arch("seed")
    (x, y), (xt, yt) = load_mnist()
    x, y = to_model_input(x[: sizes.train_images]), one_hot(y[: sizes.train_images])
    val = (to_model_input(xt), one_hot(yt))
    ours, plain = [], []

    def run_ours() -> float:
        result = train("seed", epochs=1, limit=sizes.train_images, progress=lambda p: None)
        return sizes.train_images / result.seconds

    def run_plain() -> float:
        model = build_seed_model()
        t = time.perf_counter()
        model.fit(x, y, batch_size=spec.batch_size, epochs=1, validation_data=val, validation_batch_size=500,
                  shuffle=True, verbose=0)
        return sizes.train_images / (time.perf_counter() - t)

    for rep in range(sizes.train_reps + 1):  # round 0 warms both paths up; order alternates
        if rep % 2:
            a = run_ours()
            b = run_plain()
        else:
            b = run_plain()
            a = run_ours()
        keras.backend.clear_session()
        if rep:
            ours.append(a)
            plain.append(b)
    ratios = [a / b for a, b in zip(ours, plain)]
    return ["| path | images / s (median) |", "| --- | --- |",
            f"| `mnist_cnn.training.train` with progress hook | {statistics.median(ours):,.0f} |",
            f"| plain `model.fit` | {statistics.median(plain):,.0f} |",
            f"| **ratio** (median of {len(ratios)} paired runs) | **{statistics.median(ratios):.2f}** |"]


def bench_robustness(sizes: Sizes, canvases: list[np.ndarray], labels: list[int]) -> list[str]:
    from mnist_cnn.network.inference import load_classifier
    from mnist_cnn.reading.preprocess import canvas_to_mnist, naive_resize

    naive = np.stack([naive_resize(c) for c in canvases])
    proper = np.stack([canvas_to_mnist(c) for c in canvases])
    y = np.asarray(labels)
    rows = ["| model | naive whole-canvas resize | `canvas_to_mnist` |", "| --- | --- | --- |"]
    for arch in ("seed", "improved"):
        clf = load_classifier(store.shipped_model_path(arch))
        acc = [float((clf.predict_proba(v).argmax(1) == y).mean()) for v in (naive, proper)]
        rows.append(f"| {arch} | {acc[0]:.2%} | {acc[1]:.2%} |")
    return rows


def bench_startup(sizes: Sizes) -> list[str]:
    from bench import browser

    code = "from mnist_cnn.network.inference import load_classifier; load_classifier()"
    env = child_env()
    ready = _timed(lambda: subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=REPO_ROOT,
                                          capture_output=True), sizes.startup_reps)
    served = []
    for _ in range(sizes.startup_reps):
        t = time.perf_counter()
        with browser.running_app():
            served.append(time.perf_counter() - t)
    return ["| from process start to | median |", "| --- | --- |",
            f"| default model loaded and compiled (`load_classifier()`) | {statistics.median(ready):.1f} s |",
            f"| page served (`streamlit run app.py`, health endpoint answers) | {statistics.median(served):.1f} s |"]


AREAS = ("server", "recipe", "finetune", "explain", "numbers", "reading", "class")  # one module each in bench/
AREA_MODULES = {"class": "classload"}  # where the module is not named as the area
BROWSER_AREAS = ("server",)
ON_REQUEST_AREAS = ("class",)  # minutes long: run only when named (--area class), never by default
# runs the measurement: (title, intro, table rows), or with a closing line the report ends with
Section = Callable[[], tuple]


def area_sections(area: str, quick: bool, options: dict | None = None) -> list[Section]:
    """An area module's sections: several from `sections(quick)`, or its one `section(quick)`;
    `options` (e.g. sessions=30 for the class area) go to that area's `section`."""
    module = importlib.import_module(f"bench.{AREA_MODULES.get(area, area)}")
    if hasattr(module, "sections"):
        return [lambda t=title, i=intro, f=fn: (t, i, f()) for title, intro, fn in module.sections(quick)]
    return [lambda: module.section(quick, **(options or {}))]


def core_sections(sizes: Sizes) -> list[Section]:
    from mnist_cnn.data.mnist import load_mnist
    from mnist_cnn.data.synthetic import canvas_set

    _, (x_test, y_test) = load_mnist()
    pairs = list(canvas_set(x_test, y_test, sizes.canvases, seed=1))
    canvases, labels = [c for c, _ in pairs], [y for _, y in pairs]
    return [
        lambda: ("One drawing, canvas array to probabilities",
                 f"{sizes.latency_reps} drawings from the canvas set below, preprocessing included; "
                 "the seed notebook's "
                 "way is `model.predict` on one image. Goal: ≤ 2 ms (seed), ≤ 5 ms (improved).",
                 bench_latency(sizes, canvases)),
        lambda: ("Training throughput",
                 f"Seed model, batch 100, one epoch on {sizes.train_images:,} images with validation on the test set, "
                 f"{sizes.train_reps} pairs of runs in alternating order after a warm-up pair. Goal: ratio ≥ 0.95.",
                 bench_training(sizes)),
        lambda: ("Robustness to how people draw",
                 f"{sizes.canvases:,} MNIST test digits pasted on a 280×280 canvas at random heights (25–95%), "
                 "positions and colour schemes (white on black, black on white, transparent). "
                 "Goal: ≥ 99% with the improved model.",
                 bench_robustness(sizes, canvases, labels)),
        lambda: ("Loading a model", f"Median of {sizes.startup_reps} fresh processes.", bench_startup(sizes)),
    ]


def report(sections: list[tuple[str, str, list[str]]], quick: bool, closing: list[str] | None = None) -> str:
    """The Markdown report: a header, the numbered sections, the shipped models, then `closing`
    (an area's numbers in one line each, so a script reads them from the report's end)."""
    out = [f"# Benchmarks{' (quick run: sizes too small to mean anything)' if quick else ''}", "",
           f"{dt.date.today().isoformat()} · {os.cpu_count()} cores · {platform.processor() or platform.machine()} · "
           f"Python {platform.python_version()} · `python -m mnist_cnn bench`", ""]
    for number, (title, intro, rows) in enumerate(sections, 1):
        out += [f"## {number}. {title}", "", *([intro, ""] if intro else []), *rows, ""]
    out += ["## The shipped models", "", "| model | parameters | test accuracy | test loss | epochs | training time |",
            "| --- | --- | --- | --- | --- | --- |"]
    for arch in ("seed", "improved"):
        m = store.read_meta(store.shipped_model_path(arch))
        out.append(f"| {arch} | {m.get('params', 0):,} | {m.get('test_accuracy', 0):.2%} | "
                   f"{m.get('test_loss', 0):.4f} | "
                   f"{m.get('epochs')} | {m.get('train_seconds', 0) / 60:.1f} min |")
    if closing:
        out += ["", *closing]
    return "\n".join(out) + "\n"


def run_benchmarks(quick: bool = False, browser: bool = True, areas: tuple[str, ...] | None = None,
                   sessions: int | None = None) -> str:
    """Run the benchmarks (every area but the on-request ones, or the named ones: core, server,
    class, ...) and return the report. `sessions`: the class area's number of visitors."""
    sizes = QUICK if quick else FULL
    default = ("core", *(a for a in AREAS if a not in ON_REQUEST_AREAS))
    chosen = [a for a in (areas or default) if browser or a not in BROWSER_AREAS]
    sections: list[Section] = []
    for area in chosen:
        options = {"sessions": sessions} if area == "class" and sessions else None
        sections += core_sections(sizes) if area == "core" else area_sections(area, quick, options)
    results = [run_safely(run) for run in sections]
    return report([r[:3] for r in results], quick, [r[3] for r in results if len(r) > 3])


def run_safely(section: Section) -> tuple:
    """A section that fails says so in the report instead of losing every other section's numbers."""
    try:
        return section()
    except Exception as exc:  # noqa: BLE001 - reported, and the other sections still run
        return "(a section that failed)", f"It failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}", []
