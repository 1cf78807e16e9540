"""The Filters tab: the first convolution's learned 3x3 filters and what each responds to in
the drawing (or in a test digit while the canvas is blank)."""

from __future__ import annotations

import streamlit as st

from mnist_cnn import plots
from mnist_cnn.inference import Classifier
from mnist_cnn.ui.common import mnist_test_set

FILTER_INPUT_SCALE = 4
SAMPLE_TEST_INDEX = 0  # the test digit whose feature maps show while the canvas is blank


def render(clf: Classifier) -> None:
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
