"""MNIST Draw: draw a digit, see what a CNN trained on MNIST makes of it, and look inside.

This file is the page's table of contents; each tab is a module in mnist_cnn/ui/. The Draw tab
comes first and needs no TensorFlow, so a cold server shows a working canvas at once; the other
tabs are built only while open and may load TensorFlow, with a spinner that says so.
"""

from __future__ import annotations

import streamlit as st

from mnist_cnn.ui import common, draw, filters, mistakes, sidebar

TABS = ["Draw", "Misclassified", "Filters"]

st.set_page_config(page_title="MNIST Draw", page_icon="✏️", layout="wide")
st.title("✏️ MNIST Draw")
st.caption("Draw a digit and watch a convolutional network trained on MNIST recognise it, "
           "then look at the digits it gets wrong and the filters it learned.")

clf = common.current_classifier()
draw_tab, mistakes_tab, filters_tab = st.tabs(TABS, key="tab", on_change="rerun")
with draw_tab:  # always rendered, even behind another tab, so the drawing survives a tab switch
    draw.render(clf)
if mistakes_tab.open:
    with mistakes_tab:
        mistakes.render(clf)
if filters_tab.open:
    with filters_tab:
        filters.render(clf)
sidebar.render(clf)
