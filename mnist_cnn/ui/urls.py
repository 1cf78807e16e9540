"""Where the page finds the routes the server serves beside it (ui/server/startup.py: routes)."""

from __future__ import annotations

import streamlit as st

from mnist_cnn.config import TRAINING_ROUTE


def route_url(route: str) -> str:
    """Where the page asks for one of routes(): the route under the server's base path, if it has
    one (st.App does not prefix its own routes, so routes() serves both)."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}{route}" if base else route


def training_url() -> str:
    """Where the page's live view asks for the run's state."""
    return route_url(TRAINING_ROUTE)
