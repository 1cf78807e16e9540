"""Why the network answered what it did, for one drawing: which strokes decided it, which
training digits it resembles, where it lands among all digits, what each filter looks for,
and what change to the drawing would flip the answer.

`image` is always a (28, 28) float array in [0, 1], white on black, as predict_proba takes.
Everything a drawing needs runs in NumPy in a few tens of milliseconds (no TensorFlow);
what needs all of MNIST (the neighbour index, the 2-D map) is built once per model in the
background by feature_index.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mnist_cnn.config import IMAGE_SIZE, NUM_CLASSES
from mnist_cnn.explain import feature_index
from mnist_cnn.network import backprop
from mnist_cnn.network.inference import NUMPY_MAX_BATCH  # batches up to this size run in NumPy, never in TensorFlow

ATTRIBUTION_STEPS = 16  # IG path in one NumPy batch; 8 ranked pixels as well but missed the sum by up to 48%
# The path's steps crowd near the blank canvas (alpha = u**3): a network trained on drawings moves
# most between no ink and a trace of it (its score rose 4.6 of 20 between alpha 0 and 0.005), which
# evenly spaced steps skip; over 60 test digits the sum missed the score by 4.7% (median) and up to
# 65% with even steps, 2.2% and 24% with these.
PATH_POWER = 3
NEIGHBOURS = 8
DELETION_FRACTIONS = np.linspace(0.0, 1.0, 11)  # share of the ink deleted at each point of the curve
PATCHES_PER_FILTER = 9
PATCH_CONTEXT = 7  # a 3x3 patch is shown inside the 7x7 around it
PATCH_CHUNK = 500


def _image(image: np.ndarray) -> np.ndarray:
    x = np.asarray(image, np.float32)
    if x.shape == (IMAGE_SIZE, IMAGE_SIZE, 1):
        x = x[..., 0]
    if x.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"expected a 28x28 image, got shape {x.shape}")
    return x


def predict_many(clf, images: np.ndarray) -> np.ndarray:
    """Probabilities for a stack of images in batches the NumPy path takes, so an interactive
    view never wakes (or loads) TensorFlow."""
    images = np.asarray(images, np.float32)
    starts = range(0, len(images), NUMPY_MAX_BATCH)
    return np.concatenate([clf.predict_proba(images[i : i + NUMPY_MAX_BATCH]) for i in starts])


# ---------- which strokes decided it ----------

_steps: dict[str, list[backprop.Step]] = {}


def _network(clf) -> list[backprop.Step]:
    if clf.model_id not in _steps:
        _steps[clf.model_id] = backprop.compile_steps(clf.lite.layers)
    return _steps[clf.model_id]


def top_two(clf, image: np.ndarray) -> tuple[int, int]:
    """The predicted digit and the runner-up."""
    order = np.argsort(clf.predict_proba(_image(image)[None])[0])[::-1]
    return int(order[0]), int(order[1])


AGAINST_OTHERS, AGAINST_RUNNER_UP = "others", "runner-up"


def attribution(clf, image: np.ndarray, against: str = AGAINST_OTHERS) -> np.ndarray:
    """How much each pixel pushed the answer towards the predicted digit (+) rather than the
    other digits (−): integrated gradients, from a black image to the drawing, of the
    predicted digit's logit minus the mean of the other nine (softmax ignores what all logits
    share, so this is what moves the answer). The values add up (within about 10%: the path
    integral is a 16-step sum) to that difference for the drawing minus a black image's, in
    logit units; only pixels with ink carry attribution.

    against="runner-up" contrasts with the runner-up alone (− then means "looks like the
    runner-up"). It is the sharper story for one pair of digits but the less faithful map:
    strokes both digits share get little credit, so deleting its top pixels first lowers the
    prediction barely faster than deleting the brightest ink first (see the benchmark)."""
    if against not in (AGAINST_OTHERS, AGAINST_RUNNER_UP):
        raise ValueError(f"against must be {AGAINST_OTHERS!r} or {AGAINST_RUNNER_UP!r}, not {against!r}")
    x = _image(image)
    top, runner_up = top_two(clf, x)
    u = (np.arange(ATTRIBUTION_STEPS, dtype=np.float32) + 0.5) / ATTRIBUTION_STEPS
    alphas, weights = u ** PATH_POWER, PATH_POWER * u ** (PATH_POWER - 1) / ATTRIBUTION_STEPS
    path = alphas[:, None, None, None] * x[None, :, :, None]
    contrast = np.zeros(NUM_CLASSES, np.float32)
    if against == AGAINST_OTHERS:
        contrast[:] = -1.0 / (NUM_CLASSES - 1)
    else:
        contrast[runner_up] = -1.0
    contrast[top] = 1.0
    direction = np.broadcast_to(contrast, (ATTRIBUTION_STEPS, NUM_CLASSES))
    _, grads = backprop.logits_and_gradient(_network(clf), path, direction)
    return (x * np.tensordot(weights, grads[..., 0], axes=1)).astype(np.float32)


def contrast_logit(logits: np.ndarray, top: int, against: str = AGAINST_OTHERS, runner_up: int | None = None) -> float:
    """The score an attribution map explains: the predicted digit's logit minus the mean of the
    others (or minus the runner-up's)."""
    logits = np.asarray(logits, np.float64).ravel()
    if against == AGAINST_RUNNER_UP:
        return float(logits[top] - logits[runner_up])
    return float(logits[top] - (logits.sum() - logits[top]) / (NUM_CLASSES - 1))


def logits(clf, images: np.ndarray) -> np.ndarray:
    """The network's logits (before softmax) for a stack of images, in NumPy."""
    x = np.asarray(images, np.float32).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)
    return backprop.forward(_network(clf), x)[0]


def deletion_orders(image: np.ndarray, attr: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The image's ink pixels (flat indices) in three deletion orders: most-attributed first,
    at random, and brightest first (ties at random): a map that merely copies the ink does no
    better than the last."""
    x = _image(image).ravel()
    ink = np.flatnonzero(x > 0)
    tiebreak = rng.random(len(ink))
    return {
        "attributed": ink[np.lexsort((tiebreak, -attr.ravel()[ink]))],
        "random": rng.permutation(ink),
        "brightest": ink[np.lexsort((tiebreak, -x[ink]))],
    }


def deletion_curves(clf, images: np.ndarray, seed: int = 0, against: str = AGAINST_OTHERS) -> dict[str, np.ndarray]:
    """For each deletion order, the probability of the originally predicted digit as
    0%, 10%, ..., 100% of the ink is deleted: {order: (n_images, n_fractions)}."""
    rng = np.random.default_rng(seed)
    images = np.asarray(images, np.float32).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    predicted = clf.predict_proba(images).argmax(axis=1)
    batches: dict[str, list[np.ndarray]] = {}
    for image in images:
        for name, order in deletion_orders(image, attribution(clf, image, against), rng).items():
            for fraction in DELETION_FRACTIONS:
                erased = image.ravel().copy()
                erased[order[: int(round(fraction * len(order)))]] = 0.0
                batches.setdefault(name, []).append(erased)
    curves = {}
    for name, rows in batches.items():
        probs = clf.predict_proba(np.stack(rows).reshape(-1, IMAGE_SIZE, IMAGE_SIZE))
        probs = probs.reshape(len(images), len(DELETION_FRACTIONS), NUM_CLASSES)
        curves[name] = probs[np.arange(len(images)), :, predicted]
    return curves


def area_under(curve: np.ndarray) -> float | np.ndarray:
    """Area under deletion curve(s) over the deleted share 0-1 (lower is more faithful)."""
    return np.trapezoid(curve, DELETION_FRACTIONS, axis=-1)


# ---------- what it resembles, where it lands ----------

class IndexNotReady(RuntimeError):
    """The model's neighbour index is still being built (or failed); the message says which."""


def index_for(clf) -> feature_index.FeatureIndex:
    """The model's index if it is on disk; otherwise start building it and raise IndexNotReady."""
    index = feature_index.load(feature_index.index_name(clf.model_id))
    if index is not None:
        return index
    state = feature_index.ensure_built(clf.path, clf.model_id)
    if state == feature_index.FAILED:
        raise IndexNotReady(feature_index.status(feature_index.index_name(clf.model_id))[1])
    index = feature_index.load(feature_index.index_name(clf.model_id))
    if index is None:
        raise IndexNotReady("building the index…")
    return index


def features(clf, image: np.ndarray) -> np.ndarray:
    """The drawing's penultimate features (the input of the last Dense layer)."""
    return feature_index.embed(clf, _image(image)[None])


def nearest(clf, image: np.ndarray, k: int = NEIGHBOURS,
            index: feature_index.FeatureIndex | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k training digits most similar to the drawing in the network's learned features
    (cosine similarity): their indices into the MNIST training set, labels and similarities."""
    return (index or index_for(clf)).nearest(features(clf, image), k)


def place(clf, image: np.ndarray, index: feature_index.FeatureIndex | None = None) -> np.ndarray:
    """Where the drawing lands on the model's 2-D map of the test digits: (x, y)."""
    return (index or index_for(clf)).place(features(clf, image))[0]


def majority(labels: np.ndarray) -> int:
    """The most common label (the smallest on a tie)."""
    return int(np.bincount(np.asarray(labels, np.int64), minlength=NUM_CLASSES).argmax())


# ---------- what each first-layer filter looks for ----------

@dataclass(frozen=True)
class TopPatches:
    """For each first-layer filter, the test images whose 3x3 patch excites it most."""

    images: np.ndarray  # (filters, k) test-image indices, one patch per image
    centres: np.ndarray  # (filters, k, 2) row, column of the patch centre
    responses: np.ndarray  # (filters, k) the filter's response there (before ReLU, without bias)
    windows: np.ndarray  # (filters, k, PATCH_CONTEXT, PATCH_CONTEXT) the patch in its context, 0-1


def top_patches(kernels: np.ndarray, images: np.ndarray, k: int = PATCHES_PER_FILTER) -> TopPatches:
    """kernels (3, 3, 1, filters) and uint8 test images (n, 28, 28). At most one patch per
    image and filter, so the k examples are k different digits."""
    from numpy.lib.stride_tricks import sliding_window_view

    kh, kw, _, n_filters = kernels.shape
    weights = np.asarray(kernels, np.float32).reshape(kh * kw, n_filters)
    best = np.empty((len(images), n_filters), np.float32)
    where = np.empty((len(images), n_filters), np.int64)
    for i in range(0, len(images), PATCH_CHUNK):
        x = np.asarray(images[i : i + PATCH_CHUNK], np.float32) / 255.0
        padded = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))  # "same" padding
        patches = sliding_window_view(padded, (kh, kw), axis=(1, 2)).reshape(len(x), -1, kh * kw)
        response = patches @ weights  # (chunk, 784, filters)
        best[i : i + len(x)] = response.max(axis=1)
        where[i : i + len(x)] = response.argmax(axis=1)
    chosen = np.argsort(-best, axis=0, kind="stable")[:k].T  # (filters, k)
    positions = np.take_along_axis(where.T, chosen, axis=1)
    rows, cols = np.divmod(positions, images.shape[2])
    half = PATCH_CONTEXT // 2
    framed = np.pad(np.asarray(images, np.float32) / 255.0, ((0, 0), (half, half), (half, half)))
    windows = np.stack([[framed[img, r : r + PATCH_CONTEXT, c : c + PATCH_CONTEXT]
                         for img, r, c in zip(chosen[f], rows[f], cols[f])] for f in range(n_filters)])
    return TopPatches(chosen, np.stack([rows, cols], axis=-1), np.take_along_axis(best.T, chosen, axis=1), windows)


# ---------- what would change it ----------

@dataclass(frozen=True)
class Slider:
    label: str
    low: float
    high: float
    step: float
    unit: str = ""

    def values(self) -> np.ndarray:
        return np.round(np.arange(self.low, self.high + self.step / 2, self.step), 6)


@dataclass(frozen=True)
class Change:
    """Edits to a drawing, each 0 (or 1 for scale) when untouched."""

    rotate: float = 0.0  # degrees, anticlockwise
    scale: float = 1.0  # about the centre
    thickness: float = 0.0  # pixels of stroke added (negative: removed) on each side
    shift_x: float = 0.0  # pixels to the right
    shift_y: float = 0.0  # pixels down
    erase: float = 0.0  # share of the ink's height (or width) erased from `erase_side`
    erase_side: str = "top"


SLIDERS: dict[str, Slider] = {
    "rotate": Slider("Rotate", -90, 90, 5, "°"),
    "scale": Slider("Scale", 0.5, 1.6, 0.05, "×"),
    "thickness": Slider("Thicken / thin", -2, 3, 1, " px"),
    "shift_x": Slider("Shift right", -8, 8, 1, " px"),
    "shift_y": Slider("Shift down", -8, 8, 1, " px"),
    "erase": Slider("Erase part", 0.0, 0.7, 0.05, " of the ink"),
}
ERASE_SIDES = ("top", "bottom", "left", "right")
CENTRE = (IMAGE_SIZE - 1) / 2


def _erase(x: np.ndarray, share: float, side: str) -> np.ndarray:
    if share <= 0:
        return x
    if side not in ERASE_SIDES:
        raise ValueError(f"erase_side must be one of {', '.join(ERASE_SIDES)}, not {side!r}")
    axis = 0 if side in ("top", "bottom") else 1
    inked = np.flatnonzero(x.max(axis=1 - axis) > 0)
    if len(inked) == 0:
        return x
    start, stop = inked[0], inked[-1] + 1
    cut = int(round(share * (stop - start)))
    out = x.copy()
    span = slice(start, start + cut) if side in ("top", "left") else slice(stop - cut, stop)
    if axis == 0:
        out[span, :] = 0.0
    else:
        out[:, span] = 0.0
    return out


def _thickness(x: np.ndarray, pixels: float) -> np.ndarray:
    from scipy import ndimage

    steps = int(round(pixels))
    cross = ndimage.generate_binary_structure(2, 1)
    grow = ndimage.grey_dilation if steps > 0 else ndimage.grey_erosion
    for _ in range(abs(steps)):
        x = grow(x, footprint=cross)
    return x


def transformed(image: np.ndarray, change: Change) -> np.ndarray:
    """The drawing after a Change: erase, then thicken/thin, scale, rotate and shift."""
    from scipy import ndimage

    x = _erase(_image(image), change.erase, change.erase_side)
    x = _thickness(x, change.thickness)
    if change.scale != 1.0:
        shrink = 1.0 / change.scale
        x = ndimage.affine_transform(x, np.eye(2) * shrink, offset=CENTRE - CENTRE * shrink, order=1)
    if change.rotate:
        x = ndimage.rotate(x, change.rotate, reshape=False, order=1)
    if change.shift_x or change.shift_y:
        x = ndimage.shift(x, (change.shift_y, change.shift_x), order=0)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def sweep(clf, image: np.ndarray, change: Change, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The probability of each digit as one slider runs over its range, the others held at
    `change`: (values, (len(values), 10))."""
    if name not in SLIDERS:
        raise ValueError(f"unknown slider {name!r}; choose one of {', '.join(SLIDERS)}")
    values = SLIDERS[name].values()
    images = np.stack([transformed(image, replace(change, **{name: float(v)})) for v in values])
    return values, predict_many(clf, images)


def answer_ranges(values: np.ndarray, probs: np.ndarray) -> list[tuple[float, float, int]]:
    """The answer along a sweep as runs: (first value, last value, digit); more than one run
    means the answer flips somewhere in the slider's range."""
    answers = probs.argmax(axis=1)
    starts = [0, *(i for i in range(1, len(answers)) if answers[i] != answers[i - 1])]
    ends = [*(i - 1 for i in starts[1:]), len(answers) - 1]
    return [(float(values[a]), float(values[b]), int(answers[a])) for a, b in zip(starts, ends)]




# ---------- side by side ----------

def compare(image: np.ndarray, classifiers: list) -> list[tuple[object, np.ndarray]]:
    """Each model's probabilities for the same drawing."""
    x = _image(image)[None]
    return [(clf, clf.predict_proba(x)[0]) for clf in classifiers]
