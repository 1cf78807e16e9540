"""Wide canvases with a number written on them, for the tests and the benchmark.

Digits are real MNIST test digits (drawings the model never trained on), scaled to a common
height with a little variation, written left to right with one of three spacings:

- generous: a clear gap between the digits' boxes (0.15-0.5 digit heights);
- close: the ink of neighbours 2-8% of a digit height apart; their boxes often overlap;
- touching: each digit slid left until its ink touches its neighbour's.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from mnist_cnn.config import NUMBER_CANVAS
from mnist_cnn.data.synthetic import SCHEMES, render

SPACINGS = ("generous", "close", "touching")
HEIGHT_RANGE = (0.45, 0.75)  # digit height as a share of the canvas height
SIZE_JITTER = (0.9, 1.08)
MARGIN = 10


def _crop(digit: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(digit.max(axis=1) > 0)
    cols = np.flatnonzero(digit.max(axis=0) > 0)
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _scaled(digit: np.ndarray, height: int) -> np.ndarray:
    crop = _crop(digit)
    width = max(1, round(crop.shape[1] * height / crop.shape[0]))
    return np.asarray(Image.fromarray(crop).resize((width, height), Image.Resampling.BILINEAR))


def _ink_edges(ink: np.ndarray, rows: slice) -> tuple[np.ndarray, np.ndarray]:
    """Per canvas row: leftmost and rightmost ink column (inf / -inf where the row is empty)."""
    mask = ink[rows] > 25
    cols = np.arange(mask.shape[1])
    left = np.where(mask, cols, np.inf).min(axis=1)
    right = np.where(mask, cols, -np.inf).max(axis=1)
    return left, right


def _touch_offset(canvas: np.ndarray, glyph: np.ndarray, top: int) -> int:
    """The x at which `glyph` placed at `top` first touches the ink already on the canvas."""
    rows = slice(top, top + glyph.shape[0])
    _, right = _ink_edges(canvas, rows)
    left, _ = _ink_edges(glyph, slice(None))
    both = np.isfinite(right) & np.isfinite(left)
    if not both.any():  # no row in common: just after the rightmost ink
        return int(right[np.isfinite(right)].max()) + 1 if np.isfinite(right).any() else MARGIN
    return int((right[both] - left[both]).max())


def compose_owned(digits: list[np.ndarray], rng: np.random.Generator, spacing: str,
                  size: tuple[int, int] = NUMBER_CANVAS) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits (28x28 uint8) written left to right as uint8 ink on a wide field, and which
    digit owns each pixel (its index, -1 for background): the truth a number reader's cuts are
    judged against when its costs are fitted (fit_numbers.py)."""
    if spacing not in SPACINGS:
        raise ValueError(f"unknown spacing {spacing!r}; use one of {SPACINGS}")
    width, height = size
    base = rng.uniform(*HEIGHT_RANGE) * height
    glyphs = [_scaled(d, max(8, round(base * rng.uniform(*SIZE_JITTER)))) for d in digits]
    while True:
        tall = max(g.shape[0] for g in glyphs)
        ink = np.zeros((height, width * 3), dtype=np.uint8)
        owner = np.full(ink.shape, -1, dtype=np.int16)
        x = MARGIN
        for k, g in enumerate(glyphs):
            top = int(np.clip((height - g.shape[0]) / 2 + rng.normal(0, 0.04) * tall, 0, height - g.shape[0]))
            if k and spacing == "generous":
                x = x + int(rng.uniform(0.15, 0.5) * tall)
            elif k:
                gap = 0 if spacing == "touching" else int(rng.uniform(0.02, 0.08) * tall) + 2
                x = _touch_offset(ink, g, top) + gap
            region = ink[top : top + g.shape[0], x : x + g.shape[1]]
            owner[top : top + g.shape[0], x : x + g.shape[1]][g > region] = k
            np.maximum(region, g, out=region)
            x += g.shape[1]
        used = int(np.flatnonzero(ink.max(axis=0))[-1]) + 1 + MARGIN
        if used <= width:
            break
        glyphs = [_scaled(g, max(8, round(g.shape[0] * width / used * 0.98))) for g in glyphs]
    shift = int(rng.integers(0, width - used + 1))
    field = np.zeros((height, width), dtype=np.uint8)
    field[:, shift : shift + used] = ink[:, :used]
    owners = np.full((height, width), -1, dtype=np.int16)
    owners[:, shift : shift + used] = owner[:, :used]
    return field, owners


def compose_number(digits: list[np.ndarray], rng: np.random.Generator, spacing: str,
                   size: tuple[int, int] = NUMBER_CANVAS, scheme: str | None = None) -> np.ndarray:
    """MNIST digits (28x28 uint8) written left to right on a wide RGBA canvas."""
    ink, _ = compose_owned(digits, rng, spacing, size)
    return render(ink, scheme or SCHEMES[int(rng.integers(len(SCHEMES)))])


def number_set(images: np.ndarray, labels: np.ndarray, n: int, spacing: str, lengths: tuple[int, int] = (2, 6),
               seed: int = 0):
    """Yield (rgba canvas, the number's text) for n numbers of random length, reproducibly."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        k = int(rng.integers(lengths[0], lengths[1] + 1))
        idx = rng.integers(0, len(images), k)
        yield compose_number([images[i] for i in idx], rng, spacing), "".join(str(int(labels[i])) for i in idx)
