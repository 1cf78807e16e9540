"""Waiting for something a real process does, with a bound that tells 'slow' from 'never'."""

from __future__ import annotations

import time

POLL_S = 0.02  # often enough to catch a file that exists only while a model is being saved


def wait_for(predicate, timeout: float = 120.0, what: str = "condition"):
    """predicate()'s first true value, polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(POLL_S)
    raise AssertionError(f"timed out waiting for {what}")
