"""The "Why?" tab: for the current drawing, which strokes decided the answer, which training
digits it resembles, where it lands among all test digits, what change would flip it, and what
the other models answer. The drawing comes from the Draw tab (st.session_state["drawing"]);
with the canvas blank, a test digit stands in."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnist_cnn.data.mnist import MnistDataError, load_mnist
from mnist_cnn.explain import explain, feature_index
from mnist_cnn.network import store
from mnist_cnn.network.inference import Classifier, verdict
from mnist_cnn.ui import plots
from mnist_cnn.ui.common import classifier_at, classifier_for, data_help, data_problem, mnist_test_set

INDEX_POLL_S = 2.0  # how often the page looks for a finished index while it is built
NEIGHBOUR_SCALE = 3
SWEEP_COLUMNS = 3
COMPARE_COLUMNS = 3
DEFAULT_TEST_DIGIT = 0
CHANGE_KEYS = {name: f"why_{name}" for name in explain.SLIDERS}
ERASE_SIDE_KEY = "why_erase_side"


@st.cache_resource(show_spinner="Loading the MNIST training digits…")
def training_images() -> np.ndarray | str:
    """The 60,000 training images (neighbours are shown from them), or why they cannot load."""
    try:
        return load_mnist()[0][0]
    except MnistDataError as exc:
        return str(exc)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_sweep(path: str, model_id: str, image: np.ndarray, change: explain.Change, name: str):
    return explain.sweep(classifier_for(path, model_id), image, change, name)


@st.cache_data(max_entries=32, show_spinner=False)
def cached_attribution(path: str, model_id: str, image: np.ndarray, against: str) -> np.ndarray:
    return explain.attribution(classifier_for(path, model_id), image, against)


@st.cache_data(max_entries=32, show_spinner=False)
def cached_deletion(path: str, model_id: str, image: np.ndarray, against: str) -> dict[str, np.ndarray]:
    return explain.deletion_curves(classifier_for(path, model_id), image[None], against=against)


def current_image() -> tuple[np.ndarray | None, str]:
    """The drawing, or the chosen test digit while the canvas is blank."""
    drawing = st.session_state.get("drawing")
    if drawing is not None:
        return np.asarray(drawing, np.float32), "your drawing"
    if "why_test_digit" not in st.session_state:
        return None, ""
    test = mnist_test_set()
    if isinstance(test, str):
        return None, ""
    i = int(st.session_state["why_test_digit"])
    return test[0][i].astype(np.float32) / 255.0, f"test digit #{i} (a {test[1][i]})"


def offer_test_digit() -> None:
    st.info("Nothing is drawn yet: draw a digit in the Draw tab, or explain a digit from the MNIST test set.")
    c1, c2 = st.columns([1, 3])
    index = c1.number_input("Test digit", 0, 9_999, DEFAULT_TEST_DIGIT, key="why_pick")
    if c2.button("Explain this test digit", key="why_use_test"):
        st.session_state["why_test_digit"] = int(index)
        st.rerun()


def render(clf: Classifier) -> None:
    image, source = current_image()
    if image is None:
        offer_test_digit()
        return
    v = verdict(clf.predict_proba(image[None])[0])
    st.markdown(f"Explaining **{source}**: the network says **{v.digit}** ({v.confidence:.0%} sure); "
                f"the runner-up is **{v.runner_up}** ({v.probs[v.runner_up]:.0%}).")
    strokes_section(clf, image, v.digit, v.runner_up)
    if data_problem():
        data_help(data_problem())
    else:
        index_sections(clf, image)
    change_section(clf, image)
    side_by_side_section(clf, image)


# ---------- which strokes decided it ----------

def strokes_section(clf: Classifier, image: np.ndarray, digit: int, runner_up: int) -> None:
    st.subheader("Which strokes decided it")
    names = {explain.AGAINST_OTHERS: "the other digits", explain.AGAINST_RUNNER_UP: f"the runner-up, {runner_up}"}
    against = st.radio("Red pushes towards the answer; blue towards", list(names), format_func=names.get,
                       horizontal=True, key="why_against")
    other = "the other digits" if against == explain.AGAINST_OTHERS else str(runner_up)
    attr = cached_attribution(str(clf.path), clf.model_id, image, against)
    overlay, limit = plots.attribution_overlay(image, attr)
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.image(overlay, caption=f"red: pushed towards {digit} · blue: towards {other}")
        st.html(plots.attribution_legend_html(str(digit), other, limit))
    with right:
        st.caption(f"Integrated gradients: how much each pixel of ink raised the network's score for {digit} "
                   f"above its score for {other}, on the way from a blank canvas to the drawing. "
                   "The check that the map is not decoration: deleting the reddest ink first should make the "
                   "network lose confidence faster than deleting ink at random, or the brightest ink first.")
        curves = cached_deletion(str(clf.path), clf.model_id, image, against)
        st.altair_chart(plots.deletion_chart(curves, explain.DELETION_FRACTIONS), width="stretch")


# ---------- what it resembles, where it lands ----------

def index_sections(clf: Classifier, image: np.ndarray) -> None:
    name = feature_index.index_name(clf.model_id)
    state = feature_index.ensure_built(clf.path, clf.model_id)
    if state == feature_index.BUILDING:
        st.fragment(run_every=INDEX_POLL_S)(index_progress)(name)
        return
    if state == feature_index.FAILED:
        st.subheader("What it resembles")
        st.error(feature_index.status(name)[1])
        if st.button("Try building the index again", key="why_retry_index"):
            feature_index.ensure_built(clf.path, clf.model_id, retry=True)
            st.rerun()
        return
    index = feature_index.load(name)
    neighbours_section(clf, image, index)
    map_section(clf, image, index)


def index_progress(name: str) -> None:
    """Shown while the index is built; reloads the whole tab once it is there."""
    st.subheader("What it resembles · where it lands")
    if feature_index.status(name)[0] != feature_index.BUILDING:
        st.rerun(scope="app")
    st.info("Building the index… The network is reading all 70,000 MNIST digits once for this model "
            "(a minute or two, in the background); the neighbours and the map appear here when it is done.")


def neighbours_section(clf: Classifier, image: np.ndarray, index: feature_index.FeatureIndex) -> None:
    st.subheader("What it resembles")
    train = training_images()
    if isinstance(train, str):
        data_help(train)
        return
    indices, labels, sims = explain.nearest(clf, image, index=index)
    captions = [f"{label} · {sim:.2f}" for label, sim in zip(labels, sims)]
    st.image(plots.digit_strip(train[indices], captions, NEIGHBOUR_SCALE, columns=len(indices)),
             caption="The 8 training digits the network finds most similar (label · cosine similarity)")
    st.caption(f"Similar in the network's own features (the {index.basis.shape[0]:,} numbers its last layer "
               f"reads), not in pixels. {explain.majority(labels)} is the most common label among them.")


def map_section(clf: Classifier, image: np.ndarray, index: feature_index.FeatureIndex) -> None:
    st.subheader("Where it lands")
    point = explain.place(clf, image, index=index)
    st.altair_chart(plots.map_chart(index.test_xy, index.test_labels, point), width="stretch")
    st.caption("The 10,000 test digits placed by the two directions of the network's features that best "
               "separate the ten digits (linear discriminant analysis), coloured by their true digit. "
               "The cross is your drawing: the same drawing always lands on the same spot.")


# ---------- what would change it ----------

def reset_changes() -> None:
    for name, key in CHANGE_KEYS.items():
        st.session_state[key] = float(getattr(explain.Change(), name))
    st.session_state[ERASE_SIDE_KEY] = explain.Change().erase_side


@st.fragment  # moving a slider reruns only this section
def change_section(clf: Classifier, image: np.ndarray) -> None:
    st.subheader("What would change it")
    st.caption("Move a slider to edit the drawing; each chart shows every digit's probability along "
               "that slider's whole range (the other edits held), so you can see where the answer flips.")
    default = explain.Change()
    left, right = st.columns([3, 2], gap="large")
    with left:
        values = {}
        for name, slider in explain.SLIDERS.items():
            values[name] = st.slider(f"{slider.label} ({slider.unit.strip()})", float(slider.low), float(slider.high),
                                     float(getattr(default, name)), float(slider.step), key=CHANGE_KEYS[name])
        side = st.radio("Erase from the", explain.ERASE_SIDES, horizontal=True, key=ERASE_SIDE_KEY)
        st.button("Reset the edits", on_click=reset_changes, key="why_reset")
    change = explain.Change(**values, erase_side=side)
    edited = explain.transformed(image, change)
    with right:
        probs = clf.predict_proba(edited[None])[0]
        st.image(plots.digit_image(edited), caption="the edited drawing, as the network sees it")
        st.html(plots.model_answer_html("the network's answer to the edited drawing", probs))
    columns = st.columns(SWEEP_COLUMNS)
    for i, (name, slider) in enumerate(explain.SLIDERS.items()):
        sweep_values, sweep_probs = cached_sweep(str(clf.path), clf.model_id, image, change, name)
        title = f"{slider.label} ({slider.unit.strip()})"
        with columns[i % SWEEP_COLUMNS]:
            st.altair_chart(plots.sweep_chart(sweep_values, sweep_probs, title, getattr(change, name)), width="stretch")
            st.caption(flip_text(sweep_values, sweep_probs, slider))


def flip_text(values: np.ndarray, probs: np.ndarray, slider: explain.Slider) -> str:
    ranges = explain.answer_ranges(values, probs)
    if len(ranges) == 1:
        return f"The answer stays {ranges[0][2]} over the whole range."
    parts = [f"{digit} at {a:g}{slider.unit}" if a == b else f"{digit} from {a:g} to {b:g}{slider.unit}"
             for a, b, digit in ranges]
    return "Flips: " + ", ".join(parts) + "."


# ---------- side by side ----------

def side_by_side_section(clf: Classifier, image: np.ndarray) -> None:
    st.subheader("What the other models say")
    entries = store.available_models()
    columns = st.columns(COMPARE_COLUMNS)
    for i, entry in enumerate(entries):
        try:
            other = classifier_at(entry.path)
        except store.ModelStoreError as exc:
            columns[i % COMPARE_COLUMNS].warning(str(exc))
            continue
        title = entry.label + (" · in use" if other.model_id == clf.model_id else "")
        (_, probs), = explain.compare(image, [other])
        columns[i % COMPARE_COLUMNS].html(plots.model_answer_html(title, probs))
