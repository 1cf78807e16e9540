"""Pictures of the network's insides: enlarged digits, kernels and feature maps on a shared
diverging colour scale, the confusion matrix and training curves. Images are returned as Pillow
images and charts as Altair charts; the app only places them."""

from __future__ import annotations

import numpy as np
from PIL import Image

from mnist_cnn.config import NUM_CLASSES

NEGATIVE = np.array([33, 102, 172], dtype=np.float32)  # blue
POSITIVE = np.array([178, 24, 43], dtype=np.float32)  # red
WHITE = np.array([255, 255, 255], dtype=np.float32)
DIGIT_SCALE = 6  # 28 px -> 168 px
KERNEL_PX = 60  # 3x3 kernel cell, enlarged
MAP_PX = 84  # 28x28 feature map, enlarged


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


def kernel_images(kernels: np.ndarray) -> tuple[list[Image.Image], float]:
    """The first layer's (3, 3, 1, n) kernels as n enlarged images on one shared colour scale,
    so signs and magnitudes compare across filters. Returns the images and the scale's limit."""
    if kernels.ndim != 4 or kernels.shape[:3] != (3, 3, 1):
        raise ValueError(f"expected channels-last kernels of shape (3, 3, 1, n), got {kernels.shape}")
    limit = float(np.abs(kernels).max())
    return [enlarge(diverging(kernels[:, :, 0, i], limit), KERNEL_PX) for i in range(kernels.shape[3])], limit


def feature_map_images(maps: np.ndarray) -> tuple[list[Image.Image], float]:
    """(28, 28, n) ReLU activations as n enlarged grey images on one shared scale (0 is black)."""
    limit = float(maps.max())
    scaled = maps / limit if limit > 0 else maps
    return [enlarge(scaled[:, :, i], MAP_PX) for i in range(maps.shape[2])], limit


def colour_bar(limit: float, width: int = 240, height: int = 14) -> Image.Image:
    values = np.linspace(-limit, limit, width)[None, :].repeat(height, axis=0)
    return Image.fromarray(diverging(values, limit))


def confusion_chart(confusion: np.ndarray):
    """The confusion matrix as an Altair heat map (true digit down, predicted across)."""
    import altair as alt
    import pandas as pd

    rows = [{"true": t, "predicted": p, "count": int(confusion[t, p])}
            for t in range(NUM_CLASSES) for p in range(NUM_CLASSES)]
    df = pd.DataFrame(rows)
    df["off_diagonal"] = np.where(df["true"] == df["predicted"], 0, df["count"])
    base = alt.Chart(df).encode(
        x=alt.X("predicted:O", title="predicted digit", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("true:O", title="true digit"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("off_diagonal:Q", title="mistakes", scale=alt.Scale(scheme="reds")),
        tooltip=["true", "predicted", "count"],
    )
    text = base.mark_text(fontSize=11).encode(
        text="count:Q",
        color=alt.condition("datum.true == datum.predicted", alt.value("#1f77b4"), alt.value("black")),
    )
    return (cells + text).properties(height=360)


def curves_frame(batches: list[tuple[float, float, float]], epochs: list) -> "object":
    """Training curves as a long DataFrame (epoch, metric, value) for st.line_chart."""
    import pandas as pd

    rows = [{"epoch": e, "metric": name, "value": v}
            for e, loss, acc in batches for name, v in (("train loss", loss), ("train accuracy", acc))]
    for p in epochs:
        rows += [{"epoch": float(p.epoch), "metric": "validation loss", "value": p.val_loss},
                 {"epoch": float(p.epoch), "metric": "validation accuracy", "value": p.val_accuracy}]
    return pd.DataFrame(rows, columns=["epoch", "metric", "value"])


def png_data_uri(image: Image.Image) -> str:
    import base64
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def prediction_html(probs: np.ndarray, image28: np.ndarray, image_px: int = 140) -> str:
    """The ten probabilities as a bar chart and the 28x28 input, as one small HTML block.

    One inline block (no chart library, no separate image request) keeps the per-stroke
    rerun light, which is what makes the prediction appear without a visible delay.
    """
    top = int(np.argmax(probs))
    bars = "".join(
        f'<div class="pb-row"><span class="pb-d">{d}</span>'
        f'<span class="pb-bar"><span style="width:{p * 100:.1f}%;background:{"#e4572e" if d == top else "#7aa6c2"}"></span></span>'
        f'<span class="pb-v">{p:.0%}</span></div>'
        for d, p in enumerate(probs)
    )
    src = png_data_uri(Image.fromarray((np.clip(image28, 0, 1) * 255).astype(np.uint8)))
    return (
        "<style>.pb-row{display:flex;align-items:center;gap:6px;font-size:13px;line-height:18px}"
        ".pb-d{width:12px;font-weight:600}.pb-bar{flex:1;height:12px;background:#eef1f4;border-radius:3px;overflow:hidden}"
        ".pb-bar span{display:block;height:100%}.pb-v{width:38px;text-align:right;color:#555}"
        ".pb-wrap{display:flex;gap:18px;align-items:flex-start}.pb-img{image-rendering:pixelated;border:1px solid #ccc}</style>"
        f'<div class="pb-wrap"><div style="flex:1;min-width:160px" aria-label="probabilities">{bars}</div>'
        f'<figure style="margin:0"><img class="pb-img" src="{src}" width="{image_px}" height="{image_px}" '
        f'alt="the 28x28 image the network receives"/><figcaption style="font-size:12px;color:#666">'
        f"what the network sees (28×28)</figcaption></figure></div>"
    )
