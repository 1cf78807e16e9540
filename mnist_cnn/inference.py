"""Fast, thread-safe prediction for the app and the CLI.

`model.predict` builds a data pipeline on every call (about 50 ms for one image here). Two fast
paths replace it: for a few images (a drawing), the network's forward pass in NumPy
(fastpath.py), which runs in the calling thread in under a millisecond even inside the
Streamlit server; for many images (the test set), a traced tf.function, batched. Tracing happens
once, under a lock, when the classifier is loaded; after that concurrent calls from Streamlit's
per-session threads are safe (neither path keeps mutable state).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from mnist_cnn import fastpath, store
from mnist_cnn.config import IMAGE_SIZE
from mnist_cnn.model import FIRST_CONV

FEATURE_LAYER = "relu1"  # the first convolution's output after ReLU, in every architecture
PREDICT_CHUNK = 1000
NUMPY_MAX_BATCH = 16  # up to this many images go through the NumPy forward pass


class Classifier:
    """A loaded model with a compiled forward pass: predict_proba, first-layer kernels and maps."""

    def __init__(self, model, path: Path, warning: str | None = None) -> None:
        import keras
        import tensorflow as tf

        self.model = model
        self.path = Path(path)
        self.entry = store.entry(self.path)
        self.warning = warning
        spec = [tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 1], tf.float32)]
        self._forward = tf.function(lambda x: model(x, training=False), input_signature=spec)
        try:
            self._np_forward = fastpath.compile_layers(model)
            np_features = fastpath.compile_layers(model, stop_after=FEATURE_LAYER)
            self._maps = lambda x: fastpath.run(np_features, x)
            fastpath.limit_blas_threads()
        except fastpath.UnsupportedLayer:  # a layer fastpath does not know: TensorFlow for everything
            self._np_forward = None
            features = keras.Model(model.inputs, model.get_layer(FEATURE_LAYER).output)
            tf_features = tf.function(lambda x: features(x, training=False), input_signature=spec)
            self._maps = lambda x: tf_features(x).numpy()
        with _trace_lock:  # trace the graphs once, before any session thread calls them
            zeros = np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 1), np.float32)
            self._forward(zeros)
            self._maps(zeros)

    @property
    def model_id(self) -> str:
        return self.entry.model_id

    @property
    def arch(self) -> str:
        return self.entry.meta.get("arch", self.model.name)

    @staticmethod
    def _as_batch(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.ndim == 3:
            x = x[..., None]
        if x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 1):
            raise ValueError(f"expected images of shape (n, 28, 28) or (n, 28, 28, 1), got {x.shape}")
        return x

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, 28, 28[, 1]) float32 in [0, 1], white digit on black, to (n, 10) probabilities."""
        x = self._as_batch(x)
        if self._np_forward is not None and len(x) <= NUMPY_MAX_BATCH:
            return fastpath.run(self._np_forward, x)
        if len(x) <= PREDICT_CHUNK:
            return self._forward(x).numpy()
        return np.concatenate([self._forward(x[i : i + PREDICT_CHUNK]).numpy() for i in range(0, len(x), PREDICT_CHUNK)])

    def feature_maps(self, image: np.ndarray) -> np.ndarray:
        """The first convolution's 32 maps (after ReLU) for one image: (28, 28, 32)."""
        return self._maps(self._as_batch(image)[:1])[0]

    def first_layer_kernels(self) -> np.ndarray:
        """The first convolution's kernels, channels-last as Keras stores them: (3, 3, 1, 32)."""
        return np.asarray(self.model.get_layer(FIRST_CONV).get_weights()[0])


_trace_lock = threading.Lock()


def load_classifier(path: str | Path | None = None) -> Classifier:
    """Load a model for prediction. No path: the current model (the user's choice, else the
    shipped improved one); if that file is missing or corrupt, fall back to the shipped model
    and say so in `.warning`. An explicit path that cannot be loaded raises ModelStoreError."""
    if path is not None:
        return Classifier(store.load_keras_model(Path(path)), Path(path))
    current = store.current_model_path()
    try:
        return Classifier(store.load_keras_model(current), current)
    except store.ModelStoreError as exc:
        shipped = store.shipped_model_path()
        if current == shipped:
            raise
        return Classifier(store.load_keras_model(shipped), shipped, warning=f"{exc} Using the shipped model instead.")


class Verdict:
    """What to tell a person about one prediction."""

    def __init__(self, probs: np.ndarray, low_confidence: float) -> None:
        order = np.argsort(probs)[::-1]
        self.probs = probs
        self.digit, self.runner_up = int(order[0]), int(order[1])
        self.confidence = float(probs[order[0]])
        self.unsure = self.confidence < low_confidence

    @property
    def hedge(self) -> str:
        """e.g. "maybe a 4, or a 9" when the network is unsure."""
        return f"maybe a {self.digit}, or a {self.runner_up}"


def verdict(probs: np.ndarray) -> Verdict:
    from mnist_cnn.config import LOW_CONFIDENCE

    return Verdict(np.asarray(probs).reshape(-1), LOW_CONFIDENCE)
