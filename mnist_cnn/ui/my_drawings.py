"""The My drawings tab: the drawings people labelled and saved, how well each model reads them,
a gallery to browse them, deleting this browser's own, and the collection as a zip.

A visitor deletes only the drawings its own browser saved (its id is the server's, never a
widget's): on a shared server one visitor must not be able to wipe the collection. The admin
(ui/admin.py; everyone, where no password is set) may also delete any drawing, all of one
browser's, or all, each after a confirmation; those callbacks check admin.is_admin() when they run.
"""

from __future__ import annotations

import functools

import streamlit as st

from mnist_cnn.config import NUM_CLASSES
from mnist_cnn.drawings.folders import export_zip
from mnist_cnn.drawings.store import Drawing, DrawingsError, DrawingStore
from mnist_cnn.network import store
from mnist_cnn.network.inference import NUMPY_MAX_BATCH, Classifier
from mnist_cnn.training.evaluate import drawings_accuracy
from mnist_cnn.ui import admin, plots
from mnist_cnn.ui.common import classifier_at, plural, session_id

GALLERY_COLUMNS, GALLERY_ROWS = 8, 3
GALLERY_PAGE = GALLERY_COLUMNS * GALLERY_ROWS
GALLERY_SCALE = 3
SCOPES = ("All saved drawings", "This browser's")
CLI_DELETE = "`python -m mnist_cnn drawings delete ID…` or `python -m mnist_cnn drawings clear`"
ZIP_CONTENTS = ("The zip holds folders `0/` … `9/` of the 28×28 inputs, `originals/` with the pictures as drawn, "
                "and `drawings.csv` with the rest; `python -m mnist_cnn drawings import` reads it back.")
EMPTY_TEXT = ("No drawings saved yet. Draw a digit in the **Draw** tab, pick the digit it really is under the "
              "prediction and press **Save**: each one teaches the app your handwriting. To add a folder of "
              "pictures (subfolders `0/` … `9/`): `python -m mnist_cnn drawings import PATH`.")


@st.cache_data(max_entries=32, show_spinner="Scoring the models on the drawings…")
def model_accuracies(path: str, model_id: str, db_path: str, signature: tuple, session: str | None) -> tuple:
    """((accuracy, count) on all drawings, (accuracy, count) on the held-out ones) of one model."""
    drawings = DrawingStore(db_path)
    clf = classifier_at(path)
    images, labels, _ = drawings.dataset("all", session=session)
    held_images, held_labels, _ = drawings.dataset("held_out", session=session)
    return ((drawings_accuracy(clf, images, labels, chunk=NUMPY_MAX_BATCH), len(labels)),
            (drawings_accuracy(clf, held_images, held_labels, chunk=NUMPY_MAX_BATCH), len(held_labels)))


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def accuracy_table(drawings: DrawingStore, clf: Classifier, session: str | None) -> None:
    models = {"current": clf.path}
    for arch in ("improved", "seed"):
        path = store.shipped_model_path(arch)
        if path.is_file() and path.resolve() != clf.path.resolve():
            models[f"shipped {arch}"] = path
    rows = []
    signature = drawings.signature()
    for name, path in models.items():
        model = clf if name == "current" else classifier_at(path)
        (everything, n_all), (held, n_held) = model_accuracies(str(path), model.model_id, str(drawings.location),
                                                               signature, session)
        # The counts head the columns: a percentage of 4 drawings says little without them.
        rows.append({"model": f"{name}: {model.entry.label}", f"all drawings ({n_all})": _percent(everything),
                     f"held out of fine-tuning ({n_held})": _percent(held)})
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption("Held out: the fixed fifth of the drawings a fine-tune never trains on, so its accuracy there "
               "shows what it really learned.")


def _deleted(work, what: str) -> None:
    """Run a deletion and say how it went, in one toast."""
    try:
        gone = work(DrawingStore())
    except DrawingsError as exc:
        st.toast(f"Could not delete: {exc}", icon=":material/error:")
        return
    st.toast(f"Deleted {plural(gone, 'drawing')} ({what}).", icon=":material/delete:")


def _delete_own(ids: list[int], what: str) -> None:
    """A visitor's Delete: only drawings this browser saved, whatever ids it sends."""
    me = session_id()
    _deleted(lambda drawings: drawings.delete(ids, session=me) if ids else drawings.delete_session(me), what)


@admin.admin_only
def _delete_any(ids: list[int], what: str) -> None:
    _deleted(lambda drawings: drawings.delete(ids), what)


@admin.admin_only
def _delete_browser(key: str) -> None:
    browser = st.session_state.get(key)
    if browser:
        _deleted(lambda drawings: drawings.delete_session(str(browser)), f"browser {browser}'s")


@admin.admin_only
def _delete_all() -> None:
    _deleted(lambda drawings: drawings.clear(), "all of them")


def drawing_tile(d: Drawing, mine: bool) -> None:
    st.image(plots.digit_image(d.image, GALLERY_SCALE))
    verdict = "" if d.prediction is None else (f" → :red[**{d.prediction}**]" if d.wrong else " ✓")
    st.markdown(f":blue[**{d.label}**]{verdict}  \n#{d.id}")
    if mine or admin.is_admin():
        with st.popover("Delete", width="stretch", key=f"delete_popover_{d.id}"):  # its own: closed for the next
            st.button(f"Delete drawing #{d.id}", key=f"delete_{d.id}", type="primary",
                      on_click=_delete_own if mine else _delete_any, args=([d.id], f"#{d.id}"))


def gallery(drawings: DrawingStore, session: str | None) -> None:
    f1, f2, f3 = st.columns([1, 2, 1], vertical_alignment="bottom")
    label = f1.selectbox("Digit", ["any", *range(NUM_CLASSES)], key="my_label")
    wrong = f2.toggle("Only the ones the model got wrong when saved", key="my_wrong")
    label = None if label == "any" else label
    total = drawings.count(label=label, wrong_only=wrong, session=session)
    pages = max(1, -(-total // GALLERY_PAGE))
    page = f3.number_input(f"Page (of {pages})", 1, pages, 1, key=f"my_page_{label}_{wrong}_{session}")
    shown = drawings.list(label=label, wrong_only=wrong, session=session, limit=GALLERY_PAGE,
                          offset=(page - 1) * GALLERY_PAGE)
    matches = "matches" if total == 1 else "match"
    st.caption(f"{plural(total, 'drawing')} {matches}, newest first. :blue[blue: the digit it is] · "
               ":red[red: what the model of the day said, when wrong] · #id")
    if not shown:
        st.info("No saved drawing matches these filters.")
    me = session_id()
    for start in range(0, len(shown), GALLERY_COLUMNS):
        for col, d in zip(st.columns(GALLERY_COLUMNS), shown[start : start + GALLERY_COLUMNS]):
            with col:
                drawing_tile(d, mine=d.session == me)


def session_actions(drawings: DrawingStore, session: str | None) -> None:
    me = session_id()
    mine = drawings.count(session=me)
    left, right = st.columns(2)
    with left:
        st.download_button("Download as zip", data=functools.partial(export_zip, drawings, session),
                           file_name="mnist-draw-drawings.zip", mime="application/zip", on_click="ignore",
                           icon=":material/download:")
    with right:
        if mine:
            with st.popover(f"Delete this browser's {plural(mine, 'drawing')}"):
                st.warning(f"This deletes the {plural(mine, 'drawing')} saved from this browser. "
                           "It cannot be undone.")
                st.button("Yes, delete them", key="delete_session", type="primary", on_click=_delete_own,
                          args=([], "this browser's"))
    if admin.is_admin():
        admin_deletions(drawings)
        return
    st.caption(f"{ZIP_CONTENTS} This page only deletes drawings saved from this browser; others' are for the "
               f"server's admin (or {CLI_DELETE}).")


def admin_deletions(drawings: DrawingStore) -> None:
    """For the admin: delete all of one browser's drawings, or every drawing, each after a confirmation."""
    browsers = dict(drawings.browsers())
    total = sum(browsers.values())
    left, right = st.columns(2)
    with left, st.popover("Delete one browser's drawings", disabled=not browsers):
        key = "delete_browser_choice"
        st.selectbox("Browser", list(browsers), key=key,
                     format_func=lambda b: f"{b} ({plural(browsers.get(b, 0), 'drawing')})")
        st.warning("This deletes every drawing that browser saved. It cannot be undone.")
        st.button("Yes, delete that browser's drawings", key="delete_browser", type="primary", on_click=_delete_browser,
                  args=(key,))
    everything = "Delete the one drawing" if total == 1 else f"Delete all {plural(total, 'drawing')}"
    with right, st.popover(everything, disabled=not total):
        st.warning(f"This deletes all {plural(total, 'saved drawing')}, everyone's. It cannot be undone.")
        st.button("Yes, delete every drawing", key="delete_all_drawings", type="primary", on_click=_delete_all)
    st.caption(ZIP_CONTENTS)


@st.fragment
def render(clf: Classifier) -> None:
    try:
        drawings = DrawingStore()
        total = drawings.count()
    except DrawingsError as exc:
        st.error(f"{exc} Drawing and predicting still work.")
        return
    if drawings.recovered:
        st.warning(drawings.recovered)
    if not total:
        st.info(EMPTY_TEXT)
        return
    scope = st.segmented_control("Show", SCOPES, default=SCOPES[0], key="my_scope") or SCOPES[0]
    session = session_id() if scope == SCOPES[1] else None
    counts = drawings.counts_per_digit(session)
    st.markdown(f"**{plural(sum(counts), 'drawing')}** · " + " · ".join(f"{d}: {n}" for d, n in enumerate(counts)))
    accuracy_table(drawings, clf, session)
    gallery(drawings, session)
    session_actions(drawings, session)
