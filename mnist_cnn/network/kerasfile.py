"""Reading a .keras file without Keras: its layer configuration and weights as NumPy arrays.

Importing TensorFlow takes seconds; a first visitor should not wait for it to see a canvas and
a prediction. A .keras file is a zip of `config.json` (the architecture) and `model.weights.h5`
(the weights, one HDF5 group per layer, named after the layer's class in snake case with a
counter: conv2d, conv2d_1, ...). That is all the NumPy forward pass (fastpath.py) needs; the
tests check that the weights read here are exactly the ones Keras loads.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


class KerasFileError(ValueError):
    """The file is not a .keras model this reader understands."""


@dataclass
class LiteLayer:
    """A layer as fastpath.py sees it: a class name, a config and weights."""

    name: str
    class_name: str
    config: dict[str, Any]
    weights: list[np.ndarray] = field(default_factory=list)

    def get_config(self) -> dict[str, Any]:
        return self.config

    def get_weights(self) -> list[np.ndarray]:
        return self.weights


@dataclass
class LiteModel:
    """The layers of a sequential or single-path functional model, in order."""

    name: str
    layers: list[LiteLayer]

    def get_layer(self, name: str) -> LiteLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name}")

    def count_params(self) -> int:
        return int(sum(w.size for layer in self.layers for w in layer.weights))


def snake_case(class_name: str) -> str:
    """Keras' own naming of a layer's weights group: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _weights(h5, group: str) -> list[np.ndarray]:
    if group not in h5 or "vars" not in h5[group]:
        return []
    vars_ = h5[group]["vars"]
    return [np.asarray(vars_[str(i)]) for i in range(len(vars_))]


def read_model(path: str | Path) -> LiteModel:
    """The layers and weights of a .keras file, without importing Keras or TensorFlow."""
    import h5py

    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
            weights = z.read("model.weights.h5")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise KerasFileError(f"{Path(path).name} is not a readable .keras file ({type(exc).__name__})") from None
    layers: list[LiteLayer] = []
    seen: dict[str, int] = {}
    try:
        with h5py.File(io.BytesIO(weights), "r") as h5:
            for spec in config["config"]["layers"]:
                cls = spec["class_name"]
                if cls == "InputLayer":
                    continue
                base = snake_case(cls)
                count = seen.get(base, 0)
                seen[base] = count + 1
                group = f"layers/{base}" + (f"_{count}" if count else "")
                layers.append(LiteLayer(spec["config"]["name"], cls, spec["config"], _weights(h5, group)))
    except (KeyError, TypeError, OSError) as exc:
        raise KerasFileError(f"{Path(path).name} has a layout this reader does not know ({exc})") from None
    return LiteModel(config["config"].get("name", Path(path).stem), layers)
