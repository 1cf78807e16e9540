"""Hand-drawn-looking pictures made of strokes: digits, and the renderer other shapes share.

A glyph is a list of strokes; a stroke is a polyline in a unit box (x to the right, y down,
both 0-1). `render_strokes` draws it the way a person with a mouse or a finger does: a random
slant, rotation, aspect and size, wobbly points, rounded ends, one pen width for the whole
glyph. Digits drawn this way train the not-a-digit gate as digits (so a uniform pen stroke is
not mistaken for "not a digit"), build multi-stroke test digits (a 5 with a detached flag, a 4
in two strokes) and give the browser test its mouse paths.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

Stroke = list[tuple[float, float]]
Glyph = list[Stroke]

WORK_SIDE = 96  # a glyph is drawn about this tall before normalisation
PEN_RANGE = (0.05, 0.17)  # pen width as a fraction of the glyph's height
MAX_SLANT = 0.3
MAX_ROTATION_DEG = 12.0
ASPECT_RANGE = (0.75, 1.25)
WOBBLE = 0.012  # point jitter as a fraction of the glyph's height


def arc(cx: float, cy: float, rx: float, ry: float, start_deg: float, end_deg: float, n: int = 24) -> Stroke:
    """Points along an ellipse from one angle to another (0 deg = right, 90 deg = down)."""
    angles = np.radians(np.linspace(start_deg, end_deg, n))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


def line(*points: tuple[float, float]) -> Stroke:
    return list(points)


# Each digit in the ways people commonly write it; several variants are multi-stroke.
DIGITS: dict[int, list[Glyph]] = {
    0: [[arc(0.5, 0.5, 0.32, 0.5, -90, 280)], [arc(0.5, 0.5, 0.4, 0.5, -100, 265)]],
    1: [[line((0.5, 0.0), (0.5, 1.0))],
        [line((0.36, 0.15), (0.55, 0.0), (0.55, 1.0))],
        [line((0.36, 0.15), (0.55, 0.0), (0.55, 1.0)), line((0.3, 1.0), (0.8, 1.0))]],
    2: [[arc(0.5, 0.3, 0.38, 0.3, 190, 360) + line((0.85, 0.38), (0.1, 1.0), (0.92, 1.0))],
        [arc(0.48, 0.28, 0.36, 0.28, 200, 380) + arc(0.5, 1.1, 0.4, 0.6, -60, -150) + line((0.15, 1.0), (0.9, 0.98))]],
    3: [[arc(0.45, 0.25, 0.35, 0.25, 210, 450) + arc(0.45, 0.74, 0.4, 0.26, -90, 150)],
        [line((0.1, 0.0), (0.85, 0.0), (0.4, 0.42)) + arc(0.45, 0.7, 0.4, 0.3, -80, 150)]],
    4: [[line((0.6, 0.0), (0.05, 0.68), (0.95, 0.68)), line((0.68, 0.3), (0.68, 1.0))],
        [line((0.15, 0.0), (0.1, 0.6), (0.92, 0.6)), line((0.72, 0.0), (0.72, 1.0))],
        [line((0.72, 1.0), (0.72, 0.0), (0.05, 0.68), (0.95, 0.68))]],
    5: [[line((0.85, 0.0), (0.25, 0.0), (0.2, 0.45)) + arc(0.48, 0.7, 0.38, 0.3, -130, 140)],
        [line((0.22, 0.0), (0.18, 0.45)) + arc(0.48, 0.7, 0.38, 0.3, -130, 140), line((0.24, 0.0), (0.85, 0.0))],
        [line((0.2, 0.02), (0.17, 0.45)) + arc(0.48, 0.7, 0.38, 0.3, -130, 140), line((0.3, -0.06), (0.9, -0.08))]],
    6: [[arc(0.75, 0.55, 0.6, 0.55, 235, 180) + arc(0.5, 0.72, 0.35, 0.28, 180, 540)],
        [line((0.7, 0.0), (0.2, 0.55)) + arc(0.5, 0.72, 0.33, 0.28, 170, 520)]],
    7: [[line((0.08, 0.0), (0.92, 0.0), (0.35, 1.0))],
        [line((0.08, 0.05), (0.92, 0.0), (0.4, 1.0)), line((0.35, 0.52), (0.85, 0.5))],
        [line((0.08, 0.15), (0.1, 0.0), (0.92, 0.0), (0.45, 1.0))]],
    8: [[arc(0.5, 0.25, 0.3, 0.25, 0, -180) + arc(0.5, 0.25, 0.3, 0.25, 180, 120)
         + arc(0.5, 0.74, 0.38, 0.26, -90, 270) + arc(0.5, 0.25, 0.3, 0.25, 90, 0)],
        [arc(0.5, 0.25, 0.32, 0.25, 0, 360), arc(0.5, 0.74, 0.4, 0.26, -90, 270)]],
    9: [[arc(0.48, 0.28, 0.35, 0.28, 0, 360) + line((0.83, 0.28), (0.78, 1.0))],
        [arc(0.45, 0.28, 0.36, 0.28, 10, 370) + arc(-0.1, 0.3, 0.9, 0.7, 0, 80)]],
}


def _resample(stroke: Stroke, step: float) -> np.ndarray:
    """Points along a polyline about `step` apart, so wobble bends lines rather than corners."""
    pts = np.asarray(stroke, dtype=np.float64)
    if len(pts) < 2:
        return pts
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, int(dist[-1] / step) + 1)
    t = np.linspace(0.0, dist[-1], n)
    return np.stack([np.interp(t, dist, pts[:, 0]), np.interp(t, dist, pts[:, 1])], axis=1)


def _smooth_noise(n: int, rng: np.random.Generator, scale: float) -> np.ndarray:
    """(n, 2) jitter that varies slowly along the stroke, like a hand's wobble."""
    raw = rng.normal(0.0, scale, (n + 8, 2))
    kernel = np.ones(5) / 5
    smooth = np.stack([np.convolve(raw[:, k], kernel, mode="same") for k in range(2)], axis=1)
    return smooth[4 : 4 + n] * 2.2


def distort(glyph: Glyph, rng: np.random.Generator, wobble: float = WOBBLE) -> list[np.ndarray]:
    """The glyph's strokes after a random slant, rotation, aspect change and hand wobble,
    still roughly in a unit-height box."""
    slant = rng.uniform(-MAX_SLANT, MAX_SLANT)
    angle = math.radians(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    aspect = rng.uniform(*ASPECT_RANGE)
    cos, sin = math.cos(angle), math.sin(angle)
    out = []
    for stroke in glyph:
        pts = _resample(stroke, 0.03)
        pts = pts + _smooth_noise(len(pts), rng, wobble)
        x, y = (pts[:, 0] - 0.5) * aspect, pts[:, 1] - 0.5
        x = x - slant * y
        out.append(np.stack([cos * x - sin * y, sin * x + cos * y], axis=1) + 0.5)
    return out


def draw_polylines(strokes: list[np.ndarray], size: tuple[int, int], pen: float,
                   scale: float, offset: tuple[float, float] = (0.0, 0.0), smooth: bool = False) -> np.ndarray:
    """uint8 ink (H, W) with each polyline drawn `pen` px wide with round ends; unit coordinates
    are scaled by `scale` and shifted by `offset`. `smooth` rounds every joint too (slower; a
    thin pen does not need it)."""
    image = Image.new("L", size, 0)
    draw = ImageDraw.Draw(image)
    r = pen / 2
    for pts in strokes:
        xy = [(offset[0] + px * scale, offset[1] + py * scale) for px, py in pts]
        if len(xy) > 1:
            draw.line(xy, fill=255, width=max(1, round(pen)), joint="curve" if smooth else None)
        for x, y in (xy[0], xy[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(image)


def render_strokes(glyph: Glyph, rng: np.random.Generator, pen: float | None = None) -> np.ndarray:
    """uint8 ink of one hand-drawn-looking glyph on a WORK_SIDE-ish square, ready for normalize_ink."""
    strokes = distort(glyph, rng)
    pen = pen if pen is not None else rng.uniform(*PEN_RANGE)
    pts = np.concatenate(strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    height = WORK_SIDE * 0.8
    scale = height / max(hi[1] - lo[1], 0.3)
    pen_px = pen * height
    w = int((hi[0] - lo[0]) * scale + 2 * (pen_px + 2)) + 1
    h = int((hi[1] - lo[1]) * scale + 2 * (pen_px + 2)) + 1
    offset = (pen_px + 2 - lo[0] * scale, pen_px + 2 - lo[1] * scale)
    return draw_polylines(strokes, (w, h), pen_px, scale, offset)


def random_digit_glyph(digit: int, rng: np.random.Generator) -> Glyph:
    variants = DIGITS[digit]
    return variants[int(rng.integers(len(variants)))]


def drawn_digit(digit: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 ink of a digit drawn with a pen (random variant, slant, size and pen width)."""
    return render_strokes(random_digit_glyph(digit, rng), rng)


def place_glyphs(glyphs: list[Glyph], size: tuple[int, int], rng: np.random.Generator,
                 height: float = 0.55, gap: float = 0.35) -> list[np.ndarray]:
    """Glyphs written left to right across a canvas of `size` (width, height): each distorted
    like a hand would, `height` of the canvas tall, `gap` digit heights apart. Returns every
    stroke as an (n, 2) array of canvas pixel coordinates (the paths a mouse would take)."""
    width, canvas_h = size
    h = height * canvas_h
    shapes = [distort(g, rng) for g in glyphs]
    widths = [max(0.2, float(np.ptp(np.concatenate(s)[:, 0]))) * h for s in shapes]
    total = sum(widths) + gap * h * (len(glyphs) - 1)
    if total > 0.94 * width:  # too wide: write smaller
        shrink = 0.94 * width / total
        h, widths, total = h * shrink, [w * shrink for w in widths], total * shrink
    x = (width - total) / 2
    out = []
    for strokes, w in zip(shapes, widths):
        pts = np.concatenate(strokes)
        lo = pts.min(axis=0)
        top = (canvas_h - h) / 2 + rng.normal(0, 0.03) * h
        out += [np.stack([(s[:, 0] - lo[0]) * h + x, (s[:, 1] - lo[1]) * h + top], axis=1) for s in strokes]
        x += w + gap * h
    return out


def write_glyphs(glyphs: list[Glyph], size: tuple[int, int], rng: np.random.Generator, pen: float = 18,
                 **placement) -> np.ndarray:
    """An RGBA canvas (white pen on black, as the app's canvas) with the glyphs written on it."""
    ink = draw_polylines(place_glyphs(glyphs, size, rng, **placement), size, pen, 1.0, smooth=True)
    rgba = np.zeros((size[1], size[0], 4), dtype=np.uint8)
    rgba[..., :3] = ink[..., None]
    rgba[..., 3] = 255
    return rgba
