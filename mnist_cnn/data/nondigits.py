"""Things people draw that are not digits: letters, shapes, scribbles, smileys.

They train and measure the not-a-digit gate (notdigit.py). Letters are drawn as hand-drawn
strokes (strokes.py: random slant, wobble, pen width) and also as font glyphs. Only letters
that do not look like a digit are used (no O, I, l, S, Z, B, G, b, q, g, D, P, ...).

There are two disjoint sets, so the gate is measured on what it never saw: TRAIN and HELD_OUT
use different letters, different shapes, different scribble generators and different fonts
(DejaVu for training, Liberation for measuring), and callers give them different seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mnist_cnn.data.strokes import Glyph, arc, line, render_strokes
from mnist_cnn.reading.preprocess import normalize_ink

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
FONT_SIZE = 72

LETTERS: dict[str, Glyph] = {
    "A": [line((0.0, 1.0), (0.5, 0.0), (1.0, 1.0)), line((0.22, 0.62), (0.78, 0.62))],
    "E": [line((0.9, 0.0), (0.1, 0.0), (0.1, 1.0), (0.9, 1.0)), line((0.1, 0.5), (0.7, 0.5))],
    "F": [line((0.9, 0.0), (0.1, 0.0), (0.1, 1.0)), line((0.1, 0.5), (0.7, 0.5))],
    "H": [line((0.1, 0.0), (0.1, 1.0)), line((0.9, 0.0), (0.9, 1.0)), line((0.1, 0.5), (0.9, 0.5))],
    "K": [line((0.15, 0.0), (0.15, 1.0)), line((0.85, 0.0), (0.15, 0.55), (0.85, 1.0))],
    "M": [line((0.05, 1.0), (0.1, 0.0), (0.5, 0.6), (0.9, 0.0), (0.95, 1.0))],
    "N": [line((0.1, 1.0), (0.1, 0.0), (0.9, 1.0), (0.9, 0.0))],
    "R": [line((0.15, 1.0), (0.15, 0.0)) + arc(0.15, 0.25, 0.6, 0.25, -90, 90), line((0.3, 0.5), (0.85, 1.0))],
    "W": [line((0.0, 0.0), (0.25, 1.0), (0.5, 0.35), (0.75, 1.0), (1.0, 0.0))],
    "X": [line((0.1, 0.0), (0.9, 1.0)), line((0.9, 0.0), (0.1, 1.0))],
    "m": [line((0.08, 1.0), (0.08, 0.3)) + arc(0.29, 0.45, 0.21, 0.25, 180, 360) + line((0.5, 0.45), (0.5, 1.0)),
          line((0.5, 0.45)) + arc(0.71, 0.45, 0.21, 0.25, 180, 360) + line((0.92, 0.45), (0.92, 1.0))],
    # held out
    "C": [arc(0.55, 0.5, 0.45, 0.5, -50, -310)],
    "T": [line((0.0, 0.0), (1.0, 0.0)), line((0.5, 0.0), (0.5, 1.0))],
    "U": [line((0.1, 0.0), (0.1, 0.6)) + arc(0.5, 0.6, 0.4, 0.4, 180, 0) + line((0.9, 0.6), (0.9, 0.0))],
    "V": [line((0.0, 0.0), (0.5, 1.0), (1.0, 0.0))],
    "Y": [line((0.0, 0.0), (0.5, 0.5), (1.0, 0.0)), line((0.5, 0.5), (0.5, 1.0))],
    "L": [line((0.15, 0.0), (0.15, 1.0), (0.85, 1.0))],
    "h": [line((0.15, 0.0), (0.15, 1.0)),
          line((0.15, 0.7)) + arc(0.5, 0.65, 0.35, 0.3, 180, 360) + line((0.85, 0.65), (0.85, 1.0))],
    "n": [line((0.15, 1.0), (0.15, 0.3)),
          line((0.15, 0.6)) + arc(0.5, 0.6, 0.35, 0.35, 180, 360) + line((0.85, 0.6), (0.85, 1.0))],
}
TRAIN_LETTERS = "AEFHKMNRWXm"
HELD_OUT_LETTERS = "CTUVYLhn"
TRAIN_FONT_TEXT = "AEFHKMNRWXkmwxΔΛΞΠΣΦΨΩЖИЛФЦШЩЫЮЯ@%*"  # Latin, Greek, Cyrillic, symbols
HELD_OUT_FONT_TEXT = "CTUVYLhnuvy"
TRAIN_FONTS = "DejaVu"
HELD_OUT_FONTS = "Liberation"


def _polygon(points: list[tuple[float, float]]) -> Glyph:
    return [points + [points[0], points[1]]]


def _star(rng: np.random.Generator) -> Glyph:
    angles = [2 * math.pi * k * 2 / 5 for k in range(5)]  # every second point of a pentagon
    pts = [(0.5 + 0.5 * math.sin(a), 0.5 - 0.5 * math.cos(a)) for a in angles]
    return _polygon(pts)


def _triangle(rng: np.random.Generator) -> Glyph:
    return _polygon([(0.5, 0.0), (1.0, 0.95), (0.0, 0.95)])


def _square(rng: np.random.Generator) -> Glyph:
    w = rng.uniform(0.6, 1.4)
    return _polygon([(0.0, 0.0), (w, 0.0), (w, 1.0), (0.0, 1.0)])


def _diamond(rng: np.random.Generator) -> Glyph:
    return _polygon([(0.5, 0.0), (1.0, 0.5), (0.5, 1.0), (0.0, 0.5)])


def _hash(rng: np.random.Generator) -> Glyph:
    return [line((0.35, 0.0), (0.3, 1.0)), line((0.7, 0.0), (0.65, 1.0)),
            line((0.0, 0.33), (1.0, 0.33)), line((0.0, 0.67), (1.0, 0.67))]


def _zigzag(rng: np.random.Generator) -> Glyph:
    n = int(rng.integers(4, 8))
    return [[(k / n, 0.0 if k % 2 else 1.0) for k in range(n + 1)]]


def _wave(rng: np.random.Generator) -> Glyph:
    turns = rng.uniform(1.5, 3.0)
    return [[(t, 0.5 + 0.5 * math.sin(2 * math.pi * turns * t)) for t in np.linspace(0, 1, 60)]]


def _scribble(rng: np.random.Generator) -> Glyph:
    """A tangle: a smooth curve through many random points."""
    pts = rng.uniform(0, 1, (int(rng.integers(7, 14)), 2))
    t = np.linspace(0, len(pts) - 1, 30 * len(pts))
    xs = np.interp(t, np.arange(len(pts)), pts[:, 0])
    ys = np.interp(t, np.arange(len(pts)), pts[:, 1])
    kernel = np.ones(15) / 15
    xs, ys = np.convolve(xs, kernel, "valid"), np.convolve(ys, kernel, "valid")
    return [list(zip(xs, ys))]


def _pseudo_glyph(rng: np.random.Generator) -> Glyph:
    """2-4 random strokes (polylines or arcs): the endless variety of marks that are not digits."""
    strokes = []
    for _ in range(int(rng.integers(2, 5))):
        if rng.uniform() < 0.5:
            strokes.append([tuple(p) for p in rng.uniform(0, 1, (int(rng.integers(2, 5)), 2))])
        else:
            cx, cy = rng.uniform(0.2, 0.8, 2)
            rx, ry = rng.uniform(0.1, 0.45, 2)
            start = rng.uniform(0, 360)
            strokes.append(arc(cx, cy, rx, ry, start, start + rng.uniform(90, 330)))
    return strokes


def _heart(rng: np.random.Generator) -> Glyph:
    t = np.linspace(0, 2 * math.pi, 60)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return [list(zip((x + 17) / 34, (y + 17) / 30))]


def _spiral(rng: np.random.Generator) -> Glyph:
    t = np.linspace(0, rng.uniform(3, 5) * 2 * math.pi, 150)
    r = 0.5 * t / t[-1]
    return [list(zip(0.5 + r * np.cos(t), 0.5 + r * np.sin(t)))]


def _smiley(rng: np.random.Generator) -> Glyph:
    eye = rng.uniform(0.04, 0.08)
    return [arc(0.5, 0.5, 0.5, 0.5, -90, 275), arc(0.33, 0.36, eye, eye, 0, 360, 10),
            arc(0.67, 0.36, eye, eye, 0, 360, 10), arc(0.5, 0.5, 0.28, 0.25, 20, 160)]


def _house(rng: np.random.Generator) -> Glyph:
    return [_polygon([(0.1, 0.45), (0.9, 0.45), (0.9, 1.0), (0.1, 1.0)])[0], line((0.0, 0.5), (0.5, 0.0), (1.0, 0.5))]


def _arrow(rng: np.random.Generator) -> Glyph:
    return [line((0.0, 0.5), (1.0, 0.5)), line((0.65, 0.15), (1.0, 0.5), (0.65, 0.85))]


def _coil(rng: np.random.Generator) -> Glyph:
    """Loops along a line, like cursive "eeee"."""
    loops = rng.uniform(3, 6)
    t = np.linspace(0, 2 * math.pi * loops, 200)
    return [list(zip(t / t[-1] + 0.12 * np.sin(t), 0.5 - 0.45 * np.cos(t)))]


def _hatching(rng: np.random.Generator) -> Glyph:
    """Back-and-forth shading strokes."""
    n = int(rng.integers(5, 10))
    return [[(0.0 if k % 2 else 1.0, k / n + (0.5 / n if k % 2 else 0.0)) for k in range(n + 1)]]


Shape = Callable[[np.random.Generator], Glyph]
TRAIN_SHAPES: dict[str, Shape] = {"triangle": _triangle, "square": _square, "star": _star, "diamond": _diamond,
                                  "hash": _hash, "zigzag": _zigzag, "wave": _wave, "scribble": _scribble,
                                  "random strokes": _pseudo_glyph}
HELD_OUT_SHAPES: dict[str, Shape] = {"heart": _heart, "spiral": _spiral, "smiley": _smiley, "house": _house,
                                     "arrow": _arrow, "coil": _coil, "hatching": _hatching}


@lru_cache(maxsize=4)
def fonts(family: str) -> tuple[Path, ...]:
    """TrueType files of a font family found on this machine (none is fine: strokes suffice)."""
    found = [p for d in FONT_DIRS if d.is_dir() for p in d.rglob(f"{family}*.ttf")]
    return tuple(sorted(p for p in found if "Mono" not in p.name and "Math" not in p.name))


def font_glyph(char: str, font_path: Path, rng: np.random.Generator) -> np.ndarray:
    """uint8 ink of one character in a font, slightly rotated."""
    font = ImageFont.truetype(str(font_path), FONT_SIZE)
    image = Image.new("L", (FONT_SIZE * 2, FONT_SIZE * 2), 0)
    ImageDraw.Draw(image).text((FONT_SIZE // 2, FONT_SIZE // 4), char, fill=255, font=font)
    return np.asarray(image.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BILINEAR))


@dataclass(frozen=True)
class NonDigitSet:
    """Which letters, shapes and fonts a set draws from."""

    letters: str
    shapes: dict[str, Shape]
    font_text: str
    font_family: str

    @property
    def kinds(self) -> tuple[str, ...]:
        return ("letter", *self.shapes, "font letter")


TRAIN = NonDigitSet(TRAIN_LETTERS, TRAIN_SHAPES, TRAIN_FONT_TEXT, TRAIN_FONTS)
HELD_OUT = NonDigitSet(HELD_OUT_LETTERS, HELD_OUT_SHAPES, HELD_OUT_FONT_TEXT, HELD_OUT_FONTS)


def draw_kind(kind: str, which: NonDigitSet, rng: np.random.Generator) -> np.ndarray:
    """uint8 ink of one non-digit of a kind ("letter", a shape name, "font letter")."""
    if kind == "letter":
        return render_strokes(LETTERS[which.letters[int(rng.integers(len(which.letters)))]], rng)
    if kind == "font letter":
        paths = fonts(which.font_family)
        char = which.font_text[int(rng.integers(len(which.font_text)))]
        if not paths:  # no fonts installed: a hand-drawn letter instead
            return render_strokes(LETTERS[which.letters[int(rng.integers(len(which.letters)))]], rng)
        return font_glyph(char, paths[int(rng.integers(len(paths)))], rng)
    return render_strokes(which.shapes[kind](rng), rng)


def non_digits(n: int, which: NonDigitSet = HELD_OUT, seed: int = 1) -> tuple[np.ndarray, list[str]]:
    """n non-digits as normalised (n, 28, 28) float32 inputs, and the kind of each, reproducibly."""
    rng = np.random.default_rng(seed)
    kinds = which.kinds
    images, labels = [], []
    while len(images) < n:
        kind = kinds[len(images) % len(kinds)]
        image = normalize_ink(draw_kind(kind, which, rng))
        if image is not None:
            images.append(image)
            labels.append(kind)
    return np.stack(images), labels
