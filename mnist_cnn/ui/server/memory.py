"""Giving memory back after visitors leave: a class of 30 closes its tabs, and the server should
shrink back to what it was, not keep their sessions until the next visitor happens to leave.

Streamlit keeps a closed tab's session for `server.disconnectedSessionTTL` (2 min) so that a
network blip can reconnect to it. But its store of such sessions only drops an expired one when
the store is next written to, that is when another tab closes, and then without shutting it
down (so the session's media and uploaded files stay referenced). After the last visitor of a
class leaves, nothing writes to it again. So, every HOUSEKEEPING_S, `housekeeping` ends the
sessions whose time is up as a closed tab's session ends (AppSession.shutdown), and when any
ended, collects the garbage and hands freed heap back to the system (glibc's malloc_trim). And
`limit_malloc_arenas`, at start-up, keeps the sessions' threads from spreading over many heaps.
Measured with 30 visitors (docs/BENCHMARKS.md, section 13), each of the three is needed.

Reaching the session store goes through Streamlit's private attributes (there is no public way):
if a Streamlit upgrade renames them, this logs one warning and stops, and the app works as
before; tests/test_classload.py notices the memory is no longer released.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import logging
import platform
import threading
from typing import Any

from mnist_cnn.config import HOUSEKEEPING_S, MALLOC_ARENAS

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # mallopt's parameter number (glibc's malloc.h)


def departed_sessions_store() -> tuple[Any, threading.Lock] | None:
    """Streamlit's store of disconnected sessions (a TTL cache) and the lock its session manager
    holds while moving sessions in and out of it; None where this Streamlit has neither."""
    from streamlit import runtime

    try:
        manager = runtime.get_instance()._session_mgr
        store, lock = manager._session_storage._cache, manager._storage_lock
        store.expire  # noqa: B018 - the one method used: fail here, not later
    except (AttributeError, RuntimeError):
        return None
    return store, lock


def end_expired_sessions(store: Any, lock: threading.Lock) -> int:
    """Drop the sessions whose reconnect time is up and shut each down (its script thread's
    loop, media and uploaded files, session caches); the number ended."""
    with lock:
        expired = store.expire()
    for _, info in expired:
        info.session.shutdown()
    return len(expired)


def _glibc() -> ctypes.CDLL | None:
    """The C library, where it is glibc (malloc_trim and mallopt are glibc's); None elsewhere."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Have every thread's C allocations share `arenas` heaps. glibc gives each new thread its
    own heap up to 8 per core, and each Streamlit session runs its script in its own thread: 30
    visitors spread their allocations over 16 heaps, none of which can shrink while any block in
    it lives. Set at start-up, in the process, so every way of starting the server has it (as
    MALLOC_ARENA_MAX=2 in the environment would, where someone remembers to set it)."""
    libc = _glibc()
    if libc is not None:
        with contextlib.suppress(AttributeError):
            libc.mallopt(M_ARENA_MAX, arenas)


def release_memory() -> None:
    """Collect what the ended sessions left (their cycles need a full collection) and hand the
    heaps' free pages back to the system (glibc's malloc_trim; elsewhere the collection only)."""
    gc.collect()
    libc = _glibc()
    if libc is not None:
        with contextlib.suppress(AttributeError):
            libc.malloc_trim(0)


async def housekeeping(interval_s: float = HOUSEKEEPING_S) -> None:
    """For the server's lifetime (app.py's st.App lifespan): every `interval_s`, end expired
    sessions on the event loop (where Streamlit moves them), then release memory in a thread."""
    found = departed_sessions_store()
    if found is None:
        log.warning("Streamlit's session store is not where this version expects it: sessions that "
                    "left are freed only when the next visitor leaves")
        return
    while True:
        await asyncio.sleep(interval_s)
        try:
            if end_expired_sessions(*found):
                await asyncio.to_thread(release_memory)
        except Exception:  # noqa: BLE001 - housekeeping must never take the server down
            log.exception("housekeeping failed; trying again in %.0f s", interval_s)
