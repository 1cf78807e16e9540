"""Who may change what on a shared server: with MNIST_DRAW_ADMIN_PASSWORD set, only a session
signed in with it may retrain, fine-tune, cancel a run or switch the model every session uses;
visitors draw, label, save and look. With no password set (one person on localhost) everyone
may do everything, as before.

A sign-in lasts as long as the browser's Streamlit session (a reload asks again). The password is
compared in constant time and never kept in session state; a wrong one waits a second before it
is answered, so guessing is slow.
"""

from __future__ import annotations

import hmac
import os
import time

import streamlit as st

from mnist_cnn.config import ADMIN_PASSWORD_ENV

SIGNED_IN_KEY = "admin_signed_in"
PASSWORD_KEY = "admin_password"
WRONG_PASSWORD = "That is not the admin password; nothing changed."
WRONG_PASSWORD_DELAY_S = 1.0
VISITOR_NOTE = "On this server, retraining and switching the model are for its admin."


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
