"""The sidebar: which model is in use, Retrain, and the server's training run as every session
sees it (progress, curves, cancel, the new model's accuracy beside the current one's).

Everything here that changes shared state (the model everyone uses, a run, the retrained models)
is a callback wrapped in admin.admin_only: checked on the server when it runs, not only hidden."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from mnist_cnn.config import BATCH_SIZES, EPOCH_RANGE, TRAIN_LIMIT_ENV
from mnist_cnn.data.mnist import EXPECTED_COUNTS
from mnist_cnn.drawings.store import DrawingStore
from mnist_cnn.network import store
from mnist_cnn.network.inference import Classifier
from mnist_cnn.training import finetune, train_drawings
from mnist_cnn.training import jobs as jobs_mod
from mnist_cnn.training.architectures import ARCHITECTURES
from mnist_cnn.ui import admin, run_monitor
from mnist_cnn.ui.common import format_seconds, mnist_missing, plural, session_id, time_ago, training_jobs

TRAIN_CHOICES = ("MNIST from scratch", "Fine-tune on my drawings",
                 "MNIST and made-up drawings (reads canvas drawings best)")
FROM_SCRATCH, FINETUNE, FOR_DRAWINGS = TRAIN_CHOICES
NO_DRAWINGS_YET = ("A fine-tune learns from your saved drawings, and there are none yet: draw a digit on the "
                   "Draw tab and save it with its label.")
FINETUNE_EPOCHS = (1, 10)
FINETUNE_SECONDS_PER_EPOCH = 15  # measured on the 2-core machine: 8,000 images an epoch
REFUSED_KEY = "run_refused"  # why the last press of Retrain started nothing (another server runs one)


def architectures() -> dict:
    return ARCHITECTURES


def model_label(entry: store.ModelEntry) -> str:
    meta = entry.meta
    acc = meta.get("test_accuracy")
    when = "shipped" if entry.shipped else meta.get("trained_at", "")[:16].replace("T", " ")
    parts = (meta.get("arch", entry.path.stem), when, f"{acc:.2%}" if acc is not None else "")
    return " · ".join(x for x in parts if x)


def model_info(clf: Classifier) -> None:
    """The model in use (its heading is reserve()'s)."""
    meta = clf.entry.meta
    entries = {str(e.path): e for e in store.available_models()}
    current = str(clf.path)
    paths = list(entries)
    key = f"model_choice_{clf.model_id}"
    st.selectbox("Model in use", paths, index=paths.index(current) if current in paths else 0,
                 format_func=lambda p: model_label(entries[p]) if p in entries else p,
                 key=key, disabled=not admin.is_admin(), on_change=_switch_model, args=(key, current))
    arch = architectures().get(meta.get("arch", ""))
    acc = meta.get("test_accuracy")
    accuracy = f"Test accuracy **{acc:.2%}**" if acc is not None else "Test accuracy unknown"
    epochs = meta.get("epochs")
    st.markdown(f"**{arch.title if arch else meta.get('arch', '?')}** · {clf.count_params():,} parameters  \n"
                f"{accuracy} · {plural(epochs, 'epoch') if isinstance(epochs, int) else '? epochs'}")
    st.caption(f"Trained {meta.get('trained_at', 'unknown')[:16].replace('T', ' ')} · "
               f"{'shipped with the app' if clf.entry.shipped else 'retrained here'} · `{clf.path.name}`")
    if clf.warning:
        st.warning(clf.warning)
    if not clf.entry.shipped and admin.is_admin():
        st.button("Restore the shipped model", key="restore_shipped", on_click=_restore_shipped)


def _switch_model(key: str, current: str) -> None:
    """The model selectbox's callback: the admin's choice becomes everyone's; a visitor's (a
    disabled widget's forged value) is put back."""
    if not admin.is_admin():
        st.session_state[key] = current
        admin.refuse()
        return
    store.set_current_model(st.session_state[key])


@admin.admin_only
def _restore_shipped() -> None:
    store.restore_shipped()


def _why_not_delete(path: str) -> str | None:
    """Why this model may not be deleted now: a run going, or it is one of the two a finished
    run's decision is between (the others may go meanwhile: the decision may wait a long time)."""
    state = training_jobs().snapshot()
    if state.running:
        return "A training run is going; delete models once it ends."
    awaiting = state.status == jobs_mod.FINISHED and state.decision == jobs_mod.PENDING
    if awaiting and Path(path) in {Path(p) for p in (state.model_path, state.current_path) if p}:
        return "A decision between this model and the new one is awaited; delete it once it is made."
    return None


@admin.admin_only
def _delete_model(path: str) -> None:
    why_not = _why_not_delete(path)
    if why_not:
        st.toast(why_not, icon=":material/block:")
        return
    try:
        was_in_use = store.delete_model(path)
    except store.ModelStoreError as exc:
        st.toast(str(exc), icon=":material/error:")
        return
    st.toast(f"Deleted {Path(path).name}" + ("; everyone now uses the shipped model." if was_in_use else "."),
             icon=":material/delete:")


def retrained_models() -> None:
    """For the admin: the retrained models, each with a Delete that asks first (shipped ones stay)."""
    if not admin.is_admin():
        return
    retrained = [e for e in store.available_models() if not e.shipped]
    if not retrained:
        return
    with st.expander(f"Retrained models ({len(retrained)})"):
        for entry in retrained:
            why_not = _why_not_delete(str(entry.path))
            if why_not:
                st.caption(f"{model_label(entry)}: {why_not}")
                continue
            with st.popover(model_label(entry), width="stretch", key=f"delete_model_popover_{entry.path.name}"):
                st.warning(f"This deletes `{entry.path.name}` for everyone; if it is in use, everyone "
                           "switches to the shipped model. It cannot be undone.")
                st.button("Yes, delete it", key=f"delete_model_{entry.path.name}", type="primary",
                          on_click=_delete_model, args=(str(entry.path),))


def train_limit() -> int | None:
    """The test-only cap on training images (MNIST_DRAW_TRAIN_LIMIT), if set."""
    return int(os.environ[TRAIN_LIMIT_ENV]) if os.environ.get(TRAIN_LIMIT_ENV) else None


def saved_drawings() -> int:
    """How many labelled drawings a fine-tune could learn from (0 if the store cannot be read)."""
    try:
        return DrawingStore().count()
    except Exception:  # noqa: BLE001 - the store reports its own problems in the My drawings tab
        return 0


def finetune_controls(clf: Classifier, drawings: int, running: bool) -> None:
    epochs = st.slider("Epochs", *FINETUNE_EPOCHS, finetune.EPOCHS, key="finetune_epochs")
    st.caption(f"Fine-tunes the model in use ({clf.arch}) on MNIST plus the {plural(drawings, 'drawing')} saved here "
               "(oversampled, augmented); a fixed share of the drawings is held out to measure it before and after. "
               f"About {format_seconds(FINETUNE_SECONDS_PER_EPOCH * epochs)}.")
    st.button("Retrain", type="primary", disabled=running, key="retrain", on_click=start_run,
              args=(clf.arch, epochs, finetune.BATCH_SIZE),
              kwargs={"limit": train_limit(), "kind": "finetune", "base_path": clf.path, "started_by": session_id()})


def drawings_text(clf: Classifier, limit: int | None) -> str:
    """What a "MNIST and made-up drawings" run will do from the model in use, and how long it
    should take on this machine (jobs.estimate_drawings_seconds)."""
    from_model = train_drawings.goes_on_from(clf.arch)
    epochs = train_drawings.epochs_for(from_model)
    mnist = min(limit or EXPECTED_COUNTS["train"], EXPECTED_COUNTS["train"])
    drawings, outliers = train_drawings.made_up_images(limit)
    start = (f"Goes on from the model in use (`{clf.path.name}`) at a low rate for {plural(epochs, 'epoch')}"
             if from_model else
             f"Trains the improved network from scratch for {plural(epochs, 'epoch')} (the model in use, "
             f"{clf.arch}, is another network)")
    estimate = jobs_mod.estimate_drawings_seconds(epochs, limit)
    return (f"{start} on {mnist:,} MNIST digits, {drawings:,} made-up drawings and {outliers:,} made-up "
            "non-digits, then fits its not-a-digit verdict: the recipe of the shipped model. "
            f"About {format_seconds(estimate)} on this machine, in the background: drawing stays quick.")


def drawings_controls(clf: Classifier, running: bool) -> None:
    """Retrain for drawings (train_drawings.py): from the model in use when it is the improved
    network, else from scratch; the worker fits the new model's not-a-digit verdict."""
    limit = train_limit()
    st.caption(drawings_text(clf, limit))
    from_model = train_drawings.goes_on_from(clf.arch)
    st.button("Retrain", type="primary", disabled=running, key="retrain", on_click=start_run,
              args=(train_drawings.ARCH, train_drawings.epochs_for(from_model), train_drawings.BATCH_SIZE),
              kwargs={"limit": limit, "kind": train_drawings.RECIPE, "base_path": clf.path if from_model else None,
                      "started_by": session_id()})


@admin.admin_only
def start_run(*args, **kwargs) -> None:
    """Retrain's callback: start a run (TrainingJobs.start); when another server runs one, say so
    above the controls."""
    try:
        training_jobs().start(*args, **kwargs)
    except jobs_mod.RunRefused as exc:
        st.session_state[REFUSED_KEY] = str(exc)


def retrain_controls(clf: Classifier) -> None:
    st.subheader("Retrain")
    if not admin.is_admin():
        admin.sign_in()
        return
    admin.sign_out()
    if REFUSED_KEY in st.session_state:
        st.warning(st.session_state.pop(REFUSED_KEY))
    problem = mnist_missing()
    if problem:
        st.error(f"Retraining needs MNIST: {problem}. Set MNIST_DATA_DIR to a folder with the four IDX files.")
        return
    state = training_jobs().snapshot()
    drawings = saved_drawings()
    # The same three choices always: a radio whose options change resets to its first one.
    what = st.radio("Train", TRAIN_CHOICES, key="train_what", help="Saved drawings are labelled in the Draw tab.")
    if what == FINETUNE:
        if drawings:
            finetune_controls(clf, drawings, state.running)
        else:
            st.info(NO_DRAWINGS_YET)
        return
    if what == FOR_DRAWINGS:
        drawings_controls(clf, state.running)
        return
    archs = architectures()
    names = list(archs)
    arch = st.selectbox("Architecture", names, index=names.index(clf.arch) if clf.arch in names else 0,
                        format_func=lambda a: archs[a].title, key="retrain_arch")
    spec = archs[arch]
    epochs = st.slider("Epochs", *EPOCH_RANGE, spec.epochs, key=f"epochs_{arch}")
    batch = st.select_slider("Batch size", BATCH_SIZES, spec.batch_size, key=f"batch_{arch}")
    limit = train_limit()
    images = limit or EXPECTED_COUNTS["train"]
    estimate = jobs_mod.estimate_seconds(arch, epochs, images)
    if estimate is not None:
        st.caption(f"{spec.description}. About {format_seconds(estimate)} on this machine "
                   f"({images:,} images × {plural(epochs, 'epoch')}), in the background: drawing stays quick.")
    st.button("Retrain", type="primary", disabled=state.running, key="retrain", on_click=start_run,
              args=(arch, epochs, batch), kwargs={"limit": limit, "started_by": session_id()})


def _finetune_result(state: jobs_mod.JobState) -> None:
    extra = state.extra
    before, after = extra.get("held_out_accuracy_before"), extra.get("held_out_accuracy_after")
    if before is None or after is None:
        st.caption("No held-out drawings yet to measure the fine-tune on; save a few more.")
        return
    st.markdown(f"Held-out drawings ({extra.get('drawings_held_out', 0)}): **{before:.1%} → {after:.1%}**")


def _decision(state: jobs_mod.JobState) -> None:
    """The new model's accuracy beside the current one's, and the starter's choice when it is worse."""
    if state.new_accuracy is None:
        return
    current = f"{state.current_accuracy:.2%}" if state.current_accuracy is not None else "unknown"
    st.markdown(f"New model **{state.new_accuracy:.2%}** · previous model {current} (MNIST test accuracy)")
    if state.kind == "finetune":
        _finetune_result(state)
    if state.decision != jobs_mod.PENDING:
        return
    if state.started_by != session_id():
        st.caption("Whoever started this run decides whether to use it.")
        return
    # one above the other: whole labels
    st.button("Use it anyway", key="use_new_model", width="stretch", on_click=_decide, args=(True,))
    st.button("Keep the current one", key="keep_current_model", width="stretch", on_click=_decide, args=(False,))


@admin.admin_only
def _decide(use_new: bool) -> None:
    training_jobs().decide(use_new, session_id())


@admin.admin_only
def _cancel() -> None:
    training_jobs().cancel()


def run_panel() -> None:
    """The server's run as this session sees it: the live bar and curves (run_monitor), Cancel
    while it trains, and how it ended (with the starter's choice when the new model is worse)."""
    state = training_jobs().snapshot()
    if state.running:
        run_monitor.render(state, run_monitor.PROGRESS)
        if admin.is_admin() and not state.elsewhere:
            st.button("Cancel", key="cancel_training", on_click=_cancel)
    elif state.status == jobs_mod.FINISHED:
        (st.success if state.replaces_current else st.warning)(state.message)  # green only for as good or better
        _decision(state)
    elif state.status in (jobs_mod.CANCELLED, jobs_mod.INTERRUPTED):
        st.info(state.message)
    elif state.status == jobs_mod.FAILED:
        st.error(state.message)
    if not state.running and state.finished_at is not None:  # the server's last run, whoever started it
        st.caption(f"The server's last run, ended {time_ago(state.finished_at)}.")
    if state.status != jobs_mod.IDLE:
        run_monitor.render(state, run_monitor.CURVES)
    if not state.running:  # still polling, for a run started elsewhere; it draws nothing, so it goes last
        run_monitor.render(state, run_monitor.PROGRESS)


def reserve():
    """The sidebar's first line, drawn before the page's body; returns the place for the rest.

    Streamlit shows the sidebar only once it holds an element. Drawn last, on a page's first run
    it appeared after the canvas and pushed it 300 px right (and the intro onto a second line,
    22 px down): a stroke begun on the canvas as it showed landed elsewhere, or off it. This is
    cheap, so the page's layout is final before the canvas shows."""
    st.sidebar.subheader("Model")
    return st.sidebar.container()


def render(clf: Classifier, place=None) -> None:
    """The sidebar's content, in `place` (reserve()'s) or at the end of the sidebar."""
    with place if place is not None else st.sidebar:
        model_info(clf)
        retrained_models()
        retrain_controls(clf)
        run_panel()
