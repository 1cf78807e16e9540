"""The page, without a browser: streamlit.testing.v1.AppTest runs app.py in-process."""

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnist_cnn.config import DEFAULT_STROKE_WIDTH
from mnist_cnn.network import store

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def run_app(tab: str = "Draw") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["tab"] = tab
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [s.value for s in at.subheader]
    parts += [i.value for i in at.info] + [w.value for w in at.warning] + [e.value for e in at.error]
    parts += [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


def images(at) -> list:
    return at.get("image")


def test_draw_tab_invites_drawing_and_names_the_model():
    at = run_app("Draw")
    assert [t.label for t in at.tabs] == ["Draw", "Why?", "My drawings", "Misclassified", "Filters"]
    prediction = [m for m in at.metric if m.label == "Prediction"]
    assert prediction and prediction[0].value == "—"
    assert "Draw a digit on the black canvas: the prediction appears after every stroke." in [i.value for i in at.info]
    sidebar = "\n".join(str(m.value) for m in at.sidebar.markdown) + "\n".join(c.value for c in at.sidebar.caption)
    assert "Improved CNN" in sidebar and "shipped with the app" in sidebar
    assert at.sidebar.button(key="retrain").label == "Retrain"
    assert at.slider(key="stroke_width").value == DEFAULT_STROKE_WIDTH


@pytest.mark.mnist
def test_gallery_shows_mistakes_and_respects_filters():
    at = run_app("Misclassified")
    labels = [m.label for m in at.metric]
    assert "Test accuracy" in labels and "Test loss" in labels
    captions = [m.value for m in at.markdown if "→" in m.value]
    assert len(captions) == 32  # a full first page
    assert all(":blue[" in c and ":red[" in c for c in captions)
    assert sum(len(i.proto.imgs) for i in images(at)) >= 32

    at.selectbox(key="filter_true").set_value(9).run()
    captions = [m.value for m in at.markdown if "→" in m.value]
    assert captions and all(c.startswith(":blue[**9**]") for c in captions)

    at.selectbox(key="filter_pred").set_value(4).run()
    captions = [m.value for m in at.markdown if "→" in m.value]
    assert all(c.startswith(":blue[**9**] → :red[**4**]") for c in captions)

    confidences = lambda: [int(c.split("]")[-1].split("%")[0]) for c in  # noqa: E731
                           (m.value for m in at.markdown if "→" in m.value)]
    at.selectbox(key="filter_true").set_value("any").run()
    at.selectbox(key="filter_pred").set_value("any").run()
    first = confidences()
    assert first == sorted(first, reverse=True)
    at.radio(key="order").set_value("Least confident first").run()
    assert confidences() == sorted(confidences())
    assert "Confusion matrix" in texts(at)


@pytest.mark.mnist
def test_gallery_pages_through_all_mistakes():
    at = run_app("Misclassified")
    page_input = [n for n in at.number_input if n.label.startswith("Page")][0]
    pages = int(page_input.label.split("of ")[1].rstrip(")"))
    assert pages >= 2
    first = [m.value for m in at.markdown if "→" in m.value]
    page_input.set_value(pages).run()
    last = [m.value for m in at.markdown if "→" in m.value]
    assert last and last != first


@pytest.mark.mnist
def test_filters_tab_shows_32_kernels_and_feature_maps():
    at = run_app("Filters")
    # filter sheet (each filter on its own scale: no shared colour bar), input, map sheet, 2 patch sheets
    assert sum(len(i.proto.imgs) for i in images(at)) == 5
    assert "The 32 learned 3×3 filters" in texts(at) and "32 maps of 28×28" in texts(at)
    assert "responds to in test digit #0 (draw something in the Draw tab to see your own)" in texts(at)
    assert "What each first-layer filter looks for" in texts(at)


def wait_for_training(at: AppTest, timeout: float = 300) -> AppTest:
    deadline = time.time() + timeout
    while time.time() < deadline:
        at.run()
        running = [b for b in at.button if b.key == "cancel_training"]
        if at.sidebar.button(key="retrain").disabled is False and not running:
            return at
        time.sleep(0.5)
    raise AssertionError("training did not end in time")


@pytest.mark.mnist
@pytest.mark.slow
def test_retrain_asks_before_using_a_worse_model_and_cancel_keeps_it(monkeypatch):
    monkeypatch.setenv("MNIST_DRAW_TRAIN_LIMIT", "1500")
    at = run_app("Draw")
    before = store.current_model_path()
    at.sidebar.selectbox(key="retrain_arch").set_value("seed").run()
    at.sidebar.slider(key="epochs_seed").set_value(1).run()
    at.sidebar.button(key="retrain").click().run()
    wait_for_training(at)
    assert not at.exception
    # 1,500 images make a worse model than the shipped one: it is offered, not switched to.
    assert store.current_model_path() == before
    shipped = store.read_meta(before)["test_accuracy"]
    assert "below the current model" in texts(at) and f"previous model {shipped:.2%}" in texts(at)
    assert any("below the current model" in w.value for w in at.sidebar.warning)  # not good news in green
    assert not any("below the current model" in m.value for m in at.sidebar.success)
    at.button(key="use_new_model").click().run()
    after = store.current_model_path()
    assert after != before and after.parent == store.user_models_dir() and after.name.startswith("seed-")
    at.run()
    assert "retrained here" in "\n".join(c.value for c in at.sidebar.caption)
    assert "1 epoch" in "\n".join(m.value for m in at.sidebar.markdown) and "1 epochs" not in texts(at)

    monkeypatch.setenv("MNIST_DRAW_TRAIN_LIMIT", "30000")
    identity = store.entry(after).model_id
    at.sidebar.slider(key="epochs_seed").set_value(10).run()
    at.sidebar.button(key="retrain").click().run()
    cancel = [b for b in at.button if b.key == "cancel_training"]
    assert cancel, "a running job shows a Cancel button"
    cancel[0].click().run()
    wait_for_training(at)
    assert "Cancelled" in texts(at)
    assert store.current_model_path() == after and store.entry(after).model_id == identity


@pytest.fixture
def fresh_caches():
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def test_missing_mnist_is_explained_and_drawing_still_works(monkeypatch, tmp_path, fresh_caches):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "no-mnist-here"))
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["tab"] = "Misclassified"
    at.run()
    assert not at.exception
    assert "MNIST_DATA_DIR" in texts(at)
    assert "Retraining needs MNIST" in "\n".join(e.value for e in at.sidebar.error)
    at.session_state["tab"] = "Draw"
    at.run()
    assert [m.value for m in at.metric if m.label == "Prediction"] == ["—"]


DRAW_ONLY = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.run()
assert not at.exception, [e.message for e in at.exception]
print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
"""


def test_the_draw_tab_and_sidebar_never_wait_for_tensorflow():
    """A first visit (Draw tab, sidebar) imports no TensorFlow: the page is up in a second, not ten."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", DRAW_ONLY, APP], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _loaded_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc to see a process's libraries")
def test_the_server_loads_what_a_first_visit_needs_before_it_answers_without_tensorflow(tmp_path):
    """`streamlit run app.py` warms up before its health check answers (app.py's st.App): once it
    answers, pandas (which Streamlit needs for the canvas) is loaded, TensorFlow still is not."""
    from bench import browser

    with browser.running_server(env={"MNIST_DRAW_HOME": str(tmp_path)}) as (_, server):
        libraries = _loaded_libraries(server.pid)
    assert "/pandas/_libs/" in libraries  # the first thing the warm-up loads...
    assert "/h5py/" in libraries  # ...and the last: the model, read from its .keras file
    assert "tensorflow" not in libraries


def test_with_an_admin_password_visitors_draw_but_only_the_admin_retrains_or_switches(monkeypatch):
    from mnist_cnn.ui import admin

    monkeypatch.setenv("MNIST_DRAW_ADMIN_PASSWORD", "a long secret")
    monkeypatch.setattr(admin, "WRONG_PASSWORD_DELAY_S", 0.0)
    at = run_app("Draw")
    assert not [b for b in at.button if b.key == "retrain"]  # a visitor cannot start a run
    assert at.sidebar.selectbox[0].disabled  # nor switch the model everyone uses
    assert admin.VISITOR_NOTE in texts(at)
    assert at.metric[0].label == "Prediction"  # drawing is for everyone

    at.sidebar.text_input(key=admin.PASSWORD_KEY).input("a guess").run()
    assert admin.WRONG_PASSWORD in [e.value for e in at.sidebar.error]
    assert not [b for b in at.button if b.key == "retrain"]

    at.sidebar.text_input(key=admin.PASSWORD_KEY).input("a long secret").run()
    assert [b for b in at.button if b.key == "retrain"] and not at.sidebar.selectbox[0].disabled
    assert admin.PASSWORD_KEY not in at.session_state  # the password is not kept


def test_without_an_admin_password_everyone_may_retrain(monkeypatch):
    monkeypatch.delenv("MNIST_DRAW_ADMIN_PASSWORD", raising=False)
    at = run_app("Draw")
    assert [b for b in at.button if b.key == "retrain"] and not at.sidebar.selectbox[0].disabled
