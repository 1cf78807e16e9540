"""MNIST Draw: draw a digit, see what a CNN trained on MNIST makes of it, and look inside.

This file is the page's table of contents; each tab is a module in mnist_cnn/ui/. The Draw tab
comes first and needs no TensorFlow, so a cold server shows a working canvas at once; the other
tabs are built only while open and may load TensorFlow, with a spinner that says so.
"""

from __future__ import annotations

import streamlit as st

from mnist_cnn.ui import common, draw, explain, filters, mistakes, my_drawings, sidebar

TABS = ["Draw", "Why?", "My drawings", "Misclassified", "Filters"]

st.set_page_config(page_title="MNIST Draw", page_icon="✏️", layout="wide")
st.title("✏️ MNIST Draw")
st.caption("Draw a digit or a whole number and watch a convolutional network trained on MNIST read it; "
           "ask it why, teach it your handwriting, and look at the digits it gets wrong and the filters it learned.")

clf = common.current_classifier()
tabs = dict(zip(TABS, st.tabs(TABS, key="tab", on_change="rerun")))
with tabs["Draw"]:  # always rendered, even behind another tab, so the drawing survives a tab switch
    draw.render(clf)
for name, page in (("Why?", explain), ("My drawings", my_drawings), ("Misclassified", mistakes), ("Filters", filters)):
    if tabs[name].open:  # the other tabs are built only while open
        with tabs[name]:
            page.render(clf)
sidebar.render(clf)
