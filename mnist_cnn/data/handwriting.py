"""Made-up handwriting: digits as a canvas or a scan would show them, for training and measuring
the reader.

MNIST is one kind of handwriting, scanned and normalised in 1994. People draw on a canvas with a
mouse or a finger: one pen width for the whole digit whatever its size (so a small digit has a
thick pen), round stroke ends, their own shapes for a 1, a 4 or a 7; a scan is coarse and often
black and white. These sources stand in for them, each through the app's own preprocessing
(normalize_ink), so the network learns what the Draw tab really gives it:

- pen digits: strokes.py's glyphs drawn at a canvas' pen widths and sizes;
- font digits: digits in the handwriting fonts Debian packages (fonts-comic-neue, fonts-klee, ...),
  slanted, rotated, thickened or thinned like a pen would;
- coarse scans: MNIST digits sampled down to 10-20 pixels, often thresholded;
- letters, signs and crossed-out digits, for what is not a digit;
- a held-out pen style (HELD_OUT_GLYPHS) and held-out font families that training never sees,
  to measure what the reader learned in general rather than on what it was shown.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from mnist_cnn.config import CANVAS_SIZE, DEFAULT_STROKE_WIDTH, NUM_CLASSES, STROKE_WIDTH_RANGE
from mnist_cnn.data.strokes import DIGITS, Glyph, arc, line, render_strokes
from mnist_cnn.reading.preprocess import normalize_ink

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
FONT_SIZE = 96
# File-name stems of the handwriting fonts, by Debian package; the two lists share no family.
TRAIN_FONTS = ("ComicNeue", "dkg", "BecauseWeBuild", "BecauseWeConnect", "BecauseWeCreate", "BecauseWeMentor",
               "BecauseWeLearn", "DancingScript", "KaushanScript", "KleeOne", "Rufscript", "Delphine", "TomsonTalks",
               "YuseiMagic", "CabinSketch", "Ecolier", "femkeklaver", "LeckerliOne", "Purisa", "Breip", "breipfont",
               "lobster", "TypoScript", "Joscelyn", "Havana", "Z003", "URWGothic", "URWBookman-LightItalic",
               "NimbusSans-Italic", "C059-Italic", "P052-Italic", "OpenDyslexic-", "kiloji", "DejaVuSans",
               "LiberationSans")
HELD_OUT_FONTS = ("Humor-Sans", "Kristi", "SteveHand", "BecauseWeOrganize")
FONT_PACKAGES = ("fonts-comic-neue fonts-dkg-handwriting fonts-breip fonts-bwht fonts-dancingscript "
                 "fonts-femkeklaver fonts-humor-sans fonts-kaushanscript fonts-klee fonts-kristi fonts-rufscript "
                 "fonts-sjfonts fonts-tomsontalks fonts-yusei-magic fonts-cabinsketch fonts-tlwg-purisa-otf "
                 "fonts-ecolier-court fonts-leckerli-one fonts-lobster fonts-levien-typoscript fonts-joscelyn "
                 "fonts-havana fonts-urw-base35 fonts-ecolier-lignes-court fonts-opendyslexic fonts-kiloji")
CANVAS_HEIGHTS = (0.2, 0.9)  # a digit's height on the canvas, as a share of the canvas
DEFAULT_PEN_SHARE = 0.6  # most people never touch the pen width slider
MAX_SHEAR = 0.35
MAX_ROTATION_DEG = 12.0
SCAN_SIDES = (10, 21)  # a coarse scan's resolution, in pixels across a digit's 28x28 field
SCAN_BINARY_SHARE = 0.5  # scanned in black and white, no grey
SCAN_SHARE = 0.2  # of drawing_like's images, when it is given MNIST to scan

# A pen style nobody trains on: shapes that strokes.DIGITS does not have, each in one stroke.
HELD_OUT_GLYPHS: dict[int, Glyph] = {
    0: [arc(0.5, 0.5, 0.3, 0.5, -60, 300)],  # a narrow oval begun at the top right
    1: [line((0.25, 0.3), (0.6, 0.0), (0.6, 1.0))],  # a long flag, no foot
    2: [arc(0.45, 0.3, 0.35, 0.3, 200, 400) + line((0.7, 0.55), (0.1, 1.0)) + arc(0.2, 0.9, 0.1, 0.1, 270, 0)
        + line((0.3, 0.95), (0.95, 0.95))],  # a loop at the foot
    3: [arc(0.45, 0.27, 0.33, 0.27, 200, 440) + arc(0.45, 0.73, 0.38, 0.27, -80, 160)],
    4: [line((0.75, 1.0), (0.75, 0.0), (0.05, 0.7), (0.98, 0.7))],  # open top, drawn from the foot
    5: [line((0.9, 0.02), (0.22, 0.0), (0.16, 0.45)) + arc(0.5, 0.7, 0.38, 0.3, -150, 150)],
    6: [arc(0.7, 0.6, 0.55, 0.6, 250, 180) + arc(0.47, 0.72, 0.32, 0.28, 180, 520)],
    7: [line((0.05, 0.0), (0.95, 0.0), (0.5, 0.5), (0.4, 1.0))],  # a bent stem
    8: [arc(0.5, 0.27, 0.28, 0.27, 90, -270) + arc(0.5, 0.75, 0.36, 0.25, -90, 270)],
    9: [arc(0.5, 0.28, 0.35, 0.28, 20, 380) + line((0.85, 0.3), (0.85, 0.65)) + arc(0.55, 0.65, 0.3, 0.35, 0, 120)],
}


@lru_cache(maxsize=4)
def font_files(stems: tuple[str, ...]) -> tuple[Path, ...]:
    """The TrueType and OpenType files on this machine whose name starts with one of `stems`."""
    found = {p for d in FONT_DIRS if d.is_dir() for p in d.rglob("*") if p.suffix.lower() in (".ttf", ".otf")}
    return tuple(sorted(p for p in found if p.name.startswith(stems) and "Mono" not in p.name))


def canvas_pen(rng: np.random.Generator) -> float:
    """A pen width as a share of the digit's height, as the canvas makes it: one width in
    pixels (the slider's default most of the time) over a digit of any size."""
    width = DEFAULT_STROKE_WIDTH if rng.random() < DEFAULT_PEN_SHARE else rng.uniform(*STROKE_WIDTH_RANGE)
    height = rng.uniform(*CANVAS_HEIGHTS) * CANVAS_SIZE
    return float(np.clip(width / height, 0.03, 0.4))


def flagged_one(rng: np.random.Generator) -> Glyph:
    """A 1 as much of the world writes it: a flag of any length at the top of an upright stem,
    sometimes a foot. MNIST has few, and without them a long flag reads as a 7."""
    top_x = rng.uniform(0.45, 0.65)
    flag = (top_x - rng.uniform(0.1, 0.45), rng.uniform(0.08, 0.4))
    glyph = [line(flag, (top_x, 0.0), (top_x + rng.uniform(-0.05, 0.05), 1.0))]
    if rng.random() < 0.3:
        half = rng.uniform(0.15, 0.35)
        glyph.append(line((top_x - half, 1.0), (top_x + half, 1.0)))
    return glyph


def training_glyph(digit: int, rng: np.random.Generator) -> Glyph:
    """A training glyph: one of strokes.DIGITS' variants, or for a 1 often a flagged_one."""
    if digit == 1 and rng.random() < 0.5:
        return flagged_one(rng)
    return DIGITS[digit][int(rng.integers(len(DIGITS[digit])))]


def pen_digit(digit: int, rng: np.random.Generator, glyphs: dict[int, list[Glyph]] | None = None) -> np.ndarray | None:
    """One digit drawn with a canvas' pen, preprocessed as the Draw tab does: (28, 28) float32.
    `glyphs` gives the shapes to choose from; by default training's (training_glyph)."""
    glyph = training_glyph(digit, rng) if glyphs is None else glyphs[digit][int(rng.integers(len(glyphs[digit])))]
    return normalize_ink(render_strokes(glyph, rng, pen=canvas_pen(rng)))


def font_char(char: str, font: Path, rng: np.random.Generator) -> np.ndarray | None:
    """One character in a font, slanted, rotated and re-inked like a hand would, then
    preprocessed: (28, 28) float32, or None when the font has no ink for it."""
    face = ImageFont.truetype(str(font), FONT_SIZE)
    image = Image.new("L", (FONT_SIZE * 2, FONT_SIZE * 2), 0)
    ImageDraw.Draw(image).text((FONT_SIZE // 2, FONT_SIZE // 3), char, fill=255, font=face)
    shear = rng.uniform(-MAX_SHEAR, MAX_SHEAR)
    image = image.transform(image.size, Image.Transform.AFFINE, (1, shear, -shear * FONT_SIZE, 0, 1, 0),
                            resample=Image.Resampling.BILINEAR)
    image = image.rotate(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG), resample=Image.Resampling.BILINEAR)
    pen = int(rng.integers(-1, 4))  # a thinner or up to three sizes thicker pen
    if pen > 0:
        image = image.filter(ImageFilter.MaxFilter(2 * pen + 1))
    elif pen < 0:
        image = image.filter(ImageFilter.MinFilter(3))
    return normalize_ink(np.asarray(image))


def _collect(n: int, make, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n images from make(digit, rng), the digits cycling 0-9; (images, labels)."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    while len(images) < n:
        digit = len(images) % NUM_CLASSES
        image = make(digit, rng)
        if image is not None:
            images.append(image)
            labels.append(digit)
    return np.asarray(images, np.float32).reshape(-1, 28, 28), np.asarray(labels, np.int64)


def pen_digits(n: int, seed: int = 0, held_out: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """n pen-drawn digits: training's glyphs, or the held-out style (one glyph per digit)."""
    glyphs = {d: [g] for d, g in HELD_OUT_GLYPHS.items()} if held_out else None
    return _collect(n, lambda d, rng: pen_digit(d, rng, glyphs), seed)


def font_digits(n: int, seed: int = 0, held_out: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """n digits in handwriting fonts (training's families or the held-out ones); empty when no
    such font is installed (FONT_PACKAGES names Debian's packages)."""
    fonts = font_files(HELD_OUT_FONTS if held_out else TRAIN_FONTS)
    if not fonts:
        return np.zeros((0, 28, 28), np.float32), np.zeros(0, np.int64)
    return _collect(n, lambda d, rng: font_char(str(d), fonts[int(rng.integers(len(fonts)))], rng), seed)


def scanned(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """An MNIST digit (28x28 uint8) as a coarse scan shows it: sampled down to SCAN_SIDES pixels,
    often thresholded to black and white, blown up again, then preprocessed."""
    side = int(rng.integers(*SCAN_SIDES))
    small = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BOX))
    binary = rng.random() < SCAN_BINARY_SHARE
    if binary:
        small = np.where(small > rng.uniform(60, 160), 255, 0).astype(np.uint8)
    resample = Image.Resampling.NEAREST if binary else Image.Resampling.BILINEAR
    return normalize_ink(np.asarray(Image.fromarray(small).resize((side * 6, side * 6), resample)))


def scanned_digits(images: np.ndarray, labels: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n coarse scans of digits drawn at random from (images, labels)."""
    rng = np.random.default_rng(seed)
    out, out_labels = [], []
    while len(out) < n:
        i = int(rng.integers(len(images)))
        image = scanned(images[i], rng)
        if image is not None:
            out.append(image)
            out_labels.append(int(labels[i]))
    return np.stack(out).astype(np.float32), np.asarray(out_labels, np.int64)


def drawing_like(n: int, seed: int = 0, mnist: tuple[np.ndarray, np.ndarray] | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """n training images: pen digits, font digits (none when no font is there) and, given MNIST
    (images, labels), coarse scans of its digits."""
    scans = scanned_digits(*mnist, int(n * SCAN_SHARE), seed=seed + 2) if mnist is not None else None
    rest = n - (len(scans[0]) if scans else 0)
    fonts_x, fonts_y = font_digits(rest // 2, seed=seed)
    pen_x, pen_y = pen_digits(rest - len(fonts_x), seed=seed + 1)
    parts = [(fonts_x, fonts_y), (pen_x, pen_y), *([scans] if scans else [])]
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


# Letters and signs that do not look like a digit (no O, I, l, S, Z, B, G, b, g, q, D, ...).
LETTERS = "ACEFHKLMNPRTUVWXYacdefhkmnprtuvwxy?!&#@%*+=<>"


def font_letters(n: int, seed: int = 0, held_out: bool = False, letters: str = LETTERS) -> np.ndarray:
    """n letters and signs in handwriting fonts, preprocessed like a drawing; empty without fonts."""
    fonts = font_files(HELD_OUT_FONTS if held_out else TRAIN_FONTS)
    if not fonts:
        return np.zeros((0, 28, 28), np.float32)
    images, labels = _collect(n, lambda i, rng: font_char(letters[int(rng.integers(len(letters)))],
                                                          fonts[int(rng.integers(len(fonts)))], rng), seed)
    return images


def crossed_out(digit: int, rng: np.random.Generator) -> np.ndarray | None:
    """A pen digit struck through with two or three long strokes."""
    glyph = list(training_glyph(digit, rng))
    for _ in range(int(rng.integers(2, 4))):  # one line across is a crossed 7 or a slashed 0
        y0, y1 = rng.uniform(-0.1, 1.1, size=2)
        glyph.append(line((rng.uniform(-0.2, 0.1), y0), (rng.uniform(0.9, 1.2), y1)))
    return normalize_ink(render_strokes(glyph, rng, pen=canvas_pen(rng)))


def crossed_out_digits(n: int, seed: int = 0) -> np.ndarray:
    """n crossed-out pen digits: marks people make that are no longer a digit."""
    return _collect(n, crossed_out, seed)[0]
