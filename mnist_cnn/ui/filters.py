"""The Filters tab: any model's learned first-layer filters, the feature maps of any of its
convolution layers for the drawing (or a test digit while the canvas is blank), and for each
first-layer filter the test-image patches that excite it most."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnist_cnn.explain import explain
from mnist_cnn.network import store
from mnist_cnn.network.inference import Classifier
from mnist_cnn.ui import plots
from mnist_cnn.ui.common import classifier_at, classifier_for, mnist_test_set

FILTER_INPUT_SCALE = 4
SAMPLE_TEST_INDEX = 0  # the test digit whose feature maps show while the canvas is blank
KERNEL_COLUMNS = 8
MAP_COLUMNS = {True: 16, False: 8}  # many small maps (deeper layers) get more columns
MANY_MAPS = 32
PATCH_GROUPS = 2  # the filters' top patches in two side-by-side columns


@st.cache_data(max_entries=8, show_spinner="Finding the test patches each filter responds to most…")
def top_patches_for(path: str, model_id: str) -> explain.TopPatches:
    test = mnist_test_set()
    return explain.top_patches(classifier_for(path, model_id).first_layer_kernels(), test[0])


def choose_model(clf: Classifier) -> Classifier:
    entries = store.available_models()
    paths = [str(e.path) for e in entries]
    current = str(clf.path)
    choice = st.selectbox("Model whose filters to show", paths, index=paths.index(current) if current in paths else 0,
                          format_func=lambda p: store.entry(p).label + (" · in use" if p == current else ""),
                          key="filters_model", help="The seed model's 32 filters are the tutorial's.")
    try:
        return classifier_at(choice)
    except store.ModelStoreError as exc:
        st.warning(f"{exc} Showing the model in use instead.")
        return clf


def input_image() -> tuple[np.ndarray | None, str]:
    drawing = st.session_state.get("drawing")
    if drawing is not None:
        return np.asarray(drawing, np.float32), "your drawing"
    test = mnist_test_set()
    if isinstance(test, str):
        return None, ""
    return test[0][SAMPLE_TEST_INDEX] / 255.0, \
        f"test digit #{SAMPLE_TEST_INDEX} (draw something in the Draw tab to see your own)"


def render(clf: Classifier) -> None:
    model = choose_model(clf)
    kernels = model.first_layer_kernels()
    st.subheader(f"The {kernels.shape[3]} learned 3×3 filters of the first convolution")
    per_filter = st.toggle("Per-filter contrast", value=True, key="filters_per_filter",
                           help="Each filter on its own colour scale, so a weak filter shows its pattern beside a "
                                "strong one. Off: one shared scale, to compare their strengths.")
    grid, limit = plots.kernel_grid(kernels, KERNEL_COLUMNS, per_filter)
    scale = ("each filter on its own colour scale (full colour: its own largest weight)" if per_filter else
             f"one shared colour scale (full colour: ±{limit:.2f}, the largest weight of any filter)")
    st.caption(f"Red weights add brightness, blue subtract; {scale}. Each filter slides over the 28×28 input; its "
               "response is the feature map below with the same number.")
    if not per_filter:
        st.image(plots.colour_bar(limit), caption=f"−{limit:.2f}  ←  0  →  +{limit:.2f}")
    st.image(grid)
    maps_section(model)
    patches_section(model, kernels, per_filter)


def maps_section(model: Classifier) -> None:
    image, source = input_image()
    if image is None:
        st.info("Draw a digit in the Draw tab to see the feature maps it produces.")
        return
    layers = model.conv_layers()
    c1, c2 = st.columns([2, 3])
    layer = c1.selectbox("Convolution layer", layers, key=f"filters_layer_{model.model_id}",
                         help="Deeper layers see larger parts of the digit at a coarser grid.")
    per_map = c2.toggle("Per-map contrast", key="filters_per_map",
                        help="Stretch each map to its own strongest response, so weak maps show their pattern too.")
    maps = model.layer_maps(image, layer)
    grid, top = plots.feature_map_grid(maps, per_map, MAP_COLUMNS[maps.shape[2] > MANY_MAPS])
    st.subheader(f"What layer {layer} responds to in {source}")
    left, right = st.columns([1, 6])
    left.image(plots.digit_image(image, FILTER_INPUT_SCALE), caption="input")
    scale = "each map on its own scale (white: that map's strongest response)" if per_map else \
        f"one shared scale; white is the strongest response of any map ({top:.2f})"
    right.caption(f"{maps.shape[2]} maps of {maps.shape[0]}×{maps.shape[1]} after ReLU, {scale}; black is none.")
    st.image(grid)


def patches_section(model: Classifier, kernels: np.ndarray, per_filter: bool) -> None:
    st.subheader("What each first-layer filter looks for")
    if isinstance(mnist_test_set(), str):
        st.info("The patches come from the MNIST test set, which is not available.")
        return
    top = top_patches_for(str(model.path), model.model_id)
    st.caption(f"For each filter, the {top.windows.shape[1]} test digits whose 3×3 patch (outlined) excites it most, "
               "each shown in its 7×7 surroundings, one patch per digit.")
    filters = np.array_split(np.arange(kernels.shape[3]), PATCH_GROUPS)
    for column, group in zip(st.columns(PATCH_GROUPS), filters):
        column.image(plots.filter_patches_image(kernels, top.windows, [int(f) for f in group], per_filter))
