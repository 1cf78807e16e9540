import json

import pytest

from mnist_cnn.network import store
from mnist_cnn.training.evaluate import evaluate_classifier


@pytest.mark.mnist
def test_seed_model_scores_like_the_tutorial(seed_clf):
    report = evaluate_classifier(seed_clf)
    assert report.total == 10_000
    assert report.accuracy >= 0.983
    meta = store.read_meta(seed_clf.path)
    assert meta["arch"] == "seed" and meta["params"] == 63_050 and meta["epochs"] == 3
    assert abs(meta["test_accuracy"] - report.accuracy) < 0.002


@pytest.mark.mnist
def test_improved_model_reaches_its_floor(improved_clf):
    report = evaluate_classifier(improved_clf)
    assert report.accuracy >= 0.996
    meta = store.read_meta(improved_clf.path)
    assert meta["arch"] == "improved" and abs(meta["test_accuracy"] - report.accuracy) < 0.002


def test_sidecars_match_their_files():
    for arch in ("seed", "improved"):
        path = store.shipped_model_path(arch)
        meta = json.loads(store.sidecar_path(path).read_text())
        assert meta["sha256"] == store.file_digest(path)
        assert meta["train_seconds"] > 0 and meta["tensorflow"] and meta["keras"].startswith("3.")
