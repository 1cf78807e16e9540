"""`python -m mnist_cnn bench`: measures the app's promises and prints a Markdown report.

Timings are medians (and p95) over repeated runs in one process, or ratios of two such medians,
never single shots. `quick=True` shrinks every size so the test suite can check the benchmark
still runs; its numbers mean nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np

from mnist_cnn import store
from mnist_cnn.config import REPO_ROOT


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
    return float(np.percentile(np.asarray(values), q))


def _timed(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def bench_latency(sizes: Sizes, canvases: list[np.ndarray]) -> list[str]:
    from mnist_cnn.inference import load_classifier
    from mnist_cnn.preprocess import canvas_to_mnist

    rows = ["| model | canvas → probabilities, median | p95 | `model.predict` on one image, median | speed-up |",
            "| --- | --- | --- | --- | --- |"]
    for arch in ("seed", "improved"):
        clf = load_classifier(store.shipped_model_path(arch))
        drawings = itertools.cycle(canvases)

        def fast():
            clf.predict_proba(canvas_to_mnist(next(drawings))[None])

        _timed(fast, 10)  # warm-up
        fast_t = _timed(fast, sizes.latency_reps)
        one = canvas_to_mnist(canvases[0])[None, ..., None]
        clf.model.predict(one, verbose=0)
        slow_t = _timed(lambda: clf.model.predict(one, verbose=0), sizes.predict_reps)
        med, slow = statistics.median(fast_t), statistics.median(slow_t)
        rows.append(f"| {arch} | {med * 1e3:.2f} ms | {percentile(fast_t, 95) * 1e3:.2f} ms | "
                    f"{slow * 1e3:.1f} ms | {slow / med:.0f}× |")
    return rows


def bench_training(sizes: Sizes) -> list[str]:
    import keras

    from mnist_cnn.data import load_mnist, one_hot, to_model_input
    from mnist_cnn.model import build_seed_model, get_arch
    from mnist_cnn.train import train

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
            f"| `mnist_cnn.train` with progress hook | {statistics.median(ours):,.0f} |",
            f"| plain `model.fit` | {statistics.median(plain):,.0f} |",
            f"| **ratio** (median of {len(ratios)} paired runs) | **{statistics.median(ratios):.2f}** |"]


def bench_robustness(sizes: Sizes, canvases: list[np.ndarray], labels: list[int]) -> list[str]:
    from mnist_cnn.inference import load_classifier
    from mnist_cnn.preprocess import canvas_to_mnist, naive_resize

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
    from mnist_cnn import browser

    code = "from mnist_cnn.inference import load_classifier; load_classifier()"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
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


LATENCY_JS = """() => {
  const lat = window.__lat = {up: null, changed: null, value: null};
  document.addEventListener('mouseup', () => { lat.up = performance.now(); }, true);
  const read = () => {
    const box = [...document.querySelectorAll('[data-testid="stMetric"]')].find(e => e.innerText.includes('Prediction'));
    const v = box && box.querySelector('[data-testid="stMetricValue"]');
    return v ? v.innerText.trim() : null;
  };
  new MutationObserver(() => {
    const v = read();
    if (v !== lat.value) { lat.value = v; lat.changed = performance.now(); }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
  lat.value = read();
}"""


def bench_browser(sizes: Sizes) -> list[str]:
    from playwright.sync_api import sync_playwright

    from mnist_cnn import browser

    latencies, correct = [], 0
    with browser.running_app() as url, sync_playwright() as p, browser.browser_page(p) as page:
        canvas = browser.open_app(page, url)
        page.evaluate(LATENCY_JS)
        rng = np.random.default_rng(0)
        for i in range(sizes.strokes + 1):  # the first stroke warms up the server's caches
            cx, cy, size = rng.uniform(0.2, 0.8), rng.uniform(0.3, 0.7), rng.uniform(0.25, 0.5)
            if i % 2:
                digit, points = "1", browser.vertical_stroke(cx, cy - size / 2, cy + size / 2)
            else:
                digit, points = "0", browser.loop(cx, cy, size * 0.3, size / 2)
            browser.draw(page, canvas, points)
            page.wait_for_function("() => window.__lat.value !== '—' && window.__lat.changed > window.__lat.up",
                                   polling="raf", timeout=browser.UI_TIMEOUT_MS)
            lat = page.evaluate("() => [window.__lat.changed - window.__lat.up, window.__lat.value]")
            if i:
                latencies.append(lat[0])
                correct += lat[1].startswith(digit)
            browser.toolbar_button(page, "Reset canvas & history").click()
            page.wait_for_function("() => window.__lat.value === '—'", polling="raf", timeout=browser.UI_TIMEOUT_MS)
    return ["| end of stroke → new prediction on screen | value |", "| --- | --- |",
            f"| median over {len(latencies)} strokes | {statistics.median(latencies):.0f} ms |",
            f"| p95 | {percentile(latencies, 95):.0f} ms |",
            f"| strokes recognised as the digit drawn (1s and 0s, random size and place) | {correct}/{len(latencies)} |"]


def run_benchmarks(quick: bool = False, browser: bool = True) -> str:
    """Run every benchmark and return the Markdown report."""
    from mnist_cnn.data import load_mnist
    from mnist_cnn.synthetic import canvas_set

    sizes = QUICK if quick else FULL
    _, (x_test, y_test) = load_mnist()
    pairs = list(canvas_set(x_test, y_test, sizes.canvases, seed=1))
    canvases, labels = [c for c, _ in pairs], [y for _, y in pairs]
    meta = {a: store.read_meta(store.shipped_model_path(a)) for a in ("seed", "improved")}
    out = [f"# Benchmarks{' (quick run: sizes too small to mean anything)' if quick else ''}", "",
           f"{dt.date.today().isoformat()} · {os.cpu_count()} cores · {platform.processor() or platform.machine()} · "
           f"Python {platform.python_version()} · TensorFlow {store.versions()['tensorflow']}, "
           f"Keras {store.versions()['keras']} · `python -m mnist_cnn bench`", ""]
    sections = [
        ("1. One drawing, canvas array to probabilities",
         f"{sizes.latency_reps} drawings from the canvas set below, preprocessing included; the seed notebook's "
         "way is `model.predict` on one image. Goal: ≤ 2 ms (seed), ≤ 5 ms (improved).",
         lambda: bench_latency(sizes, canvases)),
        ("2. Training throughput",
         f"Seed model, batch 100, one epoch on {sizes.train_images:,} images with validation on the test set, "
         f"{sizes.train_reps} pairs of runs in alternating order after a warm-up pair. Goal: ratio ≥ 0.95.",
         lambda: bench_training(sizes)),
        ("3. Robustness to how people draw",
         f"{sizes.canvases:,} MNIST test digits pasted on a 280×280 canvas at random heights (25–95%), positions "
         "and colour schemes (white on black, black on white, transparent). Goal: ≥ 99% with the improved model.",
         lambda: bench_robustness(sizes, canvases, labels)),
        ("4. Start-up", f"Median of {sizes.startup_reps} cold starts each.", lambda: bench_startup(sizes)),
    ]
    if browser:
        sections.append(("5. Drawing in a real browser",
                         f"Chromium (headless) + Playwright against `streamlit run app.py`: {sizes.strokes} strokes "
                         "after a warm-up, timed in the page from the mouse-up to the new value of the Prediction "
                         "metric (the canvas itself waits 200 ms before sending). Goal: ≤ 300 ms median.",
                         lambda: bench_browser(sizes)))
    for title, intro, fn in sections:
        out += [f"## {title}", "", intro, ""]
        out += fn()
        out.append("")
    out += ["## The shipped models", "", "| model | parameters | test accuracy | test loss | epochs | training time |",
            "| --- | --- | --- | --- | --- | --- |"]
    for arch, m in meta.items():
        out.append(f"| {arch} | {m.get('params', 0):,} | {m.get('test_accuracy', 0):.2%} | {m.get('test_loss', 0):.4f} | "
                   f"{m.get('epochs')} | {m.get('train_seconds', 0) / 60:.1f} min |")
    return "\n".join(out) + "\n"
