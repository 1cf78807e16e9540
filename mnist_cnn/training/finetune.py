"""Fine-tuning a trained model on the drawings people saved, without forgetting MNIST.

The model keeps learning from MNIST while it learns the drawings: every batch mixes a random
slice of MNIST with the stored drawings, oversampled so they are a fixed share of each batch,
and both go through the same drawing-like augmentation as training. What keeps MNIST accuracy
where it was (measured: training every layer on a third drawings cost 0.2 pt even at a low
rate, the last convolution too 0.18 pt): only the classifier learns, every convolution and
batch-norm layer stays frozen with what training taught them; nine MNIST images for every
drawing; a short warm-up, then cosine decay to zero; and 16,000 images per epoch, not 60,000.

The drawings' fixed held-out split (drawings.is_held_out) is never trained on: the accuracy on
it before and after is the honest measure of what the fine-tune learned, and it is the
validation set of every epoch. The same progress hook and cancel event as train.train.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_cnn.config import NUM_CLASSES
from mnist_cnn.data.mnist import load_mnist, one_hot, to_model_input
from mnist_cnn.drawings.store import DrawingStore
from mnist_cnn.network import store
from mnist_cnn.training.progress import ProgressHook

if TYPE_CHECKING:  # TensorFlow is imported by the functions that run: the server reads EPOCHS without it
    import keras
    import tensorflow as tf

    from mnist_cnn.training.train import TrainResult

EPOCHS = 2
BATCH_SIZE = 128
IMAGES_PER_EPOCH = 16_000  # MNIST and drawings together; a few seconds an epoch, as only the classifier learns
DRAWING_SHARE = 0.1  # of every epoch's images, the rest is MNIST (what keeps MNIST accuracy)
PEAK_LEARNING_RATE = 1e-3  # a third of the improved recipe's peak: one layer, on features that stay put
WARMUP_FRACTION = 0.1
EVAL_BATCH = 500
MIN_DRAWINGS = 1


def _frozen_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers a fine-tune leaves alone: all but the classifier (Dense). The convolutions keep
    the stroke and shape detectors that MNIST and made-up handwriting taught; a person's style is
    a new way of combining them, which the classifier learns in seconds.

    Measured on a held-out handwriting font (400 drawings, half trained on, the other half
    scored) with the drawings-trained improved model: the classifier alone at a peak rate of 1e-3
    cut the errors to 0.07-0.12 of what they were and cost 0.06-0.07 pt of MNIST; also training
    the last convolution (rate 1.5e-4) cut them as far but cost 0.18 pt."""
    import keras

    return [layer for layer in model.layers if not isinstance(layer, keras.layers.Dense)]


def compile_with_warmup(model: keras.Model, total_steps: int, peak: float = PEAK_LEARNING_RATE) -> None:
    """Adam from a tenth of `peak`, warmed up to it over WARMUP_FRACTION of the steps, then cosine
    decay to zero: how a trained model goes on learning (a fine-tune, train_drawings from a model)."""
    import keras

    warmup = max(1, int(total_steps * WARMUP_FRACTION))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak / 10, decay_steps=max(1, total_steps - warmup), alpha=0.0,
        warmup_target=peak, warmup_steps=warmup)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="categorical_crossentropy", metrics=["accuracy"])


def _mixed_dataset(x_mnist: np.ndarray, y_mnist: np.ndarray, x_draw: np.ndarray, y_draw: np.ndarray,
                   batch_size: int, seed: int | None) -> tf.data.Dataset:
    """An endless stream of augmented batches, DRAWING_SHARE of them drawings (oversampled)."""
    import tensorflow as tf

    from mnist_cnn.training.augment import augment_batch

    def endless(x, y):
        return tf.data.Dataset.from_tensor_slices((x, y.astype(np.int32))).shuffle(len(x), seed=seed).repeat()

    mixed = tf.data.Dataset.sample_from_datasets(
        [endless(x_mnist, y_mnist), endless(x_draw, y_draw)], weights=[1 - DRAWING_SHARE, DRAWING_SHARE], seed=seed)
    return mixed.batch(batch_size).map(
        lambda images, labels: (augment_batch(tf.cast(images, tf.float32)[..., None] / 255.0),
                                tf.one_hot(tf.cast(labels, tf.int32), NUM_CLASSES)),
        num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _evaluate(model: keras.Model, x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """(loss, accuracy) on uint8 images, or None when there are none."""
    if len(x) == 0:
        return None
    loss, acc = model.evaluate(to_model_input(x), one_hot(y), batch_size=EVAL_BATCH, verbose=0)
    return float(loss), float(acc)


def _recorded_mnist_result(base: store.ModelEntry) -> tuple[float, float] | None:
    """The base model's MNIST test (loss, accuracy) from its sidecar, when the sidecar belongs to
    exactly this file: the same numbers a new evaluation would give, without its seconds."""
    meta = base.meta
    if "test_accuracy" not in meta or "test_loss" not in meta or meta.get("sha256") != store.file_digest(base.path):
        return None
    return float(meta["test_loss"]), float(meta["test_accuracy"])


def _accuracy(result: tuple[float, float] | None) -> float | None:
    return None if result is None else round(result[1], 5)


def finetune(base_path: str | Path, epochs: int | None = None, batch_size: int | None = None,
             limit: int | None = None, data_dir: str | None = None, progress: ProgressHook | None = None,
             cancel: threading.Event | None = None, seed: int | None = None,
             drawings: DrawingStore | None = None) -> TrainResult:
    """Fine-tune the model at `base_path` on MNIST plus the stored drawings (the store in the
    user home folder unless `drawings` is given). `limit` caps the images per epoch (quick
    runs, tests). Raises ValueError when there is nothing to learn from."""
    import keras

    from mnist_cnn.training.train import ProgressCallback, TrainingCancelled, TrainResult

    started = time.perf_counter()
    epochs = epochs or EPOCHS
    batch_size = batch_size or BATCH_SIZE
    per_epoch = min(limit or IMAGES_PER_EPOCH, IMAGES_PER_EPOCH)
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch size must be at least 1.")
    if per_epoch < batch_size:
        raise ValueError(f"--limit {per_epoch} is smaller than one batch ({batch_size}); use a larger limit.")
    drawings = drawings or DrawingStore()
    x_draw, y_draw, _ = drawings.dataset("train")
    x_held, y_held, _ = drawings.dataset("held_out")
    if len(x_draw) < MIN_DRAWINGS:
        raise ValueError("There are no saved drawings to fine-tune on (held-out ones are only measured); "
                         "label some in the Draw tab or run `python -m mnist_cnn drawings import PATH`.")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    base = store.entry(Path(base_path))
    model = store.load_keras_model(base.path)
    (x_train, y_train), (x_test, y_test) = load_mnist(data_dir)
    compile_with_warmup(model, 1)  # to measure the base model with the same code as the result
    mnist_before = _recorded_mnist_result(base) or _evaluate(model, x_test, y_test)
    held_before = _evaluate(model, x_held, y_held)

    frozen = [layer for layer in _frozen_layers(model) if layer.trainable]
    for layer in frozen:
        layer.trainable = False
    steps = math.ceil(per_epoch / batch_size)
    compile_with_warmup(model, steps * epochs)
    callback = ProgressCallback(progress, cancel, epochs, steps)
    validation = (to_model_input(x_held), one_hot(y_held)) if len(x_held) else None  # each epoch's val_accuracy
    fit_started = time.perf_counter()
    history = model.fit(_mixed_dataset(x_train, y_train, x_draw, y_draw, batch_size, seed), epochs=epochs,
                        steps_per_epoch=steps, shuffle=False,  # the stream is shuffled already
                        validation_data=validation, callbacks=[callback], verbose=0)
    fit_seconds = time.perf_counter() - fit_started
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training cancelled")
    for layer in frozen:  # saved configured like the model it came from
        layer.trainable = True
    test_loss, test_accuracy = _evaluate(model, x_test, y_test)
    held_after = _evaluate(model, x_held, y_held)
    extra = {
        "finetuned_from": base.model_id, "finetuned_from_path": str(base.path),
        "drawings_trained": int(len(x_draw)), "drawings_held_out": int(len(x_held)),
        "held_out_accuracy_before": _accuracy(held_before), "held_out_accuracy_after": _accuracy(held_after),
        "mnist_test_accuracy_before": _accuracy(mnist_before), "fit_seconds": round(fit_seconds, 1),
    }
    return TrainResult(model=model, arch=base.meta.get("arch", model.name), epochs=epochs, batch_size=batch_size,
                       train_images=steps * batch_size, test_loss=test_loss, test_accuracy=test_accuracy,
                       seconds=time.perf_counter() - started,
                       history={k: [float(v) for v in vs] for k, vs in history.history.items()}, extra=extra)
