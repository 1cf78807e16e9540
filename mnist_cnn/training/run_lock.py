"""One training run at a time across every server that shares a home folder or a database.

Each server (training/jobs.py) already runs one at a time itself; this lock makes it one for all
of them, held for the run's whole length by the server whose worker trains:

- With MNIST_DRAW_DATABASE_URL: a session-level PostgreSQL advisory lock, held on a connection
  of its own. PostgreSQL lets it go when that connection ends, so a server that dies (killed,
  out of memory) frees it at once, and one whose machine vanishes within about 25 s (the
  connection's TCP keepalives, set below).
- Without: an flock on runs/run.lock in the home folder, which the kernel lets go when the
  process ends; it covers servers on one machine that share the folder.

`held_elsewhere()` says whether another server is running one now: the lock, not the state
file, is what tells a run that is going from one whose server died.
"""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path
from typing import IO

import psycopg

from mnist_cnn.config import database_url, user_home
from mnist_cnn.drawings.postgres_db import CONNECT_TIMEOUT_S, RETRY_AFTER_S, describe, scrub

LOCK_FILE = "run.lock"
ADVISORY_KEY = (0x6D6E6973, 2)  # pg_advisory_lock(int, int): ("mnis", the training run)
# The server side drops a vanished client's connection (and so the lock) after 10 + 3 x 5 s.
KEEPALIVES = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"
HELD_SQL = ("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s "
            "AND objsubid = 2 AND granted AND database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database()))")


class RunLockError(RuntimeError):
    """The lock could not be asked for (the database is unreachable); the message says so."""


class FileRunLock:
    """An flock on runs/run.lock in the home folder: servers on one machine sharing it."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or user_home() / "runs" / LOCK_FILE
        self._held: IO | None = None

    def acquire(self) -> bool:
        """Take the lock unless another process holds it; whether this call took it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._held = handle
        return True

    def release(self) -> None:
        if self._held is not None:
            self._held.close()  # closing the file lets the lock go
            self._held = None

    def held_elsewhere(self) -> bool:
        if self._held is not None or not self.path.exists():
            return False
        with open(self.path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
        return False


class PostgresRunLock:
    """An advisory lock in the shared database, on a connection held for the run."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._held: psycopg.Connection | None = None
        self._probe: psycopg.Connection | None = None
        self._probe_lock = threading.Lock()
        self._down_until = 0.0

    def _connect(self, options: str = "") -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, options=options)
        except psycopg.Error as exc:
            raise RunLockError(f"the database {describe(self.url)} that keeps runs one at a time cannot be "
                               f"reached ({scrub(exc, self.url)})") from None

    def acquire(self) -> bool:
        con = self._connect(KEEPALIVES)
        try:
            got = con.execute("SELECT pg_try_advisory_lock(%s, %s)", ADVISORY_KEY).fetchone()[0]
        except psycopg.Error as exc:
            con.close()
            raise RunLockError(f"the run lock in {describe(self.url)} failed ({scrub(exc, self.url)})") from None
        if not got:
            con.close()
            return False
        self._held = con
        return True

    def release(self) -> None:
        """Let the lock go before this returns: a connection's end alone frees it only when its
        backend has exited, a moment later, and a start right after would be refused."""
        if self._held is not None:
            try:
                self._held.execute("SELECT pg_advisory_unlock(%s, %s)", ADVISORY_KEY)
            except psycopg.Error:
                pass  # the connection is gone already: so is its lock
            self._held.close()
            self._held = None

    def held_elsewhere(self) -> bool:
        """Whether another server holds the lock; when the database cannot be asked, True (a run
        the state file calls running is then taken at its word, never called interrupted)."""
        if self._held is not None:
            return False
        with self._probe_lock:
            if time.monotonic() < self._down_until:
                return True
            try:
                if self._probe is None or self._probe.closed:
                    self._probe = self._connect()
                return bool(self._probe.execute(HELD_SQL, ADVISORY_KEY).fetchone()[0])
            except (psycopg.Error, RunLockError):
                if self._probe is not None:
                    self._probe.close()
                self._probe, self._down_until = None, time.monotonic() + RETRY_AFTER_S
                return True


def for_this_server() -> FileRunLock | PostgresRunLock:
    """The lock the servers sharing this one's database (or home folder) use."""
    url = database_url()
    return PostgresRunLock(url) if url else FileRunLock()
