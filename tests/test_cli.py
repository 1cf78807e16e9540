import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_cnn.config import LOW_CONFIDENCE, REPO_ROOT
from mnist_cnn.reading.preprocess import image_to_mnist


def run_cli(*args, timeout=300, **env):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env}
    return subprocess.run([sys.executable, "-m", "mnist_cnn", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT, env=env)


def save_paper_digit(path, digit: np.ndarray):
    """Black ink on white paper, enlarged, as someone would save a digit."""
    Image.fromarray(255 - digit).resize((200, 200)).save(path)
    return str(path)


@pytest.mark.mnist
@pytest.mark.slow
def test_train_evaluate_predict(tmp_path, mnist):
    out = tmp_path / "tiny.keras"
    r = run_cli("train", "--epochs", "1", "--limit", "2000", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert out.is_file() and (tmp_path / "tiny.json").is_file()
    assert "epoch 1/1" in r.stderr
    noise = [line for line in r.stderr.splitlines() if line.strip() and "epoch 1/1" not in line]
    assert not noise, noise  # progress only: TensorFlow's start-up chatter is kept quiet
    assert re.search(r"test accuracy [\d.]+%.* for 1 epoch; saved ", r.stdout), r.stdout

    r = run_cli("evaluate", "--model", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "misclassified of 10,000" in r.stdout

    x_test, y_test = mnist[1]
    paths = [save_paper_digit(tmp_path / f"digit{i}.png", x_test[i]) for i in range(3)]
    r = run_cli("predict", *paths)  # with the shipped improved model
    assert r.returncode == 0, r.stderr[-2000:]
    for path, digit in zip(paths, y_test[:3]):
        assert re.search(rf"^{re.escape(path)}: {digit}\b", r.stdout, re.MULTILINE), r.stdout


def _ambiguous_picture(tmp_path, mnist, clf) -> tuple[str, int, int]:
    """A 4 and a 9 drawn over each other, saved as a picture the model cannot be sure about."""
    x_test, y_test = mnist[1]
    fours, nines = x_test[y_test == 4][:64], x_test[y_test == 9][:64]
    path = tmp_path / "four-or-nine.png"
    for four, nine in zip(fours, nines):
        save_paper_digit(path, ((four.astype(np.uint16) + nine) // 2).astype(np.uint8))
        probs = clf.predict_proba(image_to_mnist(path.read_bytes())[None])[0]
        first, second = np.argsort(probs)[::-1][:2]
        if probs[first] < LOW_CONFIDENCE and probs[first] + probs[second] > 0.9:
            return str(path), int(first), int(second)
    raise AssertionError("no ambiguous 4-and-9 found")


def test_predict_says_when_it_is_not_sure(tmp_path, mnist, improved_clf):
    path, first, second = _ambiguous_picture(tmp_path, mnist, improved_clf)
    r = run_cli("predict", path)
    assert r.returncode == 0, r.stderr
    assert f"not sure: maybe a {first}, or a {second}" in r.stdout


def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    folder = tmp_path / "drawings"
    folder.mkdir()
    cases = [
        (("predict", str(notes)), "not a picture"),
        (("predict", str(tmp_path / "missing.png")), "no such file"),
        (("predict", str(folder)), "is a folder"),
        (("evaluate", "--model", str(notes)), "not a loadable"),
        (("evaluate", "--model", str(tmp_path / "gone" / "m.keras")), "does not exist"),
        (("train", "--epochs", "zero"), "not a whole number"),
        (("train", "--arch", "resnet"), "invalid choice"),
        (("train", "--out", str(tmp_path / "model.h5")), "must end in .keras"),
        (("predict",), "required"),
        (("frobnicate",), "invalid choice"),
        (("bench", "--area", "nope"), "no benchmark area"),
        (("bench", "--sessions", "30"), "--sessions is for the class area"),
        (("bench", "--area", "class", "--sessions", "0"), "must be at least 1"),
    ]
    for args, says in cases:
        r = run_cli(*args)
        assert r.returncode != 0, args
        lines = r.stderr.splitlines()
        assert len(lines) == 1, (args, r.stderr)  # the whole of stderr: no usage text, no traceback
        assert says in lines[0], (args, r.stderr)
        assert "Errno" not in lines[0] and "upload" not in lines[0], (args, r.stderr)


def test_missing_data_is_explained(tmp_path):
    r = run_cli("train", "--epochs", "1", "--limit", "500", MNIST_DATA_DIR=str(tmp_path / "nowhere"))
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert "MNIST_DATA_DIR" in r.stderr and "nowhere" in r.stderr


def _imported_modules(*args) -> set[str]:
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "mnist_cnn", *args], capture_output=True,
                       text=True, timeout=120, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    return {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}


def test_help_bad_arguments_and_predict_do_not_wait_for_tensorflow(tmp_path):
    """TensorFlow takes seconds to import: --help, a typo and predict must not need it."""
    picture = str(tmp_path / "one.png")
    one = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(one).line([(100, 30), (95, 170)], fill=0, width=14)
    one.save(picture)
    for args in (("--help",), ("train", "--epochs", "zero"), ("predict", picture)):
        modules = _imported_modules(*args)
        assert "mnist_cnn.cli.main" in modules, args
        assert not {"tensorflow", "keras"} & modules, args


def test_architecture_names_match_the_models():
    from mnist_cnn.cli.main import ARCHITECTURE_NAMES
    from mnist_cnn.training.architectures import ARCHITECTURES

    assert set(ARCHITECTURE_NAMES) == set(ARCHITECTURES)
