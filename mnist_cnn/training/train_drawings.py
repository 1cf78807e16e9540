"""Teach the network to read what people draw, not only MNIST.

A network that has only seen MNIST reads a canvas drawing less well than an MNIST digit: the
pen is uniform and often thick, the ends are round, and people's 1s, 4s and 7s are not 1994's
American schoolchildren's. This recipe trains on MNIST and made-up handwriting together
(handwriting.py: pen digits at a canvas' pen widths, digits in handwriting fonts, coarse scans,
all through the app's own preprocessing), half and half, with the same drawing-like augmentation
as training, plus made-up non-digits whose target is "none of the ten" (outlier exposure), so the
network is unsure of a letter and the not-a-digit verdict can use that. From scratch it uses the
improved architecture's 12-epoch schedule (the shipped improved model); from a trained model it
goes on at a low rate. The held-out pen style and font families are never used here: they are
what the reading benchmark measures.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np

from mnist_cnn.config import NUM_CLASSES
from mnist_cnn.data.handwriting import crossed_out_digits, drawing_like, font_letters
from mnist_cnn.data.mnist import EXPECTED_COUNTS, load_mnist, one_hot, to_model_input
from mnist_cnn.data.nondigits import TRAIN, non_digits
from mnist_cnn.network import store
from mnist_cnn.reading.notdigit import SIDECAR_KEY
from mnist_cnn.training.architectures import build_model
from mnist_cnn.training.finetune import compile_with_warmup
from mnist_cnn.training.notdigit import THRESHOLD_DRAWINGS, KerasReader, fit_with_the_reader
from mnist_cnn.training.progress import ProgressHook

RECIPE = "drawings"
EPOCHS = 12  # from scratch, as the shipped improved model
EPOCHS_FROM_A_MODEL = 5
BATCH_SIZE = 128
DRAWINGS = 60_000  # made-up handwriting images, beside MNIST's 60,000
PEAK_LEARNING_RATE = 4e-4  # an eighth of the improved recipe's peak: the network is already trained
AUGMENT = "drawing"
OUTLIERS = 12_000  # non-digits, taught as "none of the ten" (uniform target)
OUTLIER = NUM_CLASSES  # their label in the training arrays
SCRATCH_RECIPE = "improved-12ep"  # the architecture and schedule of a run with no base model
ARCH = "improved"  # the network this recipe trains
BASE_ARCHS = (ARCH, SCRATCH_RECIPE)  # a model of these names is this network: a run may go on from it


def goes_on_from(arch: str) -> bool:
    """Whether a run can go on from a model of this architecture (the same network), rather than
    start from scratch."""
    return arch in BASE_ARCHS


def epochs_for(from_a_model: bool) -> int:
    return EPOCHS_FROM_A_MODEL if from_a_model else EPOCHS


def scaled(count: int, mnist_images: int | None) -> int:
    """`count` made-up images for a run on `mnist_images` MNIST images (None: all of them), in the
    full recipe's proportion, so a run on a few MNIST images (MNIST_DRAW_TRAIN_LIMIT) stays quick."""
    full = EXPECTED_COUNTS["train"]
    if mnist_images is None or mnist_images >= full:
        return count
    return max(1, count * mnist_images // full)


def made_up_images(mnist_images: int | None) -> tuple[int, int]:
    """(made-up drawings, made-up non-digits) a run on `mnist_images` MNIST images trains on."""
    return scaled(DRAWINGS, mnist_images), scaled(OUTLIERS, mnist_images)


def outliers(n: int, seed: int) -> np.ndarray:
    """n training non-digits (letters, shapes, scribbles, crossed-out digits), as 28x28 inputs."""
    parts = [font_letters(n // 3, seed=seed), crossed_out_digits(n // 6, seed=seed + 1)]
    parts.append(non_digits(n - sum(len(p) for p in parts), TRAIN, seed=seed + 2)[0])
    return np.concatenate(parts).astype(np.float32)


def outlier_targets(labels):
    """One-hot targets, but the uniform distribution over the ten digits for an OUTLIER (outlier
    exposure: the network learns to be unsure of what is not a digit)."""
    import tensorflow as tf

    uniform = tf.fill([tf.shape(labels)[0], NUM_CLASSES], 1.0 / NUM_CLASSES)
    return tf.where((labels == OUTLIER)[:, None], uniform, tf.one_hot(labels, NUM_CLASSES))


def train_for_drawings(base_path, epochs: int | None = None, drawings: int | None = None,
                       batch_size: int = BATCH_SIZE, outlier_images: int | None = None, limit: int | None = None,
                       seed: int = 1, progress: ProgressHook | None = None, cancel: threading.Event | None = None):
    """Train on MNIST and made-up handwriting, from scratch (`base_path` None) or going on from
    the model at `base_path`; returns a train.TrainResult whose sidecar names the recipe. The
    made-up drawings and non-digits default to the recipe's share of the MNIST images used
    (`limit`: the first N only)."""
    import keras

    from mnist_cnn.training.train import ProgressCallback, TrainingCancelled, TrainResult, augmented_dataset

    epochs = epochs or epochs_for(base_path is not None)
    default_drawings, default_outliers = made_up_images(limit)
    drawings = default_drawings if drawings is None else drawings
    outlier_images = default_outliers if outlier_images is None else outlier_images
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_mnist()
    if limit is not None:
        x_train, y_train = x_train[:limit], y_train[:limit]
    x_draw, y_draw = drawing_like(drawings, seed=seed, mnist=(x_train, y_train))
    x_out = outliers(outlier_images, seed=seed + 1)
    x = np.concatenate([x_train, *(np.round(a * 255).astype(np.uint8) for a in (x_draw, x_out))])
    y = np.concatenate([y_train, y_draw, np.full(len(x_out), OUTLIER, np.int64)])
    steps = math.ceil(len(x) / batch_size)
    if base_path is None:  # from scratch, with the architecture's own one-cycle schedule
        model = build_model(SCRATCH_RECIPE, steps_per_epoch=steps, epochs=epochs)
    else:
        model = keras.saving.load_model(base_path)
        compile_with_warmup(model, steps * epochs, PEAK_LEARNING_RATE)
    callback = ProgressCallback(progress, cancel, epochs, steps)
    started = time.perf_counter()
    history = model.fit(augmented_dataset(x, y, batch_size, seed, AUGMENT, outlier_targets), epochs=epochs,
                        shuffle=False,
                        validation_data=(to_model_input(x_test), one_hot(y_test)), validation_batch_size=500,
                        validation_freq=[epochs], callbacks=[callback], verbose=0)
    seconds = time.perf_counter() - started
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training cancelled")
    hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    base_meta = store.read_meta(base_path) if base_path else {"arch": ARCH}
    return TrainResult(model=model, arch=base_meta.get("arch", ARCH), epochs=epochs, batch_size=batch_size,
                       train_images=len(x), test_loss=hist["val_loss"][-1], test_accuracy=hist["val_accuracy"][-1],
                       seconds=seconds, history=hist,
                       extra={"recipe": RECIPE, "base_model": str(base_path) if base_path else None,
                              "drawing_images": int(len(x_draw)), "outlier_images": int(len(x_out))})


def fit_verdict(result, limit: int | None = None) -> None:
    """Fit the not-a-digit verdict for a new model into its sidecar's facts (result.extra) before
    it is saved, for the worker and `train-drawings` alike: a model that was taught what is not a
    digit never shows without the threshold that uses it. The made-up digits it is checked on
    shrink with `limit` like the run's own."""
    result.extra[SIDECAR_KEY] = fit_with_the_reader(KerasReader(result.model),
                                                    drawings=scaled(THRESHOLD_DRAWINGS, limit))
