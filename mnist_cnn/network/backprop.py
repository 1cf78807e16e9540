"""Gradients of the network's logits with respect to its input, in NumPy.

Attribution maps need the gradient of "predicted digit minus runner-up" for a few dozen
scaled copies of a drawing. TensorFlow would do it, but inside the Streamlit server every
TensorFlow call first wakes its thread pools (50-70 ms), and the Draw tab must never wait for
TensorFlow to load. The layers an inference model uses (the ones fastpath.py runs) each have a
short backward rule, so the forward pass keeps what its backward rule needs and the gradient
is one more pass back through the same weights. Tests check it against TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from mnist_cnn.network.fastpath import UnsupportedLayer, same_padding

Forward = Callable[[np.ndarray], tuple[np.ndarray, object]]
Backward = Callable[[np.ndarray, object], np.ndarray]


@dataclass(frozen=True)
class Step:
    """One layer: forward(x) -> (y, saved) and backward(dy, saved) -> dx."""

    name: str
    forward: Forward
    backward: Backward


def _relu() -> tuple[Forward, Backward]:
    def fwd(x):
        y = np.maximum(x, 0.0)
        return y, y > 0

    return fwd, lambda dy, on: dy * on


def _identity() -> tuple[Forward, Backward]:
    return (lambda x: (x, None)), (lambda dy, _: dy)


def _activation(name: str) -> tuple[Forward, Backward]:
    """ReLU, or identity for linear and for softmax: gradients are taken on the logits."""
    if name == "relu":
        return _relu()
    if name in ("linear", "softmax"):
        return _identity()
    raise UnsupportedLayer(f"activation {name}")


def _then(first: tuple[Forward, Backward], act: tuple[Forward, Backward]) -> tuple[Forward, Backward]:
    (f1, b1), (f2, b2) = first, act

    def fwd(x):
        h, s1 = f1(x)
        y, s2 = f2(h)
        return y, (s1, s2)

    return fwd, lambda dy, s: b1(b2(dy, s[1]), s[0])


def _conv(layer) -> tuple[Forward, Backward]:
    cfg = layer.get_config()
    weights = layer.get_weights()
    kernel = np.asarray(weights[0], np.float32)
    kh, kw, cin, cout = kernel.shape
    flat = kernel.reshape(kh * kw * cin, cout)
    bias = np.asarray(weights[1], np.float32) if cfg["use_bias"] else None
    sh, sw = cfg["strides"]
    if tuple(cfg["dilation_rate"]) != (1, 1) or cfg.get("groups", 1) != 1 or cfg["data_format"] != "channels_last":
        raise UnsupportedLayer("conv options")
    same = cfg["padding"] == "same"
    offsets = [(i, j) for i in range(kh) for j in range(kw)]

    def fwd(x):
        n, h, w, _ = x.shape
        pads = (same_padding(h, kh, sh), same_padding(w, kw, sw)) if same else ((0, 0), (0, 0))
        xp = np.pad(x, ((0, 0), *pads, (0, 0)))
        ho, wo = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
        patches = np.concatenate([xp[:, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw, :]
                                  for i, j in offsets], axis=-1)
        y = patches.reshape(-1, kh * kw * cin) @ flat
        if bias is not None:
            y += bias
        return y.reshape(n, ho, wo, cout), (x.shape, xp.shape, pads)

    def bwd(dy, saved):
        shape, padded, pads = saved
        n, ho, wo, _ = dy.shape
        dpatches = (dy.reshape(-1, cout) @ flat.T).reshape(n, ho, wo, kh * kw, cin)
        dxp = np.zeros(padded, np.float32)
        for k, (i, j) in enumerate(offsets):
            dxp[:, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw, :] += dpatches[:, :, :, k, :]
        (top, _), (left, _) = pads
        return dxp[:, top : top + shape[1], left : left + shape[2], :]

    return _then((fwd, bwd), _activation(cfg["activation"]))


def _batch_norm(layer) -> tuple[Forward, Backward]:
    cfg = layer.get_config()
    gamma, beta, mean, var = (np.asarray(w, np.float32) for w in layer.get_weights())
    scale = gamma / np.sqrt(var + cfg["epsilon"])
    shift = beta - mean * scale
    return (lambda x: (x * scale + shift, None)), (lambda dy, _: dy * scale)


def _max_pool(layer) -> tuple[Forward, Backward]:
    cfg = layer.get_config()
    if tuple(cfg["pool_size"]) != (2, 2) or tuple(cfg["strides"] or (2, 2)) != (2, 2) or cfg["padding"] != "valid":
        raise UnsupportedLayer("pooling options")

    def fwd(x):
        n, h, w, c = x.shape
        blocks = x[:, : h // 2 * 2, : w // 2 * 2, :].reshape(n, h // 2, 2, w // 2, 2, c)
        windows = blocks.transpose(0, 1, 3, 5, 2, 4).reshape(n, h // 2, w // 2, c, 4)
        first = windows.argmax(axis=-1)  # one winner per window, the first maximum, as TF routes it
        return np.take_along_axis(windows, first[..., None], -1)[..., 0], (x.shape, first)

    def bwd(dy, saved):
        shape, first = saved
        n, h2, w2, c = first.shape
        windows = (np.arange(4) == first[..., None]) * dy[..., None]
        dx = np.zeros(shape, np.float32)
        unfolded = windows.reshape(n, h2, w2, c, 2, 2).transpose(0, 1, 4, 2, 5, 3)
        dx[:, : h2 * 2, : w2 * 2, :] = unfolded.reshape(n, h2 * 2, w2 * 2, c)
        return dx

    return fwd, bwd


def _dense(layer) -> tuple[Forward, Backward]:
    kernel, *bias = (np.asarray(w, np.float32) for w in layer.get_weights())

    def fwd(x):
        y = x @ kernel
        return (y + bias[0] if bias else y), None

    return _then((fwd, lambda dy, _: dy @ kernel.T), _activation(layer.get_config()["activation"]))


def _flatten() -> tuple[Forward, Backward]:
    return (lambda x: (x.reshape(len(x), -1), x.shape)), (lambda dy, shape: dy.reshape(shape))


def _global_average() -> tuple[Forward, Backward]:
    def bwd(dy, shape):
        return np.broadcast_to(dy[:, None, None, :] / (shape[1] * shape[2]), shape).astype(np.float32)

    return (lambda x: (x.mean(axis=(1, 2)), x.shape)), bwd


def compile_steps(layers) -> list[Step]:
    """Forward/backward steps for Keras-style layers (type name, get_config, get_weights), up to
    the logits: a softmax at the end is left out, so gradients are those of the logits."""
    steps: list[Step] = []
    for layer in layers:
        kind = getattr(layer, "class_name", None) or type(layer).__name__  # kerasfile.LiteLayer or Keras
        if kind in ("InputLayer", "Dropout"):
            continue
        if kind == "Conv2D":
            pair = _conv(layer)
        elif kind == "BatchNormalization":
            pair = _batch_norm(layer)
        elif kind == "Activation":
            pair = _activation(layer.get_config()["activation"])
        elif kind == "MaxPooling2D":
            pair = _max_pool(layer)
        elif kind == "Flatten":
            pair = _flatten()
        elif kind == "GlobalAveragePooling2D":
            pair = _global_average()
        elif kind == "Dense":
            pair = _dense(layer)
        else:
            raise UnsupportedLayer(kind)
        steps.append(Step(layer.name, *pair))
    return steps


def forward(steps: list[Step], x: np.ndarray) -> tuple[np.ndarray, list]:
    """Logits (n, 10) of a batch x (n, 28, 28, 1), and what each step saved for the way back."""
    h = np.asarray(x, np.float32)
    saved = []
    for step in steps:
        h, s = step.forward(h)
        saved.append(s)
    return h, saved


def logits_and_gradient(steps: list[Step], x: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logits (n, 10) of a batch x (n, 28, 28, 1), and the gradient with respect to x of
    sum_i logits[i] . direction[i]: e.g. direction = onehot(top) - onehot(runner-up)."""
    h, saved = forward(steps, x)
    g = np.asarray(direction, np.float32)
    for step, s in zip(reversed(steps), reversed(saved)):
        g = step.backward(g, s)
    return h, g
