"""The trained network's forward pass in NumPy, for one drawing at a time.

Inside the Streamlit server a TensorFlow call for one 28x28 image costs 50-70 ms instead of
1 ms: every op is handed to TensorFlow's thread pools, whose threads have gone to sleep between
strokes and must be woken. The same arithmetic on the layers' own weights in NumPy runs in the
calling thread in well under a millisecond. Only inference layers are covered (convolution,
batch norm, ReLU/softmax, max pooling, dropout, flatten, dense, global average pooling); a model
with any other layer uses the TensorFlow path instead. Tests check both paths agree.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

Op = Callable[[np.ndarray], np.ndarray]


class UnsupportedLayer(Exception):
    pass


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _activation(name: str) -> Op:
    if name == "linear":
        return lambda x: x
    if name == "relu":
        return lambda x: np.maximum(x, 0.0, out=x)
    if name == "softmax":
        def softmax(x: np.ndarray) -> np.ndarray:
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)
        return softmax
    raise UnsupportedLayer(f"activation {name}")


def _conv(layer) -> Op:
    cfg = layer.get_config()
    weights = layer.get_weights()
    kernel = weights[0].astype(np.float32)
    kh, kw, cin, cout = kernel.shape
    flat = kernel.reshape(kh * kw * cin, cout)
    bias = weights[1].astype(np.float32) if cfg["use_bias"] else None
    sh, sw = cfg["strides"]
    if tuple(cfg["dilation_rate"]) != (1, 1) or cfg.get("groups", 1) != 1 or cfg["data_format"] != "channels_last":
        raise UnsupportedLayer("conv options")
    act = _activation(cfg["activation"])
    padding = cfg["padding"]

    def conv(x: np.ndarray) -> np.ndarray:
        n, h, w, _ = x.shape
        if padding == "same":
            x = np.pad(x, ((0, 0), same_padding(h, kh, sh), same_padding(w, kw, sw), (0, 0)))
        ho, wo = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
        patches = np.concatenate([x[:, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw, :]
                                  for i in range(kh) for j in range(kw)], axis=-1)
        y = patches.reshape(-1, kh * kw * cin) @ flat
        if bias is not None:
            y += bias
        return act(y.reshape(n, ho, wo, cout))

    return conv


def _batch_norm(layer) -> Op:
    cfg = layer.get_config()
    gamma, beta, mean, var = (w.astype(np.float32) for w in layer.get_weights())
    scale = gamma / np.sqrt(var + cfg["epsilon"])
    shift = beta - mean * scale
    return lambda x: x * scale + shift


def _max_pool(layer) -> Op:
    cfg = layer.get_config()
    if tuple(cfg["pool_size"]) != (2, 2) or tuple(cfg["strides"] or (2, 2)) != (2, 2) or cfg["padding"] != "valid":
        raise UnsupportedLayer("pooling options")

    def pool(x: np.ndarray) -> np.ndarray:
        n, h, w, c = x.shape
        x = x[:, : h // 2 * 2, : w // 2 * 2, :]
        return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))

    return pool


def _dense(layer) -> Op:
    kernel, *bias = (w.astype(np.float32) for w in layer.get_weights())
    act = _activation(layer.get_config()["activation"])
    return lambda x: act(x @ kernel + bias[0] if bias else x @ kernel)


def compile_layers(model, stop_after: str | None = None) -> list[Op]:
    """NumPy ops for a Keras model's layers in order (optionally up to a named layer).
    Raises UnsupportedLayer for anything this module does not implement."""
    ops: list[Op] = []
    for layer in model.layers:
        kind = getattr(layer, "class_name", None) or type(layer).__name__  # kerasfile.LiteLayer or Keras
        if kind == "InputLayer" or kind == "Dropout":
            pass
        elif kind == "Conv2D":
            ops.append(_conv(layer))
        elif kind == "BatchNormalization":
            ops.append(_batch_norm(layer))
        elif kind == "Activation":
            ops.append(_activation(layer.get_config()["activation"]))
        elif kind == "MaxPooling2D":
            ops.append(_max_pool(layer))
        elif kind == "Flatten":
            ops.append(lambda x: x.reshape(len(x), -1))
        elif kind == "GlobalAveragePooling2D":
            ops.append(lambda x: x.mean(axis=(1, 2)))
        elif kind == "Dense":
            ops.append(_dense(layer))
        else:
            raise UnsupportedLayer(kind)
        if layer.name == stop_after:
            return ops
    if stop_after is not None:
        raise UnsupportedLayer(f"no layer named {stop_after}")
    return ops


_blas_limited = False


def limit_blas_threads() -> None:
    """One BLAS thread for the whole process: single-image matrix products are too small to
    share, and waking a sleeping BLAS thread after an idle second costs up to 20 ms. TensorFlow
    does not use this BLAS, so training is unaffected."""
    global _blas_limited
    if not _blas_limited:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        _blas_limited = True


def run(ops: list[Op], x: np.ndarray) -> np.ndarray:
    x = np.array(x, dtype=np.float32)  # a private copy: the ops may work in place
    for op in ops:
        x = op(x)
    return x
