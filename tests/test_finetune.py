"""Fine-tuning on saved drawings: it learns a personal style it was weak on, measured on drawings
it never trained on, keeps MNIST, reports progress, cancels, and the export feeds Keras."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from bench.style import style_inputs
from mnist_cnn.drawings import folders as drawings_io
from mnist_cnn.drawings.store import DrawingStore, NewDrawing, png_bytes
from mnist_cnn.network import store

pytestmark = pytest.mark.mnist
STYLE_DRAWINGS = 200


@pytest.fixture
def style_store(user_home) -> DrawingStore:
    images, labels, canvases = style_inputs(STYLE_DRAWINGS, seed=3)
    drawings = DrawingStore()
    drawings.add_many([NewDrawing(images[i], int(labels[i]), png_bytes(canvases[i]), "style-writer")
                       for i in range(STYLE_DRAWINGS)])
    return drawings


def test_a_finetune_learns_a_personal_style_and_keeps_mnist(style_store, tmp_path):
    from mnist_cnn.network.inference import load_classifier
    from mnist_cnn.training.finetune import finetune

    reports = []
    result = finetune(store.shipped_model_path("improved"), epochs=2, progress=reports.append, seed=0)
    e = result.extra
    assert e["drawings_trained"] + e["drawings_held_out"] == STYLE_DRAWINGS and e["drawings_held_out"] >= 20
    assert e["held_out_accuracy_after"] > e["held_out_accuracy_before"]  # on drawings it never trained on
    assert result.test_accuracy >= e["mnist_test_accuracy_before"] - 0.003
    epochs = [p for p in reports if p.kind == "epoch"]
    assert [p.epoch for p in epochs] == [1, 2]
    assert epochs[-1].val_accuracy == pytest.approx(e["held_out_accuracy_after"], abs=1e-4)

    saved = store.save_model(result.model, tmp_path / "improved-finetuned.keras", result.sidecar("test"))
    assert saved.meta["finetuned_from"] == store.entry(store.shipped_model_path("improved")).model_id
    clf = load_classifier(saved.path)
    held_images, held_labels, _ = style_store.dataset("held_out")
    probs = clf.predict_proba(held_images.astype(np.float32) / 255.0)
    assert (probs.argmax(1) == held_labels).mean() == pytest.approx(e["held_out_accuracy_after"], abs=0.02)


def test_a_cancelled_finetune_returns_nothing(style_store):
    from mnist_cnn.training.finetune import finetune
    from mnist_cnn.training.train import TrainingCancelled

    cancel = threading.Event()
    with pytest.raises(TrainingCancelled):
        finetune(store.shipped_model_path("seed"), epochs=3, limit=1024, cancel=cancel,
                 progress=lambda p: cancel.set())


def test_without_saved_drawings_the_finetune_says_how_to_add_some(user_home):
    from mnist_cnn.training.finetune import finetune

    with pytest.raises(ValueError, match="no saved drawings.*Draw tab"):
        finetune(store.shipped_model_path("seed"))


def test_an_export_loads_with_keras_image_dataset_from_directory(style_store, tmp_path):
    import keras

    drawings_io.export_folder(style_store, tmp_path / "export")
    dataset = keras.utils.image_dataset_from_directory(
        tmp_path / "export", class_names=[str(d) for d in range(10)], color_mode="grayscale", image_size=(28, 28),
        shuffle=False, batch_size=STYLE_DRAWINGS)
    images, labels = next(iter(dataset))
    assert images.shape == (STYLE_DRAWINGS, 28, 28, 1)
    assert np.bincount(labels.numpy(), minlength=10).tolist() == style_store.counts_per_digit()
