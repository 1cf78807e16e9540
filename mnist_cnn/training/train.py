"""Training: the architectures' own recipes on MNIST, with a progress hook and a cancel flag.

`train()` is what the CLI and the app's background job call. Progress is reported per batch
(throttled, so it costs nothing measurable) and per epoch; setting the cancel event stops the
run within a batch or two and raises TrainingCancelled, so no half-trained model is returned.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from mnist_cnn.data.mnist import load_mnist, one_hot, to_model_input
from mnist_cnn.training.architectures import build_model, get_arch
from mnist_cnn.training.augment import AUGMENTATIONS, augment_batch
from mnist_cnn.training.progress import Progress, ProgressHook

PROGRESS_INTERVAL_S = 0.25


class TrainingCancelled(Exception):
    """The run was cancelled; nothing was saved."""




@dataclass
class TrainResult:
    model: keras.Model
    arch: str
    epochs: int
    batch_size: int
    train_images: int
    test_loss: float
    test_accuracy: float
    seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # run-specific facts for the sidecar (e.g. a fine-tune's)

    def sidecar(self, trained_by: str) -> dict:
        """What the model's JSON sidecar records about this run."""
        return {**self.extra, "arch": self.arch, "epochs": self.epochs, "batch_size": self.batch_size,
                "train_images": self.train_images, "test_loss": round(self.test_loss, 5),
                "test_accuracy": round(self.test_accuracy, 5), "train_seconds": round(self.seconds, 1),
                "history": self.history, "trained_by": trained_by}


class ProgressCallback(keras.callbacks.Callback):
    """Reports progress through a hook at most every `interval` seconds and honours cancel."""

    async_safe = True  # only reads logs and sets flags, so Keras may dispatch it off-thread

    def __init__(self, hook: ProgressHook | None, cancel: threading.Event | None, epochs: int,
                 steps: int, interval: float = PROGRESS_INTERVAL_S) -> None:
        super().__init__()
        self.hook, self.cancel, self.epochs, self.steps, self.interval = hook, cancel, epochs, steps, interval
        self.started = time.perf_counter()
        self._last = 0.0
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.cancel is not None and self.cancel.is_set():
            self.model.stop_training = True
            raise TrainingCancelled("training cancelled")
        now = time.perf_counter()
        if self.hook is None or now - self._last < self.interval:
            return
        self._last = now
        logs = logs or {}
        self.hook(Progress("batch", self._epoch, self.epochs, batch + 1, self.steps,
                           float(logs.get("loss", math.nan)), float(logs.get("accuracy", math.nan)),
                           now - self.started))

    def on_epoch_end(self, epoch, logs=None):
        if self.cancel is not None and self.cancel.is_set():
            raise TrainingCancelled("training cancelled")
        if self.hook is None:
            return
        logs = logs or {}
        validated = "val_loss" in logs  # not after every epoch in every recipe (ArchSpec.validate_each_epoch)
        self.hook(Progress("epoch", epoch + 1, self.epochs, self.steps, self.steps,
                           float(logs.get("loss", math.nan)), float(logs.get("accuracy", math.nan)),
                           time.perf_counter() - self.started,
                           float(logs["val_loss"]) if validated else None,
                           float(logs["val_accuracy"]) if validated else None))


def one_hot_targets(labels: tf.Tensor) -> tf.Tensor:
    return tf.one_hot(labels, 10)


def augmented_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int | None = None,
                      augment: str | None = None,
                      targets: Callable[[tf.Tensor], tf.Tensor] = one_hot_targets) -> tf.data.Dataset:
    """Shuffled, batched, augmented (images, targets) from uint8 images.

    `augment` names a setting in augment.AUGMENTATIONS (an ArchSpec's `augment`); None means the
    default improved recipe's. `targets` turns a batch of int32 labels into what the loss is
    given: one-hot by default (train_drawings gives made-up non-digits a uniform target)."""
    cfg = AUGMENTATIONS[augment or get_arch("improved").augment]
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    ds = ds.map(
        lambda images, labels: (augment_batch(tf.cast(images, tf.float32)[..., None] / 255.0, cfg),
                                targets(tf.cast(labels, tf.int32))),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def train(arch: str = "seed", epochs: int | None = None, batch_size: int | None = None,
          limit: int | None = None, data_dir: str | None = None, progress: ProgressHook | None = None,
          cancel: threading.Event | None = None, seed: int | None = None) -> TrainResult:
    """Train an architecture with its recipe (or the given epochs and batch size), validating on
    the MNIST test set. `limit` trains on the first N training images only (quick runs, tests)."""
    spec = get_arch(arch)
    epochs = epochs or spec.epochs
    batch_size = batch_size or spec.batch_size
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch size must be at least 1.")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_mnist(data_dir)
    if limit is not None:
        if limit < batch_size:
            raise ValueError(f"--limit {limit} is smaller than one batch ({batch_size}); use a larger limit.")
        x_train, y_train = x_train[:limit], y_train[:limit]
    steps = math.ceil(len(x_train) / batch_size)
    model = build_model(arch, steps_per_epoch=steps, epochs=epochs)
    val = (to_model_input(x_test), one_hot(y_test))
    callback = ProgressCallback(progress, cancel, epochs, steps)
    started = time.perf_counter()
    if spec.augment:
        fit_data = {"x": augmented_dataset(x_train, y_train, batch_size, seed, spec.augment),
                    "shuffle": False}  # the dataset shuffles itself every epoch
    else:
        fit_data = {"x": to_model_input(x_train), "y": one_hot(y_train), "batch_size": batch_size, "shuffle": True}
    history = model.fit(**fit_data, epochs=epochs, validation_data=val, validation_batch_size=500,
                        validation_freq=1 if spec.validate_each_epoch else [epochs], callbacks=[callback], verbose=0)
    seconds = time.perf_counter() - started
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training cancelled")
    hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    return TrainResult(model=model, arch=arch, epochs=epochs, batch_size=batch_size, train_images=len(x_train),
                       test_loss=hist["val_loss"][-1], test_accuracy=hist["val_accuracy"][-1],
                       seconds=seconds, history=hist)
