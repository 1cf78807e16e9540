"""MNIST Draw: draw a digit, see what a CNN trained on MNIST makes of it, and look inside.

This file only lays out the page; the work is done by the mnist_cnn package.
"""

from __future__ import annotations

import gc
import os

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from mnist_cnn import jobs as jobs_mod
from mnist_cnn import plots, store
from mnist_cnn.config import (BATCH_SIZES, CANVAS_SIZE, DATA_ENV, DEFAULT_STROKE_WIDTH, EPOCH_RANGE,
                              MAX_UPLOAD_MB, STROKE_WIDTH_RANGE, TRAIN_LIMIT_ENV)
from mnist_cnn.data import MnistDataError, load_mnist, to_model_input
from mnist_cnn.evaluate import Report, evaluate_classifier, mistakes_table
from mnist_cnn.inference import Classifier, load_classifier, verdict
from mnist_cnn.model import ARCHITECTURES
from mnist_cnn.preprocess import ImageError, canvas_to_mnist, image_to_mnist

TABS = ["Draw", "Misclassified", "Filters"]
GALLERY_COLUMNS, GALLERY_ROWS = 8, 4
GALLERY_PAGE = GALLERY_COLUMNS * GALLERY_ROWS
GALLERY_SCALE = 3
FILTER_INPUT_SCALE = 4
POLL_RUNNING_S, POLL_IDLE_S = 1.0, 10.0  # idle sessions still notice a run started elsewhere
SAMPLE_TEST_INDEX = 0  # the test digit whose feature maps show while the canvas is blank

st.set_page_config(page_title="MNIST Draw", page_icon="✏️", layout="wide")


# ---------- cached resources: keyed on the model's identity, so a retrain invalidates them ----------

@st.cache_resource(show_spinner=False)
def training_jobs() -> jobs_mod.TrainingJobs:
    return jobs_mod.TrainingJobs()


def settle_memory() -> None:
    """Move everything loaded so far (TensorFlow, the model, MNIST: ~400,000 objects) out of
    the garbage collector's sight. A full collection over them takes ~230 ms and, whenever
    Python decides to run one, holds back the new prediction by that much."""
    gc.collect()
    gc.freeze()


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def classifier_for(path: str, model_id: str) -> Classifier:
    clf = load_classifier(path)
    settle_memory()
    return clf


@st.cache_resource(show_spinner="Loading MNIST…")
def mnist_test_set() -> tuple[np.ndarray, np.ndarray] | str:
    """The test images and labels, or the reason they cannot be loaded."""
    try:
        test = load_mnist()[1]
    except MnistDataError as exc:
        return str(exc)
    settle_memory()
    return test


@st.cache_data(max_entries=4, show_spinner="Scoring the model on the 10,000 test digits…")
def test_report(path: str, model_id: str) -> Report:
    return evaluate_classifier(classifier_for(path, model_id))


def current_classifier() -> Classifier:
    path = store.current_model_path()
    try:
        return classifier_for(str(path), store.entry(path).model_id)
    except store.ModelStoreError as exc:
        shipped = store.shipped_model_path()
        try:
            clf = classifier_for(str(shipped), store.entry(shipped).model_id)
        except store.ModelStoreError as shipped_exc:
            st.error(f"{shipped_exc} Reinstall the app (git checkout models/) to get the shipped model back.")
            st.stop()
        st.warning(f"{exc} Using the shipped model instead.")
        return clf


def data_problem() -> str | None:
    test = mnist_test_set()
    return test if isinstance(test, str) else None


def data_help(reason: str) -> None:
    st.error(f"MNIST is not available: {reason}")
    st.caption(f"Set `{DATA_ENV}` to a folder with the four MNIST IDX files and restart the app; "
               "drawing keeps working with the current model.")


# ---------- Draw tab ----------

def show_prediction(image: np.ndarray | None, clf: Classifier, empty_text: str) -> None:
    if image is None:
        st.metric("Prediction", "—")
        st.info(empty_text)
        return
    v = verdict(clf.predict_proba(image[None])[0])
    st.metric("Prediction", f"{v.digit}", delta=f"{v.confidence:.0%} sure", delta_color="off", delta_arrow="off")
    if v.unsure:
        st.warning(f"Not sure: {v.hedge}.")
    st.html(plots.prediction_html(v.probs, image))


@st.fragment
def draw_panel(clf: Classifier) -> None:
    left, right = st.columns([5, 6], gap="large")
    with left:
        stroke = st.slider("Stroke width", *STROKE_WIDTH_RANGE, DEFAULT_STROKE_WIDTH, key="stroke_width")
        result = st_canvas(stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000",
                           height=CANVAS_SIZE, width=CANVAS_SIZE, drawing_mode="freedraw",
                           return_image_data=True, key="canvas")
        st.caption("Draw one digit, large or small, anywhere. Undo and clear are in the canvas toolbar.")
    image = canvas_to_mnist(result.image_data)
    st.session_state["drawing"] = image
    with right:
        show_prediction(image, clf, "Draw a digit on the black canvas: the prediction appears after every stroke.")


@st.fragment
def upload_panel(clf: Classifier) -> None:
    upload = st.file_uploader("Or upload a picture of a digit", type=["png", "jpg", "jpeg", "gif", "bmp", "webp"],
                              max_upload_size=MAX_UPLOAD_MB, key="upload")
    if upload is None:
        return
    try:
        image = image_to_mnist(upload)
    except ImageError as exc:
        st.error(f"{upload.name}: {exc}.")
        return
    cols = st.columns([2, 5])
    cols[0].image(upload, caption=upload.name, width=160)
    with cols[1]:
        show_prediction(image, clf, "No digit found in that picture: try one with darker or lighter ink than the paper.")


# ---------- Misclassified tab ----------

@st.fragment
def misclassified_panel(clf: Classifier) -> None:
    problem = data_problem()
    if problem:
        data_help(problem)
        return
    x_test, _ = mnist_test_set()
    report = test_report(str(clf.path), clf.model_id)
    a, b, c = st.columns(3)
    a.metric("Test accuracy", f"{report.accuracy:.2%}")
    b.metric("Test loss", f"{report.loss:.4f}")
    c.metric("Misclassified", f"{len(report.mistakes)} of {report.total:,}")

    digits = ["any", *range(10)]
    f1, f2, f3 = st.columns(3)
    true_d = f1.selectbox("True digit", digits, key="filter_true")
    pred_d = f2.selectbox("Predicted digit", digits, key="filter_pred")
    order = f3.radio("Order", ["Most confident first", "Least confident first"], horizontal=True, key="order")
    idx = mistakes_table(report, None if true_d == "any" else true_d, None if pred_d == "any" else pred_d,
                         most_confident_first=order.startswith("Most"))
    pages = max(1, -(-len(idx) // GALLERY_PAGE))
    page = st.number_input(f"Page (of {pages})", 1, pages, 1, key=f"page_{true_d}_{pred_d}_{order}")
    shown = idx[(page - 1) * GALLERY_PAGE : page * GALLERY_PAGE]
    st.caption(f"{len(idx)} mistakes match; showing {len(shown)}. "
               ":blue[blue: true label] · :red[red: predicted label] · confidence of the prediction")
    if len(shown) == 0:
        st.info("No misclassified test digit matches these filters.")
    for start in range(0, len(shown), GALLERY_COLUMNS):
        cols = st.columns(GALLERY_COLUMNS)
        for col, i in zip(cols, shown[start : start + GALLERY_COLUMNS]):
            col.image(plots.digit_image(x_test[i] / 255.0, GALLERY_SCALE))
            col.markdown(f":blue[**{report.labels[i]}**] → :red[**{report.predictions[i]}**] "
                         f"{report.confidences[i]:.0%}  \n#{i}")

    st.subheader("Confusion matrix")
    st.altair_chart(plots.confusion_chart(report.confusion), width="stretch")
    st.subheader("Accuracy per digit")
    st.bar_chart({"accuracy": {str(d): float(a) for d, a in enumerate(report.per_class_accuracy)}},
                 y_label="accuracy", x_label="digit")


# ---------- Filters tab ----------

def filters_panel(clf: Classifier) -> None:
    kernels, limit = plots.kernel_images(clf.first_layer_kernels())
    st.subheader(f"The {len(kernels)} learned 3×3 filters of the first convolution")
    st.caption(f"One shared colour scale: red weights add brightness, blue subtract; full colour is ±{limit:.2f}. "
               "Each filter slides over the 28×28 input; its response is the feature map below with the same number.")
    st.image(plots.colour_bar(limit), caption=f"−{limit:.2f}  ←  0  →  +{limit:.2f}")
    st.image(kernels, caption=[str(i + 1) for i in range(len(kernels))])

    drawing = st.session_state.get("drawing")
    if drawing is None:
        test = mnist_test_set()
        if isinstance(test, str):
            st.info("Draw a digit in the Draw tab to see the feature maps it produces.")
            return
        drawing = test[0][SAMPLE_TEST_INDEX] / 255.0
        source = f"test digit #{SAMPLE_TEST_INDEX} (draw something in the Draw tab to see your own)"
    else:
        source = "your drawing"
    maps, top = plots.feature_map_images(clf.feature_maps(drawing))
    st.subheader(f"What each filter responds to in {source}")
    c1, c2 = st.columns([1, 6])
    c1.image(plots.digit_image(drawing, FILTER_INPUT_SCALE), caption="input")
    c2.caption(f"After ReLU; white is the strongest response ({top:.2f}), black is none.")
    st.image(maps, caption=[str(i + 1) for i in range(len(maps))])


# ---------- Sidebar: model and retraining ----------

def model_info(clf: Classifier) -> None:
    meta = clf.entry.meta
    st.sidebar.subheader("Model")
    entries = store.available_models()
    paths = [str(e.path) for e in entries]
    current = str(clf.path)
    choice = st.sidebar.selectbox("Use model", paths, index=paths.index(current) if current in paths else 0,
                                  format_func=lambda p: store.entry(p).label, key=f"model_choice_{clf.model_id}")
    if choice != current:
        store.set_current_model(choice)
        st.rerun()
    arch = ARCHITECTURES.get(meta.get("arch", ""))
    acc = meta.get("test_accuracy")
    accuracy = f"Test accuracy **{acc:.2%}**" if acc is not None else "Test accuracy unknown"
    st.sidebar.markdown(
        f"**{arch.title if arch else meta.get('arch', '?')}** · {clf.model.count_params():,} parameters  \n"
        f"{accuracy} · {meta.get('epochs', '?')} epochs")
    st.sidebar.caption(f"Trained {meta.get('trained_at', 'unknown')[:16].replace('T', ' ')} · "
                       f"{'shipped with the app' if clf.entry.shipped else 'retrained here'} · `{clf.path.name}`")
    if clf.warning:
        st.sidebar.warning(clf.warning)
    if not clf.entry.shipped and st.sidebar.button("Restore the shipped model"):
        store.restore_shipped()
        st.rerun()


def retrain_controls(clf: Classifier) -> None:
    st.sidebar.subheader("Retrain")
    problem = data_problem()
    if problem:
        st.sidebar.error(f"Retraining needs MNIST: {problem}")
        return
    jobs = training_jobs()
    state = jobs.snapshot()
    archs = list(ARCHITECTURES)
    arch = st.sidebar.selectbox("Architecture", archs, index=archs.index(clf.arch) if clf.arch in archs else 0,
                                format_func=lambda a: ARCHITECTURES[a].title, key="retrain_arch")
    spec = ARCHITECTURES[arch]
    epochs = st.sidebar.slider("Epochs", *EPOCH_RANGE, spec.epochs, key=f"epochs_{arch}")
    batch = st.sidebar.select_slider("Batch size", BATCH_SIZES, spec.batch_size, key=f"batch_{arch}")
    limit = int(os.environ[TRAIN_LIMIT_ENV]) if os.environ.get(TRAIN_LIMIT_ENV) else None
    images = limit or len(load_mnist()[0][0])
    estimate = jobs_mod.estimate_seconds(arch, epochs, images)
    if estimate is not None:
        st.sidebar.caption(f"{spec.description}. About {format_seconds(estimate)} on this machine "
                           f"({images:,} images × {epochs} epochs).")
    if st.sidebar.button("Retrain", type="primary", disabled=state.running, key="retrain"):
        jobs.start(arch, epochs, batch, limit=limit)
        st.rerun()


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def training_status() -> None:
    """Polls the server's training job: progress for every session, and a full rerun when a
    run ends so every session switches to the new model."""
    state = training_jobs().snapshot()
    seen = st.session_state.setdefault("seen_run", (state.run_id, state.status))
    if (state.run_id, state.status) != seen:
        st.session_state["seen_run"] = (state.run_id, state.status)
        st.rerun(scope="app")  # a run started or ended: refresh buttons, polling rate and the model
    if state.status == jobs_mod.IDLE:
        return
    p = state.latest
    if state.running:
        st.progress(p.fraction if p else 0.0, text=state.message)
        eta = f" · about {format_seconds(p.eta)} left" if p and p.eta is not None else ""
        st.caption(f"{state.arch}, {state.epochs} epochs, batch {state.batch_size} · "
                   f"elapsed {format_seconds(state.elapsed)}{eta}")
        if st.button("Cancel", key="cancel_training"):
            training_jobs().cancel()
            st.rerun(scope="fragment")
    elif state.status == jobs_mod.FINISHED:
        st.success(state.message)
    elif state.status == jobs_mod.CANCELLED:
        st.info(state.message)
    else:
        st.error(state.message)
    if p:
        c1, c2 = st.columns(2)
        c1.metric("Train loss", f"{p.loss:.4f}")
        c2.metric("Train accuracy", f"{p.accuracy:.2%}")
    if state.epochs_done:
        last = state.epochs_done[-1]
        c1, c2 = st.columns(2)
        c1.metric("Validation loss", f"{last.val_loss:.4f}", help=f"after epoch {last.epoch}, on the 10,000 test digits")
        c2.metric("Validation accuracy", f"{last.val_accuracy:.2%}")
    if state.batches:
        df = plots.curves_frame(state.batches, state.epochs_done)
        st.line_chart(df[df.metric.str.contains("loss")], x="epoch", y="value", color="metric", height=160)
        st.line_chart(df[df.metric.str.contains("accuracy")], x="epoch", y="value", color="metric", height=160)


# ---------- the page ----------

clf = current_classifier()
st.title("✏️ MNIST Draw")
st.caption("Draw a digit and watch a convolutional network trained on MNIST recognise it, "
           "then look at the digits it gets wrong and the filters it learned.")

model_info(clf)
retrain_controls(clf)
poll = POLL_RUNNING_S if training_jobs().snapshot().running else POLL_IDLE_S
with st.sidebar:
    st.fragment(run_every=poll)(training_status)()

draw_tab, mistakes_tab, filters_tab = st.tabs(TABS, key="tab", on_change="rerun")
with draw_tab:  # always rendered, even behind another tab, so the drawing survives a tab switch
    draw_panel(clf)
    upload_panel(clf)
if mistakes_tab.open:
    with mistakes_tab:
        misclassified_panel(clf)
if filters_tab.open:
    with filters_tab:
        filters_panel(clf)
