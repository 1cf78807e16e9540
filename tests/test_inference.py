import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from mnist_cnn.config import REPO_ROOT
from mnist_cnn.data.mnist import to_model_input
from mnist_cnn.network import store
from mnist_cnn.network.inference import load_classifier, verdict


def test_default_is_the_shipped_improved_model():
    clf = load_classifier()
    assert clf.path == store.shipped_model_path("improved") and clf.arch == "improved"
    assert clf.warning is None


def test_predict_proba_shapes_and_probabilities(seed_clf, mnist):
    x = mnist[1][0][:50] / 255.0
    for batch in (x.astype(np.float32), to_model_input(mnist[1][0][:50])):
        probs = seed_clf.predict_proba(batch)
        assert probs.shape == (50, 10)
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert (probs.argmax(axis=1) == mnist[1][1][:50]).mean() > 0.95
    with pytest.raises(ValueError, match="28, 28"):
        seed_clf.predict_proba(np.zeros((1, 32, 32), np.float32))


def test_concurrent_sessions_get_the_same_answers(improved_clf, mnist):
    images = to_model_input(mnist[1][0][:64])
    expected = improved_clf.predict_proba(images)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: improved_clf.predict_proba(images[i : i + 1])[0], range(64)))
    assert np.allclose(np.stack(results), expected, atol=1e-5)


def test_kernels_and_feature_maps(seed_clf, mnist):
    assert seed_clf.first_layer_kernels().shape == (3, 3, 1, 32)
    maps = seed_clf.feature_maps(mnist[1][0][0] / 255.0)
    assert maps.shape == (28, 28, 32) and maps.min() >= 0  # after ReLU


def test_corrupt_current_model_falls_back_to_shipped(tmp_path):
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"not a zip file")
    store.set_current_model(bad)
    clf = load_classifier()
    assert clf.path == store.shipped_model_path() and "not a loadable" in clf.warning
    with pytest.raises(store.ModelStoreError, match="not a loadable"):
        load_classifier(bad)


def test_verdict_hedges_when_unsure():
    v = verdict(np.array([0.05, 0, 0, 0, 0.45, 0, 0.1, 0, 0, 0.40], dtype=np.float32))
    assert v.digit == 4 and v.runner_up == 9 and v.unsure and v.hedge == "maybe a 4, or a 9"
    assert not verdict(np.eye(10)[3]).unsure


@pytest.mark.parametrize("arch", ["seed", "improved"])
def test_numpy_fast_path_matches_tensorflow(arch, mnist, request):
    import keras

    clf = request.getfixturevalue(f"{arch}_clf")
    images = to_model_input(mnist[1][0][:200])
    tf_probs = clf.model.predict(images, verbose=0)  # Keras itself
    np_probs = np.concatenate([clf.predict_proba(images[i : i + 8]) for i in range(0, 200, 8)])  # NumPy path
    assert np.abs(tf_probs - np_probs).max() < 1e-4
    assert (tf_probs.argmax(1) == np_probs.argmax(1)).all()
    tf_maps = keras.Model(clf.model.inputs, clf.model.get_layer("relu1").output)(images[:1]).numpy()[0]
    assert np.abs(clf.feature_maps(images[0, ..., 0]) - tf_maps).max() < 1e-4


def test_drawing_needs_no_tensorflow(mnist, tmp_path):
    """Loading the model and answering a drawing must not wait seconds for TensorFlow to import."""
    np.save(tmp_path / "digit.npy", mnist[1][0][0] / 255.0)
    code = ("import sys, numpy as np; from mnist_cnn.network.inference import load_classifier; "
            f"p = load_classifier().predict_proba(np.load({str(tmp_path / 'digit.npy')!r})[None]); "
            "print(int(p.argmax()), 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
                       env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert r.stdout.split() == [str(mnist[1][1][0]), "False", "False"], r.stderr[-2000:]


def test_models_fastpath_cannot_run_use_tensorflow(monkeypatch, mnist):
    from mnist_cnn.network import fastpath
    from mnist_cnn.network.inference import Classifier

    def unsupported(*args, **kwargs):
        raise fastpath.UnsupportedLayer("pretend")

    monkeypatch.setattr(fastpath, "compile_layers", unsupported)
    clf = Classifier(store.shipped_model_path("seed"))
    image = mnist[1][0][0] / 255.0
    assert clf.predict_proba(image[None])[0].argmax() == mnist[1][1][0]
    maps = clf.feature_maps(image)
    assert maps.shape == (28, 28, 32) and maps.min() >= 0
