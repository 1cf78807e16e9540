"""Command line for explanations: `python -m mnist_cnn explain IMAGE` and `python -m mnist_cnn index`.

`explain` prints the answer, the attribution map as characters (+ pushed towards the answer,
- towards the other digits, . ink that hardly mattered) and, once the model's index is built,
the 8 most similar training digits. `index` builds that index in the foreground (the app builds
it in the background on first use). Expected failures end in one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_cnn.cli.common import fail, unreadable

if TYPE_CHECKING:
    import numpy as np


STRONG = 0.25  # share of the largest |attribution| above which a pixel gets + or -


def attribution_text(image: np.ndarray, attr: np.ndarray) -> list[str]:
    """28 lines of 28 characters: + and - for strong attribution, . for other ink, space for none."""
    import numpy as np

    limit = max(float(np.abs(attr).max()), 1e-12)
    chars = np.full(attr.shape, " ")
    chars[image > 0] = "."
    chars[attr > STRONG * limit] = "+"
    chars[attr < -STRONG * limit] = "-"
    return ["".join(row).rstrip() for row in chars]


def cmd_explain(args: argparse.Namespace) -> None:
    from mnist_cnn.explain import explain, feature_index
    from mnist_cnn.network.inference import load_classifier, verdict
    from mnist_cnn.network.store import ModelStoreError
    from mnist_cnn.reading.preprocess import ImageError, image_to_mnist

    try:
        clf = load_classifier(args.model)
    except ModelStoreError as exc:
        fail(str(exc))
    try:
        with open(args.image, "rb") as f:
            image = image_to_mnist(f)
    except OSError as exc:
        fail(f"{args.image}: {unreadable(Path(args.image), exc)}")
    except ImageError as exc:
        fail(f"{args.image}: {exc}")
    if image is None:
        fail(f"{args.image}: no digit found (the picture is blank)")
    v = verdict(clf.predict_proba(image[None])[0])
    runner_up = f"runner-up {v.runner_up} ({v.probs[v.runner_up]:.1%})"
    print(f"{Path(args.image).name}: {v.digit} ({v.confidence:.1%}), {runner_up}")
    print(f"+ pushed towards {v.digit}, - towards the other digits:")
    for line in attribution_text(image, explain.attribution(clf, image)):
        print(f"  |{line}")
    index = feature_index.load(feature_index.index_name(clf.model_id))
    if index is None:
        print("Most similar training digits: the index for this model is not built yet "
              f"(python -m mnist_cnn index{f' --model {args.model}' if args.model else ''}).")
        return
    indices, labels, sims = explain.nearest(clf, image, index=index)
    print("Most similar training digits: " + ", ".join(f"#{i} a {label} ({s:.2f})"
                                                         for i, label, s in zip(indices, labels, sims)))


def cmd_index(args: argparse.Namespace) -> None:
    from mnist_cnn.data.mnist import MnistDataError
    from mnist_cnn.explain import feature_index
    from mnist_cnn.network import store

    path = Path(args.model) if args.model else store.current_model_path()
    try:
        written = feature_index.build_for(path, args.limit)
    except (MnistDataError, store.ModelStoreError) as exc:
        fail(str(exc))
    print(f"index written to {written}")


def register(subparsers) -> None:
    p = subparsers.add_parser("explain", help="why the network reads a picture as it does")
    p.add_argument("image", help="a picture of one digit")
    p.add_argument("--model", help="a .keras model (default: the current one)")
    p.set_defaults(func=cmd_explain)

    p = subparsers.add_parser("index", help="build a model's index of similar training digits (the app does it too)")
    p.add_argument("--model", help="a .keras model (default: the current one)")
    p.add_argument("--limit", type=int, default=None, help="index only the first N training and test digits")
    p.set_defaults(func=cmd_index)
