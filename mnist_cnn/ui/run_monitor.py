"""The server's training run, live on every open page, without rerunning the page.

While a run trained, each open page used to rerun a Streamlit fragment every 2 s for its progress
and every 10 s for its curves, and the idle ones every 10 s to notice a run starting: on the
2-core machine, two pages watching took a third of a core (server and browser) from the run they
watched. Instead the page mounts a small component (run_monitor.js) that asks the server's JSON
route (urls.training_url, which app.py's st.App serves: ui/server/startup.routes) for the run's state
and redraws its bar, numbers and SVG curves itself. The page reruns only when the run starts,
ends or is decided, or another model is made current (here or by another replica sharing the
models folder), so every session's buttons and model follow. The text comes from payload(), so a
rerun's first paint and the live view agree.
"""

from __future__ import annotations

import math
from pathlib import Path

import streamlit as st

from mnist_cnn.training import jobs
from mnist_cnn.training.architectures import ARCHITECTURES
from mnist_cnn.ui.common import MODEL_DRAWN_FOR, format_seconds, plural
from mnist_cnn.ui.urls import training_url

# Idle pages still poll: to notice a run started elsewhere, and a model made current by another
# replica within MODEL_PICKUP_S (the poll, then the page's rerun).
POLL_RUNNING_MS, POLL_IDLE_MS = 2_000, 3_000
MODEL_PICKUP_S = 5
CURVE_POINTS = 200  # per curve sent to the page; the run keeps up to jobs.MAX_CURVE_POINTS
PROGRESS, CURVES = "progress", "curves"
ModelStamp = tuple[int, int] | None

_ASSETS = Path(__file__).with_suffix("")
_COMPONENT = st.components.v2.component(
    "mnist_draw.run_monitor",
    js=_ASSETS.with_suffix(".js").read_text(),
    css=_ASSETS.with_suffix(".css").read_text(),
)


def run_key(state: jobs.JobState, model: ModelStamp = None) -> list:
    """What the page was drawn for: a change means the page must rerun (buttons, model). `model`
    is the choice of current model (store.current_choice_stamp)."""
    return [state.run_id, state.status, state.decision, list(model) if model else None]


def validates_at_the_end_only(state: jobs.JobState) -> bool:
    spec = ARCHITECTURES.get(state.arch) if state.kind == "train" else None
    return spec is not None and not spec.validate_each_epoch


# What a run of each kind trains on, for whoever watches it (their own Train choice may differ).
KIND_TITLES = {"train": "MNIST", "finetune": "fine-tune on saved drawings", "drawings": "MNIST and made-up drawings"}


def _detail(state: jobs.JobState) -> str:
    p = state.latest
    eta = f" · about {format_seconds(p.eta)} left" if p and p.eta is not None else ""
    kind = KIND_TITLES.get(state.kind, state.kind)
    return (f"{kind}: {state.arch}, {plural(state.epochs, 'epoch')}, batch {state.batch_size} · "
            f"elapsed {format_seconds(state.elapsed)}{eta}")


def _validation(state: jobs.JobState) -> str:
    validated = [e for e in state.epochs_done if e.val_accuracy is not None]
    if validated:
        last = validated[-1]
        return (f"Validation after epoch {last.epoch}: loss {last.val_loss:.4f} · "
                f"accuracy {last.val_accuracy:.2%}")
    if state.running and validates_at_the_end_only(state):
        return "This recipe scores the 10,000 test digits once, after its last epoch."
    return ""


def _number(x: float, digits: int) -> float | None:
    """A value for the page's JSON: None for NaN or infinity (a diverging run), which JSON lacks."""
    return round(x, digits) if math.isfinite(x) else None


def _curve_points(batches: list[tuple[float, float, float]]) -> list[list[float | None]]:
    """At most CURVE_POINTS of (epoch position, loss, accuracy), always ending at the latest."""
    step = max(1, -(-len(batches) // CURVE_POINTS))
    kept = batches[::step]
    if batches and kept[-1] is not batches[-1]:
        kept = kept[:-1] + [batches[-1]]
    return [[round(x, 3), _number(loss, 4), _number(acc, 4)] for x, loss, acc in kept]


def payload(state: jobs.JobState, model: ModelStamp = None) -> dict:
    """The run as the page draws it: ready-made text, the bar's fraction and the curves; `model`:
    see run_key."""
    p = state.latest
    return {
        "key": run_key(state, model),
        "running": state.running,
        "fraction": round(p.fraction, 4) if p else 0.0,
        "message": state.message if state.running else "",
        "detail": _detail(state) if state.running else "",
        "training": f"Training: loss {p.loss:.4f} · accuracy {p.accuracy:.2%}" if p else "",
        "validation": _validation(state) if state.status != jobs.IDLE else "",
        "epochs": state.epochs,
        "batches": _curve_points(state.batches),
        "val": [[e.epoch, _number(e.val_loss, 4), _number(e.val_accuracy, 4)]
                for e in state.epochs_done if e.val_accuracy is not None],
    }


def render(state: jobs.JobState, part: str) -> None:
    """Mount one part of the live view: PROGRESS (the bar and its text; it polls, also while no
    run trains, and reruns the page when a run starts, ends or is decided, or the current model
    changes) or CURVES (the numbers and curves, drawn from what PROGRESS fetched)."""
    data = {"part": part, "initial": payload(state, st.session_state.get(MODEL_DRAWN_FOR))}
    if part == PROGRESS:
        data.update(url=training_url(), poll_running_ms=POLL_RUNNING_MS, poll_idle_ms=POLL_IDLE_MS)
    _COMPONENT(data=data, key=f"run_monitor_{part}", on_changed_change=lambda: None)
