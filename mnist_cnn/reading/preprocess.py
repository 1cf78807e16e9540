"""From what people draw or upload to the 28x28 image the network expects.

MNIST digits were normalised this way (LeCun et al.): the ink's bounding box is scaled so its
longer side is 20 px, keeping the aspect ratio, with anti-aliasing, then placed in a 28x28
field so that its centre of mass is at the centre. A network trained on MNIST only recognises
drawings that went through the same steps; resizing a whole canvas does not.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from mnist_cnn.config import DIGIT_BOX, IMAGE_SIZE, MAX_IMAGE_PIXELS

INK_THRESHOLD = 0.1  # fraction of full ink below which a pixel counts as background
MIN_INK = 0.15  # a canvas whose strongest pixel is fainter than this is blank
# Hairlines are thickened to this width (px, in the 20-px box) before scaling. MNIST's thinnest
# strokes are 2 px there (its 1st percentile), so only a pen far thinner than any MNIST digit is
# touched: a thin pen on a big digit, a hairline script, which scaling would fade to a grey trace.
MIN_STROKE_WIDTH = 1.5
MAX_WORKING_SIDE = 560  # uploads are shrunk to this before analysis; plenty for a 20 px digit
NOT_A_PICTURE = "this file is not a picture Pillow can read; use a PNG, JPEG, GIF, BMP or WebP"
TOO_LARGE = "the picture is {size}; use one under %d megapixels" % (MAX_IMAGE_PIXELS // 1_000_000)
DAMAGED = ("the picture is damaged or incomplete (cut off, perhaps by an interrupted download or copy); "
           "save or copy it again and retry")
PICTURE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")  # BMP, WebP: see below


class ImageError(ValueError):
    """An uploaded file is not a usable picture; the message says why."""


def _ink_from_gray(gray: np.ndarray) -> np.ndarray:
    """uint8 ink from a uint8 grey image whose background (read off the border) is either
    dark or light: the contrast with the background, whichever way round it is."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = np.uint8(np.median(border))
    if background < 128:
        return np.maximum(gray, background) - background
    return background - np.minimum(gray, background)


def ink_from_rgba(rgba: np.ndarray) -> np.ndarray:
    """uint8 ink intensity from an RGB(A) canvas: the alpha channel when the background is
    transparent, else the contrast with the background colour (white-on-black or black-on-white)."""
    if rgba.ndim != 3 or rgba.shape[2] not in (3, 4) or rgba.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 or HxWx4 uint8 image, got {rgba.dtype} {rgba.shape}")
    if rgba.shape[2] == 4:
        alpha = rgba[..., 3]
        border = np.concatenate([alpha[0], alpha[-1], alpha[:, 0], alpha[:, -1]])
        if np.median(border) < 128:  # transparent background: alpha is the ink
            return alpha
    mode = "RGBA" if rgba.shape[2] == 4 else "RGB"
    gray = np.asarray(Image.fromarray(np.ascontiguousarray(rgba), mode).convert("L"))
    return _ink_from_gray(gray)


def stroke_width(mask: np.ndarray) -> float:
    """The mean width in pixels of the strokes in a boolean ink mask: twice the area over the
    outline, as a stroke of width w and length L has area wL and an outline of about 2L."""
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    area = int(mask.sum())
    return 2.0 * area / max(area - int(inner.sum()), 1)


def thicken_hairlines(crop: np.ndarray, peak: int) -> np.ndarray:
    """The cropped uint8 ink with its strokes widened to MIN_STROKE_WIDTH of the 20-px box (on
    every side, so the crop grows with them) if they are thinner; unchanged otherwise (every
    MNIST digit, most drawings)."""
    wanted = MIN_STROKE_WIDTH * max(crop.shape) / DIGIT_BOX
    grow = int(round(wanted - stroke_width(crop > peak // 2))) | 1  # a max filter's side is odd
    if grow <= 1:
        return crop
    padded = np.pad(crop, grow // 2)
    return np.asarray(Image.fromarray(padded, "L").filter(ImageFilter.MaxFilter(grow)))


def normalize_ink(ink: np.ndarray) -> np.ndarray | None:
    """Crop, widen hairlines, scale to a 20 px box, centre by mass in 28x28. `ink` is uint8
    (0-255) or float (0-1); None when there is no ink."""
    if ink.dtype != np.uint8:
        ink = (np.clip(ink, 0.0, 1.0) * 255).astype(np.uint8)
    peak = int(ink.max()) if ink.size else 0
    if peak < MIN_INK * 255:
        return None
    mask = ink > INK_THRESHOLD * peak
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    crop = np.ascontiguousarray(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    crop = thicken_hairlines(crop, peak)
    h, w = crop.shape
    scale = DIGIT_BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    small = Image.fromarray(crop, "L").resize((new_w, new_h), Image.Resampling.LANCZOS)
    digit = np.asarray(small, dtype=np.float32) * (1.0 / peak)
    np.clip(digit, 0.0, 1.0, out=digit)
    mass = digit.sum()
    if mass <= 0:
        return None
    cy = float(digit.sum(axis=1) @ np.arange(new_h)) / mass
    cx = float(digit.sum(axis=0) @ np.arange(new_w)) / mass
    # Centre of mass to the field's centre, but never push part of the digit outside it.
    top = min(max(int(round(IMAGE_SIZE / 2 - 0.5 - cy)), 0), IMAGE_SIZE - new_h)
    left = min(max(int(round(IMAGE_SIZE / 2 - 0.5 - cx)), 0), IMAGE_SIZE - new_w)
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    out[top : top + new_h, left : left + new_w] = digit
    return out


def canvas_to_mnist(rgba: np.ndarray | None) -> np.ndarray | None:
    """The streamlit-drawable-canvas HxWx4 uint8 array to a (28, 28) float32 image in [0, 1],
    white digit on black; None for a blank (or missing) canvas."""
    if rgba is None:
        return None
    return normalize_ink(ink_from_rgba(np.asarray(rgba)))


def _denoise(values: np.ndarray) -> np.ndarray:
    """Suppress paper texture and shadows in photos: keep what is clearly ink (Otsu threshold)."""
    if values.max() < MIN_INK * 255:
        return values
    ink = values.astype(np.float32) / float(values.max())
    values = (ink * 255).astype(np.uint8)
    hist = np.bincount(values.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    cum = np.cumsum(hist)
    cum_mean = np.cumsum(hist * np.arange(256))
    w0, w1 = cum, total - cum
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (cum_mean[-1] * w0 / total - cum_mean) ** 2 / (w0 * w1 / total)
    threshold = float(np.nanargmax(between[:-1])) / 255.0
    soft = np.clip((ink - threshold * 0.5) / max(1e-6, 1 - threshold * 0.5), 0.0, 1.0)
    return np.where(ink >= threshold, soft, 0.0).astype(np.float32)


def _starts_like_a_picture(data: bytes) -> bool:
    """Whether a file Pillow cannot open begins like a PNG, JPEG, GIF, BMP or WebP (so it is one,
    cut off or damaged, rather than something else)."""
    head = bytes(data[:12])
    return (head.startswith(PICTURE_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
            or (head[:2] == b"BM" and head[6:10] == bytes(4)))


def picture_ink(image: Image.Image | bytes | BinaryIO) -> np.ndarray:
    """The ink of any Pillow-readable picture (photo, scan, drawing, either polarity), shrunk to
    at most MAX_WORKING_SIDE and cleaned of paper texture. Raises ImageError for a file that is
    not a picture."""
    if not isinstance(image, Image.Image):
        data = image if isinstance(image, (bytes, bytearray)) else image.read()
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:  # Pillow's own limit, far above ours: one sentence all the same
            raise ImageError(TOO_LARGE.format(size="far too large")) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise ImageError(DAMAGED if _starts_like_a_picture(data) else NOT_A_PICTURE) from None
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise ImageError(TOO_LARGE.format(size=f"{image.width}x{image.height}, too large"))
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, EOFError, struct.error):
            raise ImageError(DAMAGED) from None
    image = ImageOps.exif_transpose(image)
    image.thumbnail((MAX_WORKING_SIDE, MAX_WORKING_SIDE), Image.Resampling.LANCZOS)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        ink = ink_from_rgba(np.asarray(image.convert("RGBA")))
    else:
        ink = _ink_from_gray(np.asarray(image.convert("L")))
    return _denoise(ink)


def image_to_mnist(image: Image.Image | bytes | BinaryIO) -> np.ndarray | None:
    """Any Pillow-readable picture of one digit (photo, scan, drawing, either polarity) to the
    (28, 28) image the network expects; None when the picture has no ink. Raises ImageError
    for a file that is not a picture."""
    return normalize_ink(picture_ink(image))


def naive_resize(rgba: np.ndarray) -> np.ndarray:
    """The tempting shortcut (resize the whole canvas to 28x28), kept as the benchmark's baseline."""
    ink = ink_from_rgba(np.asarray(rgba)).astype(np.float32) / 255.0
    small = Image.fromarray(ink, mode="F").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(small, dtype=np.float32), 0.0, 1.0)
