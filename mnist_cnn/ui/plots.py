"""Pictures of the network's insides: enlarged digits, kernels and feature maps, attribution
overlays, neighbours, the map of all digits, what-if curves, the confusion matrix and training
curves. Images are returned as Pillow images (several tiles composed into one picture, with
gaps, so nothing touches and no rounded corner clips a weight), charts as Altair charts and
small blocks as HTML; the UI modules only place them."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mnist_cnn.config import IMAGE_SIZE, NUM_CLASSES

NEGATIVE = np.array([33, 102, 172], dtype=np.float32)  # blue
POSITIVE = np.array([178, 24, 43], dtype=np.float32)  # red
WHITE = np.array([255, 255, 255], dtype=np.float32)
DIGIT_SCALE = 6  # 28 px -> 168 px
KERNEL_PX = 60  # 3x3 kernel cell, enlarged
MAP_PX = 84  # 28x28 feature map, enlarged
ACCENT = "#e4572e"  # the theme's primaryColor (.streamlit/config.toml)
INK = "#1f2933"  # the theme's text colour
DIGIT_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]  # Vega's category10, one per digit
GAP = 8  # pixels between tiles
LABEL_PX = 16  # room under a tile for its number
BACKGROUND = (255, 255, 255)
OVERLAY_PX = 280  # the attribution overlay, as large as the canvas
OVERLAY_FULL_PERCENTILE = 95
PATCH_PX = 8  # one pixel of a top-patch window


def enlarge(image: np.ndarray, size: int) -> Image.Image:
    """A grey or RGB array in [0, 1] (or uint8) shown size x size with hard pixel edges."""
    arr = image if image.dtype == np.uint8 else (np.clip(image, 0, 1) * 255).astype(np.uint8)
    return Image.fromarray(arr).resize((size, size), Image.Resampling.NEAREST)


def digit_image(image: np.ndarray, scale: int = DIGIT_SCALE) -> Image.Image:
    """A 28x28 input as the network sees it, enlarged with hard edges."""
    return enlarge(np.asarray(image).reshape(28, 28), 28 * scale)


def diverging(values: np.ndarray, limit: float) -> np.ndarray:
    """Map values in [-limit, limit] to RGB uint8: blue for negative, white at 0, red for positive."""
    t = np.clip(values / max(limit, 1e-12), -1.0, 1.0)[..., None]
    rgb = np.where(t >= 0, WHITE + t * (POSITIVE - WHITE), WHITE + (-t) * (NEGATIVE - WHITE))
    return rgb.astype(np.uint8)


def kernel_limits(kernels: np.ndarray, per_filter: bool = False) -> np.ndarray:
    """Each kernel's full-colour weight: the largest of any kernel (one shared scale, so
    magnitudes compare across filters) or, `per_filter`, its own largest (so a weak filter's
    pattern shows beside a strong one, as the tutorial's per-plot colour scale did)."""
    if kernels.ndim != 4 or kernels.shape[:3] != (3, 3, 1):
        raise ValueError(f"expected channels-last kernels of shape (3, 3, 1, n), got {kernels.shape}")
    own = np.abs(kernels).max(axis=(0, 1, 2))
    return own if per_filter else np.full_like(own, own.max())


def kernel_images(kernels: np.ndarray, per_filter: bool = False) -> tuple[list[Image.Image], float]:
    """The first layer's (3, 3, 1, n) kernels as n enlarged images, on the scales of
    kernel_limits. Returns the images and the largest weight of any kernel."""
    limits = kernel_limits(kernels, per_filter)
    tiles = [enlarge(diverging(kernels[:, :, 0, i], float(limits[i])), KERNEL_PX) for i in range(kernels.shape[3])]
    return tiles, float(limits.max())


def feature_map_images(maps: np.ndarray, per_map: bool = False) -> tuple[list[Image.Image], float]:
    """(h, w, n) ReLU activations as n enlarged grey images (0 is black). On one shared scale
    (white = the strongest response of any map, returned) maps compare with each other; with
    `per_map` each map is stretched to its own maximum, so weak maps show their pattern too."""
    limit = float(maps.max())
    peaks = maps.max(axis=(0, 1), keepdims=True) if per_map else np.full((1, 1, maps.shape[2]), limit)
    scaled = np.where(peaks > 0, maps / np.where(peaks > 0, peaks, 1.0), 0.0)
    return [enlarge(scaled[:, :, i], MAP_PX) for i in range(maps.shape[2])], limit


def colour_bar(limit: float, width: int = 240, height: int = 14) -> Image.Image:
    values = np.linspace(-limit, limit, width)[None, :].repeat(height, axis=0)
    return Image.fromarray(diverging(values, limit))


def confusion_chart(confusion: np.ndarray):
    """The confusion matrix as an Altair heat map (true digit down, predicted across). The
    diagonal (right answers) is set apart in the text colour with white counts; mistakes are
    shaded by count in the theme's colour; empty cells stay blank."""
    import altair as alt
    import pandas as pd

    rows = [{"true": t, "predicted": p, "count": int(confusion[t, p]), "right": t == p}
            for t in range(NUM_CLASSES) for p in range(NUM_CLASSES)]
    df = pd.DataFrame(rows)
    most = max(int(df.loc[~df.right, "count"].max()), 1)
    base = alt.Chart(df).encode(
        x=alt.X("predicted:O", title="predicted digit", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("true:O", title="true digit"),
        tooltip=["true", "predicted", "count"],
    )
    mistakes = base.transform_filter("!datum.right && datum.count > 0").mark_rect(stroke="white").encode(
        color=alt.Color("count:Q", title="mistakes", scale=alt.Scale(range=["#fde0d6", ACCENT], domain=[1, most])))
    right = base.transform_filter("datum.right").mark_rect(color=INK, stroke="white")
    right_counts = base.transform_filter("datum.right").mark_text(fontSize=12, fontWeight="bold", color="white")
    mistake_counts = base.transform_filter("!datum.right && datum.count > 0").mark_text(fontSize=12).encode(
        color=alt.condition(f"datum.count > {most * 0.6}", alt.value("white"), alt.value(INK)))
    text = [layer.encode(text="count:Q") for layer in (right_counts, mistake_counts)]
    return alt.layer(right, mistakes, *text).properties(height=380)


def errors_per_digit_chart(confusion: np.ndarray):
    """Mistakes per true digit as bars in the theme's colour, labelled with count and error
    rate: ten bars near 100% accuracy say nothing, their errors do."""
    import altair as alt
    import pandas as pd

    totals = confusion.sum(axis=1)
    errors = totals - np.diag(confusion)
    df = pd.DataFrame({"digit": [str(d) for d in range(NUM_CLASSES)], "errors": errors,
                       "rate": errors / np.maximum(totals, 1)})
    df["label"] = [f"{e} ({r:.1%})" for e, r in zip(df.errors, df.rate)]
    base = alt.Chart(df).encode(x=alt.X("digit:O", title="true digit", axis=alt.Axis(labelAngle=0)),
                                y=alt.Y("errors:Q", title="misclassified test digits"),
                                tooltip=["digit", "errors", alt.Tooltip("rate:Q", format=".2%")])
    bars = base.mark_bar(color=ACCENT, cornerRadiusTopLeft=3, cornerRadiusTopRight=3)
    labels = base.mark_text(dy=-7, fontSize=11, color=INK).encode(text="label:N")
    return (bars + labels).properties(height=260)


def png_data_uri(image: Image.Image) -> str:
    import base64
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


BARS_CSS = (".pb-row{display:flex;align-items:center;gap:6px;font-size:13px;line-height:18px}"
            ".pb-d{width:12px;font-weight:600}.pb-bar{flex:1;height:12px;background:#eef1f4;border-radius:3px;overflow:hidden}"
            ".pb-bar span{display:block;height:100%}.pb-v{width:38px;text-align:right;color:#555}")


def probability_bars_html(probs: np.ndarray) -> str:
    """The ten probabilities as horizontal bars, the top one in the theme's colour."""
    top = int(np.argmax(probs))
    return "".join(
        f'<div class="pb-row"><span class="pb-d">{d}</span>'
        f'<span class="pb-bar"><span style="width:{p * 100:.1f}%;'
        f'background:{ACCENT if d == top else "#7aa6c2"}"></span></span>'
        f'<span class="pb-v">{p:.0%}</span></div>'
        for d, p in enumerate(probs)
    )


def prediction_html(probs: np.ndarray, image28: np.ndarray, image_px: int = 140) -> str:
    """The ten probabilities as a bar chart and the 28x28 input, as one small HTML block.

    One inline block (no chart library, no separate image request) keeps the per-stroke
    rerun light, which is what makes the prediction appear without a visible delay.
    """
    src = png_data_uri(Image.fromarray((np.clip(image28, 0, 1) * 255).astype(np.uint8)))
    return (
        f"<style>{BARS_CSS}"
        ".pb-wrap{display:flex;gap:18px;align-items:flex-start}"
        ".pb-img{image-rendering:pixelated;border:1px solid #ccc}</style>"
        '<div class="pb-wrap"><div style="flex:1;min-width:160px" aria-label="probabilities">'
        f"{probability_bars_html(probs)}</div>"
        f'<figure style="margin:0"><img class="pb-img" src="{src}" width="{image_px}" height="{image_px}" '
        f'alt="the 28x28 image the network receives"/><figcaption style="font-size:12px;color:#666">'
        f"what the network sees (28×28)</figcaption></figure></div>"
    )


def model_answer_html(title: str, probs: np.ndarray) -> str:
    """One model's answer for the side-by-side view: its name, its digit and its bars."""
    top = int(np.argmax(probs))
    return (f"<style>{BARS_CSS}</style><div aria-label='answer of {title}'>"
            f"<div style='font-size:13px;color:#555'>{title}</div>"
            f"<div style='font-size:32px;font-weight:600;line-height:40px'>{top} "
            f"<span style='font-size:14px;color:#555;font-weight:400'>{probs[top]:.0%} sure</span></div>"
            f"{probability_bars_html(probs)}</div>")


# ---------- tiles composed into one picture ----------

def _font(size: int = 12) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def tile_grid(tiles: list[Image.Image], columns: int, labels: list[str] | None = None) -> Image.Image:
    """Equal-sized tiles in rows on a white sheet, GAP apart with a thin outline and an
    optional label under each: one picture, so tiles never touch and only the sheet's margin
    meets the page's rounded image corners."""
    w, h = tiles[0].size
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    label_h = LABEL_PX if labels else 0
    sheet = Image.new("RGB", (GAP + columns * (w + GAP), GAP + rows * (h + label_h + GAP)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = _font()
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        x, y = GAP + c * (w + GAP), GAP + r * (h + label_h + GAP)
        sheet.paste(tile.convert("RGB"), (x, y))
        draw.rectangle((x - 1, y - 1, x + w, y + h), outline="#c9d1d9")
        if labels:
            draw.text((x + w / 2, y + h + 2), labels[i], fill=INK, font=font, anchor="ma")
    return sheet


def kernel_grid(kernels: np.ndarray, columns: int = 8, per_filter: bool = False) -> tuple[Image.Image, float]:
    """All first-layer kernels, numbered from 1; see kernel_images for the scales."""
    tiles, limit = kernel_images(kernels, per_filter)
    return tile_grid(tiles, columns, [str(i + 1) for i in range(len(tiles))]), limit


def feature_map_grid(maps: np.ndarray, per_map: bool = False, columns: int = 8) -> tuple[Image.Image, float]:
    """A layer's feature maps, numbered from 1; see feature_map_images for the scales."""
    tiles, limit = feature_map_images(maps, per_map)
    return tile_grid(tiles, columns, [str(i + 1) for i in range(len(tiles))]), limit


def digit_strip(images: np.ndarray, labels: list[str], scale: int = 3, columns: int = 8) -> Image.Image:
    """uint8 or 0-1 digits side by side, each with its caption (e.g. the neighbours)."""
    tiles = [digit_image(np.asarray(im) / (255.0 if np.asarray(im).dtype == np.uint8 else 1.0), scale)
             for im in images]
    return tile_grid(tiles, columns, labels)


# ---------- attribution ----------

def attribution_overlay(image: np.ndarray, attr: np.ndarray, size: int = OVERLAY_PX) -> tuple[Image.Image, float]:
    """The digit in light grey on white, each pixel tinted by its attribution: red pushed
    towards the predicted digit, blue towards the runner-up, the stronger the more opaque.
    Returns the picture and the scale's limit: full colour from there on (a high percentile of
    |attribution| over the ink, so one extreme pixel does not wash out the rest)."""
    x = np.clip(np.asarray(image, np.float32).reshape(IMAGE_SIZE, IMAGE_SIZE), 0, 1)
    strength = np.abs(attr)[x > 0]
    limit = max(float(np.percentile(strength, OVERLAY_FULL_PERCENTILE)) if strength.size else 0.0, 1e-12)
    paper = (255.0 * (1.0 - 0.45 * x))[..., None].repeat(3, axis=2)
    alpha = (np.clip(np.abs(attr) / limit, 0, 1) ** 0.5)[..., None]
    tinted = paper * (1 - alpha) + diverging(attr, limit).astype(np.float32) * alpha
    return enlarge(tinted.astype(np.uint8), size), limit


def attribution_legend_html(digit: str, other: str, limit: float) -> str:
    """A diverging colour bar naming what each end means."""
    blue, red = (f"rgb({','.join(str(int(v)) for v in c)})" for c in (NEGATIVE, POSITIVE))
    return (f"<div aria-label='attribution colour scale' style='font-size:12px;color:#555;max-width:{OVERLAY_PX}px'>"
            f"<div style='height:12px;border-radius:2px;background:linear-gradient(90deg,{blue},white,{red})'></div>"
            f"<div style='display:flex;justify-content:space-between'><span>towards {other}</span>"
            f"<span>neutral</span><span>towards {digit}</span></div>"
            f"<div>full colour: ±{limit:.2f} (score of {digit} minus score of {other}, per pixel)</div></div>")


def deletion_chart(curves: dict[str, np.ndarray], fractions: np.ndarray):
    """Mean probability of the predicted digit as ink is deleted, one line per order."""
    import altair as alt
    import pandas as pd

    means = {name: np.asarray(curve).reshape(-1, len(fractions)).mean(axis=0) for name, curve in curves.items()}
    rows = [{"deleted": float(f), "order": name, "probability": float(p)}
            for name, mean in means.items() for f, p in zip(fractions, mean)]
    return alt.Chart(pd.DataFrame(rows)).mark_line(point=True).encode(
        x=alt.X("deleted:Q", title="share of the ink deleted", axis=alt.Axis(format="%")),
        y=alt.Y("probability:Q", title="probability of the answer", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("order:N", title="deletion order"),
    ).properties(height=240)


# ---------- where it lands, what would change it ----------

def _digit_scale(digits: list[int] | None = None):
    """Each digit's colour, the same in every chart (the legend lists only `digits`)."""
    import altair as alt

    digits = list(range(NUM_CLASSES)) if digits is None else digits
    return alt.Scale(domain=[str(d) for d in digits], range=[DIGIT_COLOURS[d] for d in digits])


def map_chart(xy: np.ndarray, labels: np.ndarray, point: np.ndarray | None = None, title: str = "your drawing"):
    """The test digits on the 2-D map, coloured by their true digit, each digit's name at the
    middle of its cloud, and the drawing as a large black cross."""
    import altair as alt
    import pandas as pd

    df = pd.DataFrame({"x": np.round(xy[:, 0], 3), "y": np.round(xy[:, 1], 3), "digit": labels.astype(str)})
    centres = df.groupby("digit", as_index=False)[["x", "y"]].median()
    axis_x, axis_y = alt.X("x:Q", axis=None), alt.Y("y:Q", axis=None)
    colour = alt.Color("digit:N", scale=_digit_scale(), legend=alt.Legend(title="true digit", orient="right"))
    layers = [
        alt.Chart(df).mark_circle(size=10, opacity=0.45).encode(axis_x, axis_y, colour, tooltip=["digit"]),
        alt.Chart(centres).mark_text(fontSize=20, fontWeight="bold", stroke="white", strokeWidth=0.6)
        .encode(axis_x, axis_y, alt.Color("digit:N", scale=_digit_scale(), legend=None), text="digit:N"),
    ]
    if point is not None:
        you = pd.DataFrame({"x": [float(point[0])], "y": [float(point[1])], "label": [title]})
        layers += [
            alt.Chart(you).mark_point(shape="cross", size=500, filled=True, color=INK, stroke="white", strokeWidth=1.5)
            .encode(axis_x, axis_y),
            alt.Chart(you).mark_text(align="left", dx=14, dy=-14, fontSize=14, fontWeight="bold", color=INK)
            .encode(axis_x, axis_y, text="label:N"),
        ]
    return alt.layer(*layers).properties(height=460)


def sweep_chart(values: np.ndarray, probs: np.ndarray, title: str, current: float, min_prob: float = 0.05):
    """Probability of each digit along one slider's range (digits that never reach
    `min_prob` are left out), with the slider's current value marked."""
    import altair as alt
    import pandas as pd

    shown = [d for d in range(NUM_CLASSES) if probs[:, d].max() >= min_prob]
    df = pd.DataFrame([{"value": float(v), "digit": str(d), "probability": float(probs[i, d])}
                       for i, v in enumerate(values) for d in shown])
    lines = alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=14)).encode(
        x=alt.X("value:Q", title=title), y=alt.Y("probability:Q", title="probability", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("digit:N", scale=_digit_scale(shown), title="digit"), tooltip=["digit", "value", "probability"])
    now = alt.Chart(pd.DataFrame({"value": [float(current)]})).mark_rule(color=INK, strokeDash=[4, 3])
    now = now.encode(x="value:Q")
    return (lines + now).properties(height=200)


# ---------- what each first-layer filter looks for ----------

def filter_patches_image(kernels: np.ndarray, windows: np.ndarray, filters: list[int],
                         per_filter: bool = False) -> Image.Image:
    """A row per filter: its kernel (diverging, on the scales of kernel_limits), then the
    test-image patches that excite it most, each shown in its 7x7 surroundings with the 3x3
    patch outlined."""
    limits = kernel_limits(kernels, per_filter)
    context = windows.shape[-1]
    cell = context * PATCH_PX
    half = (context - 3) // 2 * PATCH_PX
    font = _font()
    label_w = 70
    per_row = windows.shape[1]
    size = (label_w + (per_row + 1) * (cell + GAP) + GAP, GAP + len(filters) * (cell + GAP))
    sheet = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for row, f in enumerate(filters):
        y = GAP + row * (cell + GAP)
        draw.text((4, y + cell / 2), f"filter {f + 1}", fill=INK, font=font, anchor="lm")
        x = label_w
        sheet.paste(enlarge(diverging(kernels[:, :, 0, f], float(limits[f])), cell), (x, y))
        draw.rectangle((x - 1, y - 1, x + cell, y + cell), outline="#c9d1d9")
        for k in range(per_row):
            x = label_w + (k + 1) * (cell + GAP) + GAP
            sheet.paste(enlarge(windows[f, k], cell).convert("RGB"), (x, y))
            corner = 3 * PATCH_PX - 1
            draw.rectangle((x + half, y + half, x + half + corner, y + half + corner), outline=ACCENT, width=2)
    return sheet
