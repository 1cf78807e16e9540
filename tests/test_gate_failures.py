"""The not-a-digit gate's fail-open path, the "choose A number" hint, and a server whose warm-up
meets a broken file.

A missing or broken gate file must never stop a prediction: the digit is still read (on the
Draw tab, in "A number", on the first-second canvas and in `predict`), only without the "not a
digit" verdict, and the reason is logged once as a warning. A failing warm-up must not keep the
server from serving the page.
"""

import asyncio
import io
import logging
import shutil
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from mnist_cnn.config import CANVAS_SIZE, PREDICT_ROUTE, REPO_ROOT
from mnist_cnn.network import store
from mnist_cnn.reading import notdigit
from mnist_cnn.reading.notdigit import GATE_PATH
from mnist_cnn.reading.preprocess import canvas_to_mnist

HELD_OUT_SEED = 2024


def canvas(draw_on) -> np.ndarray:
    """A white-on-black RGBA canvas, as the Draw tab's, with something drawn on it."""
    image = Image.new("RGBA", (CANVAS_SIZE, CANVAS_SIZE), (0, 0, 0, 255))
    draw_on(ImageDraw.Draw(image))
    return np.asarray(image)


ONE = canvas(lambda d: d.line([(140, 40), (135, 240)], fill="white", width=20))
LETTER_X = canvas(lambda d: (d.line([(60, 50), (220, 230)], fill="white", width=20),
                             d.line([(220, 50), (60, 230)], fill="white", width=20)))


def png(rgba: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    return buf.getvalue()


def fresh_gate(monkeypatch, path: Path) -> None:
    monkeypatch.setattr(notdigit, "GATE_PATH", path)
    monkeypatch.setattr(notdigit, "_unavailable_said", set())
    notdigit.default_gate.cache_clear()


@pytest.fixture(autouse=True)
def reload_the_shipped_gate_afterwards():
    yield
    notdigit.default_gate.cache_clear()


def broken_gate_file(kind: str, folder: Path) -> Path:
    path = folder / "gates" / "notdigit.keras"
    path.parent.mkdir()
    if kind == "corrupt":
        path.write_bytes(b"PK\x03\x04 this was a gate until the disk said otherwise")
    elif kind == "truncated":
        path.write_bytes(GATE_PATH.read_bytes()[:5000])
    elif kind == "not a gate":  # loads fine, but it is a digit model: ten answers, not three
        shutil.copyfile(store.shipped_model_path("seed"), path)
    return path  # "missing": nothing written


@pytest.fixture(params=["missing", "corrupt", "truncated", "not a gate"])
def broken_gate(request, monkeypatch, tmp_path) -> Path:
    path = broken_gate_file(request.param, tmp_path)
    fresh_gate(monkeypatch, path)
    return path


def gate_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "mnist_cnn.reading.notdigit" and r.levelno == logging.WARNING]


def test_without_a_usable_gate_every_prediction_still_works_and_one_warning_says_why(broken_gate, improved_clf,
                                                                                     caplog, capsys, tmp_path):
    from mnist_cnn.cli.predict import predict_files
    from mnist_cnn.reading.numbers import read_number
    from mnist_cnn.reading.verdicts import judge
    from mnist_cnn.ui.server.shell import answer_png

    with caplog.at_level(logging.WARNING, logger="mnist_cnn.reading.notdigit"):
        v = judge(canvas_to_mnist(ONE), improved_clf)  # the Draw tab's one-digit mode
        assert (v.digit, v.is_digit, v.several) == (1, True, False)
        letter = judge(canvas_to_mnist(LETTER_X), improved_clf)
        assert letter.is_digit  # without the gate nothing is called "not a digit"
        wide = np.concatenate([ONE, ONE[:, ::-1]], axis=1)
        assert read_number(improved_clf, wide).text == "11"  # "A number"
        assert answer_png(png(ONE), improved_clf)["value"] == "1"  # the page's first-second canvas
        picture = tmp_path / "one.png"
        Image.fromarray(255 - ONE[..., 0]).save(picture)
        assert predict_files([str(picture)]) == 0  # the CLI
    out = capsys.readouterr().out
    assert out.startswith(f"{picture}: 1 (")
    warnings = gate_warnings(caplog)
    assert len(warnings) == 1, warnings  # once, not on every stroke
    assert str(broken_gate) in warnings[0] and "not a digit" in warnings[0] and "git checkout models/" in warnings[0]
    assert "\n" not in warnings[0]


def test_once_the_gate_file_is_back_a_letter_is_not_a_digit_again(monkeypatch, tmp_path, improved_clf):
    from mnist_cnn.reading.verdicts import judge

    path = broken_gate_file("missing", tmp_path)
    fresh_gate(monkeypatch, path)
    assert judge(canvas_to_mnist(LETTER_X), improved_clf).is_digit
    shutil.copyfile(GATE_PATH, path)  # restored (git checkout models/): no restart needed
    shutil.copyfile(store.sidecar_path(GATE_PATH), store.sidecar_path(path))
    assert not judge(canvas_to_mnist(LETTER_X), improved_clf).is_digit


# ---------- the "choose A number" hint, as the Draw tab shows it ----------

def show_one(path: str) -> None:
    """AppTest script: the one-digit mode's prediction panel for the image saved at `path`."""
    import numpy as np

    from mnist_cnn.network.inference import load_classifier
    from mnist_cnn.ui import draw

    draw.show_prediction(np.load(path), load_classifier(), "Draw a digit")


def prediction_panel(image: np.ndarray, tmp_path: Path) -> AppTest:
    path = tmp_path / f"image-{len(list(tmp_path.glob('image-*')))}.npy"
    np.save(path, image)
    at = AppTest.from_function(show_one, args=(str(path),), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.fixture(scope="module")
def pair_and_single(mnist, improved_clf) -> tuple[np.ndarray, np.ndarray]:
    """Two MNIST test digits side by side that the gate takes for several, and one it takes for one."""
    from mnist_cnn.data.synthetic_numbers import compose_number
    from mnist_cnn.reading.verdicts import judge

    x_test = mnist[1][0]
    rng = np.random.default_rng(HELD_OUT_SEED)
    pairs = (canvas_to_mnist(compose_number([x_test[i], x_test[i + 1]], rng, "close")) for i in range(0, 40, 2))
    pair = next(p for p in pairs if judge(p, improved_clf).several)
    single = canvas_to_mnist(ONE)
    assert not judge(single, improved_clf).several
    return pair, single


def test_two_digits_in_one_digit_mode_get_the_hint_to_choose_a_number(pair_and_single, tmp_path):
    from mnist_cnn.reading.verdicts import SEVERAL_DIGITS

    pair, single = pair_and_single
    at = prediction_panel(pair, tmp_path)
    assert [i.value for i in at.info] == [SEVERAL_DIGITS] and "*A number*" in SEVERAL_DIGITS
    assert not at.warning  # a hint, not a "not a digit"
    assert at.metric[0].value.isdigit()  # the reading is still shown
    at = prediction_panel(single, tmp_path)
    assert not at.info and at.metric[0].value == "1"


def test_without_a_gate_two_digits_get_a_prediction_and_still_the_hint(pair_and_single, monkeypatch, tmp_path):
    from mnist_cnn.reading.verdicts import SEVERAL_DIGITS

    fresh_gate(monkeypatch, broken_gate_file("corrupt", tmp_path))
    at = prediction_panel(pair_and_single[0], tmp_path)
    assert [i.value for i in at.info] == [SEVERAL_DIGITS]  # the number reader sees two digits without it
    assert not at.error and not at.warning  # never "not a digit"
    assert at.metric[0].value.isdigit()


# ---------- warm-up ----------

def test_a_failing_warm_up_is_logged_and_the_server_still_starts(monkeypatch, caplog):
    from mnist_cnn.ui.server import startup

    def broken_warm_up() -> float:
        raise store.ModelStoreError("Model file /somewhere/improved.keras is not a loadable .keras model.")

    monkeypatch.setattr(startup, "warm_up", broken_warm_up)

    async def serve() -> bool:
        async with startup.lifespan(None):
            return True  # the server would take requests here

    with caplog.at_level(logging.INFO, logger="mnist_cnn.ui.server.startup"):
        assert asyncio.run(serve())
    failed = [r for r in caplog.records if r.name == "mnist_cnn.ui.server.startup" and r.levelno == logging.ERROR]
    assert len(failed) == 1 and "warm-up failed" in failed[0].getMessage()


SERVER_WITH_A_BROKEN_GATE = """
import pathlib, sys
from mnist_cnn.reading import notdigit
notdigit.GATE_PATH = pathlib.Path(sys.argv[1])
from streamlit.web import cli
sys.argv = ["streamlit", "run", sys.argv[2], "--server.port", sys.argv[3], "--server.address", "127.0.0.1",
            "--server.headless", "true", "--browser.gatherUsageStats", "false"]
sys.exit(cli.main())
"""


def test_a_server_with_a_broken_current_model_and_gate_serves_the_page_and_predicts(tmp_path, user_home):
    """The real server: the current model's file is damaged and the gate's is missing; it starts,
    serves the page, and its first-second canvas still reads a 1."""
    from bench import browser

    broken = store.user_models_dir() / "improved-20261201-101010.keras"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"PK\x03\x04 damaged")
    store.set_current_model(broken)
    log = tmp_path / "server.log"

    def with_no_gate(port: int) -> list[str]:
        return [sys.executable, "-c", SERVER_WITH_A_BROKEN_GATE, str(tmp_path / "no-gate.keras"),
                str(REPO_ROOT / "app.py"), str(port)]

    with browser.running_server({"PYTHONPATH": str(REPO_ROOT)}, log, command=with_no_gate) as (url, _):
        with urllib.request.urlopen(url + "/", timeout=30) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
        request = urllib.request.Request(url + PREDICT_ROUTE, data=png(ONE), method="POST",
                                         headers={"Content-Type": "image/png"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200 and b'"value":"1"' in answer.read().replace(b" ", b"")
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert text.count("the not-a-digit gate cannot be used") == 1, text[-3000:]
