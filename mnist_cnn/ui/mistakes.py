"""The Misclassified tab: the test digits the network gets wrong, the confusion matrix and
the mistakes per digit."""

from __future__ import annotations

import streamlit as st

from mnist_cnn.network.inference import Classifier
from mnist_cnn.training.evaluate import mistakes_table
from mnist_cnn.ui import plots
from mnist_cnn.ui.common import data_help, data_problem, mnist_test_set, test_report

GALLERY_COLUMNS, GALLERY_ROWS = 8, 4
GALLERY_PAGE = GALLERY_COLUMNS * GALLERY_ROWS
GALLERY_SCALE = 3


@st.fragment
def render(clf: Classifier) -> None:
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

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Confusion matrix")
        st.altair_chart(plots.confusion_chart(report.confusion), width="stretch")
        st.caption("Rows: the true digit; columns: the network's answer. The dark diagonal counts the right "
                   "answers; every other filled cell is a kind of mistake, darker when more frequent.")
    with right:
        st.subheader("Mistakes per digit")
        st.altair_chart(plots.errors_per_digit_chart(report.confusion), width="stretch")
        st.caption("How many test digits of each kind the network gets wrong, with the error rate.")
