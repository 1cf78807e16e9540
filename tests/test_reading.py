"""Reading what people draw, as the app shows it: the default model and the not-a-digit gate on
drawings training never saw (handwriting.py's held-out pen style and font families), letters
that must not pass for digits, and the made-up handwriting itself."""

from __future__ import annotations

import numpy as np
import pytest
from bounds import floor

from bench.reading import app_reads
from mnist_cnn.data import handwriting as hw
from mnist_cnn.data.mnist import EXPECTED_COUNTS
from mnist_cnn.data.strokes import write_glyphs
from mnist_cnn.reading.preprocess import canvas_to_mnist

# The rates docs/BENCHMARKS.md measured (bench --area reading, 2,000 of each), from which each
# floor is derived: the count a true rate this high stays above with probability 0.999.
HELD_OUT_PEN_RATE = 0.98
HELD_OUT_FONT_RATE = 0.98
LETTER_RATE = 0.85
N = 300


@pytest.fixture(scope="module")
def clf():
    from mnist_cnn.network.inference import load_classifier

    return load_classifier()


def shown_right(clf, images: np.ndarray, labels: np.ndarray) -> int:
    digits, shown = app_reads(clf, images)
    return int(((digits == labels) & shown).sum())


def test_training_and_held_out_handwriting_share_no_font_or_pen_shape():
    assert not set(hw.TRAIN_FONTS) & set(hw.HELD_OUT_FONTS)
    train_files, held_files = hw.font_files(hw.TRAIN_FONTS), hw.font_files(hw.HELD_OUT_FONTS)
    assert not set(train_files) & set(held_files)
    for digit, glyph in hw.HELD_OUT_GLYPHS.items():
        assert all(glyph != variant for variant in hw.DIGITS[digit])


def test_a_one_with_a_flag_drawn_on_the_canvas_reads_one(clf):
    rng = np.random.default_rng(11)
    flag = hw.DIGITS[1][1]  # an up-stroke then down: the 1 people draw that MNIST rarely has
    canvases = [write_glyphs([flag], (280, 280), rng, pen=float(rng.uniform(10, 30)), height=rng.uniform(0.3, 0.8))
                for _ in range(100)]
    images = np.stack([canvas_to_mnist(c) for c in canvases])
    assert shown_right(clf, images, np.ones(100, np.int64)) >= floor(HELD_OUT_PEN_RATE, 100)


def test_a_hairline_drawing_reaches_the_network_as_bold_as_mnist_ink(clf):
    rng = np.random.default_rng(12)
    labels = np.arange(100) % 10
    canvases = [write_glyphs([hw.training_glyph(int(d), rng)], (280, 280), rng, pen=2, height=rng.uniform(0.6, 0.9))
                for d in labels]  # a 2-px pen over a big digit, a pencil line: 1/10 of a px once scaled
    images = np.stack([canvas_to_mnist(c) for c in canvases])
    assert images.max(axis=(1, 2)).min() > 0.9  # strokes, not a grey trace
    assert shown_right(clf, images, labels) >= floor(HELD_OUT_PEN_RATE, 100)


def test_digits_in_a_pen_style_training_never_saw_are_read(clf):
    images, labels = hw.pen_digits(N, seed=2024, held_out=True)
    assert shown_right(clf, images, labels) >= floor(HELD_OUT_PEN_RATE, N)


def test_digits_in_handwriting_fonts_training_never_saw_are_read(clf):
    images, labels = hw.font_digits(N, seed=2025, held_out=True)
    if not len(images):
        pytest.skip(f"no handwriting font installed: apt-get install {hw.FONT_PACKAGES}")
    assert shown_right(clf, images, labels) >= floor(HELD_OUT_FONT_RATE, N)


def test_letters_in_unseen_fonts_are_not_taken_for_digits(clf):
    images = hw.font_letters(N, seed=2026, held_out=True)
    if not len(images):
        pytest.skip(f"no handwriting font installed: apt-get install {hw.FONT_PACKAGES}")
    _, shown = app_reads(clf, images)
    assert int((~shown).sum()) >= floor(LETTER_RATE, N)


@pytest.mark.mnist
@pytest.mark.slow
def test_a_finetune_on_half_of_a_persons_drawings_halves_the_errors_on_the_other_half(user_home, tmp_path):
    from mnist_cnn.drawings.store import DrawingStore, NewDrawing, png_bytes
    from mnist_cnn.network import store
    from mnist_cnn.network.inference import load_classifier
    from mnist_cnn.training.finetune import finetune

    fonts = hw.font_files(("Kristi",))  # a cursive hand the reader was never trained on
    if not fonts:
        pytest.skip(f"no handwriting font installed: apt-get install {hw.FONT_PACKAGES}")
    rng = np.random.default_rng(0)
    labels = np.arange(300) % 10
    images = np.stack([hw.font_char(str(d), fonts[0], rng) for d in labels])
    mine, scored = slice(0, 200), slice(200, 300)
    drawings = DrawingStore()
    drawings.add_many([NewDrawing(im, int(d), png_bytes((im * 255).astype(np.uint8)), "a person")
                       for im, d in zip(images[mine], labels[mine])])
    base = store.shipped_model_path()
    result = finetune(base, seed=0, drawings=drawings)
    tuned = store.save_model(result.model, tmp_path / "mine.keras", result.sidecar("test")).path

    def errors(path) -> int:
        return int((load_classifier(path).predict_proba(images[scored]).argmax(1) != labels[scored]).sum())

    before, after = errors(base), errors(tuned)
    assert before >= 4, "the style is no longer unseen enough to measure a fine-tune on"
    assert after <= before / 2
    test_digits = EXPECTED_COUNTS["test"]  # float32 accuracies, compared as counts of digits
    lost = round((result.extra["mnist_test_accuracy_before"] - result.test_accuracy) * test_digits)
    assert lost <= test_digits // 1000  # at most 0.1 pt of MNIST
