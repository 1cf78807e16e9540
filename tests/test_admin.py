"""Who may do what on a shared server (ui/admin.py), with AppTest: a visitor deletes only its own
browser's drawings and changes nothing shared; the signed-in admin may delete any drawing, one
browser's, all, and retrained models. Every such action is checked on the server when its
callback runs: a disabled widget's forged value, or a button kept from a page drawn while signed
in, does nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_cnn.config import user_models_dir
from mnist_cnn.drawings.store import DrawingStore, png_bytes, to_uint8
from mnist_cnn.network import store
from mnist_cnn.training import jobs as jobs_mod
from mnist_cnn.ui import admin, common

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SECRET = "a long secret"
ME, OTHER = "aaaaaaaaaaaa", "bbbbbbbbbbbb"


@pytest.fixture
def password(monkeypatch) -> str:
    monkeypatch.setenv("MNIST_DRAW_ADMIN_PASSWORD", SECRET)
    monkeypatch.setattr(admin, "WRONG_PASSWORD_DELAY_S", 0.0)
    return SECRET


def a_digit(seed: int) -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    image[4 + seed % 10 : 24, 10 + seed % 7 : 14 + seed % 7] = 1.0
    return image


@pytest.fixture
def drawings() -> dict[str, list[int]]:
    """Two drawings saved by this browser (ME), three by another one."""
    saved = DrawingStore()
    ids = {who: [saved.add(a_digit(seed), 1, png_bytes(to_uint8(a_digit(seed))), session=who)[0] for seed in seeds]
           for who, seeds in ((ME, (1, 2)), (OTHER, (3, 4, 5)))}
    return ids


@pytest.fixture
def retrained() -> Path:
    """A retrained model in use (a copy of the shipped seed model, as a run would leave it)."""
    path = user_models_dir() / "seed-20260101-000000.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(store.shipped_model_path("seed"), path)
    store.write_meta(path, {**store.read_meta(store.shipped_model_path("seed")), "trained_at": "2026-01-01T00:00"})
    store.set_current_model(path)
    return path


def page(tab: str = "My drawings", signed_in: bool = False) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["tab"] = tab
    at.session_state["session_id"] = ME  # as the browser's id cookie would give it
    at.run()
    if signed_in:
        at.sidebar.text_input(key=admin.PASSWORD_KEY).input(SECRET).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button if b.key}


def toasts(at: AppTest) -> str:
    return "\n".join(t.value for t in at.toast)


def left() -> dict[str, int]:
    return {who: n for who, n in DrawingStore().browsers()}


def test_a_visitor_deletes_only_its_own_drawings_and_sees_no_admin_action(password, drawings, retrained):
    at = page()
    mine, others = drawings[ME], drawings[OTHER]
    assert {f"delete_{i}" for i in mine} <= keys(at)
    assert not {f"delete_{i}" for i in others} & keys(at)
    assert not {"delete_all_drawings", "delete_browser", f"delete_model_{retrained.name}"} & keys(at)

    at.button(key=f"delete_{mine[0]}").click().run()
    assert left() == {ME: 1, OTHER: 3}
    at.button(key="delete_session").click().run()
    assert left() == {OTHER: 3}


def test_a_visitors_forged_model_choice_changes_nothing(password, retrained):
    at = page("Draw")
    choice = at.sidebar.selectbox[0]
    assert choice.disabled
    choice.proto.disabled = False  # AppTest plays a polite browser; a forged message sends the value anyway
    choice.set_value(str(store.shipped_model_path("improved"))).run()
    assert store.current_model_path() == retrained
    assert at.sidebar.selectbox[0].value == str(retrained)


def test_a_model_choice_from_a_signed_in_page_does_nothing_once_signed_out(password, retrained):
    at = page("Draw", signed_in=True)
    choice = at.sidebar.selectbox[0]
    assert not choice.disabled
    at.session_state[admin.SIGNED_IN_KEY] = False
    choice.set_value(str(store.shipped_model_path("improved"))).run()
    assert store.current_model_path() == retrained
    assert admin.NOT_ADMIN in toasts(at)
    assert at.sidebar.selectbox[0].value == str(retrained)


def test_buttons_from_a_signed_in_page_do_nothing_once_signed_out(password, drawings, retrained):
    """The callbacks were registered while signed in; they run after the sign-in is gone."""
    runs_before = common.training_jobs().snapshot().run_id
    at = page(signed_in=True)
    assert {"delete_all_drawings", "delete_browser", f"delete_{drawings[OTHER][0]}", "retrain",
            f"delete_model_{retrained.name}"} <= keys(at)
    for key in ("delete_all_drawings", "delete_browser", "retrain", f"delete_{drawings[OTHER][0]}",
                f"delete_model_{retrained.name}"):
        at.session_state[admin.SIGNED_IN_KEY] = True
        at.run()
        button = at.button(key=key)  # on the page drawn for the admin...
        at.session_state[admin.SIGNED_IN_KEY] = False  # ...signed out since (another tab, an expired sign-in)
        button.click().run()
        assert admin.NOT_ADMIN in toasts(at), key
    assert left() == {ME: 2, OTHER: 3}
    assert retrained.is_file() and store.current_model_path() == retrained
    after = common.training_jobs().snapshot()
    assert not after.running and after.run_id == runs_before  # no run was started


def test_the_admin_deletes_any_drawing_one_browsers_or_all(password, drawings):
    at = page(signed_in=True)
    at.button(key=f"delete_{drawings[OTHER][0]}").click().run()
    assert left() == {ME: 2, OTHER: 2}
    at.selectbox(key="delete_browser_choice").set_value(OTHER).run()
    at.button(key="delete_browser").click().run()
    assert left() == {ME: 2}
    at.button(key="delete_all_drawings").click().run()
    assert left() == {}
    assert not at.exception


def test_the_admin_deletes_a_retrained_model_and_everyone_goes_back_to_the_shipped_one(password, retrained):
    at = page("Draw", signed_in=True)
    assert not any(b.key.startswith("delete_model_") and "improved" in b.key for b in at.button if b.key)
    at.button(key=f"delete_model_{retrained.name}").click().run()
    assert not retrained.exists() and not store.sidecar_path(retrained).exists()
    assert store.current_model_path() == store.shipped_model_path("seed")
    assert "everyone now uses the shipped model" in toasts(at)
    assert all(e.shipped for e in store.available_models())


def test_the_models_a_decision_awaits_stay_while_others_may_be_deleted(password, retrained, monkeypatch):
    """A finished run whose starter has not decided keeps the two models the choice is between;
    the admin may still delete the others (the starter may never come back to decide)."""
    older = retrained.with_name("seed-20251201-000000.keras")
    shutil.copyfile(retrained, older)
    store.write_meta(older, store.read_meta(retrained))
    jobs = common.training_jobs()
    at = page("Draw", signed_in=True)  # drawn before the run ended: every Delete offered
    pending = jobs_mod.JobState(status=jobs_mod.FINISHED, decision=jobs_mod.PENDING, new_accuracy=0.5,
                                current_accuracy=0.9, started_by=OTHER, model_path=str(retrained))
    monkeypatch.setattr(jobs, "snapshot", lambda: pending)
    at.button(key=f"delete_model_{retrained.name}").click().run()  # checked when it runs
    assert retrained.is_file()
    assert "decision between this model and the new one is awaited" in toasts(at)
    assert f"delete_model_{retrained.name}" not in keys(at)  # and no longer offered
    at.button(key=f"delete_model_{older.name}").click().run()
    assert not older.exists() and retrained.is_file()


def test_sign_out_makes_the_admin_a_visitor_again(password, drawings):
    at = page(signed_in=True)
    assert "delete_all_drawings" in keys(at)
    at.sidebar.button(key=admin.SIGN_OUT_KEY).click().run()
    assert not {"delete_all_drawings", "retrain", admin.SIGN_OUT_KEY} & keys(at)
    assert at.sidebar.text_input(key=admin.PASSWORD_KEY) is not None


def test_without_a_password_the_one_person_here_may_do_everything(monkeypatch, drawings, retrained):
    monkeypatch.delenv("MNIST_DRAW_ADMIN_PASSWORD", raising=False)
    at = page()
    assert {"delete_all_drawings", "delete_browser", f"delete_{drawings[OTHER][0]}", "retrain"} <= keys(at)
    assert admin.SIGN_OUT_KEY not in keys(at)
    at.button(key=f"delete_{drawings[OTHER][0]}").click().run()
    assert left() == {ME: 2, OTHER: 2}
