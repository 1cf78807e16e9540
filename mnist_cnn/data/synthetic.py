"""Canvases that look like what people draw, made from real MNIST test digits.

Each digit is cropped, scaled to 25-95% of the canvas height, dropped at a random position and
rendered in one of the colour schemes a canvas or an upload can have. The tests and the
benchmark use these to measure how preprocessing copes with off-centre, small and large digits.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from mnist_cnn.config import CANVAS_SIZE

SCHEMES = ("white-on-black", "black-on-white", "transparent")
HEIGHT_RANGE = (0.25, 0.95)


def render(ink: np.ndarray, scheme: str) -> np.ndarray:
    """uint8 ink (0 = none) to an RGBA canvas in a colour scheme."""
    h, w = ink.shape
    rgba = np.empty((h, w, 4), dtype=np.uint8)
    if scheme == "white-on-black":
        rgba[..., :3] = ink[..., None]
        rgba[..., 3] = 255
    elif scheme == "black-on-white":
        rgba[..., :3] = 255 - ink[..., None]
        rgba[..., 3] = 255
    elif scheme == "transparent":
        rgba[..., :3] = 0  # black ink whose coverage is in alpha, as the canvas sends it
        rgba[..., 3] = ink
    else:
        raise ValueError(f"unknown colour scheme {scheme!r}; use one of {SCHEMES}")
    return rgba


def paste_on_canvas(digit: np.ndarray, rng: np.random.Generator, scheme: str | None = None,
                    size: int = CANVAS_SIZE) -> np.ndarray:
    """One MNIST digit (28x28 uint8) on a size x size RGBA canvas at a random scale and place."""
    rows = np.flatnonzero(digit.max(axis=1) > 0)
    cols = np.flatnonzero(digit.max(axis=0) > 0)
    crop = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    target_h = rng.uniform(*HEIGHT_RANGE) * size
    scale = target_h / crop.shape[0]
    new_h = max(1, min(size, round(crop.shape[0] * scale)))
    new_w = max(1, min(size, round(crop.shape[1] * scale)))
    big = np.asarray(Image.fromarray(crop).resize((new_w, new_h), Image.Resampling.BILINEAR))
    ink = np.zeros((size, size), dtype=np.uint8)
    top = int(rng.integers(0, size - new_h + 1))
    left = int(rng.integers(0, size - new_w + 1))
    ink[top : top + new_h, left : left + new_w] = big
    return render(ink, scheme or SCHEMES[int(rng.integers(len(SCHEMES)))])


def canvas_set(images: np.ndarray, labels: np.ndarray, n: int, seed: int = 0):
    """Yield (rgba canvas, label) for the first n test digits, reproducibly."""
    rng = np.random.default_rng(seed)
    for i in range(min(n, len(images))):
        yield paste_on_canvas(images[i], rng), int(labels[i])
