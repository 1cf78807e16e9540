"""Cutting a drawing of a number into candidate pieces, left to right.

The ink is split into *atoms*: its connected strokes, and, for a stroke wide enough to be
several touching digits (a 1 against a 6 is narrower than it is tall), slices between
top-to-bottom paths through the least ink, which slant and bend where slanted digits meet.
A digit is then one atom or a few neighbouring atoms put back together: the 5's detached flag
with its body, the two strokes of a 4, the slices of one digit that was cut in vain, so
cutting too often costs only time. Which grouping is right is decided by the recogniser
(numbers.py); this module only offers the candidates (`spans`) and the ink of each
(`span_ink`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mnist_cnn.reading.preprocess import INK_THRESHOLD, MIN_INK

SPECK_FRACTION = 0.02  # strokes with less ink than this share of the largest are specks (taps, noise)
CUT_MIN_WIDTH = 0.6  # strokes wider than this many digit heights may be touching digits (a 1 against a 6)
MIN_PIECE = 0.1  # cuts are at least this many digit heights apart, and from a stroke's ends (a 1 is thin)
SLICE_WIDTH = 0.22  # at most one cut per this many digit heights of width
CRUMB = 0.1  # a slice with less ink than a square this many digit heights wide is a crumb, not a piece
PATH_REACH = 0.25  # a cut may wander this many digit heights left or right of its column
CUT_STEP = 0.04  # a least-ink cut is tried from every column this many digit heights apart
MAX_ATOMS_PER_DIGIT = 7
MAX_DIGIT_WIDTH = 1.7  # a digit is at most this many digit heights wide (a sprawling 2 beside a tall 1)
MAX_JOIN_GAP = 0.12  # strokes further apart than this many digit heights are never one digit
SMALL_PIECE = 0.45  # a stroke smaller than this many digit heights both ways is part of a digit at most
# A digit is taller than its pen is wide; a drawing whose tallest stroke is lower than this many pen
# widths (a dot, a dash, a bar, an underline on its own) holds no digit, however its pieces look.
FLAT_PENS = 1.5  # all 10,000 MNIST test digits are at least 1.53 pens tall; a bar drawn across 1.0-1.3
EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class Box:
    """A bounding box in canvas pixels, end-exclusive."""

    x0: int
    x1: int
    y0: int
    y1: int

    def union(self, other: Box) -> Box:
        return Box(min(self.x0, other.x0), max(self.x1, other.x1), min(self.y0, other.y0), max(self.y1, other.y1))

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


@dataclass(frozen=True)
class Layout:
    """A drawing cut into atoms: `labels` marks atom k's pixels with k + 1 (0 is background)."""

    ink: np.ndarray
    labels: np.ndarray
    atoms: list[Box]
    strokes: list[int]  # which connected stroke each atom comes from
    digit_height: float
    cuts: list[tuple[float, float]]  # ink each atom's left and right cuts went through, in digit heights
    thickness: list[float]  # each atom's stroke thickness (pixels)
    pen: float  # the drawing's usual stroke thickness (pixels)

    def thinness(self, span: tuple[int, int]) -> float:
        """How much thinner than the drawing's usual stroke atoms i..j-1 are, from 0 to 1: a hair-thin
        line beside a digit (an MNIST scanning artefact) is no 1."""
        return max(0.0, 1.0 - max(self.thickness[span[0] : span[1]]) / self.pen)

    @property
    def flat(self) -> bool:
        """Whether the drawing is too low for its pen to hold a digit (FLAT_PENS)."""
        return self.digit_height < FLAT_PENS * self.pen

    def is_small(self, i: int) -> bool:
        """Whether atom i is too small to be a digit on its own (a flag, a broken-off bit)."""
        box = self.atoms[i]
        return max(box.width, box.height) < SMALL_PIECE * self.digit_height

    def is_cut(self, i: int) -> bool:
        """Whether atoms i-1 and i are slices of one stroke (a boundary there cuts ink)."""
        return 0 < i < len(self.atoms) and self.strokes[i - 1] == self.strokes[i]


def _ink_mask(ink: np.ndarray) -> np.ndarray | None:
    peak = int(ink.max()) if ink.size else 0
    if peak < MIN_INK * 255:
        return None
    return ink > INK_THRESHOLD * peak


def _strokes(mask: np.ndarray) -> tuple[np.ndarray, list[Box]]:
    """Connected strokes (8-neighbourhood) without specks: a label image and their boxes."""
    labels, n = ndimage.label(mask, structure=EIGHT_NEIGHBOURS)
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    keep = areas >= SPECK_FRACTION * areas.max()
    remap = np.zeros(n + 1, dtype=np.int32)
    remap[1:][keep] = np.arange(1, int(keep.sum()) + 1)
    labels = remap[labels]
    boxes = [Box(s[1].start, s[1].stop, s[0].start, s[0].stop) for s in ndimage.find_objects(labels)]
    return labels, boxes


def least_ink_paths(own: np.ndarray, columns: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """For each start column, the top-to-bottom path through the least ink that stays within
    `reach` of its column and moves at most one pixel sideways per row: slanted digits that
    touch meet along a slanted line, which a straight vertical cut would not follow. Returns
    the paths' x for every row, (len(columns), height), and the ink each crosses (pixels)."""
    height, width = own.shape
    offsets = np.arange(-reach, reach + 1)
    xs = columns[:, None] + offsets[None, :]  # (n, window)
    inside = (xs >= 0) & (xs < width)
    xs_c = np.clip(xs, 0, width - 1)
    cost = np.where(inside[None], own[:, xs_c].astype(np.float64), np.inf)  # (height, n, window)
    cost = cost + 1e-3 * np.abs(offsets)  # straight when free
    total = cost[0].copy()
    moves = np.zeros(cost.shape, dtype=np.int8)
    pad = np.full((len(columns), 1), np.inf)
    for y in range(1, height):
        options = np.stack([np.hstack([pad, total[:, :-1]]), total, np.hstack([total[:, 1:], pad])])
        moves[y] = np.argmin(options, axis=0) - 1
        total = options.min(axis=0) + cost[y]
    pos = np.argmin(total, axis=1)
    crossed = total[np.arange(len(columns)), pos]
    path = np.empty((len(columns), height), dtype=np.int64)
    path[:, -1] = pos
    rows = np.arange(len(columns))
    for y in range(height - 1, 0, -1):
        path[:, y - 1] = path[:, y] + moves[y, rows, path[:, y]]
    return path + xs[:, :1], np.floor(crossed)


def cut_paths(own: np.ndarray, digit_height: float) -> list[np.ndarray]:
    """Where to cut a wide stroke: least-ink paths from columns every CUT_STEP digit heights,
    the paths crossing least ink first, none closer than MIN_PIECE digit heights (on average)
    to another or to the stroke's ends, at most one per SLICE_WIDTH of width."""
    height, width = own.shape
    min_piece = max(2, int(MIN_PIECE * digit_height))
    if width < 2 * min_piece:
        return []
    step = max(1, int(CUT_STEP * digit_height))
    columns = np.arange(min_piece, width - min_piece + 1, step)
    paths, crossed = least_ink_paths(own, columns, max(1, int(PATH_REACH * digit_height)))
    rows_with_ink = own.any(axis=1)
    left_edge = np.where(rows_with_ink, own.argmax(axis=1), np.nan)
    right_edge = np.where(rows_with_ink, width - 1 - own[:, ::-1].argmax(axis=1), np.nan)
    chosen: list[np.ndarray] = []
    for k in np.argsort(crossed, kind="stable"):
        path = paths[k]
        if (np.nanmean(path - left_edge) < min_piece or np.nanmean(right_edge - path) < min_piece
                or any(np.abs(path - c).mean() < min_piece for c in chosen)):
            continue
        chosen.append(path)
        if len(chosen) >= max(1, int(width / (SLICE_WIDTH * digit_height))):
            break
    return sorted(chosen, key=lambda p: p.mean())


def _merge_crumbs(own: np.ndarray, slice_of: np.ndarray, n: int, digit_height: float) -> np.ndarray:
    """Give slices with hardly any ink (a path grazing a stroke's edge) to their left neighbour."""
    counts = np.bincount(slice_of[own], minlength=n)
    target = np.arange(n)
    for i in range(n):
        if counts[i] < (CRUMB * digit_height) ** 2:
            target[i] = target[i - 1] if i > 0 else next((j for j in range(1, n) if counts[j]), 0)
    return target[slice_of]


Piece = tuple[np.ndarray, Box, Box, int, tuple[float, float]]


def _slice_wide_strokes(labels: np.ndarray, boxes: list[Box], digit_height: float) -> list[Piece]:
    """Every stroke as (its pixels within the stroke's box, the stroke's box, the piece's own
    box, the stroke's number); wide strokes come as several slices, cut along least-ink paths."""
    pieces = []
    for k, box in enumerate(boxes, start=1):
        own = labels[box.y0 : box.y1, box.x0 : box.x1] == k
        paths = cut_paths(own, digit_height) if box.width > CUT_MIN_WIDTH * digit_height else []
        for i in range(1, len(paths)):  # paths never cross
            paths[i] = np.maximum(paths[i], paths[i - 1] + 1)
        cols = np.arange(box.width)[None, :]
        slice_of = sum((cols >= p[:, None]).astype(np.int64) for p in paths) if paths else np.zeros(own.shape, np.int64)
        slice_of = _merge_crumbs(own, slice_of, len(paths) + 1, digit_height)
        left_cut, right_cut = _cut_lengths(own, slice_of, len(paths) + 1)
        for i in range(len(paths) + 1):
            part = own & (slice_of == i)
            rows, xs = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
            if rows.size:
                piece = Box(box.x0 + int(xs[0]), box.x0 + int(xs[-1]) + 1,
                            box.y0 + int(rows[0]), box.y0 + int(rows[-1]) + 1)
                pieces.append((part, box, piece, k, (left_cut[i] / digit_height, right_cut[i] / digit_height)))
    return pieces


def _cut_lengths(own: np.ndarray, slice_of: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """How much ink each slice's cuts went through, on its left and on its right (pixels where
    ink on one side of a cut touches ink on the other): a cut through a long run of ink is less
    likely where two digits merely touch."""
    crossing = own[:, :-1] & own[:, 1:] & (slice_of[:, :-1] != slice_of[:, 1:])
    right = np.bincount(slice_of[:, :-1][crossing], minlength=n)
    left = np.bincount(slice_of[:, 1:][crossing], minlength=n)
    return left, right


def layout(ink: np.ndarray) -> Layout | None:
    """The atoms of a uint8 ink image, left to right; None when there is no ink."""
    mask = _ink_mask(ink)
    if mask is None:
        return None
    strokes, boxes = _strokes(mask)
    digit_height = float(max(b.height for b in boxes))
    strokes, boxes = _drop_stray_bits(strokes, boxes, digit_height)
    pieces = _slice_wide_strokes(strokes, boxes, digit_height)
    pieces.sort(key=lambda p: (p[2].x0 + p[2].x1) / 2)
    labels = np.zeros(ink.shape, dtype=np.int32)
    for k, (part, stroke_box, *_) in enumerate(pieces, start=1):
        labels[stroke_box.y0 : stroke_box.y1, stroke_box.x0 : stroke_box.x1][part] = k
    thickness = _thickness(mask, labels, len(pieces))
    return Layout(ink, _claim_faint_ink(labels, ink), [p[2] for p in pieces], [p[3] for p in pieces], digit_height,
                  [p[4] for p in pieces], thickness, float(np.median(thickness)))


def _thickness(mask: np.ndarray, labels: np.ndarray, n: int) -> list[float]:
    """Each atom's stroke thickness: twice the largest distance from its ink to the background,
    measured in the whole drawing, so a slice of a stroke is as thick as the stroke."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    depth = ndimage.distance_transform_edt(np.pad(mask[window], 1))[1:-1, 1:-1]
    return [2.0 * float(d) for d in ndimage.maximum(depth, labels[window], index=np.arange(1, n + 1))]


def _gap(a: Box, b: Box) -> int:
    return max(a.x0 - b.x1, b.x0 - a.x1, a.y0 - b.y1, b.y0 - a.y1, 0)


def _drop_stray_bits(labels: np.ndarray, boxes: list[Box], digit_height: float) -> tuple[np.ndarray, list[Box]]:
    """Remove small strokes that are near no other stroke (a dot, a slip of the pen): they cannot
    be a digit alone and belong to none."""
    limit = MAX_JOIN_GAP * digit_height
    keep = [max(b.width, b.height) >= SMALL_PIECE * digit_height
            or any(_gap(b, o) <= limit for j, o in enumerate(boxes) if j != i) for i, b in enumerate(boxes)]
    if all(keep):
        return labels, boxes
    remap = np.zeros(len(boxes) + 1, dtype=np.int32)
    remap[1:][keep] = np.arange(1, sum(keep) + 1)
    return remap[labels], [b for b, k in zip(boxes, keep) if k]


def _claim_faint_ink(labels: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """Give the faint anti-aliased rim of each stroke (below the ink threshold) to the stroke
    it surrounds, so every digit keeps its soft edges."""
    grown = ndimage.grey_dilation(labels, size=(3, 3))
    return np.where((labels == 0) & (ink > 0), grown, labels)


def spans(lay: Layout) -> list[tuple[int, int]]:
    """Candidate digits as half-open ranges [i, j) of neighbouring atoms: close enough to
    belong together and, together, no wider than a digit can be."""
    out = []
    n = len(lay.atoms)
    for i in range(n):
        box = lay.atoms[i]
        out.append((i, i + 1))
        for j in range(i + 1, min(n, i + MAX_ATOMS_PER_DIGIT)):
            nxt = lay.atoms[j]
            if nxt.x0 - box.x1 > MAX_JOIN_GAP * lay.digit_height:
                break
            box = box.union(nxt)
            if box.width > MAX_DIGIT_WIDTH * lay.digit_height:
                break
            out.append((i, j + 1))
    return out


def span_box(lay: Layout, span: tuple[int, int]) -> Box:
    box = lay.atoms[span[0]]
    for b in lay.atoms[span[0] + 1 : span[1]]:
        box = box.union(b)
    return box


def span_ink(lay: Layout, span: tuple[int, int]) -> np.ndarray:
    """The ink of atoms i..j-1 alone, cropped to their box (other atoms' ink removed)."""
    box = span_box(lay, span)
    window = lay.labels[box.y0 : box.y1, box.x0 : box.x1]
    own = (window > span[0]) & (window <= span[1])
    return np.where(own, lay.ink[box.y0 : box.y1, box.x0 : box.x1], 0).astype(np.uint8)
