import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_cnn.data.synthetic import SCHEMES, canvas_set, paste_on_canvas
from mnist_cnn.reading.preprocess import ImageError, canvas_to_mnist, image_to_mnist, naive_resize

N_CANVASES = 600


def _accuracy(clf, images, labels):
    probs = clf.predict_proba(np.stack(images))
    return float((probs.argmax(axis=1) == np.array(labels)).mean())


@pytest.fixture(scope="module")
def canvases(mnist):
    _, (x_test, y_test) = mnist
    return list(canvas_set(x_test, y_test, N_CANVASES, seed=7))


def test_drawn_like_people_draw_are_recognised(canvases, seed_clf, improved_clf):
    images = [canvas_to_mnist(c) for c, _ in canvases]
    labels = [y for _, y in canvases]
    assert all(im is not None and im.shape == (28, 28) and im.dtype == np.float32 for im in images)
    assert _accuracy(seed_clf, images, labels) >= 0.95
    assert _accuracy(improved_clf, images, labels) >= 0.98


def test_normalisation_beats_naive_resize(canvases, seed_clf):
    labels = [y for _, y in canvases]
    naive = _accuracy(seed_clf, [naive_resize(c) for c, _ in canvases], labels)
    proper = _accuracy(seed_clf, [canvas_to_mnist(c) for c, _ in canvases], labels)
    assert proper > naive + 0.3


def test_every_colour_scheme_gives_the_same_image(mnist):
    digit = mnist[1][0][3]
    outs = [canvas_to_mnist(paste_on_canvas(digit, np.random.default_rng(1), scheme)) for scheme in SCHEMES]
    for out in outs[1:]:
        assert np.abs(out - outs[0]).max() < 0.02


def test_output_follows_mnist_normalisation(mnist):
    out = canvas_to_mnist(paste_on_canvas(mnist[1][0][0], np.random.default_rng(3)))
    ys, xs = np.nonzero(out > 0.1)
    assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 in (19, 20, 21)  # 20 px box
    cy = (out.sum(axis=1) * np.arange(28)).sum() / out.sum()
    cx = (out.sum(axis=0) * np.arange(28)).sum() / out.sum()
    assert abs(cy - 14) < 1 and abs(cx - 14) < 1  # centred by mass
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_blank_canvases_give_none():
    assert canvas_to_mnist(np.zeros((280, 280, 4), np.uint8)) is None  # transparent
    assert canvas_to_mnist(np.full((280, 280, 4), 255, np.uint8)) is None  # white
    black = np.zeros((280, 280, 4), np.uint8)
    black[..., 3] = 255
    assert canvas_to_mnist(black) is None
    assert canvas_to_mnist(None) is None


def test_a_dot_and_a_stray_line_do_not_crash(seed_clf):
    dot = np.zeros((280, 280, 4), np.uint8)
    dot[140, 140] = 255
    line = np.zeros((280, 280, 4), np.uint8)
    line[5, :, :] = 255  # a full-width line at the very top
    corner = np.zeros((280, 280, 4), np.uint8)
    corner[-3:, -3:] = 255
    for canvas in (dot, line, corner):
        out = canvas_to_mnist(canvas)
        assert out is not None and out.shape == (28, 28) and np.isfinite(out).all()
        assert seed_clf.predict_proba(out[None]).shape == (1, 10)


def _png(image: Image.Image, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def _photo_of_a_one(dark_on_light: bool, size=(600, 800)) -> Image.Image:
    paper, ink = (235, 230, 220), (30, 30, 40)
    if not dark_on_light:
        paper, ink = ink, paper
    img = Image.new("RGB", size, paper)
    draw = ImageDraw.Draw(img)
    draw.line([(320, 150), (300, 650)], fill=ink, width=40)
    noise = np.random.default_rng(0).normal(0, 6, (size[1], size[0], 3))
    return Image.fromarray(np.clip(np.asarray(img) + noise, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("dark_on_light", [True, False])
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_uploaded_photos_are_recognised(dark_on_light, fmt, improved_clf):
    image = image_to_mnist(_png(_photo_of_a_one(dark_on_light), fmt))
    assert image is not None and image.shape == (28, 28)
    assert improved_clf.predict_proba(image[None])[0].argmax() == 1


def test_uploaded_mnist_digit_with_transparency(mnist, improved_clf):
    digit = mnist[1][0][1]
    rgba = paste_on_canvas(digit, np.random.default_rng(0), "transparent")
    image = image_to_mnist(_png(Image.fromarray(rgba, "RGBA")))
    assert improved_clf.predict_proba(image[None])[0].argmax() == mnist[1][1][1]


def test_not_an_image_is_a_clear_error():
    with pytest.raises(ImageError, match="not a picture"):
        image_to_mnist(b"%PDF-1.4 this is not a picture")
    with pytest.raises(ImageError):
        image_to_mnist(_png(Image.new("L", (100, 100)))[:60])  # truncated PNG


def test_blank_upload_gives_none():
    assert image_to_mnist(_png(Image.new("RGB", (300, 300), "white"))) is None
