"""Fast, thread-safe prediction for the app and the CLI, without waiting for TensorFlow.

A Classifier reads the .keras file itself (kerasfile.py) and runs the network's forward pass in
NumPy (fastpath.py): a drawing is answered in about a millisecond, in the calling thread, and
loading needs no TensorFlow at all, so a cold server shows a canvas and answers the first stroke
within a second or two. TensorFlow is imported only when something needs it: many images at
once (the 10,000 test digits: a traced tf.function is much faster there) or the Keras model
itself (gradients, training). Neither path keeps mutable state after loading, so Streamlit's
per-session threads can share one Classifier.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from mnist_cnn.config import IMAGE_SIZE, LOW_CONFIDENCE
from mnist_cnn.network import fastpath, kerasfile, store

FEATURE_LAYER = "relu1"  # the first convolution's output after ReLU, in every architecture
FIRST_CONV = "conv1"  # every architecture names its first convolution so (training/architectures.py)
PREDICT_CHUNK = 1000
NUMPY_MAX_BATCH = 64  # up to this many images go through the NumPy forward pass


class Classifier:
    """A loaded model: predictions, penultimate features, kernels and feature maps of any layer."""

    def __init__(self, path: Path, warning: str | None = None) -> None:
        self.path = Path(path)
        self.entry = store.entry(self.path)
        self.warning = warning
        try:
            self.lite = kerasfile.read_model(self.path)
        except kerasfile.KerasFileError as exc:
            raise store.ModelStoreError(f"Model file {self.path} is not a loadable .keras model ({exc}).") from None
        self._lock = threading.RLock()  # re-entrant: building a TF function loads the model
        self._keras = None
        self._tf: dict[str, object] = {}
        try:
            self._np_forward = fastpath.compile_layers(self.lite)
            fastpath.limit_blas_threads()
        except fastpath.UnsupportedLayer:  # a layer fastpath does not know: TensorFlow for everything
            self._np_forward = None
            _ = self.model

    # ---------- identity ----------

    @property
    def model_id(self) -> str:
        return self.entry.model_id

    @property
    def arch(self) -> str:
        return self.entry.meta.get("arch", self.lite.name)

    @property
    def model(self):
        """The Keras model, loaded on first use (this imports TensorFlow)."""
        with self._lock:
            if self._keras is None:
                self._keras = store.load_keras_model(self.path)
            return self._keras

    def count_params(self) -> int:
        return self.lite.count_params()

    # ---------- prediction ----------

    @staticmethod
    def _as_batch(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 2 or x.shape == (IMAGE_SIZE, IMAGE_SIZE, 1):  # one image
            x = x[None]
        if x.ndim == 3:
            x = x[..., None]
        if x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 1):
            raise ValueError(f"expected images of shape (n, 28, 28) or (n, 28, 28, 1), got {x.shape}")
        return x

    def _tf_function(self, key: str, stop_after: str | None):
        """A traced TensorFlow forward pass up to a layer (or the output), built once."""
        with self._lock:
            if key not in self._tf:
                import keras
                import tensorflow as tf

                model = self.model
                sub = model if stop_after is None else keras.Model(model.inputs, model.get_layer(stop_after).output)
                spec = [tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 1], tf.float32)]
                fn = tf.function(lambda x: sub(x, training=False), input_signature=spec)
                fn(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 1), np.float32))  # trace once, before sharing
                self._tf[key] = fn
            return self._tf[key]

    def _run(self, x: np.ndarray, stop_after: str | None) -> np.ndarray:
        x = self._as_batch(x)
        if self._np_forward is not None and len(x) <= NUMPY_MAX_BATCH:
            ops = self._np_forward if stop_after is None else self._np_ops(stop_after)
            return fastpath.run(ops, x)
        fn = self._tf_function(stop_after or "", stop_after)
        return np.concatenate([fn(x[i : i + PREDICT_CHUNK]).numpy() for i in range(0, len(x), PREDICT_CHUNK)])

    def _np_ops(self, stop_after: str):
        with self._lock:
            key = f"np:{stop_after}"
            if key not in self._tf:
                self._tf[key] = fastpath.compile_layers(self.lite, stop_after=stop_after)
            return self._tf[key]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, 28, 28[, 1]) float32 in [0, 1], white digit on black, to (n, 10) probabilities."""
        return self._run(x, None)

    def embed(self, x: np.ndarray) -> np.ndarray:
        """The penultimate features (the input of the last Dense layer): (n, d). What the network
        'thinks' a digit looks like, for neighbours and maps."""
        return self._run(x, self.embedding_layer()).reshape(len(self._as_batch(x)), -1)

    def embedding_layer(self) -> str:
        names = [layer.name for layer in self.lite.layers]
        last_dense = max(i for i, layer in enumerate(self.lite.layers) if layer.class_name == "Dense")
        return names[last_dense - 1]

    # ---------- insides ----------

    def conv_layers(self) -> list[str]:
        """Names of the convolution layers, input side first."""
        return [layer.name for layer in self.lite.layers if layer.class_name == "Conv2D"]

    def _activation_after(self, conv: str) -> str:
        """The layer whose output is the convolution's activation (after batch norm and ReLU)."""
        names = [layer.name for layer in self.lite.layers]
        i = names.index(conv)
        for layer in self.lite.layers[i + 1 :]:
            if layer.class_name == "Activation":
                return layer.name
            if layer.class_name not in ("BatchNormalization",):
                break
        return conv

    def layer_maps(self, image: np.ndarray, layer: str) -> np.ndarray:
        """One image's feature maps after a convolution layer's activation: (h, w, channels)."""
        if layer not in self.conv_layers():
            raise ValueError(f"{layer} is not a convolution layer; choose one of {', '.join(self.conv_layers())}")
        return self._run(self._as_batch(image)[:1], self._activation_after(layer))[0]

    def feature_maps(self, image: np.ndarray) -> np.ndarray:
        """The first convolution's 32 maps (after ReLU) for one image: (28, 28, 32)."""
        return self.layer_maps(image, FIRST_CONV)

    def first_layer_kernels(self) -> np.ndarray:
        """The first convolution's kernels, channels-last as Keras stores them: (3, 3, 1, 32)."""
        return np.asarray(self.lite.get_layer(FIRST_CONV).weights[0])


def load_classifier(path: str | Path | None = None) -> Classifier:
    """Load a model for prediction. No path: the current model (the user's choice, else the
    shipped improved one); if that file is missing or corrupt, fall back to the shipped model
    and say so in `.warning`. An explicit path that cannot be loaded raises ModelStoreError."""
    if path is not None:
        return _load(Path(path))
    current = store.current_model_path()
    try:
        return _load(current)
    except store.ModelStoreError as exc:
        shipped = store.shipped_model_path()
        if current == shipped:
            raise
        return Classifier(shipped, warning=f"{exc} Using the shipped model instead.")


def _load(path: Path) -> Classifier:
    if not path.is_file():
        raise store.ModelStoreError(f"Model file {path} does not exist.")
    return Classifier(path)


class Verdict:
    """What to tell a person about one prediction."""

    def __init__(self, probs: np.ndarray, low_confidence: float) -> None:
        order = np.argsort(probs)[::-1]
        self.probs = probs
        self.digit, self.runner_up = int(order[0]), int(order[1])
        self.confidence = float(probs[order[0]])
        self.unsure = self.confidence < low_confidence
        self.is_digit = True  # the not-a-digit gate's say, set by whoever asks it
        self.several = False  # the gate's: more than one digit side by side (set likewise)

    @property
    def hedge(self) -> str:
        """e.g. "maybe a 4, or a 9" when the network is unsure."""
        return f"maybe a {self.digit}, or a {self.runner_up}"


def verdict(probs: np.ndarray) -> Verdict:
    return Verdict(np.asarray(probs).reshape(-1), LOW_CONFIDENCE)
