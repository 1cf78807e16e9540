import os
import subprocess
import sys

import numpy as np
from PIL import Image

from tests.conftest import ROOT


def run_cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mnist_cnn", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


def test_train_evaluate_predict(tmp_path, mnist):
    out = tmp_path / "tiny.keras"
    r = run_cli("train", "--epochs", "1", "--limit", "2000", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert out.is_file() and (tmp_path / "tiny.json").is_file()
    assert "test accuracy" in r.stdout and "epoch 1/1" in r.stderr

    r = run_cli("evaluate", "--model", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "misclassified of 10000" in r.stdout

    x_test, y_test = mnist[1]
    paths = []
    for i in range(3):  # black digit on white paper, enlarged, as someone would save it
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(255 - x_test[i]).resize((200, 200)).save(path)
        paths.append(str(path))
    r = run_cli("predict", *paths)  # with the shipped improved model
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert [line.split(": ")[1].split()[0] for line in lines] == [str(d) for d in y_test[:3]]


def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    cases = [
        ("predict", str(notes)),
        ("predict", str(tmp_path / "missing.png")),
        ("evaluate", "--model", str(notes)),
        ("train", "--epochs", "zero"),
        ("train", "--arch", "resnet"),
        ("train", "--limit", "5"),
    ]
    for args in cases:
        r = run_cli(*args)
        assert r.returncode != 0, args
        assert "Traceback" not in r.stderr, args
        errors = [line for line in r.stderr.splitlines() if "error" in line.lower()]
        assert len(errors) == 1, (args, r.stderr)


def test_missing_data_is_explained(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MNIST_DATA_DIR": str(tmp_path / "nowhere")}
    r = subprocess.run([sys.executable, "-m", "mnist_cnn", "train", "--epochs", "1", "--limit", "500"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "MNIST_DATA_DIR" in r.stderr and "nowhere" in r.stderr
