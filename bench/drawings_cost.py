"""What a full "MNIST and made-up drawings" run costs on this machine, without running one.

`python -m bench.drawings_cost` starts the real recipe (train_drawings.train_for_drawings) at full
size, from scratch and going on from the shipped improved model in turn, with the app worker's
TensorFlow threads, and cancels each after a few hundred steps. From the progress reports it
takes the seconds per training step (the slope past the first steps, which trace the model) and
the set-up before the first step (making up the drawings and non-digits, building or loading the
model). It then times fitting the not-a-digit verdict for a model. The figures are what
jobs.estimate_drawings_seconds uses; the machine's load is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

from mnist_cnn.training.progress import Progress

WARM_UP_STEPS = 50  # the first steps trace the model and fill tf.data's buffers


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def one_run(base_path, steps: int) -> dict:
    """Start a full-size run, cancel it after `steps` steps; its set-up and per-step seconds."""
    from mnist_cnn.training.train import TrainingCancelled
    from mnist_cnn.training.train_drawings import train_for_drawings

    cancel, reports = threading.Event(), []

    def hook(p: Progress) -> None:
        reports.append((time.perf_counter(), p))
        if p.batch >= steps:
            cancel.set()

    called = time.perf_counter()
    try:
        train_for_drawings(base_path, progress=hook, cancel=cancel)
    except TrainingCancelled:
        pass
    wall, first = reports[0]
    late = [p for _, p in reports if p.batch >= WARM_UP_STEPS]
    step_s = (late[-1].elapsed - late[0].elapsed) / (late[-1].batch - late[0].batch)
    return {"setup_s": wall - first.elapsed - called, "step_s": step_s, "steps_per_epoch": first.steps}


def verdict_seconds() -> float:
    from mnist_cnn.network.inference import load_classifier
    from mnist_cnn.network.store import shipped_model_path
    from mnist_cnn.training.notdigit import fit_with_the_reader

    clf = load_classifier(shipped_model_path("improved"))
    started = time.perf_counter()
    fit_with_the_reader(clf)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()
    from mnist_cnn.network.store import shipped_model_path
    from mnist_cnn.training.worker import _configure_tensorflow

    _configure_tensorflow(idle_class=True)  # the worker's threads (it runs in the idle class: all cores)
    print(f"load average before: {load_average()}")
    runs = {"scratch": [], "from a model": []}
    for _ in range(args.rounds):
        for name, base in (("scratch", None), ("from a model", shipped_model_path("improved"))):
            run = one_run(base, args.steps)
            runs[name].append(run)
            print(f"{name}: set-up {run['setup_s']:.1f} s, {run['step_s'] * 1e3:.1f} ms a step "
                  f"({run['steps_per_epoch']} steps an epoch); load {load_average()}", flush=True)
    verdicts = [verdict_seconds() for _ in range(args.rounds)]
    for name, rs in runs.items():
        print(f"{name}: median set-up {statistics.median(r['setup_s'] for r in rs):.1f} s, "
              f"median {statistics.median(r['step_s'] for r in rs) * 1e3:.1f} ms a step")
    print(f"fitting the verdict: median {statistics.median(verdicts):.1f} s")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
