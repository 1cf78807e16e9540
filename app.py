"""MNIST Draw: draw a digit, see what a CNN trained on MNIST makes of it, and look inside.

This file is the page's table of contents; each tab is a module in mnist_cnn/ui/. The Draw tab
comes first and needs no TensorFlow, so a cold server shows a working canvas at once; the other
tabs are built only while open and may load TensorFlow, with a spinner that says so.

`streamlit run app.py` imports this file once to find its server, `app` (Streamlit's st.App),
which warms up before it answers (ui/server/startup.py), adds a canvas of its own to Streamlit's HTML
for the page's first second (ui/server/shell.py) and serves, beside the page, the training run's live
state (ui/run_monitor.py) and that canvas's predictions; each visit then runs this file as the page.
"""

from __future__ import annotations

import streamlit as st

from mnist_cnn.config import APP_INTRO, APP_TITLE, PAGE_TITLE

TABS = ["Draw", "Why?", "My drawings", "Misclassified", "Filters"]


def render_page() -> None:
    from mnist_cnn.ui import common, draw, explain, filters, mistakes, my_drawings, sidebar

    st.set_page_config(page_title=PAGE_TITLE, page_icon="✏️", layout="wide")
    st.title(APP_TITLE)
    st.caption(APP_INTRO)
    clf = common.page_classifier()  # a stroke's fragment follows a newer one (common.follow_current_model)
    side = sidebar.reserve()  # before the canvas, which must not move once shown
    tabs = dict(zip(TABS, st.tabs(TABS, key="tab", on_change="rerun")))
    with tabs["Draw"]:  # always rendered, even behind another tab, so the drawing survives a tab switch
        draw.render(clf)
    for name, page in (("Why?", explain), ("My drawings", my_drawings), ("Misclassified", mistakes),
                       ("Filters", filters)):
        if tabs[name].open:  # the other tabs are built only while open
            with tabs[name]:
                page.render(clf)
    sidebar.render(clf, side)


if __name__ == "__main__":  # a visit: Streamlit runs this file as __main__
    render_page()
else:  # `streamlit run app.py` importing it to find the server
    from mnist_cnn.ui.server.startup import lifespan, middleware, routes

    app = st.App(__file__, lifespan=lifespan, routes=routes(), middleware=middleware())
