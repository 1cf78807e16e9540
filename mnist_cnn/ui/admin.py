"""Who may change what on a shared server: with MNIST_DRAW_ADMIN_PASSWORD set, only a session
signed in with it may retrain, fine-tune, cancel a run, switch or delete models and delete
drawings other than its own browser's; visitors draw, label, save, delete their own drawings and
look. With no password set (one person on localhost) everyone may do everything, as before.

Hiding or disabling a widget is not enough: a browser can send any widget's value, and a page
rendered while signed in keeps its callbacks. So every action that changes what others see goes
through `admin_only`, which asks is_admin() on the server at the moment the action runs.

A sign-in lasts as long as the browser's Streamlit session (a reload asks again). The password is
compared in constant time and never kept in session state; a wrong one waits a second before it
is answered, so guessing is slow.
"""

from __future__ import annotations

import functools
import hmac
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from mnist_cnn.config import ADMIN_PASSWORD_ENV

SIGNED_IN_KEY = "admin_signed_in"
PASSWORD_KEY = "admin_password"
WRONG_PASSWORD = "That is not the admin password; nothing changed."
WRONG_PASSWORD_DELAY_S = 1.0
VISITOR_NOTE = "On this server, retraining, switching or deleting models and others' drawings are for its admin."
NOT_ADMIN = "Only this server's admin may do that; nothing changed."
SIGN_OUT_KEY = "admin_sign_out"
F = TypeVar("F", bound=Callable[..., Any])


def password() -> str | None:
    """The admin password, or None when the server has none (everyone is admin)."""
    return os.environ.get(ADMIN_PASSWORD_ENV) or None


def is_admin() -> bool:
    """Whether this session may retrain, cancel a run and switch the model."""
    return password() is None or st.session_state.get(SIGNED_IN_KEY) is True


def _check() -> None:
    """The password field's callback: sign in, or say it was wrong (after a pause)."""
    given = st.session_state.pop(PASSWORD_KEY, "") or ""
    expected = password() or ""
    if hmac.compare_digest(given.encode(), expected.encode()):
        st.session_state[SIGNED_IN_KEY] = True
        return
    time.sleep(WRONG_PASSWORD_DELAY_S)
    st.session_state["admin_error"] = WRONG_PASSWORD


def sign_in() -> None:
    """For a visitor: one line saying what is the admin's, and the admin's sign-in."""
    st.caption(VISITOR_NOTE)
    with st.expander("Admin sign-in"):
        st.text_input("Admin password", type="password", key=PASSWORD_KEY, on_change=_check)
        if "admin_error" in st.session_state:
            st.error(st.session_state.pop("admin_error"))


def refuse() -> None:
    """Tell this session that what it asked for is the admin's (a toast on its next run)."""
    st.toast(NOT_ADMIN, icon=":material/lock:")


def admin_only(action: F) -> F:
    """Run `action` (a widget's callback, or any change to shared state) only if this session is
    admin when it runs; otherwise do nothing but say so. Returns None when refused."""
    @functools.wraps(action)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not is_admin():
            refuse()
            return None
        return action(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def _sign_out() -> None:
    st.session_state.pop(SIGNED_IN_KEY, None)


def sign_out() -> None:
    """For a signed-in admin (only where a password is set): a button that ends the sign-in."""
    if password() is not None and is_admin():
        st.button("Sign out", key=SIGN_OUT_KEY, on_click=_sign_out, icon=":material/logout:")
